// relscope/engine/op_registry.cpp — the op table and the context helpers.
#include "engine/op_registry.h"

namespace relscope {

const Shape& InferCtx::shape(size_t k) const {
  if (!has_input(k)) error("input " + std::to_string(k) + " is required but missing");
  return *in_shapes[k];
}

const Tensor& InferCtx::constant(size_t k, const char* what) const {
  if (!has_input(k)) error(std::string(what) + " (input " + std::to_string(k) + ") is required but missing");
  if (!in_values[k])
    unsupported(std::string(what) + " (input " + std::to_string(k) +
                ") must be a constant or computable from shapes alone; here it depends on the input data");
  return *in_values[k];
}

void InferCtx::error(const std::string& message) const { fail_input(graph.node_label(node) + ": " + message); }
void InferCtx::unsupported(const std::string& message) const {
  fail(ErrorKind::Unsupported, graph.node_label(node) + ": " + message);
}
void RunCtx::error(const std::string& message) const { fail_input(graph.node_label(node) + ": " + message); }

namespace {
OpTable build_table() {
  OpTable t;
  register_linear_ops(t);
  register_pool_norm_ops(t);
  register_elementwise_ops(t);
  register_shape_ops(t);
  register_misc_ops(t);
  return t;
}
}  // namespace

const OpImpl& op_impl(Op op) {
  static const OpTable table = build_table();
  return table.entries[static_cast<int>(op)];
}

}  // namespace relscope
