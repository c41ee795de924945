// tests/unit/test_onnx_decode.cpp — decode_model / decode_tensor on hand-built and real ONNX bytes.
//
// Sections: helpers | model structure | tensor conversion | refusals and limits |
//           malformed bytes | ONNX backend test data smoke test
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>

#include "core/error.h"
#include "expect_error.h"
#include "io/file.h"
#include "onnx/model.h"
#include "protobuf_writer.h"

namespace relscope::onnx {
namespace {

using relscope::testing::expect_error;

namespace pb = relscope::testing::pb;

// ---- helpers ----------------------------------------------------------------------------------

// The model, or the error, of decoding `bytes` over borrowed memory.
struct Decoded {
  std::optional<ModelProto> model;
  std::exception_ptr error;
};
template <class F>
Decoded attempt(F&& f) {
  try {
    return {f(), nullptr};
  } catch (...) {
    return {std::nullopt, std::current_exception()};
  }
}
std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& x) {
    return std::to_string(static_cast<int>(x.kind())) + " " + x.what();
  } catch (const std::exception& x) {
    return std::string("std: ") + x.what();
  }
}

// Decoding that consumes a ByteBuffer (and gives its tail back as initializers are converted) must agree with
// decoding borrowed bytes in everything: the same error, or the same model with bit-identical weights.
void expect_same_model(const ModelProto& a, const ModelProto& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  EXPECT_EQ(a.opsets, b.opsets);
  ASSERT_EQ(a.graph.nodes.size(), b.graph.nodes.size());
  for (size_t k = 0; k < a.graph.nodes.size(); ++k) {
    EXPECT_EQ(a.graph.nodes[k].op_type, b.graph.nodes[k].op_type);
    EXPECT_EQ(a.graph.nodes[k].inputs, b.graph.nodes[k].inputs);
  }
  ASSERT_EQ(a.graph.initializers.size(), b.graph.initializers.size());
  for (size_t k = 0; k < a.graph.initializers.size(); ++k) {
    EXPECT_EQ(a.graph.initializers[k].name, b.graph.initializers[k].name);
    EXPECT_TRUE(same_bits(a.graph.initializers[k].tensor, b.graph.initializers[k].tensor)) << a.graph.initializers[k].name;
  }
  ASSERT_EQ(a.graph.inputs.size(), b.graph.inputs.size());
  ASSERT_EQ(a.graph.outputs.size(), b.graph.outputs.size());
}

Decoded decode_both(const uint8_t* data, size_t size, const Limits& limits, const std::string& label) {
  Decoded borrowed = attempt([&] { return decode_model(data, size, limits, label); });
  const Decoded consumed = attempt([&] { return decode_model(ByteBuffer::copy_of(data, size), limits, label); });
  EXPECT_EQ(borrowed.model.has_value(), consumed.model.has_value()) << label;
  if (borrowed.error && consumed.error) {
    EXPECT_EQ(what_of(borrowed.error), what_of(consumed.error)) << label;
  }
  if (borrowed.model && consumed.model) expect_same_model(*borrowed.model, *consumed.model);
  return borrowed;
}

// Decodes both ways (above), returning the model or throwing the error.
ModelProto decode(const std::string& bytes, const Limits& limits = {}) {
  Decoded d = decode_both(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), limits, "model.onnx");
  if (d.error) std::rethrow_exception(d.error);
  return std::move(*d.model);
}

Tensor tensor(const std::string& bytes, const Limits& limits = {}, std::string* name = nullptr) {
  return decode_tensor(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), limits, "t.pb", name);
}

// One initializer-bearing model, used where only a tensor's handling matters.
std::string model_with_initializer(const std::string& tensor_bytes) {
  pb::Graph g;
  g.nodes = {pb::node("Identity", {"W"}, {"y"})};
  g.initializers = {tensor_bytes};
  g.outputs = {pb::value_info("y", kFloat, {2, 2})};
  return pb::model(pb::graph(g));
}

// Appends an unknown varint field and an unknown fixed64 field: decoders must skip them.
std::string with_unknown_fields(std::string msg) {
  protozero::pbf_writer w(msg);
  w.add_uint64(99, 12345);
  w.add_fixed64(98, 7);
  w.add_string(97, "future");
  return msg;
}

std::string two_node_model() {
  pb::Graph g;
  g.name = "tiny";
  const std::string value = pb::tensor_f32("", {1}, {0.5f});
  g.nodes = {
      with_unknown_fields(pb::node("Gemm", {"x", "fc.weight", ""}, {"h"}, "fc",
                                   {pb::attr_float("alpha", 2.5f), pb::attr_int("transB", 1),
                                    pb::attr_ints("perm", {0, -1, 3}), pb::attr_floats("scales", {1.5f, -2.0f}),
                                    pb::attr_string("mode", "linear"), pb::attr_strings("names", {"a", "b"}),
                                    pb::attr_tensor("value", value)})),
      pb::node("If", {"h"}, {"y"}, "", {pb::attr_graph("then_branch", pb::graph({}))}, "com.example"),
  };
  g.initializers = {pb::tensor_f32("fc.weight", {2, 2}, {1, 2, 3, 4})};
  g.inputs = {pb::value_info("x", kFloat, {-1, 2})};
  g.outputs = {pb::value_info("y", kFloat, {-1, 2})};
  g.value_info = {pb::value_info("h", kFloat, {-1, 2})};
  std::string extra;
  protozero::pbf_writer w(extra);
  w.add_uint64(50, 1);   // unknown top-level field
  std::string ms_opset;
  protozero::pbf_writer o(ms_opset);
  o.add_string(1, "com.microsoft");
  o.add_int64(2, 1);
  w.add_message(8, ms_opset);
  return pb::model(with_unknown_fields(pb::graph(g)), 17, 8, extra);
}

// ---- model structure --------------------------------------------------------------------------

TEST(OnnxDecodeModel, TwoNodeModelDecodesEveryField) {
  const ModelProto m = decode(two_node_model());
  EXPECT_EQ(m.ir_version, 8);
  EXPECT_EQ(m.producer_name, "relscope-test");
  EXPECT_EQ(m.producer_version, "1.0");
  ASSERT_EQ(m.opsets.size(), 2u);
  EXPECT_EQ(m.opsets.at(""), 17);
  EXPECT_EQ(m.opsets.at("com.microsoft"), 1);

  const GraphProto& g = m.graph;
  EXPECT_EQ(g.name, "tiny");
  ASSERT_EQ(g.nodes.size(), 2u);
  const NodeProto& fc = g.nodes[0];
  EXPECT_EQ(fc.name, "fc");
  EXPECT_EQ(fc.op_type, "Gemm");
  EXPECT_EQ(fc.domain, "");
  EXPECT_EQ(fc.inputs, (std::vector<std::string>{"x", "fc.weight", ""}));
  EXPECT_EQ(fc.outputs, (std::vector<std::string>{"h"}));
  ASSERT_EQ(fc.attributes.size(), 7u);
  EXPECT_EQ(fc.attributes[0].name, "alpha");
  EXPECT_EQ(fc.attributes[0].type, AttrType::Float);
  EXPECT_EQ(fc.attributes[0].f, 2.5f);
  EXPECT_EQ(fc.attributes[1].type, AttrType::Int);
  EXPECT_EQ(fc.attributes[1].i, 1);
  EXPECT_EQ(fc.attributes[2].ints, (std::vector<int64_t>{0, -1, 3}));
  EXPECT_EQ(fc.attributes[3].floats, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(fc.attributes[4].s, "linear");
  EXPECT_EQ(fc.attributes[5].type, AttrType::Strings);
  EXPECT_EQ(fc.attributes[5].strings, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(fc.attributes[6].type, AttrType::Tensor);
  ASSERT_EQ(fc.attributes[6].tensors.size(), 1u);
  EXPECT_EQ(fc.attributes[6].tensors[0].f, std::vector<float>{0.5f});

  const NodeProto& iff = g.nodes[1];
  EXPECT_EQ(iff.name, "");
  EXPECT_EQ(iff.domain, "com.example");
  ASSERT_EQ(iff.attributes.size(), 1u);
  EXPECT_EQ(iff.attributes[0].type, AttrType::Graph);   // recorded, body skipped

  ASSERT_EQ(g.initializers.size(), 1u);
  EXPECT_EQ(g.initializers[0].name, "fc.weight");
  EXPECT_EQ(g.initializers[0].tensor.shape, (Shape{2, 2}));
  EXPECT_EQ(g.initializers[0].tensor.f, (std::vector<float>{1, 2, 3, 4}));

  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].name, "x");
  EXPECT_EQ(g.inputs[0].elem_type, kFloat);
  EXPECT_TRUE(g.inputs[0].has_shape);
  ASSERT_EQ(g.inputs[0].dims.size(), 2u);
  EXPECT_EQ(g.inputs[0].dims[0].value, -1);
  EXPECT_EQ(g.inputs[0].dims[0].param, "N");
  EXPECT_EQ(g.inputs[0].dims[1].value, 2);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, "y");
  ASSERT_EQ(g.value_info.size(), 1u);
  EXPECT_EQ(g.value_info[0].name, "h");
}

// Initializers are converted after the rest of the graph, last in the file first (the consuming decoder gives
// back the bytes behind each): interleaved with nodes and inputs, and with ModelProto fields after the graph,
// they still come out in file order with their own values, and every other field is read.
TEST(OnnxDecodeModel, InterleavedInitializersKeepTheirOrderAndValues) {
  std::string g;
  protozero::pbf_writer w(g);
  w.add_message(5, pb::tensor_f32("a", {2}, {1, 2}));
  w.add_message(1, pb::node("Add", {"x", "a"}, {"h"}, "add"));
  w.add_message(5, pb::tensor_f32("b", {3}, {3, 4, 5}));
  w.add_message(11, pb::value_info("x", kFloat, {2}));
  w.add_message(5, pb::tensor_f32("c", {1}, {6}));
  w.add_message(1, pb::node("Mul", {"h", "c"}, {"y"}, "mul"));
  w.add_message(12, pb::value_info("y", kFloat, {2}));
  w.add_message(5, pb::tensor_f32("d", {}, {7}));
  std::string m, opset;
  protozero::pbf_writer o(opset);
  o.add_string(1, "");
  o.add_int64(2, 13);
  protozero::pbf_writer mw(m);
  mw.add_int64(1, 8);
  mw.add_message(7, g);
  mw.add_message(8, opset);   // after the graph
  mw.add_string(2, "late producer");
  const ModelProto model = decode(m);
  EXPECT_EQ(model.opsets.at(""), 13);
  EXPECT_EQ(model.producer_name, "late producer");
  ASSERT_EQ(model.graph.nodes.size(), 2u);
  EXPECT_EQ(model.graph.nodes[1].op_type, "Mul");
  ASSERT_EQ(model.graph.inputs.size(), 1u);
  ASSERT_EQ(model.graph.outputs.size(), 1u);
  const std::vector<std::pair<std::string, std::vector<float>>> want = {
      {"a", {1, 2}}, {"b", {3, 4, 5}}, {"c", {6}}, {"d", {7}}};
  ASSERT_EQ(model.graph.initializers.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(model.graph.initializers[k].name, want[k].first);
    EXPECT_EQ(model.graph.initializers[k].tensor.f, want[k].second);
  }
}

TEST(OnnxDecodeModel, AttributeTypeInferredWhenMissing) {
  std::string a;
  protozero::pbf_writer w(a);
  w.add_string(1, "axis");
  w.add_int64(3, -1);   // old exporters leave out `type` (20)
  pb::Graph g;
  g.nodes = {pb::node("Softmax", {"x"}, {"y"}, "sm", {a})};
  const ModelProto m = decode(pb::model(pb::graph(g)));
  EXPECT_EQ(m.graph.nodes[0].attributes[0].type, AttrType::Int);
  EXPECT_EQ(m.graph.nodes[0].attributes[0].i, -1);
}

TEST(OnnxDecodeModel, ValueInfoWithoutShapeHasUnknownRank) {
  std::string vi;
  protozero::pbf_writer w(vi);
  w.add_string(1, "x");
  pb::Graph g;
  g.inputs = {vi};
  const ModelProto m = decode(pb::model(pb::graph(g)));
  EXPECT_FALSE(m.graph.inputs[0].has_shape);
  EXPECT_EQ(m.graph.inputs[0].elem_type, kUndefined);
}

TEST(OnnxDecodeModel, ElemTypeNames) {
  EXPECT_STREQ(elem_type_name(kFloat), "float32");
  EXPECT_STREQ(elem_type_name(kDouble), "float64");
  EXPECT_STREQ(elem_type_name(kBfloat16), "bfloat16");
  EXPECT_STREQ(elem_type_name(999), "unknown");
}

// ---- tensor conversion ------------------------------------------------------------------------

TEST(OnnxDecodeTensor, FloatRawDataPackedAndUnpackedAgree) {
  const std::vector<float> v = {1.0f, -2.5f, 3.25f, 1e-30f};
  std::string packed, unpacked;
  {
    protozero::pbf_writer w(packed);
    pb::tensor_header(w, "a", {2, 2}, kFloat);
    w.add_packed_float(4, v.begin(), v.end());
  }
  {
    protozero::pbf_writer w(unpacked);
    pb::tensor_header(w, "a", {2, 2}, kFloat);
    for (float x : v) w.add_float(4, x);
  }
  std::string name;
  for (const std::string& bytes : {pb::tensor_f32("a", {2, 2}, v), packed, unpacked}) {
    const Tensor t = tensor(bytes, {}, &name);
    EXPECT_EQ(name, "a");
    EXPECT_EQ(t.dtype, DType::Float32);
    EXPECT_EQ(t.shape, (Shape{2, 2}));
    EXPECT_EQ(t.f, v);
  }
}

TEST(OnnxDecodeTensor, Float16AndBfloat16ConvertExactly) {
  // 1, -2, 0.5, 65504 (max half), 2^-24 (smallest subnormal), +inf, 2^-14 (smallest normal)
  const std::vector<uint16_t> bits = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00, 0x0400};
  const std::vector<float> want = {1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24),
                                   std::numeric_limits<float>::infinity(), std::ldexp(1.0f, -14)};
  std::string typed;
  protozero::pbf_writer w(typed);
  pb::tensor_header(w, "h", {7}, kFloat16);
  std::vector<int32_t> as_int32(bits.begin(), bits.end());   // int32_data holds the bit patterns
  w.add_packed_int32(5, as_int32.begin(), as_int32.end());
  EXPECT_EQ(tensor(pb::tensor_raw("h", {7}, kFloat16, pb::raw_bytes(bits))).f, want);
  EXPECT_EQ(tensor(typed).f, want);

  const Tensor nan = tensor(pb::tensor_raw("n", {1}, kFloat16, pb::raw_bytes(std::vector<uint16_t>{0x7e00})));
  EXPECT_TRUE(std::isnan(nan.f[0]));
  const Tensor bf = tensor(pb::tensor_raw("b", {2}, kBfloat16, pb::raw_bytes(std::vector<uint16_t>{0x3f80, 0xc040})));
  EXPECT_EQ(bf.f, (std::vector<float>{1.0f, -3.0f}));
}

TEST(OnnxDecodeTensor, DoubleConvertsToFloat) {
  const std::vector<double> v = {0.1, -1e300, 3.0};
  const std::vector<float> want = {0.1f, -std::numeric_limits<float>::infinity(), 3.0f};
  std::string typed;
  protozero::pbf_writer w(typed);
  pb::tensor_header(w, "d", {3}, kDouble);
  for (double x : v) w.add_double(10, x);   // unpacked fixed64
  EXPECT_EQ(tensor(pb::tensor_raw("d", {3}, kDouble, pb::raw_bytes(v))).f, want);
  EXPECT_EQ(tensor(typed).f, want);
}

TEST(OnnxDecodeTensor, IntegerTypesBecomeInt64) {
  const std::vector<int32_t> i32 = {-7, 0, 2147483647};
  std::string typed;
  {
    protozero::pbf_writer w(typed);
    pb::tensor_header(w, "i", {3}, kInt32);
    for (int32_t x : i32) w.add_int32(5, x);   // unpacked varints, negatives as 10-byte varints
  }
  const std::vector<int64_t> want32 = {-7, 0, 2147483647};
  EXPECT_EQ(tensor(typed).i, want32);
  EXPECT_EQ(tensor(typed).dtype, DType::Int64);
  EXPECT_EQ(tensor(pb::tensor_raw("i", {3}, kInt32, pb::raw_bytes(i32))).i, want32);

  EXPECT_EQ(tensor(pb::tensor_raw("b", {3}, kInt8, pb::raw_bytes(std::vector<int8_t>{-128, 5, 127}))).i,
            (std::vector<int64_t>{-128, 5, 127}));
  EXPECT_EQ(tensor(pb::tensor_raw("u", {2}, kUint8, pb::raw_bytes(std::vector<uint8_t>{255, 1}))).i,
            (std::vector<int64_t>{255, 1}));
  EXPECT_EQ(tensor(pb::tensor_raw("q", {2}, kBool, pb::raw_bytes(std::vector<uint8_t>{0, 1}))).i,
            (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(tensor(pb::tensor_raw("s", {2}, kInt16, pb::raw_bytes(std::vector<int16_t>{-300, 300}))).i,
            (std::vector<int64_t>{-300, 300}));

  std::string i16;
  {
    protozero::pbf_writer w(i16);
    pb::tensor_header(w, "s", {2}, kInt16);
    std::vector<int32_t> v = {-300, 300};
    w.add_packed_int32(5, v.begin(), v.end());
  }
  EXPECT_EQ(tensor(i16).i, (std::vector<int64_t>{-300, 300}));
}

TEST(OnnxDecodeTensor, Int64RawPackedAndUnpacked) {
  const std::vector<int64_t> v = {-1, 0, int64_t{1} << 40};
  std::string packed, unpacked;
  {
    protozero::pbf_writer w(packed);
    pb::tensor_header(w, "shape", {3}, kInt64);
    w.add_packed_int64(7, v.begin(), v.end());
  }
  {
    protozero::pbf_writer w(unpacked);
    pb::tensor_header(w, "shape", {3}, kInt64);
    for (int64_t x : v) w.add_int64(7, x);
  }
  for (const std::string& bytes : {pb::tensor_raw("shape", {3}, kInt64, pb::raw_bytes(v)), packed, unpacked})
    EXPECT_EQ(tensor(bytes).i, v);
}

TEST(OnnxDecodeTensor, ZeroSizedAndScalarTensors) {
  const Tensor empty = tensor(pb::tensor_raw("e", {0, 3}, kFloat, ""));
  EXPECT_EQ(empty.shape, (Shape{0, 3}));
  EXPECT_TRUE(empty.f.empty());
  std::string no_data;
  protozero::pbf_writer w(no_data);
  pb::tensor_header(w, "e", {3, 0}, kInt64);
  EXPECT_EQ(tensor(no_data).numel(), 0);
  const Tensor scalar = tensor(pb::tensor_f32("s", {}, {4.0f}));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.f, std::vector<float>{4.0f});
}

// ---- refusals and limits ----------------------------------------------------------------------

TEST(OnnxDecodeRefuse, ExternalDataIsUnsupported) {
  std::string located, entries;
  {
    protozero::pbf_writer w(located);
    pb::tensor_header(w, "W", {2}, kFloat);
    w.add_int32(14, 1);   // data_location = EXTERNAL
  }
  {
    protozero::pbf_writer w(entries);
    pb::tensor_header(w, "W", {2}, kFloat);
    std::string kv;
    protozero::pbf_writer e(kv);
    e.add_string(1, "location");
    e.add_string(2, "weights.bin");
    w.add_message(13, kv);
  }
  for (const std::string& t : {located, entries})
    expect_error([&] { decode(model_with_initializer(t)); }, ErrorKind::Unsupported,
                 "initializer 'W': external data is not supported; re-export with the weights inside the .onnx file");
  expect_error([&] { tensor(located); }, ErrorKind::Unsupported, "t.pb: tensor 'W': external data is not supported");
}

TEST(OnnxDecodeRefuse, RawDataLengthMismatchNamesTheTensor) {
  const std::string t = pb::tensor_raw("fc.weight", {2, 2}, kFloat, std::string(12, '\0'));
  expect_error([&] { decode(model_with_initializer(t)); }, ErrorKind::BadInput,
               "model.onnx: initializer 'fc.weight': raw_data has 12 bytes, expected 16 for float32 [2,2]");
}

TEST(OnnxDecodeRefuse, TypedValueCountMustMatch) {
  std::string t;
  protozero::pbf_writer w(t);
  pb::tensor_header(w, "b", {4}, kInt64);
  std::vector<int64_t> v = {1, 2, 3};
  w.add_packed_int64(7, v.begin(), v.end());
  expect_error([&] { tensor(t); }, ErrorKind::BadInput, "t.pb: tensor 'b': int64_data has 3 values, expected 4 for int64 [4]");
}

TEST(OnnxDecodeRefuse, MissingDataWrongFieldAndBothSources) {
  std::string none, wrong, both;
  {
    protozero::pbf_writer w(none);
    pb::tensor_header(w, "n", {2}, kFloat);
  }
  expect_error([&] { tensor(none); }, ErrorKind::BadInput, "tensor 'n': has no data");
  {
    protozero::pbf_writer w(wrong);
    pb::tensor_header(w, "n", {1}, kInt64);
    w.add_float(4, 1.0f);
  }
  expect_error([&] { tensor(wrong); }, ErrorKind::BadInput, "int64 tensor carries float_data");
  both = pb::tensor_f32("n", {1}, {1.0f});
  protozero::pbf_writer(both).add_float(4, 1.0f);
  expect_error([&] { tensor(both); }, ErrorKind::BadInput, "has both raw_data and float_data");
}

TEST(OnnxDecodeRefuse, UnsupportedTypesNameTheTensor) {
  std::string s;
  protozero::pbf_writer w(s);
  pb::tensor_header(w, "labels", {1}, kString);
  w.add_string(6, "cat");
  expect_error([&] { tensor(s); }, ErrorKind::Unsupported, "tensor 'labels': data type string (8) is not supported");
  expect_error([&] { tensor(pb::tensor_raw("c", {1}, 14, std::string(8, '\0'))); }, ErrorKind::Unsupported,
               "tensor 'c': data type complex64");
  expect_error([&] { tensor(pb::tensor_raw("u", {1}, 0, "")); }, ErrorKind::BadInput, "data_type is missing");
  expect_error([&] { tensor(pb::tensor_raw("big", {1}, kUint64, pb::raw_bytes(std::vector<uint64_t>{~0ull}))); },
               ErrorKind::BadInput, "does not fit in int64");
}

TEST(OnnxDecodeRefuse, HugeDimsHitTheLimitBeforeAllocating) {
  // 2^60 declared elements in a few bytes: must be refused by the count, not by a failed allocation.
  expect_error([&] { tensor(pb::tensor_raw("h", {1 << 20, 1 << 20, 1 << 20}, kFloat, "")); }, ErrorKind::Limit,
               "t.pb: tensor 'h'");
  expect_error([&] { tensor(pb::tensor_raw("h", {int64_t{1} << 62, 4}, kFloat, "")); }, ErrorKind::Limit, "tensor 'h'");
  expect_error([&] { tensor(pb::tensor_raw("neg", {2, -3}, kFloat, "")); }, ErrorKind::BadInput, "negative dimension");
  expect_error([&] { tensor(pb::tensor_raw("r", std::vector<int64_t>(100, 1), kFloat, "")); }, ErrorKind::Limit,
               "(limit)");
  Limits small;
  small.max_total_bytes = 8;
  expect_error([&] { tensor(pb::tensor_f32("w", {4}, {1, 2, 3, 4}), small); }, ErrorKind::Limit, "once converted");
}

TEST(OnnxDecodeRefuse, SparseInitializerIsUnsupported) {
  std::string g = pb::graph({});
  protozero::pbf_writer(g).add_message(15, std::string("\x08\x01", 2));
  expect_error([&] { decode(pb::model(g)); }, ErrorKind::Unsupported, "sparse");
}

TEST(OnnxDecodeRefuse, NodeCountAndFileSizeLimits) {
  pb::Graph g;
  for (int k = 0; k < 3; ++k) g.nodes.push_back(pb::node("Relu", {"x"}, {"y"}));
  Limits limits;
  limits.max_nodes = 2;
  expect_error([&] { decode(pb::model(pb::graph(g)), limits); }, ErrorKind::Limit, "more than 2 nodes");
  limits.max_file_bytes = 10;
  expect_error([&] { decode(two_node_model(), limits); }, ErrorKind::Limit, "over the limit of 10");
}

// ---- malformed bytes --------------------------------------------------------------------------

TEST(OnnxDecodeMalformed, EveryTruncatedPrefixIsBadInput) {
  const std::string full = two_node_model();
  ASSERT_NO_THROW(decode(full));
  for (size_t n = 0; n < full.size(); ++n) {
    try {
      decode(full.substr(0, n));
      ADD_FAILURE() << "prefix of " << n << " bytes decoded";
    } catch (const Error& e) {
      EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::BadInput)) << n << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("model.onnx: ", 0), 0u) << e.what();
    }
  }
  // The same for a TensorProto on its own (the backend test data's .pb files).
  std::string t;
  protozero::pbf_writer w(t);
  pb::tensor_header(w, "x", {3}, kInt64);
  std::vector<int64_t> v = {1, -2, 300};
  w.add_packed_int64(7, v.begin(), v.end());
  for (size_t n = 1; n < t.size(); ++n) EXPECT_THROW(tensor(t.substr(0, n)), Error) << n;
}

TEST(OnnxDecodeMalformed, TruncationNamesTheField) {
  std::string g;
  protozero::pbf_writer w(g);
  w.add_string(2, "g");
  g += std::string("\x0a\x32\x0a\x01x", 5);   // node (field 1) claims 50 bytes, 3 follow
  expect_error([&] { decode(pb::model(g)); }, ErrorKind::BadInput,
               "model.onnx: truncated protobuf in GraphProto.node (field 1)");
}

// Lengths protozero misreads: it keeps a length's low 32 bits and compares them with the bytes left as a
// ptrdiff_t, so in wasm32 a length from 2^31 passed as negative and the read ran past the buffer (a random
// 3000-byte file crashed `relscope.js info` 2 times in 270), and 2^32 + 3 read as 3. Each is refused as
// truncated, naming the field, whether the field is read (graph.node), skipped (an unknown field) or packed (dims).
TEST(OnnxDecodeMalformed, LengthsPast32BitsAreTruncationNotReads) {
  auto length_field = [](uint32_t field, uint64_t len) {   // key (wire type 2) + length varint + 3 bytes
    std::string b;
    for (uint64_t v = uint64_t{field} << 3 | 2; ; v >>= 7) {
      b += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      if (v <= 0x7f) break;
    }
    for (uint64_t v = len; ; v >>= 7) {
      b += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      if (v <= 0x7f) break;
    }
    return b + "abc";
  };
  for (uint64_t len : {uint64_t{1} << 31, (uint64_t{1} << 31) + 5, uint64_t{0xffffffff}, (uint64_t{1} << 32) + 3,
                       uint64_t{13823234267858455}}) {
    SCOPED_TRACE(len);
    expect_error([&] { decode(pb::model(length_field(1, len))); }, ErrorKind::BadInput,
                 "model.onnx: truncated protobuf in GraphProto.node (field 1)");
    expect_error([&] { decode(length_field(11, len)); }, ErrorKind::BadInput,
                 "model.onnx: not an ONNX model (truncated protobuf in ModelProto (field 11))");
    expect_error([&] { tensor(length_field(1, len)); }, ErrorKind::BadInput, "truncated protobuf in TensorProto.dims (field 1)");
  }
}

TEST(OnnxDecodeMalformed, WrongWireTypeNamesTheField) {
  std::string m;
  protozero::pbf_writer w(m);
  w.add_int64(1, 8);
  w.add_uint64(7, 5);   // graph as a varint
  expect_error([&] { decode(m); }, ErrorKind::BadInput,
               "model.onnx: ModelProto.graph (field 7) has wire type varint, expected length-delimited");
  std::string t;
  protozero::pbf_writer tw(t);
  tw.add_fixed64(2, 1);   // data_type as fixed64
  expect_error([&] { tensor(t); }, ErrorKind::BadInput, "TensorProto.data_type (field 2) has wire type fixed64");
}

TEST(OnnxDecodeMalformed, NotAModel) {
  expect_error([] { decode(""); }, ErrorKind::BadInput, "model.onnx: not an ONNX model (empty file)");
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0\x1f\xf3\xff" "a", 33);
  expect_error([&] { decode(png); }, ErrorKind::BadInput, "model.onnx: not an ONNX model (");
  const std::string lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1234\n";
  expect_error([&] { decode(lfs); }, ErrorKind::BadInput, "model.onnx: not an ONNX model (");
  std::string no_graph;
  protozero::pbf_writer(no_graph).add_int64(1, 8);
  expect_error([&] { decode(no_graph); }, ErrorKind::BadInput, "model.onnx: not an ONNX model (no graph)");
  // Deterministic pseudo-random garbage of many lengths: only relscope::Error may come out.
  uint32_t state = 12345;
  for (int len = 1; len < 400; len += 7) {
    std::string junk(static_cast<size_t>(len), '\0');
    for (char& c : junk) c = static_cast<char>((state = state * 1664525u + 1013904223u) >> 24);
    try {
      decode(junk);
    } catch (const Error&) {
    }
  }
}

TEST(OnnxDecodeMalformed, MutatedBytesOnlyThrowRelscopeErrors) {
  // Byte flips in a valid model reach every decoder path with hostile lengths,
  // tags and wire types; anything but a clean decode or relscope::Error is a bug.
  const std::string full = two_node_model();
  uint32_t state = 99;
  auto rnd = [&] { return (state = state * 1664525u + 1013904223u) >> 8; };
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string m = full;
    for (int k = 0, flips = 1 + round % 4; k < flips; ++k)
      m[rnd() % m.size()] = static_cast<char>(rnd());
    try {
      decode(m);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

// ---- ONNX backend test data smoke test --------------------------------------------------------

TEST(OnnxDecodeTestData, BackendNodeModelsDecodeOrAreUnsupported) {
  namespace fs = std::filesystem;
  const fs::path root = "/usr/share/libonnx-testdata/data/node";
  if (!fs::is_directory(root)) GTEST_SKIP() << root << " not installed (apt-get install libonnx-testdata)";
  int models = 0, models_ok = 0, tensors = 0, tensors_ok = 0, non_tensor_refused = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    const fs::path model = dir.path() / "model.onnx";
    if (!fs::exists(model)) continue;
    ++models;
    // input_K.pb / output_K.pb hold graph input/output K; for sequence and optional values
    // they are SequenceProto/OptionalProto, not TensorProto, and may fail to decode as tensors.
    std::vector<bool> in_tensor, out_tensor;
    try {
      const std::vector<uint8_t> bytes = read_file_bytes(model.string(), Limits{}.max_file_bytes);
      Decoded d = decode_both(bytes.data(), bytes.size(), Limits{}, model.string());
      if (d.error) std::rethrow_exception(d.error);
      const ModelProto m = std::move(*d.model);
      for (const ValueInfo& v : m.graph.inputs) in_tensor.push_back(v.elem_type != kUndefined);
      for (const ValueInfo& v : m.graph.outputs) out_tensor.push_back(v.elem_type != kUndefined);
      ++models_ok;
    } catch (const Error& e) {
      EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::Unsupported)) << e.what();
    }
    for (const auto& set : fs::directory_iterator(dir.path())) {
      if (!set.is_directory()) continue;
      for (const auto& pbf : fs::directory_iterator(set.path())) {
        const std::string file = pbf.path().filename().string();
        if (pbf.path().extension() != ".pb") continue;
        const bool is_input = file.rfind("input_", 0) == 0;
        const size_t k = std::stoul(file.substr(is_input ? 6 : 7));
        const std::vector<bool>& kinds = is_input ? in_tensor : out_tensor;
        const bool tensor_expected = k < kinds.size() && kinds[k];
        ++tensors;
        try {
          const std::vector<uint8_t> bytes = read_file_bytes(pbf.path().string(), Limits{}.max_file_bytes);
          decode_tensor(bytes.data(), bytes.size(), Limits{}, pbf.path().string());
          ++tensors_ok;
        } catch (const Error& e) {
          if (tensor_expected) {
            EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(ErrorKind::Unsupported)) << e.what();
          } else {
            ++non_tensor_refused;
          }
        }
      }
    }
  }
  std::printf("[ testdata ] models: %d/%d decode cleanly; tensor .pb files: %d/%d (%d sequence/optional refused)\n",
              models_ok, models, tensors_ok, tensors, non_tensor_refused);
  EXPECT_GT(models_ok, models * 9 / 10);
}

}  // namespace
}  // namespace relscope::onnx
