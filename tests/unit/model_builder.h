// tests/unit/model_builder.h — build small ONNX models in code (no protobuf bytes needed).
#pragma once
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "onnx/model.h"

namespace relscope::testing {

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 13) { m_.opsets[""] = opset; }

  // A float input with a symbolic batch dim "N" and the given trailing dims.
  ModelBuilder& input(const std::string& name, std::vector<int64_t> trailing) {
    onnx::ValueInfo v;
    v.name = name;
    v.elem_type = onnx::kFloat;
    v.has_shape = true;
    v.dims.push_back({-1, "N"});
    for (int64_t d : trailing) v.dims.push_back({d, ""});
    m_.graph.inputs.push_back(v);
    return *this;
  }
  ModelBuilder& init(const std::string& name, Tensor t) {
    m_.graph.initializers.push_back({name, std::move(t)});
    return *this;
  }
  ModelBuilder& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                     std::vector<onnx::Attribute> attrs = {}, std::string name = "") {
    onnx::NodeProto n;
    n.name = name.empty() ? out[0] : name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attributes = std::move(attrs);
    m_.graph.nodes.push_back(std::move(n));
    return *this;
  }
  ModelBuilder& output(const std::string& name) {
    onnx::ValueInfo v;
    v.name = name;
    v.elem_type = onnx::kFloat;
    m_.graph.outputs.push_back(v);
    return *this;
  }
  onnx::ModelProto build() const { return m_; }

 private:
  onnx::ModelProto m_;
};

inline Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::zeros(std::move(shape));
  for (float& v : t.f) v = u(rng);
  return t;
}

}  // namespace relscope::testing
