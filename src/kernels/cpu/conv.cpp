// relscope/kernels/cpu/conv.cpp — convolution as im2col + GEMM, and its adjoint as GEMM + col2im.
//
// Sections: scratch | im2col / col2im (+ thread split) | column view tables | conv_forward | conv_backward_data |
//           conv_backward_data_ones | add_channel_bias
//
// Why im2col: it turns every conv (any stride, dilation, padding, group) into one GEMM per group, where
// Eigen's blocked kernel runs near peak; the gather is O(C*k*out) and cheap next to the GEMM's O(M*C*k*out).
// The forward conv never stores the column matrix: its GEMM packs straight from the input through a
// ColumnView (column_view.h). The adjoint stores its columns (col2im scatters them), in bands of output
// rows so scratch stays bounded for large images; with few output positions and large weights it computes
// the transposed product natively (adjoint_product).
// 3x3 stride-1 convs with enough tiles take Winograd F(2x2, 3x3) instead, forward and adjoint (winograd.cpp).
// Threads (kernels::set_threads): forward splits output rows, the adjoint splits input channels, so each
// thread writes a disjoint part of the output and builds its own columns in its own scratch.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/aligned_buffer.h"
#include "kernels/cpu/column_view.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/winograd.h"
#include "kernels/cpu/work_count.h"
#include "kernels/kernels.h"

namespace relscope::kernels {

namespace {

// ---- scratch -------------------------------------------------------------------------------------------------
// The adjoint's stored columns (and the forward's, where no column view fits): per thread, grow-only.
float* scratch(size_t n) { return detail::thread_scratch<struct ConvColumns>(n); }

// Bands of output rows: the forward conv's (its column view's position tables) cover ResNet-style layers at
// 224x224 in one band; the adjoint's stored columns are capped at 4 MiB. That scratch is allocated during an
// explanation's sweep, at its memory peak: 16 MiB bands put 6 MiB more on ResNet-18's peak than 4 MiB ones.
constexpr int64_t kColBudget = int64_t{1} << 22;
constexpr int64_t kAdjointColBudget = int64_t{1} << 20;

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; }

// Output rows per band for a column matrix of at most `budget` floats.
int64_t band_rows(const ConvParams& p, int64_t budget = kColBudget) {
  const int64_t per_row = std::max<int64_t>(1, p.col_rows() * p.out[2]);
  return std::max<int64_t>(1, budget / per_row);
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

namespace {

// col2im restricted to `c_count` channels (col holds only their rows, x points at the first of them): the
// backward pass splits channels over threads, so each thread accumulates into its own part of dx.
// One tap row of col2im: the input row x_row gets src[ox] at ox * sx + off for the valid outputs [lo, hi).
void accumulate_tap_row(const float* src, float* x_row, int64_t lo, int64_t hi, int64_t off, int64_t sx) {
  if (sx == 1) {
    for (int64_t ox = lo; ox < hi; ++ox) x_row[ox + off] += src[ox];
  } else {
    for (int64_t ox = lo; ox < hi; ++ox) x_row[ox * sx + off] += src[ox];
  }
}

void col2im_channels(const ConvParams& p, int64_t c_count, const float* col, int64_t r0, int64_t r1, float* x) {
  for_each_tap_row(p, r0, r1, c_count, [&](int64_t co, int64_t xo, int64_t lo, int64_t hi, int64_t off) {
    if (xo >= 0) accumulate_tap_row(col + co, x + xo, lo, hi, off, p.stride[2]);   // padding taps go nowhere
  });
}

// How a conv spreads over threads: whole (image, group) pairs when there are enough of them (depthwise,
// batches), else a split of the inner dimension when it divides evenly enough, else none at this level
// (the GEMM then splits its own output: layer4's 7 output rows would leave one thread idle 1/7 of the time).
enum class Split { Pairs, Inner, Gemm };
Split choose_split(int64_t pairs, int64_t inner) {
  const int64_t t = threads();
  if (t <= 1 || pairs >= t) return Split::Pairs;
  if (inner % t == 0 || inner >= 8 * t) return Split::Inner;
  return Split::Gemm;
}

}  // namespace

void col2im(const ConvParams& p, const float* col, int64_t r0, int64_t r1, float* x) {
  col2im_channels(p, p.C_per_group(), col, r0, r1, x);
}

// ---- column view tables -----------------------------------------------------------------------------------------
namespace detail {

bool make_column_view(const ConvParams& p, const float* x, int64_t r0, int64_t r1, ColumnView* view) {
  const Dims3 &in = p.in, &out = p.out, &k = p.kernel, &s = p.stride, &dl = p.dilation, &pb = p.pad_begin;
  constexpr int64_t kFits = int64_t{1} << 30;   // every coordinate and shift below stays within int32
  for (int d = 0; d < 3; ++d)
    if (in[d] >= kFits || out[d] * s[d] >= kFits || k[d] * dl[d] + pb[d] >= kFits) return false;
  const int64_t K = p.col_rows(), ow = out[2], N = (r1 - r0) * ow;
  thread_local std::vector<ColumnView::Tap> taps;
  thread_local std::vector<ColumnView::Pos> pos;
  taps.resize(static_cast<size_t>(K));
  pos.resize(static_cast<size_t>(N));
  size_t t = 0;   // im2col's row order: channel, then kz, ky, kx
  for (int64_t c = 0; c < p.C_per_group(); ++c)
    for (int64_t kz = 0; kz < k[0]; ++kz)
      for (int64_t ky = 0; ky < k[1]; ++ky)
        for (int64_t kx = 0; kx < k[2]; ++kx) {
          const int64_t dz = kz * dl[0] - pb[0], dy = ky * dl[1] - pb[1], dx = kx * dl[2] - pb[2];
          taps[t++] = {c * p.in_size() + (dz * in[1] + dy) * in[2] + dx, static_cast<int32_t>(dz),
                       static_cast<int32_t>(dy), static_cast<int32_t>(dx)};
        }
  size_t j = 0;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t z = (r / out[1]) * s[0], y = (r % out[1]) * s[1];
    for (int64_t ox = 0; ox < ow; ++ox) {
      const int64_t xx = ox * s[2];
      pos[j++] = {(z * in[1] + y) * in[2] + xx, static_cast<int32_t>(z), static_cast<int32_t>(y),
                  static_cast<int32_t>(xx), static_cast<int32_t>(ow - ox)};
    }
  }
  *view = ColumnView(x, taps.data(), pos.data(), K, N, in, s[2]);
  return true;
}

}  // namespace detail

// ---- conv_forward --------------------------------------------------------------------------------------------------
// A convolution's multiply-accumulates, as the direct one does them.
static uint64_t conv_multiply_accumulates(const ConvParams& p) {
  return static_cast<uint64_t>(p.N * p.M * p.out_size() * p.C_per_group() * p.kernel_size());
}

void conv_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  detail::count_multiply_accumulates(conv_multiply_accumulates(p));
  if (detail::winograd_pays(p)) detail::winograd_conv_forward(p, x, w, b, y);
  else detail::im2col_conv_forward(p, x, w, b, y);
}

void detail::im2col_conv_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group(), kk = p.col_rows();
  const int64_t is = p.in_size(), os = p.out_size(), ow = p.out[2], rows = p.out[0] * p.out[1];
  const bool pointwise = p.is_pointwise();
  const int64_t band = band_rows(p);
  // Output rows [ra, rb) of image n, group g: bias seed, then im2col + GEMM per band (pointwise: GEMM on x,
  // whose columns are the output's). The column scratch is per thread.
  auto run_rows = [&](int64_t n, int64_t g, int64_t ra, int64_t rb) {
    const float* xg = x + (n * p.C + g * cg) * is;
    const float* wg = w + g * mg * kk;
    float* yg = y + (n * p.M + g * mg) * os;
    float beta = 0.0f;
    if (b) {   // seed the output with the bias and let the GEMM accumulate onto it
      for (int64_t m = 0; m < mg; ++m) std::fill(yg + m * os + ra * ow, yg + m * os + rb * ow, b[g * mg + m]);
      beta = 1.0f;
    }
    if (pointwise) {
      detail::gemm_uncounted(false, false, mg, (rb - ra) * ow, cg, 1.0f, wg, cg, xg + ra * ow, is, beta, yg + ra * ow, os);
      return;
    }
    for (int64_t r0 = ra; r0 < rb; r0 += band) {
      const int64_t r1 = std::min(rb, r0 + band), ncols = (r1 - r0) * ow;
      detail::ColumnView view(nullptr, nullptr, nullptr, 0, 0, p.in, 1);
      if (detail::make_column_view(p, xg, r0, r1, &view)) {
        detail::gemm_columns(mg, wg, kk, view, beta, yg + r0 * ow, os);
      } else {
        float* col = scratch(static_cast<size_t>(kk * ncols));
        im2col(p, xg, r0, r1, col);
        detail::gemm_uncounted(false, false, mg, ncols, kk, 1.0f, wg, kk, col, ncols, beta, yg + r0 * ow, os);
      }
    }
  };
  const int64_t pairs = p.N * p.group;
  const double work = 2.0 * static_cast<double>(mg) * kk * os;   // flops of one (image, group)
  switch (choose_split(pairs, rows)) {
    case Split::Pairs:
      detail::parallel_ranges(pairs, work * pairs, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) run_rows(i / p.group, i % p.group, 0, rows);
      });
      break;
    case Split::Inner:
      for (int64_t i = 0; i < pairs; ++i)
        detail::parallel_ranges(rows, work, [&](int64_t ra, int64_t rb) { run_rows(i / p.group, i % p.group, ra, rb); });
      break;
    case Split::Gemm:
      for (int64_t i = 0; i < pairs; ++i) run_rows(i / p.group, i % p.group, 0, rows);
      break;
  }
}

// ---- conv_backward_data ------------------------------------------------------------------------------------------
namespace {

// The adjoint's product C (M x N) = W^T dy, W (K x M) and dy (K x N) row-major. As written, the GEMM packs
// W^T with a stride of W's row length, and its result has only N columns to reuse that packing for: with few
// output positions (ResNet-18's layer4: N = 49, W up to 512 x 4608) packing W took longer than the multiply,
// and layer4's adjoint ran at 1.6x its forward conv. The transposed product (dy^T W, N x M) reads W's rows
// contiguously; transposing its small result back costs ~N*M copies. Natively (Eigen, 1 thread):
// 512x4608, N=49: 3.8 -> 2.4 ms; 256x2304, N=98: 1.24 -> 1.05 ms; even at N=147; worse from N~196 up.
// wasm's micro-kernel packs a transposed A four contiguous floats at a time and gained nothing (ResNet-18
// re-explain 121 ms either way): there the product stays as written.
bool transposed_adjoint_pays(int64_t M, int64_t N, int64_t K) {
#if defined(__wasm_simd128__)
  (void)M, (void)N, (void)K;
  return false;
#else
  return N < 128 && M * K >= (int64_t{1} << 18);
#endif
}

// `t` (N*M floats) is the transposed product's scratch: non-null exactly when transposed_adjoint_pays.
void adjoint_product(int64_t M, int64_t N, int64_t K, const float* w, int64_t ldw, const float* dy, int64_t lddy,
                     float* C, int64_t ldc, float* t) {
  if (!t) {
    detail::gemm_uncounted(true, false, M, N, K, 1.0f, w, ldw, dy, lddy, 0.0f, C, ldc);
    return;
  }
  detail::gemm_uncounted(true, false, N, M, K, 1.0f, dy, lddy, w, ldw, 0.0f, t, M);
  constexpr int64_t kTile = 16;   // square tiles: both sides' cache lines stay hot
  for (int64_t i0 = 0; i0 < M; i0 += kTile)
    for (int64_t j0 = 0; j0 < N; j0 += kTile)
      for (int64_t i = i0; i < std::min(M, i0 + kTile); ++i)
        for (int64_t j = j0; j < std::min(N, j0 + kTile); ++j) C[i * ldc + j] = t[j * M + i];
}

}  // namespace

void conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx) {
  detail::count_multiply_accumulates(conv_multiply_accumulates(p));
  if (detail::winograd_pays(p)) detail::winograd_conv_backward_data(p, dy, w, dx);
  else detail::im2col_conv_backward_data(p, dy, w, dx);
}

void detail::im2col_conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group(), kk = p.col_rows(), taps = kk / std::max<int64_t>(1, cg);
  const int64_t is = p.in_size(), os = p.out_size(), ow = p.out[2], rows = p.out[0] * p.out[1];
  const bool pointwise = p.is_pointwise();
  const int64_t band = band_rows(p, kAdjointColBudget);
  // Input channels [ca, cb) of image n, group g: their rows of W^T dy (the GEMM's A is the matching column
  // block of W), then col2im into those channels only. Disjoint channel ranges never touch the same dx.
  auto run_channels = [&](int64_t n, int64_t g, int64_t ca, int64_t cb) {
    const float* dyg = dy + (n * p.M + g * mg) * os;
    const float* wg = w + g * mg * kk;
    float* dxc = dx + (n * p.C + g * cg + ca) * is;
    if (pointwise) {   // dx (cb-ca, is) = W_g[:, ca:cb]^T (cb-ca, mg) * dy_g (mg, os), os == is
      float* t = transposed_adjoint_pays(cb - ca, os, mg) ? scratch(static_cast<size_t>((cb - ca) * os)) : nullptr;
      adjoint_product(cb - ca, os, mg, wg + ca, cg, dyg, os, dxc, is, t);
      return;
    }
    std::fill(dxc, dxc + (cb - ca) * is, 0.0f);   // col2im accumulates
    const int64_t col_rows = (cb - ca) * taps, band_cols = std::min(band, rows) * ow;
    const bool transposed = transposed_adjoint_pays(col_rows, band_cols, mg);   // one choice for every band
    const size_t col_size = static_cast<size_t>(col_rows * band_cols);
    float* col = scratch(transposed ? 2 * col_size : col_size);   // the columns, then the transposed product
    for (int64_t r0 = 0; r0 < rows; r0 += band) {
      const int64_t r1 = std::min(rows, r0 + band), ncols = (r1 - r0) * ow;
      adjoint_product(col_rows, ncols, mg, wg + ca * taps, kk, dyg + r0 * ow, os, col, ncols,
                      transposed ? col + col_size : nullptr);
      col2im_channels(p, cb - ca, col, r0, r1, dxc);
    }
  };
  const int64_t pairs = p.N * p.group;
  const double work = 2.0 * static_cast<double>(mg) * kk * os;
  switch (choose_split(pairs, cg)) {
    case Split::Pairs:
      detail::parallel_ranges(pairs, work * pairs, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) run_channels(i / p.group, i % p.group, 0, cg);
      });
      break;
    case Split::Inner:
      for (int64_t i = 0; i < pairs; ++i)
        detail::parallel_ranges(cg, work, [&](int64_t ca, int64_t cb) { run_channels(i / p.group, i % p.group, ca, cb); });
      break;
    case Split::Gemm:
      for (int64_t i = 0; i < pairs; ++i) run_channels(i / p.group, i % p.group, 0, cg);
      break;
  }
}

// ---- conv_backward_data_ones -------------------------------------------------------------------------------------
// col2im of a column matrix whose rows are all S = dy summed over the group's output channels, without storing it:
// one input channel's values, copied to the group's others.
void conv_backward_data_ones(const ConvParams& p, const float* dy, float* dx) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group(), is = p.in_size(), os = p.out_size();
  const int64_t rows = p.out[0] * p.out[1];
  std::vector<float> sum(static_cast<size_t>(os));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      const float* dyg = dy + (n * p.M + g * mg) * os;
      std::copy(dyg, dyg + os, sum.begin());
      for (int64_t m = 1; m < mg; ++m)
        for (int64_t j = 0; j < os; ++j) sum[static_cast<size_t>(j)] += dyg[m * os + j];
      float* first = dx + (n * p.C + g * cg) * is;
      std::fill(first, first + is, 0.0f);
      // One band of every output row: a tap row's column offset, modulo os, is its place in S.
      for_each_tap_row(p, 0, rows, 1, [&](int64_t co, int64_t xo, int64_t lo, int64_t hi, int64_t off) {
        if (xo >= 0) accumulate_tap_row(sum.data() + co % os, first + xo, lo, hi, off, p.stride[2]);
      });
      for (int64_t c = 1; c < cg; ++c) std::copy(first, first + is, first + c * is);
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
