// relscope/kernels/cpu/conv.cpp — convolution as im2col + GEMM, and its adjoint as GEMM + col2im.
//
// Sections: scratch | im2col / col2im | conv_forward | conv_backward_data | add_channel_bias
//
// Why im2col: it turns every conv (any stride, dilation, padding, group) into one GEMM per group, where
// Eigen's blocked kernel runs near peak; the gather is O(C*k*out) and cheap next to the GEMM's O(M*C*k*out).
// The column matrix is built in bands of output rows so scratch stays bounded for large images.
#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"

namespace relscope::kernels {

namespace {

// ---- scratch -------------------------------------------------------------------------------------------------
// One grow-only buffer per thread: no heap traffic once the largest layer has run.
float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// im2col bands are capped at this many floats (16 MiB); ResNet-style layers at 224x224 fit in one band.
constexpr int64_t kColBudget = int64_t{1} << 22;

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; }

// Output rows per band for a column matrix with `rows` rows and `width` columns per output row.
int64_t band_rows(const ConvParams& p) {
  const int64_t per_row = std::max<int64_t>(1, p.col_rows() * p.out[2]);
  return std::max<int64_t>(1, kColBudget / per_row);
}

// Valid output x range [lo, hi) for a tap at offset `off`: 0 <= ox*stride + off < in_w.
void valid_range(int64_t off, int64_t stride, int64_t in_w, int64_t out_w, int64_t& lo, int64_t& hi) {
  lo = std::clamp<int64_t>(ceil_div(-off, stride), 0, out_w);
  hi = std::clamp<int64_t>(ceil_div(in_w - off, stride), lo, out_w);
}

// Walks every (channel, tap, output row) of a band, calling fn(col_row_ptr, x_row_ptr or null, lo, hi, off)
// where x_row_ptr is the input row the tap reads (null when the whole row is padding).
template <class Fn>
void for_each_tap_row(const ConvParams& p, int64_t r0, int64_t r1, int64_t c_count, Fn&& fn) {
  const Dims3 &in = p.in, &out = p.out, &k = p.kernel, &s = p.stride, &dl = p.dilation, &pb = p.pad_begin;
  const int64_t plane = p.in_size(), ow = out[2];
  int64_t row = 0;   // running row of the column matrix
  const int64_t band = (r1 - r0) * ow;
  for (int64_t c = 0; c < c_count; ++c)
    for (int64_t kz = 0; kz < k[0]; ++kz)
      for (int64_t ky = 0; ky < k[1]; ++ky)
        for (int64_t kx = 0; kx < k[2]; ++kx, ++row) {
          const int64_t off = kx * dl[2] - pb[2];
          int64_t lo, hi;
          valid_range(off, s[2], in[2], ow, lo, hi);
          int64_t col_off = row * band;
          for (int64_t r = r0; r < r1; ++r, col_off += ow) {
            const int64_t oz = r / out[1], oy = r % out[1];
            const int64_t iz = oz * s[0] - pb[0] + kz * dl[0], iy = oy * s[1] - pb[1] + ky * dl[1];
            const bool inside = iz >= 0 && iz < in[0] && iy >= 0 && iy < in[1];
            fn(col_off, inside ? c * plane + (iz * in[1] + iy) * in[2] : int64_t{-1}, lo, hi, off);
          }
        }
}

}  // namespace

// ---- im2col / col2im ---------------------------------------------------------------------------------------------
void im2col(const ConvParams& p, const float* x, int64_t r0, int64_t r1, float* col) {
  const int64_t ow = p.out[2], sx = p.stride[2];
  for_each_tap_row(p, r0, r1, p.C_per_group(), [&](int64_t co, int64_t xo, int64_t lo, int64_t hi, int64_t off) {
    float* dst = col + co;
    if (xo < 0) {
      std::fill(dst, dst + ow, 0.0f);
      return;
    }
    const float* src = x + xo;   // src[ox * sx + off] is the tap for output ox, in bounds for lo <= ox < hi
    std::fill(dst, dst + lo, 0.0f);
    if (sx == 1) {
      if (hi > lo) std::memcpy(dst + lo, src + lo + off, static_cast<size_t>(hi - lo) * sizeof(float));
    } else {
      for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[ox * sx + off];
    }
    std::fill(dst + hi, dst + ow, 0.0f);
  });
}

void col2im(const ConvParams& p, const float* col, int64_t r0, int64_t r1, float* x) {
  const int64_t sx = p.stride[2];
  for_each_tap_row(p, r0, r1, p.C_per_group(), [&](int64_t co, int64_t xo, int64_t lo, int64_t hi, int64_t off) {
    if (xo < 0) return;   // padding taps have nowhere to go
    const float* src = col + co;
    float* dst = x + xo;
    if (sx == 1) {
      for (int64_t ox = lo; ox < hi; ++ox) dst[ox + off] += src[ox];
    } else {
      for (int64_t ox = lo; ox < hi; ++ox) dst[ox * sx + off] += src[ox];
    }
  });
}

// ---- conv_forward --------------------------------------------------------------------------------------------------
void conv_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group(), kk = p.col_rows();
  const int64_t is = p.in_size(), os = p.out_size(), ow = p.out[2], rows = p.out[0] * p.out[1];
  const bool pointwise = p.is_pointwise();
  const int64_t band = band_rows(p);
  float* col = pointwise ? nullptr : scratch(static_cast<size_t>(kk * std::min(band, rows) * ow));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.C + g * cg) * is;
      const float* wg = w + g * mg * kk;
      float* yg = y + (n * p.M + g * mg) * os;
      float beta = 0.0f;
      if (b) {   // seed the output with the bias and let the GEMM accumulate onto it
        for (int64_t m = 0; m < mg; ++m) std::fill(yg + m * os, yg + (m + 1) * os, b[g * mg + m]);
        beta = 1.0f;
      }
      if (pointwise) {
        gemm(false, false, mg, os, cg, 1.0f, wg, cg, xg, is, beta, yg, os);
        continue;
      }
      for (int64_t r0 = 0; r0 < rows; r0 += band) {
        const int64_t r1 = std::min(rows, r0 + band), ncols = (r1 - r0) * ow;
        im2col(p, xg, r0, r1, col);
        gemm(false, false, mg, ncols, kk, 1.0f, wg, kk, col, ncols, beta, yg + r0 * ow, os);
      }
    }
}

// ---- conv_backward_data ------------------------------------------------------------------------------------------
void conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group(), kk = p.col_rows();
  const int64_t is = p.in_size(), os = p.out_size(), ow = p.out[2], rows = p.out[0] * p.out[1];
  const bool pointwise = p.is_pointwise();
  const int64_t band = band_rows(p);
  float* col = pointwise ? nullptr : scratch(static_cast<size_t>(kk * std::min(band, rows) * ow));
  if (!pointwise) std::fill(dx, dx + p.N * p.C * is, 0.0f);   // col2im accumulates
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      const float* dyg = dy + (n * p.M + g * mg) * os;
      const float* wg = w + g * mg * kk;
      float* dxg = dx + (n * p.C + g * cg) * is;
      if (pointwise) {   // dx_g (cg, is) = W_g^T (cg, mg) * dy_g (mg, os), os == is
        gemm(true, false, cg, os, mg, 1.0f, wg, cg, dyg, os, 0.0f, dxg, is);
        continue;
      }
      for (int64_t r0 = 0; r0 < rows; r0 += band) {
        const int64_t r1 = std::min(rows, r0 + band), ncols = (r1 - r0) * ow;
        gemm(true, false, kk, ncols, mg, 1.0f, wg, kk, dyg + r0 * ow, os, 0.0f, col, ncols);
        col2im(p, col, r0, r1, dxg);
      }
    }
}

// ---- add_channel_bias ------------------------------------------------------------------------------------------------
void add_channel_bias(int64_t N, int64_t C, int64_t inner, const float* b, float* y) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      float* row = y + (n * C + c) * inner;
      const float v = b[c];
      for (int64_t i = 0; i < inner; ++i) row[i] += v;
    }
}

}  // namespace relscope::kernels
