// relscope/graph/ops.h — the closed set of operators relscope understands.
//
// Sections: RELSCOPE_OPS list | Op enum | name lookup
//
// Adding an op (ggml style): one line here, its shape rule and cpu kernel in
// src/engine/ops/<family>.cpp (registered there), a conformance folder in the
// test list, and a relevance rule in src/relevance when it lands.
#pragma once
#include <string_view>

namespace relscope {

#define RELSCOPE_OPS(X) \
  X(Conv) X(ConvTranspose) X(Gemm) X(MatMul) \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Sqrt) X(Erf) \
  X(Relu) X(LeakyRelu) X(Sigmoid) X(Tanh) X(Clip) \
  X(Softmax) X(LogSoftmax) \
  X(MaxPool) X(AveragePool) X(GlobalAveragePool) X(GlobalMaxPool) \
  X(BatchNormalization) X(LayerNormalization) X(ReduceMean) X(ReduceSum) X(ReduceMax) \
  X(Flatten) X(Reshape) X(Transpose) X(Concat) X(Split) X(Slice) X(Gather) \
  X(Squeeze) X(Unsqueeze) X(Identity) X(Dropout) X(Constant) X(Shape) X(Pad) \
  X(Cast) X(ConstantOfShape)

enum class Op : unsigned short {
#define RELSCOPE_OP_ENUM(name) name,
  RELSCOPE_OPS(RELSCOPE_OP_ENUM)
#undef RELSCOPE_OP_ENUM
  Unsupported,  // kept in the graph so `relscope info` can list every unsupported node at once
  Count
};

const char* op_name(Op op);
// Looks up an ai.onnx op type; Op::Unsupported when unknown.
Op op_from_name(std::string_view onnx_op_type);

}  // namespace relscope
