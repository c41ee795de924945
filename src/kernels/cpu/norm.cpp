// relscope/kernels/cpu/norm.cpp — per-channel affine (BatchNorm), LayerNorm, softmax, mean reduction.
//
// Sections: scratch | channel_affine | layer_norm | softmax | reduce (mean, sum, max)
//
// Why double accumulators in LayerNorm and ReduceMean: statistics over thousands of floats lose digits
// in float; the cost is negligible next to the convolutions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/kernels.h"

namespace relscope::kernels {

namespace {
// ---- scratch ----------------------------------------------------------------------------------------------
template <class T>
T* scratch_of(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
}  // namespace

// ---- channel_affine ----------------------------------------------------------------------------------------
void channel_affine(int64_t N, int64_t C, int64_t inner, const float* scale, const float* shift, const float* x,
                    float* y) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t off = (n * C + c) * inner;
      const float a = scale[c], b = shift[c];
      for (int64_t i = 0; i < inner; ++i) y[off + i] = x[off + i] * a + b;
    }
}

// ---- layer_norm ----------------------------------------------------------------------------------------------
void layer_norm(int64_t rows, int64_t inner, const float* x, const float* gamma, int64_t gamma_row_stride,
                const float* beta, int64_t beta_row_stride, float eps, float* y, float* mean_out,
                float* inv_std_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * inner;
    float* yr = y + r * inner;
    double sum = 0.0;
    for (int64_t i = 0; i < inner; ++i) sum += xr[i];
    const double mean = inner > 0 ? sum / static_cast<double>(inner) : 0.0;
    double sq = 0.0;
    for (int64_t i = 0; i < inner; ++i) {
      const double d = xr[i] - mean;
      sq += d * d;
    }
    const double var = inner > 0 ? sq / static_cast<double>(inner) : 0.0;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const float m = static_cast<float>(mean);
    const float* g = gamma + r * gamma_row_stride;
    const float* b = beta ? beta + r * beta_row_stride : nullptr;
    if (b)
      for (int64_t i = 0; i < inner; ++i) yr[i] = (xr[i] - m) * inv * g[i] + b[i];
    else
      for (int64_t i = 0; i < inner; ++i) yr[i] = (xr[i] - m) * inv * g[i];
    if (mean_out) mean_out[r] = m;
    if (inv_std_out) inv_std_out[r] = inv;
  }
}

// ---- softmax ---------------------------------------------------------------------------------------------------
void softmax(const float* x, float* y, int64_t outer, int64_t len, int64_t inner, bool log) {
  if (len <= 0 || inner <= 0) return;
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) {
      const float* xr = x + o * len;
      float* yr = y + o * len;
      const float mx = *std::max_element(xr, xr + len);
      double sum = 0.0;
      for (int64_t l = 0; l < len; ++l) {
        const float e = std::exp(xr[l] - mx);
        sum += e;
        if (!log) yr[l] = e;
      }
      if (log) {   // (x - max) - log(sum): adding max back first would lose digits for large x
        const float ls = static_cast<float>(std::log(sum));
        for (int64_t l = 0; l < len; ++l) yr[l] = (xr[l] - mx) - ls;
      } else {
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t l = 0; l < len; ++l) yr[l] *= inv;
      }
    }
    return;
  }
  // Strided axis: sweep whole rows of `inner` so memory is read contiguously.
  float* mx = scratch_of<float>(static_cast<size_t>(2 * inner));
  float* sum = mx + inner;
  for (int64_t o = 0; o < outer; ++o) {
    const float* xb = x + o * len * inner;
    float* yb = y + o * len * inner;
    std::copy(xb, xb + inner, mx);
    for (int64_t l = 1; l < len; ++l)
      for (int64_t i = 0; i < inner; ++i) mx[i] = std::max(mx[i], xb[l * inner + i]);
    std::fill(sum, sum + inner, 0.0f);
    for (int64_t l = 0; l < len; ++l)
      for (int64_t i = 0; i < inner; ++i) {
        const float e = std::exp(xb[l * inner + i] - mx[i]);
        sum[i] += e;
        yb[l * inner + i] = e;
      }
    if (log) {
      for (int64_t i = 0; i < inner; ++i) sum[i] = std::log(sum[i]);
      for (int64_t l = 0; l < len; ++l)
        for (int64_t i = 0; i < inner; ++i) yb[l * inner + i] = (xb[l * inner + i] - mx[i]) - sum[i];
    } else {
      for (int64_t i = 0; i < inner; ++i) sum[i] = 1.0f / sum[i];
      for (int64_t l = 0; l < len; ++l)
        for (int64_t i = 0; i < inner; ++i) yb[l * inner + i] *= sum[i];
    }
  }
}

// ---- reduce (mean, sum, max) --------------------------------------------------------------------------------------
void reduce(ReduceKind kind, const float* x, const Shape& shape, const std::vector<bool>& reduce, float* y) {
  // Merge runs of dims with the same kind; size-1 dims change nothing and are dropped.
  std::vector<int64_t> size;
  std::vector<bool> red;
  int64_t out_n = 1, count = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    (reduce[d] ? count : out_n) *= shape[d];
    if (shape[d] == 1) continue;
    if (!size.empty() && red.back() == reduce[d])
      size.back() *= shape[d];
    else {
      size.push_back(shape[d]);
      red.push_back(reduce[d]);
    }
  }
  if (out_n == 0) return;
  if (count == 0) {   // over nothing: mean NaN, sum 0, max -inf
    const float empty = kind == ReduceKind::Mean ? std::numeric_limits<float>::quiet_NaN()
                        : kind == ReduceKind::Sum ? 0.0f : -std::numeric_limits<float>::infinity();
    std::fill(y, y + out_n, empty);
    return;
  }
  if (size.empty()) {   // every dim is 1
    y[0] = x[0];
    return;
  }
  const bool is_max = kind == ReduceKind::Max;
  double* acc = scratch_of<double>(static_cast<size_t>(out_n));
  std::fill(acc, acc + out_n, is_max ? -std::numeric_limits<double>::infinity() : 0.0);
  const size_t r = size.size();
  std::vector<int64_t> ostride(r, 0);   // output stride per merged dim (0 for reduced dims)
  for (int64_t st = 1, d = static_cast<int64_t>(r) - 1; d >= 0; --d)
    if (!red[d]) {
      ostride[d] = st;
      st *= size[d];
    }
  const int64_t last = size.back(), rows = out_n * count / last;
  std::vector<int64_t> idx(r, 0);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t o = 0;
    for (size_t d = 0; d + 1 < r; ++d) o += idx[d] * ostride[d];
    const float* xr = x + row * last;
    if (is_max) {
      if (red.back())
        for (int64_t i = 0; i < last; ++i) acc[o] = std::max(acc[o], static_cast<double>(xr[i]));
      else
        for (int64_t i = 0; i < last; ++i) acc[o + i] = std::max(acc[o + i], static_cast<double>(xr[i]));
    } else if (red.back()) {
      double s = 0.0;
      for (int64_t i = 0; i < last; ++i) s += xr[i];
      acc[o] += s;
    } else {
      for (int64_t i = 0; i < last; ++i) acc[o + i] += xr[i];
    }
    for (size_t d = r - 1; d-- > 0;) {   // odometer over all but the last merged dim
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  const double scale = kind == ReduceKind::Mean ? 1.0 / static_cast<double>(count) : 1.0;
  for (int64_t i = 0; i < out_n; ++i) y[i] = static_cast<float>(acc[i] * scale);
}

}  // namespace relscope::kernels
