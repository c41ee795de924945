// relscope/io/npy.cpp — .npy reading and writing.
//
// Sections: header dict parser | dtype table | read_npy | write_npy
//
// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// numpy evaluates it with ast.literal_eval; we parse the small subset np.save
// writes (strings, True/False, tuples of ints) and refuse anything else.
#include "io/npy.h"

#include <bit>
#include <cmath>
#include <limits>
#include <cstring>

#include "core/error.h"
#include "io/file.h"

namespace relscope {
namespace {

static_assert(std::endian::native == std::endian::little, "npy data is read in place as little-endian");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// ---- header dict parser -----------------------------------------------------------------------

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  bool has_descr = false, has_fortran = false, has_shape = false;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& label) : s_(text), label_(label) {}

  Header parse() {
    Header h;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        // A list here is a structured (record) dtype.
        if (peek('[')) bad("structured dtypes are not supported");
        h.descr = string_literal();
        h.has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        h.has_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        h.has_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const { fail_input(label_ + ": bad .npy header: " + why); }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) bad(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  std::string string_literal() {
    ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
      bad("expected a string at offset " + std::to_string(pos_));
    const char q = s_[pos_++];
    const size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    ws();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const size_t n = std::strlen(word);
      if (s_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    bad("expected True or False at offset " + std::to_string(pos_));
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!peek(')')) {
      dims.push_back(integer());
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }
  int64_t integer() {
    ws();
    const bool neg = pos_ < s_.size() && s_[pos_] == '-';
    if (neg) ++pos_;
    const size_t start = pos_;
    int64_t v = 0;
    for (; pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; ++pos_) {
      const int digit = s_[pos_] - '0';
      if (v > (INT64_MAX - digit) / 10) bad("dimension too large");
      v = v * 10 + digit;
    }
    if (pos_ == start) bad("expected an integer at offset " + std::to_string(start));
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;   // Python 2 long literal, as old numpy wrote
    return neg ? -v : v;   // negatives are reported by checked_numel, naming the axis
  }

  std::string_view s_;
  const std::string& label_;
  size_t pos_ = 0;
};

// ---- dtype table ------------------------------------------------------------------------------

struct NpyType {
  char kind;      // numpy kind letter: f, i, u, b
  unsigned size;  // bytes per element
  DType out;
};

constexpr NpyType kTypes[] = {
    {'f', 4, DType::Float32}, {'f', 8, DType::Float32}, {'i', 8, DType::Int64}, {'i', 4, DType::Int64},
    {'i', 2, DType::Int64},   {'i', 1, DType::Int64},   {'u', 1, DType::Float32},  // images: 0..255 pixels
    {'b', 1, DType::Float32},                                                       // masks: 0/1
};

NpyType parse_descr(const std::string& d, const std::string& label) {
  const std::string pre = label + ": dtype '" + d + "': ";
  if (d.find('O') != std::string::npos)
    fail_input(pre + "object arrays (pickled Python objects) are not supported");
  const bool has_order = !d.empty() && std::strchr("<>|=", d[0]);
  const std::string body = has_order ? d.substr(1) : d;
  const char order = has_order ? d[0] : '|';
  if (body.size() >= 2 && body.find_first_not_of("0123456789", 1) == std::string::npos && body.size() <= 3) {
    const unsigned size = static_cast<unsigned>(std::stoul(body.substr(1)));
    for (const NpyType& t : kTypes) {
      if (t.kind != body[0] || t.size != size) continue;
      if (order == '>' && size > 1)
        fail_input(pre + "big-endian data is not supported; save it little-endian (e.g. astype('<" + body + "'))");
      return t;
    }
  }
  fail_input(pre + "not supported (relscope reads <f4, <f8, <i8, <i4, <i2, |i1, |u1, |b1)");
}

template <class Src, class Dst>
void convert(const uint8_t* p, size_t n, std::vector<Dst>& out) {
  out.resize(n);
  for (size_t k = 0; k < n; ++k) {
    Src v;
    std::memcpy(&v, p + k * sizeof(Src), sizeof(Src));
    out[k] = static_cast<Dst>(v);
  }
}

}  // namespace

// ---- read_npy ---------------------------------------------------------------------------------

Tensor read_npy(const uint8_t* data, size_t size, const Limits& limits, std::string_view label_view) {
  const std::string label(label_view);
  if (size > limits.max_file_bytes)
    fail(ErrorKind::Limit, label + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(limits.max_file_bytes));
  if (size < kMagicLen + 2 || std::memcmp(data, kMagic, kMagicLen) != 0)
    fail_input(label + ": not a .npy file (bad magic; expected \\x93NUMPY)");
  const int major = data[6], minor = data[7];
  if (major < 1 || major > 3)
    fail_input(label + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
               " is not supported (1.0 to 3.0 are)");
  // Version 1.0 has a 2-byte header length, 2.0 and 3.0 (utf-8 header) a 4-byte one.
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t preamble = kMagicLen + 2 + len_bytes;
  if (size < preamble) fail_input(label + ": truncated .npy header");
  uint32_t header_len = 0;
  std::memcpy(&header_len, data + kMagicLen + 2, len_bytes);
  if (header_len > size - preamble)
    fail_input(label + ": truncated .npy header (" + std::to_string(header_len) + " bytes declared, " +
               std::to_string(size - preamble) + " present)");

  const std::string_view text(reinterpret_cast<const char*>(data + preamble), header_len);
  const Header h = HeaderParser(text, label).parse();
  if (!h.has_descr || !h.has_fortran || !h.has_shape)
    fail_input(label + ": bad .npy header: needs 'descr', 'fortran_order' and 'shape'");
  if (h.fortran_order)
    fail_input(label + ": Fortran-order (column-major) arrays are not supported; save with np.ascontiguousarray");
  const NpyType type = parse_descr(h.descr, label);
  const int64_t n = checked_numel(h.shape.data(), h.shape.size(), limits, label);

  const size_t offset = preamble + header_len;
  const uint64_t want = static_cast<uint64_t>(n) * type.size;
  const uint64_t have = size - offset;
  const std::string desc = h.descr + " " + shape_str(h.shape);
  if (have < want)
    fail_input(label + ": truncated data: " + std::to_string(have) + " bytes, expected " + std::to_string(want) +
               " for " + desc);
  if (have > want)
    fail_input(label + ": " + std::to_string(have - want) + " unexpected bytes after the data for " + desc);

  Tensor t;
  t.dtype = type.out;
  t.shape = h.shape;
  const uint8_t* p = data + offset;
  const size_t count = static_cast<size_t>(n);
  if (type.kind == 'f') {
    if (type.size == 4) {
      convert<float>(p, count, t.f);
    } else {   // float64: out-of-range values saturate to +-Inf explicitly (the plain cast is UB there)
      t.f.resize(count);
      for (size_t k = 0; k < count; ++k) {
        double v;
        std::memcpy(&v, p + k * 8, 8);
        t.f[k] = std::fabs(v) <= std::numeric_limits<float>::max() || !std::isfinite(v)
                     ? static_cast<float>(v) : std::copysign(std::numeric_limits<float>::infinity(), v);
      }
    }
  } else if (type.kind == 'i') {
    if (type.size == 8) convert<int64_t>(p, count, t.i);
    else if (type.size == 4) convert<int32_t>(p, count, t.i);
    else if (type.size == 2) convert<int16_t>(p, count, t.i);
    else convert<int8_t>(p, count, t.i);
  } else {
    convert<uint8_t>(p, count, t.f);
    if (type.kind == 'b')
      for (float& v : t.f) v = v != 0.0f;   // bool: any nonzero byte is True
  }
  return t;
}

Tensor read_npy_file(const std::string& path, const Limits& limits) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, limits.max_file_bytes);
  return read_npy(bytes.data(), bytes.size(), limits, path);
}

// ---- write_npy --------------------------------------------------------------------------------

std::vector<uint8_t> write_npy(const Tensor& t) {
  std::string dict = std::string("{'descr': '") + (t.dtype == DType::Float32 ? "<f4" : "<i8") +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t k = 0; k < t.shape.size(); ++k) dict += std::to_string(t.shape[k]) + (k + 1 < t.shape.size() ? ", " : "");
  if (t.shape.size() == 1) dict += ",";   // Python spells a 1-tuple "(5,)"
  dict += "), }";
  // numpy pads with spaces and ends with '\n' so the data starts 64-byte aligned.
  const size_t preamble = kMagicLen + 4;
  const size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - preamble - dict.size() - 1, ' ');
  dict += '\n';
  if (dict.size() > 0xffff) fail(ErrorKind::Internal, "write_npy: header too long for format 1.0");

  const size_t data_bytes = t.byte_size();
  const size_t stored = t.dtype == DType::Float32 ? t.f.size() : t.i.size();
  if (stored != static_cast<size_t>(t.numel()))
    fail(ErrorKind::Internal, "write_npy: tensor holds " + std::to_string(stored) + " values for shape " + shape_str(t.shape));
  std::vector<uint8_t> out(total + data_bytes);
  std::memcpy(out.data(), kMagic, kMagicLen);
  out[6] = 1;
  out[7] = 0;
  out[8] = static_cast<uint8_t>(dict.size() & 0xff);
  out[9] = static_cast<uint8_t>(dict.size() >> 8);
  std::memcpy(out.data() + preamble, dict.data(), dict.size());
  const void* src = t.dtype == DType::Float32 ? static_cast<const void*>(t.f.data()) : t.i.data();
  if (data_bytes) std::memcpy(out.data() + total, src, data_bytes);
  return out;
}

void write_npy_file(const std::string& path, const Tensor& t) {
  const std::vector<uint8_t> bytes = write_npy(t);
  write_file_bytes(path, bytes.data(), bytes.size());
}

}  // namespace relscope
