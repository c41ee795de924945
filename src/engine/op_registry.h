// relscope/engine/op_registry.h — what every operator provides: a shape rule and a cpu kernel.
//
// Sections: InferCtx | RunCtx | OpImpl | registry
//
// Each op family lives in src/engine/ops/<family>.cpp and registers its ops in
// one function (register_<family>_ops). The planner calls `infer` once per
// input shape (with constant inputs' values, so Reshape/Slice/Pad can read them
// and shape subgraphs fold away); the executor calls `run` with outputs already
// allocated to the inferred shapes. Kernels never allocate outputs themselves.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace relscope {

struct InferCtx {
  const Graph& graph;
  const Node& node;
  int64_t opset;
  std::vector<const Shape*> in_shapes;    // nullptr for an omitted optional input
  std::vector<DType> in_dtypes;
  std::vector<const Tensor*> in_values;   // non-null when the input is a known constant
  std::vector<Shape> out_shapes;          // to fill, one per node output
  std::vector<DType> out_dtypes;          // to fill (default Float32)

  size_t num_inputs() const { return in_shapes.size(); }
  bool has_input(size_t k) const { return k < in_shapes.size() && in_shapes[k] != nullptr; }
  const Shape& shape(size_t k) const;               // error if omitted
  // The value of a constant input (e.g. Reshape's shape); error naming `what` if not constant.
  const Tensor& constant(size_t k, const char* what) const;
  [[noreturn]] void error(const std::string& message) const;             // BadInput, names the node
  [[noreturn]] void unsupported(const std::string& message) const;       // Unsupported, names the node
};

struct RunCtx {
  const Graph& graph;
  const Node& node;
  int64_t opset;
  std::vector<const Tensor*> in;   // nullptr for an omitted optional input
  std::vector<Tensor*> out;        // allocated, shaped, dtype set (nullptr for omitted outputs)
  [[noreturn]] void error(const std::string& message) const;
};

using InferFn = void (*)(InferCtx&);
using RunFn = void (*)(RunCtx&);

struct OpImpl {
  InferFn infer = nullptr;
  RunFn run = nullptr;
  int min_inputs = 1;
  int max_inputs = 1;
  // `run` writes every element of every float output, whatever the inputs hold, so the executor may hand it
  // recycled storage of unspecified contents (BufferPool) instead of a zero-filled vector. Off unless the
  // op's code was checked for it; every op unit test (op_test_util.cpp's run_op) and a run of the bundled
  // models (test_graph_plan.cpp) give flagged ops storage full of NaN, so an unwritten element fails them.
  bool overwrites_outputs = false;
};

// The table, indexed by Op. An entry without `run` means "not implemented yet".
const OpImpl& op_impl(Op op);

// Family registration functions, called once by the table's constructor.
struct OpTable {
  OpImpl entries[static_cast<int>(Op::Count)];
  void add(Op op, InferFn infer, RunFn run, int min_inputs, int max_inputs, bool overwrites_outputs = false) {
    entries[static_cast<int>(op)] = OpImpl{infer, run, min_inputs, max_inputs, overwrites_outputs};
  }
};
void register_linear_ops(OpTable& t);       // Conv, ConvTranspose, Gemm, MatMul
void register_pool_norm_ops(OpTable& t);    // pools, BatchNorm, LayerNorm, Softmax, LogSoftmax, ReduceMean
void register_elementwise_ops(OpTable& t);  // Add..Div, Pow, Sqrt, Erf, activations, Clip
void register_shape_ops(OpTable& t);        // Flatten..Pad, Identity, Dropout, Constant, Shape
void register_misc_ops(OpTable& t);         // Cast, ConstantOfShape

}  // namespace relscope
