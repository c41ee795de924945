// relscope/onnx/wire.cpp — Msg: protozero reads with wire-type checks and located errors.
//
// Sections: naming helpers | field iteration and scalar getters | repeated scalars
#include <iterator>

#include <protozero/exception.hpp>
#include <protozero/varint.hpp>

#include "onnx/wire.h"

namespace relscope::onnx::detail {

using protozero::pbf_wire_type;

// ---- naming helpers ---------------------------------------------------------------------------

const char* wire_name(pbf_wire_type w) {
  switch (w) {
    case pbf_wire_type::varint: return "varint";
    case pbf_wire_type::fixed64: return "fixed64";
    case pbf_wire_type::length_delimited: return "length-delimited";
    case pbf_wire_type::fixed32: return "fixed32";
    default: return "unknown";
  }
}

// Users see "truncated" far more often than the other cases (cut-off downloads,
// Git LFS pointers), so that one gets the plain word.
static const char* describe(const protozero::exception& e) {
  if (dynamic_cast<const protozero::end_of_buffer_exception*>(&e)) return "truncated protobuf";
  if (dynamic_cast<const protozero::varint_too_long_exception*>(&e)) return "malformed protobuf (varint too long)";
  if (dynamic_cast<const protozero::unknown_pbf_wire_type_exception*>(&e))
    return "malformed protobuf (unknown wire type)";
  if (dynamic_cast<const protozero::invalid_tag_exception*>(&e)) return "malformed protobuf (invalid field number)";
  if (dynamic_cast<const protozero::invalid_length_exception*>(&e))
    return "malformed protobuf (packed length not a multiple of the element size)";
  return "malformed protobuf";
}

std::string Msg::where(const char* field) const {
  std::string out = type_;
  if (tag_ == 0) return out + " (field tag)";
  if (field) out += std::string(".") + field;
  return out + " (field " + std::to_string(tag_) + ")";
}

void Msg::fail_wire(const char* field, const char* expected) const {
  fail_input(ctx_.label + ": " + where(field) + " has wire type " + wire_name(wire_) + ", expected " + expected);
}

void Msg::fail_pbf(const protozero::exception& e, const char* field) const {
  fail_input(ctx_.label + ": " + describe(e) + " in " + where(field));
}

// ---- field iteration and scalar getters ------------------------------------------------------

bool Msg::next() {
  tag_ = 0;
  if (!guarded(nullptr, [&] { return reader_.next(); })) return false;
  tag_ = reader_.tag();
  wire_ = reader_.wire_type();
  return true;
}

// A length-delimited field's length, checked against the bytes left before protozero reads it (every read of one:
// view, skip, packed repeated scalars). protozero keeps only the low 32 bits of the length's varint and compares
// them with the bytes left as a ptrdiff_t: in wasm32 a length of 2^31 or more turns negative there, passes, and
// the read runs past the buffer (a random 3000-byte file did that 2 times in 270); natively a length of 2^32 + n
// would be read as n.
void Msg::check_length(const char* field) {
  const protozero::data_view rest = reader_.data();   // from the length's varint on
  const char* p = rest.data();
  const char* end = p + rest.size();
  const uint64_t len = guarded(field, [&] { return protozero::decode_varint(&p, end); });
  if (len > static_cast<uint64_t>(end - p)) fail_pbf(protozero::end_of_buffer_exception{}, field);
}

uint64_t Msg::varint(const char* field) {
  expect(pbf_wire_type::varint, field, "varint");
  return guarded(field, [&] { return reader_.get_uint64(); });
}

float Msg::float32(const char* field) {
  expect(pbf_wire_type::fixed32, field, "fixed32");
  return guarded(field, [&] { return reader_.get_float(); });
}

uint64_t Msg::fixed64(const char* field) {
  expect(pbf_wire_type::fixed64, field, "fixed64");
  return guarded(field, [&] { return reader_.get_fixed64(); });
}

protozero::data_view Msg::view(const char* field) {
  expect(pbf_wire_type::length_delimited, field, "length-delimited");
  check_length(field);
  return guarded(field, [&] { return reader_.get_view(); });
}

void Msg::skip() {
  if (wire_ == pbf_wire_type::length_delimited) check_length(nullptr);
  guarded(nullptr, [&] { reader_.skip(); });
}

// ---- repeated scalars -------------------------------------------------------------------------
// proto3 writers pack repeated scalars, proto2-era writers (and some hand-made
// files) do not; a parser must accept both for every repeated scalar field.

static void check_count(const Msg& m, const char* field, uint64_t have, uint64_t add, uint64_t max) {
  if (add > max || have > max - add)
    fail(ErrorKind::Limit, m.ctx().label + ": " + m.where(field) + " has more than " + std::to_string(max) +
                               " values (limit)");
}

void Msg::ints(const char* field, std::vector<int64_t>& out, uint64_t max) {
  if (wire_ == pbf_wire_type::varint) {
    check_count(*this, field, out.size(), 1, max);
    out.push_back(int64(field));
    return;
  }
  if (wire_ != pbf_wire_type::length_delimited) fail_wire(field, "varint or packed varints");
  check_length(field);
  guarded(field, [&] {
    auto range = reader_.get_packed_int64();
    // Counting first bounds the allocation by the limit, not by what the file claims.
    check_count(*this, field, out.size(), static_cast<uint64_t>(std::distance(range.begin(), range.end())), max);
    for (int64_t v : range) out.push_back(v);
  });
}

void Msg::floats(const char* field, std::vector<float>& out, uint64_t max) {
  if (wire_ == pbf_wire_type::fixed32) {
    check_count(*this, field, out.size(), 1, max);
    out.push_back(float32(field));
    return;
  }
  if (wire_ != pbf_wire_type::length_delimited) fail_wire(field, "fixed32 or packed fixed32");
  check_length(field);
  guarded(field, [&] {
    auto range = reader_.get_packed_float();
    check_count(*this, field, out.size(), range.size(), max);
    out.insert(out.end(), range.begin(), range.end());
  });
}

}  // namespace relscope::onnx::detail
