// relscope/onnx/wire.h — internal to src/onnx: a checked protobuf field reader over protozero.
//
// Sections: Ctx | Msg (field iteration, typed getters, repeated scalars) | TensorProto | bit_cast, half-float conversion
//
// Why a wrapper: protozero trusts the caller about wire types (its checks are
// asserts, compiled out in Release), and its exceptions say nothing about where
// in the file they happened. Msg checks every wire type against what the ONNX
// schema says and turns every protozero exception into a BadInput naming the
// message and field, e.g. "model.onnx: truncated protobuf in GraphProto.node (field 1)".
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <protozero/pbf_reader.hpp>

#include "core/error.h"
#include "core/limits.h"
#include "core/tensor.h"

namespace relscope::onnx::detail {

static_assert(std::endian::native == std::endian::little,
              "raw_data and .npy decoding assume a little-endian host (x86, ARM, wasm)");

// State shared by one decode call.
struct Ctx {
  std::string label;        // prefixes every message ("model.onnx")
  const Limits& limits;
  uint64_t decoded_bytes = 0;   // running total of converted tensor storage (checked against max_total_bytes)
};

const char* wire_name(protozero::pbf_wire_type w);

// First check on any file: its size against limits.max_file_bytes.
inline void check_file_size(const Ctx& ctx, size_t size) {
  if (size > ctx.limits.max_file_bytes)
    fail(ErrorKind::Limit, ctx.label + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(ctx.limits.max_file_bytes));
}

// One protobuf message being decoded.
class Msg {
 public:
  Msg(const Ctx& ctx, const char* type, protozero::data_view bytes)
      : ctx_(ctx), type_(type), reader_(bytes) {}

  const Ctx& ctx() const { return ctx_; }
  const char* type() const { return type_; }

  // Advances to the next field; false at the end of the message.
  bool next();
  uint32_t tag() const { return tag_; }
  protozero::pbf_wire_type wire() const { return wire_; }

  // Typed getters; `field` is the field's onnx.proto3 name, used in error messages.
  uint64_t varint(const char* field);                    // int32/int64/uint64/enum/bool
  int64_t int64(const char* field) { return static_cast<int64_t>(varint(field)); }
  float float32(const char* field);                      // fixed32
  uint64_t fixed64(const char* field);                   // fixed64 (double_data bits)
  protozero::data_view view(const char* field);          // string, bytes or sub-message
  std::string str(const char* field) { return std::string(view(field)); }
  void skip();                                           // unknown or ignored field

  // Repeated scalars, packed or not; appends. `max` bounds the list (Limit error beyond).
  void ints(const char* field, std::vector<int64_t>& out, uint64_t max);
  void floats(const char* field, std::vector<float>& out, uint64_t max);

  // "Type.field (field N)": where the reader stands, for messages.
  std::string where(const char* field) const;
  [[noreturn]] void fail_wire(const char* field, const char* expected) const;

 private:
  void expect(protozero::pbf_wire_type w, const char* field, const char* expected) const {
    if (wire_ != w) fail_wire(field, expected);
  }
  [[noreturn]] void fail_pbf(const protozero::exception& e, const char* field) const;
  void check_length(const char* field);
  // Runs one protozero read, turning its exceptions into located BadInput errors.
  template <class Read>
  auto guarded(const char* field, Read&& read) -> decltype(read()) {
    try {
      return read();
    } catch (const protozero::exception& e) {
      fail_pbf(e, field);
    }
  }

  const Ctx& ctx_;
  const char* type_;
  protozero::pbf_reader reader_;
  uint32_t tag_ = 0;
  protozero::pbf_wire_type wire_ = protozero::pbf_wire_type::unknown;
};

// Decodes one TensorProto (tensor_proto.cpp). Errors read "label: <role> 'name': ...";
// `role` is e.g. "initializer", "tensor" or "node 'n1' attribute 'value' tensor".
Tensor read_tensor(Ctx& ctx, protozero::data_view bytes, const std::string& role, std::string* name_out);

// std::bit_cast is missing from Emscripten 3.1.6's libc++; memcpy compiles to the same move.
template <class To, class From>
inline To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// IEEE half / bfloat16 bit patterns to float, exact (every half is a float).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return bit_cast<float>(sign | 0x7f800000u | (man << 13));  // inf / NaN
  return bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}
inline float bfloat16_to_float(uint16_t b) { return bit_cast<float>(static_cast<uint32_t>(b) << 16); }

}  // namespace relscope::onnx::detail
