// relscope/onnx/model.h — the subset of ONNX's ModelProto that relscope reads.
//
// Sections: ValueInfo | Attribute | NodeProto | GraphProto | ModelProto | decoding entry points
//
// Plain structs, filled by the protozero decoder in decode.cpp: no generated
// protobuf code. Initializers are already converted to relscope Tensors
// (float32 or int64), so later stages never see ONNX's wire types.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_buffer.h"
#include "core/limits.h"
#include "core/tensor.h"

namespace relscope::onnx {

// ONNX TensorProto.DataType values relscope names in messages.
enum ElemType : int32_t {
  kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kBfloat16 = 16,
};
const char* elem_type_name(int32_t t);

struct Dim {
  int64_t value = -1;   // >= 0 when known
  std::string param;    // symbolic name ("batch", "N") when value < 0
};

struct ValueInfo {
  std::string name;
  int32_t elem_type = kUndefined;
  bool has_shape = false;   // false: rank unknown
  std::vector<Dim> dims;
};

enum class AttrType : int32_t {
  Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5,
  Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10,
};

struct Attribute {
  std::string name;
  AttrType type = AttrType::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;   // one element for type Tensor
};

struct NodeProto {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
};

struct Initializer {
  std::string name;
  Tensor tensor;
};

struct GraphProto {
  std::string name;
  std::vector<NodeProto> nodes;
  std::vector<Initializer> initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> value_info;
};

struct ModelProto {
  int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::map<std::string, int64_t> opsets;   // domain ("" = ai.onnx) -> version
  GraphProto graph;
};

// Decodes a serialized ModelProto. `label` (usually the file name) prefixes
// every error message. Throws relscope::Error (BadInput/Unsupported/Limit).
ModelProto decode_model(const uint8_t* data, size_t size, const Limits& limits, std::string_view label);
// The same, consuming the bytes: each initializer's bytes and everything after them are given back as soon as
// it is converted (initializers are converted from the file's end backwards, after the rest of the graph), so
// the peak is about the file plus one tensor instead of the file plus all of its weights.
ModelProto decode_model(ByteBuffer bytes, const Limits& limits, std::string_view label);

// Decodes a serialized TensorProto (the ONNX backend test data's input_0.pb, output_0.pb).
// Sets `name` to the tensor's name when given.
Tensor decode_tensor(const uint8_t* data, size_t size, const Limits& limits, std::string_view label,
                     std::string* name = nullptr);

}  // namespace relscope::onnx
