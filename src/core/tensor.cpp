// relscope/core/tensor.cpp — Tensor helpers and the checked element count.
#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/limits.h"

namespace relscope {

const char* dtype_name(DType t) { return t == DType::Float32 ? "float32" : "int64"; }

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype != b.dtype || a.shape != b.shape || a.f.size() != b.f.size() || a.i.size() != b.i.size()) return false;
  return (a.f.empty() || std::memcmp(a.f.data(), b.f.data(), a.f.size() * sizeof(float)) == 0) &&
         (a.i.empty() || std::memcmp(a.i.data(), b.i.data(), a.i.size() * sizeof(int64_t)) == 0);
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t k = 0; k < s.size(); ++k) {
    if (k) out += ",";
    out += std::to_string(s[k]);
  }
  return out + "]";
}

std::vector<int64_t> shape_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int k = static_cast<int>(s.size()) - 2; k >= 0; --k) st[k] = st[k + 1] * s[k + 1];
  return st;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.allocate();
  return t;
}

Tensor Tensor::from_floats(Shape shape, std::vector<float> values) {
  Tensor t;
  t.shape = std::move(shape);
  if (static_cast<int64_t>(values.size()) != t.numel())
    fail(ErrorKind::Internal, "Tensor::from_floats: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape));
  t.f = std::move(values);
  return t;
}

Tensor Tensor::from_ints(Shape shape, std::vector<int64_t> values) {
  Tensor t;
  t.dtype = DType::Int64;
  t.shape = std::move(shape);
  if (static_cast<int64_t>(values.size()) != t.numel())
    fail(ErrorKind::Internal, "Tensor::from_ints: " + std::to_string(values.size()) + " values for shape " + shape_str(t.shape));
  t.i = std::move(values);
  return t;
}

void Tensor::allocate() {
  const size_t n = static_cast<size_t>(numel());
  if (dtype == DType::Float32) {
    f.assign(n, 0.0f);
    i.clear();
  } else {
    i.assign(n, 0);
    f.clear();
  }
}

std::vector<int64_t> Tensor::as_ints() const {
  if (dtype == DType::Int64) return i;
  std::vector<int64_t> out(f.size());
  for (size_t k = 0; k < f.size(); ++k) out[k] = static_cast<int64_t>(f[k]);
  return out;
}

std::vector<float> Tensor::as_floats() const {
  if (dtype == DType::Float32) return f;
  std::vector<float> out(i.size());
  for (size_t k = 0; k < i.size(); ++k) out[k] = static_cast<float>(i[k]);
  return out;
}

LimitDefaults& limit_defaults() {
  static LimitDefaults d;
  return d;
}

int64_t checked_numel(const int64_t* dims, size_t rank, const Limits& limits, const std::string& what) {
  if (rank > limits.max_rank)
    fail(ErrorKind::Limit, what + ": rank " + std::to_string(rank) + " exceeds the limit of " + std::to_string(limits.max_rank));
  // Saturating product in 64 unsigned bits: the message states what the dims declare, even 1e12 elements.
  uint64_t n = 1;
  bool overflow = false, zero = false;
  for (size_t k = 0; k < rank; ++k) {
    if (dims[k] < 0) fail_input(what + ": negative dimension " + std::to_string(dims[k]) + " at axis " + std::to_string(k));
    if (dims[k] == 0) zero = true;   // the tensor is empty, but the other dims are still bounded below
    else overflow = overflow || __builtin_mul_overflow(n, static_cast<uint64_t>(dims[k]), &n);
  }
  // An empty tensor whose other dims multiply past the limit is refused too: shape arithmetic on it
  // (numel, strides) would overflow int64 (found by tests/fuzz/fuzz_npy: shape (0, 1416110000, 7080550550)).
  if (zero && !overflow && n <= limits.max_tensor_elements) return 0;
  if (zero)
    fail(ErrorKind::Limit, what + ": the non-zero dims of an empty tensor multiply to " +
                               (overflow ? std::string("more than 18446744073709551615") : std::to_string(n)) +
                               ", over the element limit of " + std::to_string(limits.max_tensor_elements));
  if (overflow)
    fail(ErrorKind::Limit, what + ": more than 18446744073709551615 elements (the dims overflow 64 bits), over the limit of " +
                               std::to_string(limits.max_tensor_elements));
  if (n > limits.max_tensor_elements)
    fail(ErrorKind::Limit, what + ": " + std::to_string(n) + " elements exceed the limit of " + std::to_string(limits.max_tensor_elements));
  return static_cast<int64_t>(n);
}

size_t first_non_finite(const float* v, size_t n) {
  constexpr size_t kChunk = 1024;
  for (size_t c = 0; c < n; c += kChunk) {
    const size_t end = std::min(n, c + kChunk);
    uint32_t bad = 0;
    for (size_t j = c; j < end; ++j) {
      uint32_t bits;
      std::memcpy(&bits, v + j, sizeof bits);
      bad |= (bits & 0x7f800000u) == 0x7f800000u;   // all exponent bits set: Inf or NaN
    }
    if (bad)
      for (size_t j = c; j < end; ++j)
        if (!std::isfinite(v[j])) return j;
  }
  return n;
}

}  // namespace relscope
