// relscope/graph/attrs.h — typed, checked access to a node's ONNX attributes.
//
// Why a wrapper: every accessor checks the attribute's wire type, so a model
// with `kernel_shape` stored as a float fails with a message naming the node and
// attribute instead of silently reading zeros.
#pragma once
#include <string>
#include <vector>

#include "onnx/model.h"

namespace relscope {

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::vector<onnx::Attribute> list, std::string owner) : list_(std::move(list)), owner_(std::move(owner)) {}

  bool has(const std::string& name) const { return find(name) != nullptr; }
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> fallback = {}) const;
  // nullptr when absent.
  const Tensor* get_tensor(const std::string& name) const;
  const std::vector<onnx::Attribute>& list() const { return list_; }

 private:
  const onnx::Attribute* find(const std::string& name) const;
  const onnx::Attribute& expect(const onnx::Attribute& a, onnx::AttrType type) const;
  std::vector<onnx::Attribute> list_;
  std::string owner_;   // "node 'conv1' (Conv)" for messages
};

}  // namespace relscope
