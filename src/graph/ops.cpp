// relscope/graph/ops.cpp — op names <-> Op enum, generated from RELSCOPE_OPS.
#include "graph/ops.h"

#include <string_view>

namespace relscope {

namespace {
constexpr const char* kNames[] = {
#define RELSCOPE_OP_NAME(name) #name,
    RELSCOPE_OPS(RELSCOPE_OP_NAME)
#undef RELSCOPE_OP_NAME
    "Unsupported",
};
}  // namespace

const char* op_name(Op op) {
  const int k = static_cast<int>(op);
  return k >= 0 && k < static_cast<int>(Op::Count) ? kNames[k] : "?";
}

Op op_from_name(std::string_view onnx_op_type) {
  for (int k = 0; k < static_cast<int>(Op::Unsupported); ++k)
    if (onnx_op_type == kNames[k]) return static_cast<Op>(k);
  return Op::Unsupported;
}

}  // namespace relscope
