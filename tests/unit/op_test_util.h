// tests/unit/op_test_util.h — run one ONNX node through the real planner and executor.
//
// Why through the planner: it exercises the op's shape rule, its constant-input
// handling and its kernel exactly as a loaded model would.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "onnx/model.h"

namespace relscope::testing {

struct OpInput {
  Tensor value;
  bool constant = false;   // true: given as an initializer (e.g. Reshape's shape, Conv's weights)
  bool omitted = false;    // true: passed as "" (an omitted optional input)
};

// Gives `pool` one vector full of NaN for each float value of `values` that the plan computes (at least the
// pool's minimum size, so it is kept; a take shrinks it to the value's size), with a budget that keeps them all:
// storage on which an op that leaves an element unwritten shows it. Returns how many it gave.
size_t give_nan_storage(BufferPool& pool, const Plan& plan, const std::vector<int>& values);

// Builds a one-node graph `op_type(inputs) -> num_outputs outputs` at the given opset,
// plans it for the inputs' shapes and runs it. Throws relscope::Error like a real model.
std::vector<Tensor> run_op(const std::string& op_type, const std::vector<OpInput>& inputs,
                           const std::vector<onnx::Attribute>& attrs = {}, int num_outputs = 1,
                           int64_t opset = 17);

// Attribute constructors.
onnx::Attribute attr_int(const std::string& name, int64_t v);
onnx::Attribute attr_float(const std::string& name, float v);
onnx::Attribute attr_ints(const std::string& name, std::vector<int64_t> v);
onnx::Attribute attr_floats(const std::string& name, std::vector<float> v);
onnx::Attribute attr_string(const std::string& name, const std::string& v);
onnx::Attribute attr_tensor(const std::string& name, Tensor t);

// Max |a - b| over elements; shapes must match (asserted by the caller).
float max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace relscope::testing
