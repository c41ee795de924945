// Back-end agreement: every GEMM and convolution form relevance uses, against a naive double-precision
// reference, on seeded random shapes (odd sizes, strides, dilations, asymmetric padding, groups, depthwise,
// pointwise, 1-D/2-D/3-D) and thread counts. This binary runs natively (Eigen) and under node (the
// wasm_simd128 micro-kernel), so passing both ways shows wasm == reference == native: normalised max
// error max|got - ref| / max|ref| <= 1e-5 everywhere.
//
// Sections: reference | random shapes | GEMM | convolution forward | convolution adjoint | Winograd | max-pool |
//           threads
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "graph/op_params.h"
#include "kernels/cpu/winograd.h"
#include "kernels/kernels.h"
#include "random_conv.h"

namespace relscope {
namespace {

constexpr double kTol = 1e-5;

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

double normalised_max_error(const std::vector<float>& got, const std::vector<double>& ref) {
  double err = 0, scale = 0;
  for (size_t k = 0; k < ref.size(); ++k) {
    err = std::max(err, std::fabs(got[k] - ref[k]));
    scale = std::max(scale, std::fabs(ref[k]));
  }
  return err / std::max(scale, 1e-30);
}

// ---- reference ------------------------------------------------------------------------------------------------
// y[n,m,o] = sum over the group's channels and taps of x * w (+ b); padding taps read 0.
template <class Visit>
void for_each_product(const ConvParams& p, Visit&& visit) {
  const int64_t cg = p.C_per_group(), mg = p.M_per_group();
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t o0 = 0; o0 < p.out[0]; ++o0)
        for (int64_t o1 = 0; o1 < p.out[1]; ++o1)
          for (int64_t o2 = 0; o2 < p.out[2]; ++o2)
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0)
                for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1)
                  for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2) {
                    const int64_t i0 = o0 * p.stride[0] - p.pad_begin[0] + k0 * p.dilation[0];
                    const int64_t i1 = o1 * p.stride[1] - p.pad_begin[1] + k1 * p.dilation[1];
                    const int64_t i2 = o2 * p.stride[2] - p.pad_begin[2] + k2 * p.dilation[2];
                    if (i0 < 0 || i0 >= p.in[0] || i1 < 0 || i1 >= p.in[1] || i2 < 0 || i2 >= p.in[2]) continue;
                    const int64_t ci = (m / mg) * cg + c;
                    const int64_t xi = ((n * p.C + ci) * p.in[0] + i0) * p.in[1] * p.in[2] + i1 * p.in[2] + i2;
                    const int64_t yi = ((n * p.M + m) * p.out[0] + o0) * p.out[1] * p.out[2] + o1 * p.out[2] + o2;
                    const int64_t wi = ((m * cg + c) * p.kernel[0] + k0) * p.kernel[1] * p.kernel[2] + k1 * p.kernel[2] + k2;
                    visit(xi, wi, yi);
                  }
}

std::vector<double> ref_forward(const ConvParams& p, const std::vector<float>& x, const std::vector<float>& w,
                                const float* b) {
  std::vector<double> y(static_cast<size_t>(p.N * p.M * p.out_size()), 0.0);
  if (b)
    for (size_t k = 0; k < y.size(); ++k) y[k] = b[(k / p.out_size()) % p.M];
  for_each_product(p, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += double(x[xi]) * w[wi]; });
  return y;
}

std::vector<double> ref_backward_data(const ConvParams& p, const std::vector<float>& dy, const std::vector<float>& w) {
  std::vector<double> dx(static_cast<size_t>(p.N * p.C * p.in_size()), 0.0);
  for_each_product(p, [&](int64_t xi, int64_t wi, int64_t yi) { dx[xi] += double(dy[yi]) * w[wi]; });
  return dx;
}

// ---- random shapes: random_conv.h ----------------------------------------------------------------------------------

// ---- GEMM -----------------------------------------------------------------------------------------------------------
void check_gemm(std::mt19937& rng, int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha, float beta) {
  SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " ta=" + std::to_string(ta) +
               " tb=" + std::to_string(tb) + " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta));
  const int64_t pad = 3;   // leading dimensions wider than the rows
  const int64_t ar = ta ? K : M, ac = (ta ? M : K) + pad, br = tb ? N : K, bc = (tb ? K : N) + pad, ldc = N + pad;
  const auto a = random_floats(static_cast<size_t>(ar * ac), rng), b = random_floats(static_cast<size_t>(br * bc), rng);
  std::vector<float> c = random_floats(static_cast<size_t>(M * ldc), rng);
  const std::vector<float> c0 = c;
  std::vector<double> ref(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(a[ta ? k * ac + i : i * ac + k]) * b[tb ? j * bc + k : k * bc + j];
      ref[i * N + j] = alpha * acc + (beta == 0.0f ? 0.0 : beta * double(c0[i * ldc + j]));
    }
  if (beta == 0.0f) std::fill(c.begin(), c.end(), std::nanf(""));   // beta 0 must not read C
  kernels::gemm(ta, tb, M, N, K, alpha, a.data(), ac, b.data(), bc, beta, c.data(), ldc);
  std::vector<float> got(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) got[i * N + j] = c[i * ldc + j];
  EXPECT_LE(normalised_max_error(got, ref), kTol);
  for (int64_t i = 0; i < M; ++i)   // the padding columns of C are never written
    for (int64_t j = N; j < ldc; ++j) ASSERT_TRUE(std::isnan(c[i * ldc + j]) || c[i * ldc + j] == c0[i * ldc + j]);
}

TEST(KernelsAgreement, GemmRandomShapes) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int k = 0; k < 48; ++k) {
    const int64_t M = pick(1, 70), N = pick(1, 90), K = pick(1, 300);
    check_gemm(rng, M, N, K, k & 1, k & 2, k % 5 == 0 ? -0.5f : 1.0f, k % 3 == 0 ? 0.0f : k % 3 == 1 ? 1.0f : 0.25f);
  }
  // Across the packed kernel's blocking edges (kc 256, mc 128, nc 2048, 4x8 tiles) and ResNet-like shapes.
  check_gemm(rng, 131, 2061, 259, false, false, 1.0f, 1.0f);
  check_gemm(rng, 64, 3136, 147, false, false, 1.0f, 0.0f);
  check_gemm(rng, 147, 3136, 64, true, false, 1.0f, 0.0f);
  check_gemm(rng, 1, 1000, 512, false, true, 1.0f, 1.0f);
  check_gemm(rng, 37, 5, 513, true, true, 2.0f, 0.0f);
}

// ---- convolution forward ------------------------------------------------------------------------------------------------
void check_conv(const ConvParams& p, std::mt19937& rng) {
  SCOPED_TRACE(describe(p));
  const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.in_size()), rng);
  const auto w = random_floats(static_cast<size_t>(p.M * p.col_rows()), rng);
  const auto b = random_floats(static_cast<size_t>(p.M), rng);
  const auto dy = random_floats(static_cast<size_t>(p.N * p.M * p.out_size()), rng);
  for (const float* bias : {static_cast<const float*>(nullptr), b.data()}) {
    std::vector<float> y(dy.size(), std::nanf(""));   // outputs are overwritten, never read
    kernels::conv_forward(p, x.data(), w.data(), bias, y.data());
    EXPECT_LE(normalised_max_error(y, ref_forward(p, x, w, bias)), kTol) << (bias ? "with bias" : "no bias");
  }
  // ---- convolution adjoint (LRP's backward sweep, ConvTranspose's forward) ----
  std::vector<float> dx(x.size(), std::nanf(""));
  kernels::conv_backward_data(p, dy.data(), w.data(), dx.data());
  EXPECT_LE(normalised_max_error(dx, ref_backward_data(p, dy, w)), kTol) << "adjoint";
  // The adjoint for all-ones weights (Flat) without them.
  std::vector<float> dx_ones(x.size(), std::nanf(""));
  kernels::conv_backward_data_ones(p, dy.data(), dx_ones.data());
  EXPECT_LE(normalised_max_error(dx_ones, ref_backward_data(p, dy, std::vector<float>(w.size(), 1.0f))), kTol)
      << "adjoint, all-ones weights";
}

TEST(KernelsAgreement, ConvRandomShapes) {
  std::mt19937 rng(11);
  for (int k = 0; k < 60; ++k) check_conv(random_conv(rng, k), rng);
}

// A square 2-D convolution layer of one image: C -> M channels, H x H input, k x k kernel, stride s.
ConvParams square_layer(int64_t C, int64_t M, int64_t H, int64_t k, int64_t s, int64_t pad) {
  ConvParams p;
  p.nspatial = 2;
  p.N = 1;
  p.C = C;
  p.M = M;
  for (int d = 1; d < 3; ++d) {
    p.in[d] = H;
    p.kernel[d] = k;
    p.stride[d] = s;
    p.pad_begin[d] = p.pad_end[d] = pad;
    p.out[d] = (H + 2 * pad - k) / s + 1;
  }
  return p;
}

// ResNet-18-like layers, small enough for the naive reference: the 7x7/2 stem, a 3x3/2, a 1x1/2 shortcut.
TEST(KernelsAgreement, ConvResNetLikeLayers) {
  std::mt19937 rng(13);
  check_conv(square_layer(3, 16, 45, 7, 2, 3), rng);
  check_conv(square_layer(24, 32, 15, 3, 2, 1), rng);
  check_conv(square_layer(24, 32, 15, 1, 2, 0), rng);
  check_conv(square_layer(64, 64, 9, 3, 1, 1), rng);
  check_conv(square_layer(64, 4, 100, 3, 1, 1), rng);   // 576 x 10,000 columns: the adjoint stores them in 6 bands
  // Few output positions and large weights (layer4-like): natively the adjoint computes dy^T W and transposes
  // it back, for a 3x3 layer's columns and for a pointwise layer's output directly.
  check_conv(square_layer(128, 256, 7, 3, 1, 1), rng);
  check_conv(square_layer(512, 512, 7, 1, 1, 0), rng);
  check_conv(square_layer(128, 300, 11, 3, 2, 1), rng);   // 36 positions, 300 rows of W: partial 16-tiles
}

// ---- Winograd -----------------------------------------------------------------------------------------------------------
// 3x3 stride-1 convs take Winograd F(2x2, 3x3) when it pays (kernels/cpu/winograd.cpp). Called directly here on
// shapes the cost model would send to im2col too: odd and even sizes (a partial last tile row and column), inputs
// smaller than a tile, padding 0..3 per side (the adjoint then reads dy from offset 2 - pad, negative for 3),
// batches, one channel. And through conv_forward on a shape where it pays, so that the path the engine takes is
// the one checked.
void check_winograd(const ConvParams& p, std::mt19937& rng) {
  SCOPED_TRACE("winograd " + describe(p));
  ASSERT_TRUE(kernels::detail::winograd_fits(p));
  const auto x = random_floats(static_cast<size_t>(p.N * p.C * p.in_size()), rng);
  const auto w = random_floats(static_cast<size_t>(p.M * p.col_rows()), rng);
  const auto b = random_floats(static_cast<size_t>(p.M), rng);
  const auto dy = random_floats(static_cast<size_t>(p.N * p.M * p.out_size()), rng);
  for (int tile : {2, 4}) {   // F(2x2, 3x3) and F(4x4, 3x3), whichever winograd_tile would pick
    SCOPED_TRACE("tile " + std::to_string(tile));
    for (const float* bias : {static_cast<const float*>(nullptr), b.data()}) {
      std::vector<float> y(dy.size(), std::nanf(""));
      kernels::detail::winograd_conv_forward(p, x.data(), w.data(), bias, y.data(), tile);
      EXPECT_LE(normalised_max_error(y, ref_forward(p, x, w, bias)), kTol) << (bias ? "with bias" : "no bias");
    }
    std::vector<float> dx(x.size(), std::nanf(""));
    kernels::detail::winograd_conv_backward_data(p, dy.data(), w.data(), dx.data(), tile);
    EXPECT_LE(normalised_max_error(dx, ref_backward_data(p, dy, w)), kTol) << "adjoint";
  }
}

TEST(KernelsAgreement, WinogradRandomShapes) {
  std::mt19937 rng(23);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int k = 0; k < 40; ++k) {
    ConvParams p;
    p.nspatial = 2;
    p.N = pick(1, 3);
    p.C = pick(1, 20);
    p.M = pick(1, 20);
    for (int d = 1; d < 3; ++d) {
      p.in[d] = pick(1, 17);
      p.kernel[d] = 3;
      p.pad_begin[d] = pick(0, 3);
      p.pad_end[d] = pick(0, 3);
      if (p.in[d] + p.pad_begin[d] + p.pad_end[d] < 3) p.pad_end[d] = 3 - p.in[d] - p.pad_begin[d];
      p.out[d] = p.in[d] + p.pad_begin[d] + p.pad_end[d] - 2;
    }
    check_winograd(p, rng);
  }
  ConvParams row;   // 1-D as the engine stores it (depth and height 1) is not 3x3: never Winograd
  row.nspatial = 1;
  row.N = row.C = row.M = 1;
  row.in = {1, 1, 9};
  row.kernel = {1, 1, 3};
  row.out = {1, 1, 7};
  EXPECT_FALSE(kernels::detail::winograd_fits(row));
  ConvParams deep = square_layer(16, 16, 30, 3, 1, 1);   // 3-D with depth 2 and a 1x3x3 kernel: the path is 2-D only
  deep.nspatial = 3;
  deep.in[0] = deep.out[0] = 2;
  EXPECT_FALSE(kernels::detail::winograd_fits(deep));
  std::mt19937 rng3(5);
  check_conv(deep, rng3);   // and the engine's conv still gets it right
}

TEST(KernelsAgreement, WinogradIsTheEnginesPathWhereItPays) {
  std::mt19937 rng(29);
  ConvParams p = square_layer(32, 48, 23, 3, 1, 1);   // 144 tiles of 2x2
  ASSERT_TRUE(kernels::detail::winograd_pays(p));
  check_conv(p, rng);
  check_winograd(p, rng);
  p.N = 2;   // each image its own blocks
  check_conv(p, rng);
  // Too few tiles for the weight transform to pay, or too few channels for the GEMMs: im2col (the same in wasm).
  EXPECT_FALSE(kernels::detail::winograd_pays(square_layer(64, 64, 9, 3, 1, 1)));
  EXPECT_FALSE(kernels::detail::winograd_pays(square_layer(8, 64, 64, 3, 1, 1)));
  EXPECT_FALSE(kernels::detail::winograd_pays(square_layer(32, 48, 23, 3, 2, 1)));   // stride 2
  EXPECT_FALSE(kernels::detail::winograd_pays(square_layer(512, 512, 7, 3, 1, 1)));  // layer4: 16 tiles, 512 channels
  EXPECT_TRUE(kernels::detail::winograd_pays(square_layer(256, 256, 14, 3, 1, 1)));  // layer3: 49 tiles, deep GEMMs
  // Which tile: F(4x4) for many 4x4 tiles with 32+ channels and little waste past the edge, else F(2x2).
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(64, 64, 56, 3, 1, 1)), 4);     // layer1: 196 4x4 tiles
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(128, 128, 28, 3, 1, 1)), 4);   // layer2: 49
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(256, 256, 14, 3, 1, 1)), 2);   // layer3: 16
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(16, 16, 32, 3, 1, 1)), 2);     // 16 channels
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(32, 48, 30, 3, 1, 1)), 4);     // 30 = 7.5 tiles of 4: 1.14x
  EXPECT_EQ(kernels::detail::winograd_tile(square_layer(32, 48, 29, 3, 1, 1)), 2);     // 29 = 7.25 tiles of 4: 1.22x
  p = square_layer(32, 40, 30, 3, 1, 1);   // F(4x4) through the engine's entry point, partial last tiles
  ASSERT_EQ(kernels::detail::winograd_tile(p), 4);
  check_conv(p, rng);
}

// ---- max-pool ---------------------------------------------------------------------------------------------------------
// Values alone take the separable path (rows' maxima, then their maximum); with indices the kernel folds every
// window's taps. Values and indices must equal a fold over every window's taps in ONNX's order (a tap wins
// only when greater than the maximum so far), written here again, bit for bit: values drawn from a few levels so
// that windows tie (+0 against -0 too: the first tap holding the maximum wins), -inf, windows that miss the
// input, and planes with NaN (a NaN counts only as a window's first tap).
TEST(KernelsAgreement, MaxPoolValuesEqualTheTapOrderFold) {
  std::mt19937 rng(31);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const float levels[] = {-1.0f, -0.0f, 0.0f, 0.5f, 1.0f, -std::numeric_limits<float>::infinity(), 2.0f};
  for (int index = 0; index < 300; ++index) {
    PoolParams p;
    p.nspatial = index % 5 == 4 ? 1 : 2;
    p.N = pick(1, 2);
    p.C = pick(1, 3);
    for (int d = 3 - p.nspatial; d < 3; ++d) {
      p.in[d] = pick(1, 17);
      p.kernel[d] = pick(1, 4);
      p.stride[d] = pick(1, 3);
      p.dilation[d] = pick(1, 2);
      p.pad_begin[d] = pick(0, 3);
      p.pad_end[d] = pick(0, 3);
      const int64_t span = p.dilation[d] * (p.kernel[d] - 1) + 1, padded = p.in[d] + p.pad_begin[d] + p.pad_end[d];
      if (padded < span) p.in[d] += span - padded;
      p.out[d] = (p.in[d] + p.pad_begin[d] + p.pad_end[d] - span) / p.stride[d] + 1;
    }
    SCOPED_TRACE("case " + std::to_string(index));
    std::vector<float> x(static_cast<size_t>(p.N * p.C * p.in_size()));
    for (float& v : x) v = levels[pick(0, index % 3 == 0 ? 6 : 4)];
    if (index % 7 == 3) x[static_cast<size_t>(pick(0, static_cast<int>(x.size()) - 1))] = std::nanf("");
    const size_t ny = static_cast<size_t>(p.N * p.C * p.out_size());
    std::vector<float> values(ny, 7.0f), with_indices(ny, 7.0f), folded(ny);
    std::vector<int64_t> at(ny), folded_at(ny);
    kernels::max_pool(p, x.data(), values.data(), nullptr);
    kernels::max_pool(p, x.data(), with_indices.data(), at.data());
    const int64_t is = p.in_size();
    size_t o = 0;
    for (int64_t plane = 0; plane < p.N * p.C; ++plane)
      for (int64_t oy = 0; oy < p.out[1]; ++oy)
        for (int64_t ox = 0; ox < p.out[2]; ++ox, ++o) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t arg = -1;
          for (int64_t ky = 0; ky < p.kernel[1]; ++ky)
            for (int64_t kx = 0; kx < p.kernel[2]; ++kx) {
              const int64_t iy = oy * p.stride[1] - p.pad_begin[1] + ky * p.dilation[1];
              const int64_t ix = ox * p.stride[2] - p.pad_begin[2] + kx * p.dilation[2];
              if (iy < 0 || iy >= p.in[1] || ix < 0 || ix >= p.in[2]) continue;
              const float v = x[static_cast<size_t>(plane * is + iy * p.in[2] + ix)];
              if (arg < 0 || v > best) best = v, arg = iy * p.in[2] + ix;
            }
          folded[o] = best;
          folded_at[o] = plane * is + std::max<int64_t>(arg, 0);
        }
    for (size_t i = 0; i < ny; ++i) {
      ASSERT_EQ(std::memcmp(&values[i], &folded[i], sizeof(float)), 0) << "output " << i << ": " << values[i] << " vs " << folded[i];
      ASSERT_EQ(std::memcmp(&with_indices[i], &folded[i], sizeof(float)), 0) << "output " << i << " (with indices)";
      ASSERT_EQ(at[i], folded_at[i]) << "index of output " << i;
    }
  }
  // By hand: the 2x2 plane [-0 +0; +0 -0] under one 2x2 window: no tap is greater than the first, -0.
  PoolParams p;
  p.nspatial = 2;
  p.N = p.C = 1;
  p.in = {1, 2, 2};
  p.kernel = {1, 2, 2};
  const float x[] = {-0.0f, 0.0f, 0.0f, -0.0f};
  float y = 1.0f;
  kernels::max_pool(p, x, &y, nullptr);
  EXPECT_TRUE(y == 0.0f && std::signbit(y));   // the first tap, -0: no later tap is greater
}

// ---- threads ------------------------------------------------------------------------------------------------------------
// The same checks with the output split over 2 and 3 threads (natively; wasm builds stay on 1 thread), and
// over 2 again with the third worker kept parked (set_threads never shrinks the pool).
TEST(KernelsAgreement, ThreadedSplitsAgree) {
  for (int t : {2, 3, 2}) {
    kernels::set_threads(t);
    SCOPED_TRACE("threads " + std::to_string(kernels::threads()));
    std::mt19937 rng(17 + t);
    for (int k = 0; k < 20; ++k) check_conv(random_conv(rng, k), rng);
    ConvParams big;   // large enough that every split really happens (work thresholds)
    big.nspatial = 2;
    big.N = 1;
    big.C = 32;
    big.M = 48;
    for (int d = 1; d < 3; ++d) {
      big.in[d] = 23;
      big.kernel[d] = 3;
      big.pad_begin[d] = big.pad_end[d] = 1;
      big.out[d] = 23;
    }
    check_conv(big, rng);
    big.in[1] = big.out[1] = 7;   // 7 output rows: the GEMM splits instead of the rows
    check_conv(big, rng);
    check_conv(square_layer(256, 256, 7, 3, 1, 1), rng);   // each thread's channels take the transposed adjoint
    big.N = 2;
    big.in[1] = big.out[1] = 40;   // Winograd, each image's channels split over the threads
    check_conv(big, rng);
    check_conv(square_layer(16, 16, 112, 3, 1, 1), rng);   // Winograd, too large for one block: tile rows split
    check_conv(square_layer(32, 32, 88, 3, 1, 1), rng);    // the same with F(4x4) (36 points per block)
    check_gemm(rng, 97, 301, 200, false, false, 1.0f, 0.5f);
    check_gemm(rng, 301, 31, 200, true, true, 1.0f, 0.0f);
  }
  kernels::set_threads(1);
  EXPECT_EQ(kernels::threads(), 1);
}

}  // namespace
}  // namespace relscope
