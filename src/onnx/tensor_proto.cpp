// relscope/onnx/tensor_proto.cpp — TensorProto to relscope::Tensor (float32 or int64).
//
// Sections: element types | pass 1: scan fields | pass 2: convert values | read_tensor | decode_tensor
//
// Why two passes over the bytes: the element count a file declares (dims) and the
// number of values it carries must both be checked before anything is allocated;
// collecting typed values while scanning would let a hostile file make us
// allocate before the check. The second pass is cheap next to the conversion.
#include <cmath>
#include <cstring>
#include <limits>

#include "onnx/model.h"
#include "onnx/wire.h"

namespace relscope::onnx {

// ---- element types ----------------------------------------------------------------------------

const char* elem_type_name(int32_t t) {
  switch (t) {
    case kUndefined: return "undefined";
    case kFloat: return "float32";
    case kUint8: return "uint8";
    case kInt8: return "int8";
    case kUint16: return "uint16";
    case kInt16: return "int16";
    case kInt32: return "int32";
    case kInt64: return "int64";
    case kString: return "string";
    case kBool: return "bool";
    case kFloat16: return "float16";
    case kDouble: return "float64";
    case kUint32: return "uint32";
    case kUint64: return "uint64";
    case 14: return "complex64";
    case 15: return "complex128";
    case kBfloat16: return "bfloat16";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    default: return "unknown";
  }
}

namespace detail {
namespace {

using protozero::pbf_wire_type;

// TensorProto's typed value fields and their element encodings.
enum Field : uint32_t { kFloatData = 4, kInt32Data = 5, kInt64Data = 7, kDoubleData = 10, kUint64Data = 11 };
const char* field_name(uint32_t f) {
  switch (f) {
    case kFloatData: return "float_data";
    case kInt32Data: return "int32_data";
    case kInt64Data: return "int64_data";
    case kDoubleData: return "double_data";
    default: return "uint64_data";
  }
}

// How one supported ONNX element type is stored and what it becomes.
struct Layout {
  unsigned raw_size;   // bytes per element in raw_data
  uint32_t field;      // the typed field ONNX uses for it (int32_data holds float16 bits too)
  DType out;
};

bool layout_of(int32_t t, Layout* l) {
  switch (t) {
    case kFloat: *l = {4, kFloatData, DType::Float32}; return true;
    case kDouble: *l = {8, kDoubleData, DType::Float32}; return true;
    case kFloat16: case kBfloat16: *l = {2, kInt32Data, DType::Float32}; return true;
    case kInt64: *l = {8, kInt64Data, DType::Int64}; return true;
    case kInt32: *l = {4, kInt32Data, DType::Int64}; return true;
    case kInt16: case kUint16: *l = {2, kInt32Data, DType::Int64}; return true;
    case kInt8: case kUint8: case kBool: *l = {1, kInt32Data, DType::Int64}; return true;
    case kUint32: *l = {4, kUint64Data, DType::Int64}; return true;
    case kUint64: *l = {8, kUint64Data, DType::Int64}; return true;
    default: return false;
  }
}

// ---- pass 1: scan fields ----------------------------------------------------------------------

struct Scan {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = kUndefined;
  bool has_raw = false, has_segment = false, external = false;
  protozero::data_view raw;
  uint64_t counts[12] = {};   // values per typed field number (4..11)
  uint64_t strings = 0;
};

// Values in one occurrence of a typed field, packed or not, without decoding them.
uint64_t count_values(Msg& m, const char* field, pbf_wire_type single, unsigned fixed_size) {
  if (m.wire() == single) {
    if (single == pbf_wire_type::varint) m.varint(field);
    else m.skip();
    return 1;
  }
  if (m.wire() != pbf_wire_type::length_delimited) m.fail_wire(field, wire_name(single));
  const protozero::data_view v = m.view(field);
  if (fixed_size) {
    if (v.size() % fixed_size)
      fail_input(m.ctx().label + ": " + m.where(field) + ": packed length " + std::to_string(v.size()) +
                 " is not a multiple of " + std::to_string(fixed_size));
    return v.size() / fixed_size;
  }
  // Packed varints: one value ends at each byte without the continuation bit.
  uint64_t n = 0;
  for (size_t k = 0; k < v.size(); ++k) n += (static_cast<uint8_t>(v.data()[k]) & 0x80u) == 0;
  if (v.size() && (static_cast<uint8_t>(v.data()[v.size() - 1]) & 0x80u))
    fail_input(m.ctx().label + ": truncated packed varint in " + m.where(field));
  return n;
}

Scan scan(const Ctx& ctx, protozero::data_view bytes) {
  Scan s;
  Msg m(ctx, "TensorProto", bytes);
  while (m.next()) {
    switch (m.tag()) {
      // One past max_rank so checked_numel, not the list cap, reports a rank slightly over.
      case 1: m.ints("dims", s.dims, uint64_t{ctx.limits.max_rank} + 1); break;
      case 2: s.data_type = static_cast<int32_t>(m.varint("data_type")); break;
      case 3: m.skip(); s.has_segment = true; break;
      case kFloatData: s.counts[kFloatData] += count_values(m, "float_data", pbf_wire_type::fixed32, 4); break;
      case kInt32Data: s.counts[kInt32Data] += count_values(m, "int32_data", pbf_wire_type::varint, 0); break;
      case 6: m.view("string_data"); ++s.strings; break;
      case kInt64Data: s.counts[kInt64Data] += count_values(m, "int64_data", pbf_wire_type::varint, 0); break;
      case 8: s.name = m.str("name"); break;
      case 9: s.raw = m.view("raw_data"); s.has_raw = true; break;
      case kDoubleData: s.counts[kDoubleData] += count_values(m, "double_data", pbf_wire_type::fixed64, 8); break;
      case kUint64Data: s.counts[kUint64Data] += count_values(m, "uint64_data", pbf_wire_type::varint, 0); break;
      case 13: m.view("external_data"); s.external = true; break;
      case 14: s.external |= m.varint("data_location") == 1; break;
      default: m.skip(); break;
    }
  }
  return s;
}

// ---- pass 2: convert values -------------------------------------------------------------------

uint64_t load_le(const char* p, unsigned size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);   // little-endian host (static_assert in wire.h)
  return v;
}

// Calls emit(bits) for every stored value in order: raw_data elements, or the
// typed field's values (fixed32/fixed64 bit patterns, varints as uint64).
template <class Emit>
void each_value(const Ctx& ctx, protozero::data_view bytes, const Scan& s, const Layout& l, int64_t n, Emit&& emit) {
  if (s.has_raw) {
    for (int64_t k = 0; k < n; ++k) emit(load_le(s.raw.data() + k * l.raw_size, l.raw_size));
    return;
  }
  Msg m(ctx, "TensorProto", bytes);
  while (m.next()) {
    if (m.tag() != l.field) { m.skip(); continue; }
    const bool packed = m.wire() == pbf_wire_type::length_delimited;
    if (l.field == kFloatData || l.field == kDoubleData) {
      const unsigned size = l.field == kFloatData ? 4 : 8;
      if (!packed) {
        emit(l.field == kFloatData ? bit_cast<uint32_t>(m.float32("float_data")) : m.fixed64("double_data"));
        continue;
      }
      const protozero::data_view v = m.view(field_name(l.field));
      for (size_t k = 0; k < v.size(); k += size) emit(load_le(v.data() + k, size));
    } else if (!packed) {
      emit(m.varint(field_name(l.field)));
    } else {
      const protozero::data_view v = m.view(field_name(l.field));
      const char* p = v.data();
      const char* end = p + v.size();
      try {
        while (p != end) emit(protozero::decode_varint(&p, end));
      } catch (const protozero::exception&) {
        fail_input(ctx.label + ": malformed packed varint in " + m.where(field_name(l.field)));
      }
    }
  }
}

}  // namespace

// ---- read_tensor ------------------------------------------------------------------------------

Tensor read_tensor(Ctx& ctx, protozero::data_view bytes, const std::string& role, std::string* name_out) {
  const Scan s = scan(ctx, bytes);
  if (name_out) *name_out = s.name;
  const std::string what = ctx.label + ": " + role + (s.name.empty() ? "" : " '" + s.name + "'");

  if (s.external)
    fail(ErrorKind::Unsupported, what + ": external data is not supported; re-export with the weights inside the .onnx file");
  if (s.has_segment) fail(ErrorKind::Unsupported, what + ": segmented tensors are not supported");
  Layout l{};
  if (s.data_type == kUndefined) fail_input(what + ": data_type is missing");
  if (!layout_of(s.data_type, &l))
    fail(ErrorKind::Unsupported, what + ": data type " + elem_type_name(s.data_type) + " (" +
                                     std::to_string(s.data_type) + ") is not supported");

  const int64_t n = checked_numel(s.dims.data(), s.dims.size(), ctx.limits, what);
  const std::string desc = std::string(elem_type_name(s.data_type)) + " " + shape_str(s.dims);
  for (uint32_t f : {kFloatData, kInt32Data, kInt64Data, kDoubleData, kUint64Data})
    if (s.counts[f] && f != l.field)
      fail_input(what + ": " + elem_type_name(s.data_type) + " tensor carries " + field_name(f) + " (expected " +
                 field_name(l.field) + " or raw_data)");
  const uint64_t typed = s.counts[l.field];
  if (s.has_raw && typed) fail_input(what + ": has both raw_data and " + field_name(l.field));
  if (s.has_raw) {
    const uint64_t want = static_cast<uint64_t>(n) * l.raw_size;
    if (s.raw.size() != want)
      fail_input(what + ": raw_data has " + std::to_string(s.raw.size()) + " bytes, expected " + std::to_string(want) +
                 " for " + desc);
  } else if (typed != static_cast<uint64_t>(n)) {
    if (typed == 0) fail_input(what + ": has no data (expected raw_data or " + field_name(l.field) + ") for " + desc);
    fail_input(what + ": " + field_name(l.field) + " has " + std::to_string(typed) + " values, expected " +
               std::to_string(n) + " for " + desc);
  }

  // Converted weights can be up to 8x their file size (int8 -> int64), so they count against memory.
  const uint64_t bytes_out = static_cast<uint64_t>(n) * (l.out == DType::Float32 ? 4 : 8);
  ctx.decoded_bytes += bytes_out;
  if (ctx.decoded_bytes > ctx.limits.max_total_bytes)
    fail(ErrorKind::Limit, what + ": the model's tensors need at least " + std::to_string(ctx.decoded_bytes) +
                               " bytes once converted, over the working-memory limit of " +
                               std::to_string(ctx.limits.max_total_bytes));

  Tensor t;
  t.dtype = l.out;
  t.shape = s.dims;
  size_t k = 0;
  if (l.out == DType::Float32) {
    t.f.resize(static_cast<size_t>(n));
    if (s.data_type == kFloat && s.has_raw) {
      if (n) std::memcpy(t.f.data(), s.raw.data(), bytes_out);
    } else if (s.data_type == kFloat) {
      each_value(ctx, bytes, s, l, n, [&](uint64_t b) { t.f[k++] = bit_cast<float>(static_cast<uint32_t>(b)); });
    } else if (s.data_type == kDouble) {
      // Out-of-range doubles saturate to +-inf explicitly: the plain cast is undefined behaviour there.
      each_value(ctx, bytes, s, l, n, [&](uint64_t b) {
        const double d = bit_cast<double>(b);
        t.f[k++] = std::fabs(d) <= std::numeric_limits<float>::max() || !std::isfinite(d)
                       ? static_cast<float>(d) : std::copysign(std::numeric_limits<float>::infinity(), d);
      });
    } else if (s.data_type == kFloat16) {
      each_value(ctx, bytes, s, l, n, [&](uint64_t b) { t.f[k++] = half_to_float(static_cast<uint16_t>(b)); });
    } else {
      each_value(ctx, bytes, s, l, n, [&](uint64_t b) { t.f[k++] = bfloat16_to_float(static_cast<uint16_t>(b)); });
    }
    return t;
  }
  t.i.resize(static_cast<size_t>(n));
  // Narrow types keep only their own bits: int32_data stores int8/int16 sign-extended, uint8/uint16 as-is.
  const int32_t dt = s.data_type;
  each_value(ctx, bytes, s, l, n, [&](uint64_t b) {
    int64_t v;
    switch (dt) {
      case kInt32: v = static_cast<int32_t>(b); break;
      case kInt16: v = static_cast<int16_t>(b); break;
      case kInt8: v = static_cast<int8_t>(b); break;
      case kUint16: v = static_cast<uint16_t>(b); break;
      case kUint8: v = static_cast<uint8_t>(b); break;
      case kBool: v = (b & 0xffu) != 0; break;
      case kUint32: v = static_cast<uint32_t>(b); break;
      default:  // int64, uint64
        v = static_cast<int64_t>(b);
        if (dt == kUint64 && v < 0) fail_input(what + ": uint64 value " + std::to_string(b) + " does not fit in int64");
    }
    t.i[k++] = v;
  });
  return t;
}

}  // namespace detail

// ---- decode_tensor ----------------------------------------------------------------------------

Tensor decode_tensor(const uint8_t* data, size_t size, const Limits& limits, std::string_view label,
                     std::string* name) {
  detail::Ctx ctx{std::string(label), limits};
  detail::check_file_size(ctx, size);
  const protozero::data_view bytes(reinterpret_cast<const char*>(data), size);
  return detail::read_tensor(ctx, bytes, "tensor", name);
}

}  // namespace relscope::onnx
