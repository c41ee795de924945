// tests/unit/protobuf_writer.h — build ONNX protobuf bytes by hand in tests.
//
// Sections: raw bytes | TensorProto | ValueInfoProto | AttributeProto | NodeProto | GraphProto | ModelProto
//
// Why hand-built: the decoder's tests need exact control over the wire format
// (packed vs unpacked, wrong wire types, truncation), which generated code or
// the onnx Python package would hide. protozero's pbf_writer does the encoding.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <protozero/pbf_writer.hpp>

namespace relscope::testing::pb {

// ---- raw bytes ----
template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline std::vector<uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

// ---- TensorProto ----
// Writes name, dims and data_type; the caller adds the data fields to `w`.
inline void tensor_header(protozero::pbf_writer& w, const std::string& name, const std::vector<int64_t>& dims,
                          int32_t data_type) {
  w.add_packed_int64(1, dims.begin(), dims.end());
  w.add_int32(2, data_type);
  if (!name.empty()) w.add_string(8, name);
}

inline std::string tensor_raw(const std::string& name, const std::vector<int64_t>& dims, int32_t data_type,
                              const std::string& raw) {
  std::string out;
  protozero::pbf_writer w(out);
  tensor_header(w, name, dims, data_type);
  w.add_bytes(9, raw);
  return out;
}

inline std::string tensor_f32(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<float>& v) {
  return tensor_raw(name, dims, 1, raw_bytes(v));
}

// ---- ValueInfoProto ----
// A dim < 0 is written as dim_param "N".
inline std::string value_info(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims) {
  std::string shape;
  {
    protozero::pbf_writer s(shape);
    for (int64_t d : dims) {
      std::string dim;
      protozero::pbf_writer dw(dim);
      if (d >= 0) dw.add_int64(1, d);
      else dw.add_string(2, "N");
      s.add_message(1, dim);
    }
  }
  std::string tensor_type, type, out;
  protozero::pbf_writer tt(tensor_type);
  tt.add_int32(1, elem_type);
  tt.add_message(2, shape);
  protozero::pbf_writer t(type);
  t.add_message(1, tensor_type);
  protozero::pbf_writer w(out);
  w.add_string(1, name);
  w.add_message(2, type);
  return out;
}

// ---- AttributeProto (type codes as onnx.proto3's AttributeType) ----
// `add_value` writes the value field(s) after name (1) and type (20).
template <class AddValue>
std::string attr(const std::string& name, int32_t type, AddValue&& add_value) {
  std::string out;
  protozero::pbf_writer w(out);
  w.add_string(1, name);
  w.add_int32(20, type);
  add_value(w);
  return out;
}
using W = protozero::pbf_writer;
inline std::string attr_float(const std::string& n, float v) { return attr(n, 1, [&](W& w) { w.add_float(2, v); }); }
inline std::string attr_int(const std::string& n, int64_t v) { return attr(n, 2, [&](W& w) { w.add_int64(3, v); }); }
inline std::string attr_string(const std::string& n, const std::string& v) {
  return attr(n, 3, [&](W& w) { w.add_bytes(4, v); });
}
inline std::string attr_tensor(const std::string& n, const std::string& tensor) {
  return attr(n, 4, [&](W& w) { w.add_message(5, tensor); });
}
inline std::string attr_graph(const std::string& n, const std::string& graph) {
  return attr(n, 5, [&](W& w) { w.add_message(6, graph); });
}
inline std::string attr_floats(const std::string& n, const std::vector<float>& v) {
  return attr(n, 6, [&](W& w) { w.add_packed_float(7, v.begin(), v.end()); });
}
inline std::string attr_ints(const std::string& n, const std::vector<int64_t>& v) {
  return attr(n, 7, [&](W& w) { w.add_packed_int64(8, v.begin(), v.end()); });
}
inline std::string attr_strings(const std::string& n, const std::vector<std::string>& v) {
  return attr(n, 8, [&](W& w) {
    for (const auto& s : v) w.add_bytes(9, s);
  });
}

// ---- NodeProto ----
inline std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "",
                        const std::vector<std::string>& attrs = {}, const std::string& domain = "") {
  std::string out;
  protozero::pbf_writer w(out);
  for (const auto& s : inputs) w.add_string(1, s);
  for (const auto& s : outputs) w.add_string(2, s);
  if (!name.empty()) w.add_string(3, name);
  w.add_string(4, op_type);
  for (const auto& a : attrs) w.add_message(5, a);
  if (!domain.empty()) w.add_string(7, domain);
  return out;
}

// ---- GraphProto ----
struct Graph {
  std::string name = "g";
  std::vector<std::string> nodes, initializers, inputs, outputs, value_info;
};
inline std::string graph(const Graph& g) {
  std::string out;
  protozero::pbf_writer w(out);
  for (const auto& n : g.nodes) w.add_message(1, n);
  w.add_string(2, g.name);
  for (const auto& t : g.initializers) w.add_message(5, t);
  for (const auto& v : g.inputs) w.add_message(11, v);
  for (const auto& v : g.outputs) w.add_message(12, v);
  for (const auto& v : g.value_info) w.add_message(13, v);
  return out;
}

// ---- ModelProto ----
// The graph goes last, so every strict prefix of the result lacks a complete graph.
// `extra` (already-encoded fields, e.g. unknown ones) goes just before the graph.
inline std::string model(const std::string& graph_bytes, int64_t opset = 17, int64_t ir_version = 8,
                         const std::string& extra = "") {
  std::string out, opset_bytes;
  protozero::pbf_writer o(opset_bytes);
  o.add_string(1, "");
  o.add_int64(2, opset);
  protozero::pbf_writer w(out);
  w.add_int64(1, ir_version);
  w.add_string(2, "relscope-test");
  w.add_string(3, "1.0");
  w.add_message(8, opset_bytes);
  out += extra;
  w.add_message(7, graph_bytes);
  return out;
}

}  // namespace relscope::testing::pb
