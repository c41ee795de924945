// relscope/graph/attrs.cpp — checked attribute accessors (see attrs.h for why).
#include "graph/attrs.h"

#include "core/error.h"

namespace relscope {

namespace {
const char* attr_type_name(onnx::AttrType t) {
  switch (t) {
    case onnx::AttrType::Float: return "float";
    case onnx::AttrType::Int: return "int";
    case onnx::AttrType::String: return "string";
    case onnx::AttrType::Tensor: return "tensor";
    case onnx::AttrType::Graph: return "graph";
    case onnx::AttrType::Floats: return "floats";
    case onnx::AttrType::Ints: return "ints";
    case onnx::AttrType::Strings: return "strings";
    case onnx::AttrType::Tensors: return "tensors";
    case onnx::AttrType::Graphs: return "graphs";
    default: return "undefined";
  }
}
}  // namespace

const onnx::Attribute* Attrs::find(const std::string& name) const {
  for (const auto& a : list_)
    if (a.name == name) return &a;
  return nullptr;
}

const onnx::Attribute& Attrs::expect(const onnx::Attribute& a, onnx::AttrType type) const {
  if (a.type != type)
    fail_input(owner_ + ": attribute '" + a.name + "' is of type " + attr_type_name(a.type) + ", expected " +
               attr_type_name(type));
  return a;
}

int64_t Attrs::get_int(const std::string& name, int64_t fallback) const {
  const auto* a = find(name);
  return a ? expect(*a, onnx::AttrType::Int).i : fallback;
}

float Attrs::get_float(const std::string& name, float fallback) const {
  const auto* a = find(name);
  return a ? expect(*a, onnx::AttrType::Float).f : fallback;
}

std::string Attrs::get_string(const std::string& name, const std::string& fallback) const {
  const auto* a = find(name);
  return a ? expect(*a, onnx::AttrType::String).s : fallback;
}

std::vector<int64_t> Attrs::get_ints(const std::string& name, std::vector<int64_t> fallback) const {
  const auto* a = find(name);
  return a ? expect(*a, onnx::AttrType::Ints).ints : fallback;
}

std::vector<float> Attrs::get_floats(const std::string& name, std::vector<float> fallback) const {
  const auto* a = find(name);
  return a ? expect(*a, onnx::AttrType::Floats).floats : fallback;
}

const Tensor* Attrs::get_tensor(const std::string& name) const {
  const auto* a = find(name);
  if (!a) return nullptr;
  const auto& t = expect(*a, onnx::AttrType::Tensor);
  if (t.tensors.empty()) fail_input(owner_ + ": attribute '" + name + "' holds no tensor");
  return &t.tensors[0];
}

}  // namespace relscope
