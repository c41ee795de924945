// relscope/engine/plan.h — a graph made concrete for one set of input shapes.
//
// Sections: Plan | make_plan()
//
// Why a plan: ONNX shapes depend on the input (dynamic batch, symbolic dims),
// and PyTorch exports compute Reshape targets at run time from Shape ops. The
// planner walks the nodes once, infers every shape, runs every node whose
// inputs are all known (constant folding — this resolves those Shape chains),
// and checks the memory the forward pass will need before anything is
// allocated. The executor then runs only `steps`.
//
// int64 graph inputs are shape-like data (a Reshape target, Slice starts, token ids): their values are
// part of the plan, as constants, so everything computed from them folds and shapes stay static. A plan
// is therefore made for input shapes plus the values of int64 inputs.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace relscope {

struct Plan {
  const Graph* graph = nullptr;
  std::vector<Shape> input_shapes;        // what the plan was made for
  std::vector<std::vector<int64_t>> input_ints;   // ... and the values of int64 inputs (empty for float)
  std::vector<Shape> shapes;              // per value id
  std::vector<DType> dtypes;              // per value id
  std::vector<const Tensor*> constants;   // per value id: initializer or folded value, else nullptr
  std::vector<int> steps;                 // node indices to run, in order
  std::vector<int> last_use;              // per value id: last step index reading it (-1: none; graph outputs: INT_MAX)
  uint64_t activation_bytes = 0;          // all runtime values of one forward pass
  std::vector<std::unique_ptr<Tensor>> folded;   // owns constant-folded values
  // Data derived from the constants once and reused by every run on this plan (relevance: a layer's
  // modified weights per rule, src/relevance/linear_rule.cpp). Keyed by its user; it lives exactly as long
  // as the constants it derives from. One caller at a time, like the rest of a plan.
  mutable std::map<std::string, std::shared_ptr<const void>> memo;

  // The floats stored in memo under `key`, made by make() on first use.
  template <class Make>
  const std::vector<float>& memo_floats(const std::string& key, Make&& make) const {
    auto& slot = memo[key];
    if (!slot) slot = std::make_shared<const std::vector<float>>(make());
    return *static_cast<const std::vector<float>*>(slot.get());
  }

  bool is_constant(int value) const { return value >= 0 && constants[value] != nullptr; }
};

// Throws relscope::Error naming the input, node or limit at fault.
// `int_values[k]`: the values of graph input k when it is int64 (may be shorter, or null entries, when
// no input is int64).
Plan make_plan(const Graph& graph, const std::vector<Shape>& input_shapes, const std::vector<DType>& input_dtypes,
               const Limits& limits, const std::vector<const Tensor*>& int_values = {});

}  // namespace relscope
