// tests/unit/op_test_util.cpp — one node through build_graph, make_plan and execute.
#include "op_test_util.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/executor.h"
#include "engine/op_registry.h"
#include "engine/plan.h"
#include "graph/graph.h"

namespace relscope::testing {

std::vector<Tensor> run_op(const std::string& op_type, const std::vector<OpInput>& inputs,
                           const std::vector<onnx::Attribute>& attrs, int num_outputs, int64_t opset) {
  onnx::ModelProto m;
  m.opsets[""] = opset;
  onnx::NodeProto node;
  node.name = "node_under_test";
  node.op_type = op_type;
  node.attributes = attrs;
  std::vector<Tensor> runtime_inputs;
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::string name = "in" + std::to_string(k);
    if (inputs[k].omitted) {
      node.inputs.push_back("");
      continue;
    }
    node.inputs.push_back(name);
    if (inputs[k].constant) {
      m.graph.initializers.push_back({name, inputs[k].value});
    } else {
      onnx::ValueInfo vi;
      vi.name = name;
      vi.elem_type = inputs[k].value.dtype == DType::Int64 ? onnx::kInt64 : onnx::kFloat;
      m.graph.inputs.push_back(vi);
      runtime_inputs.push_back(inputs[k].value);
      shapes.push_back(inputs[k].value.shape);
      dtypes.push_back(inputs[k].value.dtype);
    }
  }
  for (int k = 0; k < num_outputs; ++k) {
    node.outputs.push_back("out" + std::to_string(k));
    onnx::ValueInfo vi;
    vi.name = node.outputs.back();
    m.graph.outputs.push_back(vi);
  }
  m.graph.nodes.push_back(node);
  Graph g = build_graph(std::move(m), Limits{}, "test.onnx");
  std::vector<const Tensor*> ints;
  for (const auto& t : runtime_inputs) ints.push_back(t.dtype == DType::Int64 ? &t : nullptr);
  Plan plan = make_plan(g, shapes, dtypes, Limits{}, ints);
  // Every float output of an op that claims to overwrite its outputs (OpImpl::overwrites_outputs) gets storage
  // full of NaN from a BufferPool, as the executor may hand it recycled storage: an element it fails to write
  // stays NaN and fails the op's test. Vectors are at least the pool's minimum size, shrunk to the output's.
  BufferPool pool;
  const size_t float_outputs = give_nan_storage(pool, plan, g.outputs);
  Activations act = execute(plan, runtime_inputs, false, &pool);
  if (op_impl(g.nodes[0].op).overwrites_outputs && pool.taken() != float_outputs)
    throw std::logic_error("run_op: " + op_type + " claims to overwrite its outputs but took " +
                           std::to_string(pool.taken()) + " of " + std::to_string(float_outputs) + " pooled outputs");
  std::vector<Tensor> outs;
  for (int v : g.outputs) outs.push_back(act.get(v));
  return outs;
}

size_t give_nan_storage(BufferPool& pool, const Plan& plan, const std::vector<int>& values) {
  pool.set_budget(uint64_t{1} << 34);
  size_t given = 0;
  for (int v : values)
    if (plan.dtypes[v] == DType::Float32 && !plan.constants[v]) {
      const size_t n = std::max(BufferPool::kMinFloats, static_cast<size_t>(shape_numel(plan.shapes[v])));
      pool.give(std::vector<float>(n, std::nanf("")));
      ++given;
    }
  return given;
}

onnx::Attribute attr_int(const std::string& name, int64_t v) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::Int;
  a.i = v;
  return a;
}
onnx::Attribute attr_float(const std::string& name, float v) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::Float;
  a.f = v;
  return a;
}
onnx::Attribute attr_ints(const std::string& name, std::vector<int64_t> v) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::Ints;
  a.ints = std::move(v);
  return a;
}
onnx::Attribute attr_floats(const std::string& name, std::vector<float> v) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::Floats;
  a.floats = std::move(v);
  return a;
}
onnx::Attribute attr_string(const std::string& name, const std::string& v) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::String;
  a.s = v;
  return a;
}
onnx::Attribute attr_tensor(const std::string& name, Tensor t) {
  onnx::Attribute a;
  a.name = name;
  a.type = onnx::AttrType::Tensor;
  a.tensors.push_back(std::move(t));
  return a;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.as_floats(), y = b.as_floats();
  float m = 0;
  for (size_t k = 0; k < std::min(x.size(), y.size()); ++k) m = std::max(m, std::fabs(x[k] - y[k]));
  return m;
}

}  // namespace relscope::testing
