// The forward convolution's implicit im2col (kernels/cpu/column_view.h): the view reads exactly the values
// and zeros kernels::im2col writes, and a GEMM packing through it gives, bit for bit, the product of the same
// GEMM on the materialised column matrix (natively Eigen's packing with the view as its lhs; under node the
// wasm micro-kernel's pack_b), single-threaded and split over threads.
//
// Sections: helpers | the view's values | GEMM through the view
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "graph/op_params.h"
#include "kernels/cpu/column_view.h"
#include "kernels/kernels.h"
#include "random_conv.h"

namespace relscope {
namespace {

// ---- helpers -------------------------------------------------------------------------------------------------
std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

ConvParams conv2d(int64_t C, int64_t M, int64_t H, int64_t W, int64_t k, int64_t s, int64_t pad) {
  ConvParams p;
  p.nspatial = 2;
  p.N = 1;
  p.C = C;
  p.M = M;
  const int64_t in[3] = {1, H, W};
  for (int d = 1; d < 3; ++d) {
    p.in[d] = in[d];
    p.kernel[d] = k;
    p.stride[d] = s;
    p.pad_begin[d] = p.pad_end[d] = pad;
    p.out[d] = (in[d] + 2 * pad - k) / s + 1;
  }
  return p;
}

// ---- the view's values ---------------------------------------------------------------------------------------
// Every entry, every span a packer asks for (within a row, across row ends, over padding), and every run the
// view calls contiguous, against im2col's stored matrix, for random shapes and bands of output rows.
TEST(ColumnView, ReadsExactlyWhatIm2colWrites) {
  std::mt19937 rng(23);
  for (int index = 0; index < 90; ++index) {
    const ConvParams p = random_conv(rng, index);
    SCOPED_TRACE(describe(p));
    const auto x = random_floats(static_cast<size_t>(p.C_per_group() * p.in_size()), rng);
    const int64_t rows = p.out[0] * p.out[1], ow = p.out[2], K = p.col_rows();
    const int64_t r0 = std::uniform_int_distribution<int64_t>(0, rows - 1)(rng);
    const int64_t r1 = std::uniform_int_distribution<int64_t>(r0 + 1, rows)(rng);
    const int64_t N = (r1 - r0) * ow;
    std::vector<float> col(static_cast<size_t>(K * N), std::nanf(""));
    kernels::im2col(p, x.data(), r0, r1, col.data());
    kernels::detail::ColumnView view(nullptr, nullptr, nullptr, 0, 0, p.in, 1);
    ASSERT_TRUE(kernels::detail::make_column_view(p, x.data(), r0, r1, &view));
    ASSERT_EQ(view.rows(), K);
    ASSERT_EQ(view.cols(), N);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        ASSERT_TRUE(same_bits(view.at(k, j), col[k * N + j])) << "k " << k << " j " << j;
    std::vector<float> got;
    for (int trial = 0; trial < 200; ++trial) {
      const int64_t k = std::uniform_int_distribution<int64_t>(0, K - 1)(rng);
      const int64_t j = std::uniform_int_distribution<int64_t>(0, N - 1)(rng);
      const int64_t n = std::uniform_int_distribution<int64_t>(1, std::min<int64_t>(N - j, 20))(rng);
      got.assign(static_cast<size_t>(n), std::nanf(""));
      view.gather(k, j, n, got.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_TRUE(same_bits(got[i], col[k * N + j + i])) << "gather k " << k << " j " << j << " n " << n << " i " << i;
      if (const float* s = view.run(k, j, n)) {
        for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(s[i], col[k * N + j + i])) << "run k " << k << " j " << j;
      }
      if (const float* s = view.strided_run(k, j, n)) {   // every stride; all n * stride floats inside the input
        const int64_t sx = view.stride_x();
        ASSERT_LE(s + n * sx, x.data() + x.size());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_TRUE(same_bits(s[i * sx], col[k * N + j + i])) << "strided run k " << k << " j " << j;
      }
      // A sub-view starts its columns at j.
      if (n > 0) {
        ASSERT_TRUE(same_bits(view.columns(j, N - j).at(k, 0), col[k * N + j]));
      }
    }
  }
}

// Unit stride, one output row, no padding among the values: the view hands out the input itself.
TEST(ColumnView, RunsAreTheInputWhereItIsContiguous) {
  const ConvParams p = conv2d(2, 1, 9, 12, 3, 1, 1);   // 9x12 outputs
  std::mt19937 rng(5);
  const auto x = random_floats(static_cast<size_t>(p.C * p.in_size()), rng);
  kernels::detail::ColumnView view(nullptr, nullptr, nullptr, 0, 0, p.in, 1);
  ASSERT_TRUE(kernels::detail::make_column_view(p, x.data(), 0, p.out[1], &view));
  // Tap (c=1, ky=1, kx=1) reads x[1, oy, ox]: output row 4, columns 2..9 are input row 4, columns 2..9.
  const int64_t k = 1 * 9 + 1 * 3 + 1, j = 4 * 12 + 2;
  EXPECT_EQ(view.run(k, j, 8), x.data() + p.in_size() + 4 * 12 + 2);
  EXPECT_EQ(view.run(k, j, 11), nullptr);          // past the output row's end
  EXPECT_EQ(view.run(k - 1, 4 * 12, 4), nullptr);  // kx=0 at ox=0 reads the left padding
  EXPECT_EQ(view.run(k - 3, 0, 4), nullptr);       // ky=0 at oy=0 reads the top padding
}

// Stride 2 (how the wasm packer reads the stem and the downsampling convs): position e of a run reads s[2e], and
// a run is handed out only if the whole span s[0, 2n) lies inside its input row, so 16 floats may be loaded for 8.
TEST(ColumnView, StridedRunsSpanOneInputRow) {
  const ConvParams p = conv2d(2, 1, 20, 20, 3, 2, 1);   // 20x20 inputs -> 10x10 outputs
  std::mt19937 rng(6);
  const auto x = random_floats(static_cast<size_t>(p.C * p.in_size()), rng);
  kernels::detail::ColumnView view(nullptr, nullptr, nullptr, 0, 0, p.in, 1);
  ASSERT_TRUE(kernels::detail::make_column_view(p, x.data(), 0, p.out[1], &view));
  ASSERT_EQ(view.stride_x(), 2);
  // Tap (c=1, ky=1, kx=1) at output (oy=3, ox=1) reads x[1, 2*3, 2*1]: input row 6 from column 2, every other.
  const int64_t k = 1 * 9 + 1 * 3 + 1, j = 3 * 10 + 1;
  EXPECT_EQ(view.run(k, j, 4), nullptr);   // not contiguous
  EXPECT_EQ(view.strided_run(k, j, 8), x.data() + p.in_size() + 6 * 20 + 2);   // columns 2..17 of 20
  EXPECT_EQ(view.strided_run(k, j + 1, 8), x.data() + p.in_size() + 6 * 20 + 4);   // columns 4..19
  EXPECT_EQ(view.strided_run(k + 1, j + 1, 8), nullptr);   // kx=2: columns 5..20, one past the row
  EXPECT_EQ(view.strided_run(k, j + 2, 8), nullptr);       // past the output row's end
  EXPECT_EQ(view.strided_run(k - 1, 3 * 10, 4), nullptr);  // kx=0 at ox=0 reads the left padding
}

// ---- GEMM through the view -------------------------------------------------------------------------------------
// gemm_columns against kernels::gemm on im2col's matrix: equal bit for bit (the same blocking packs the same
// values), with beta 0 (C not read) and 1 (a bias seeded in C), across the packed kernels' block edges and
// the small shapes that take the materialising fallback, on 1 and 2 threads.
void expect_gemm_columns_equals_gemm(const ConvParams& p, float beta, std::mt19937& rng) {
  SCOPED_TRACE(describe(p) + " beta " + std::to_string(beta) + " threads " + std::to_string(kernels::threads()));
  const int64_t K = p.col_rows(), rows = p.out[0] * p.out[1], N = rows * p.out[2], M = p.M_per_group();
  const auto x = random_floats(static_cast<size_t>(p.C_per_group() * p.in_size()), rng);
  const auto w = random_floats(static_cast<size_t>(M * K), rng);
  std::vector<float> col(static_cast<size_t>(K * N));
  kernels::im2col(p, x.data(), 0, rows, col.data());
  std::vector<float> want = random_floats(static_cast<size_t>(M * N), rng), got = want;
  if (beta == 0.0f) got[0] = std::nanf("");   // must not be read
  kernels::gemm(false, false, M, N, K, 1.0f, w.data(), K, col.data(), N, beta, want.data(), N);
  kernels::detail::ColumnView view(nullptr, nullptr, nullptr, 0, 0, p.in, 1);
  ASSERT_TRUE(kernels::detail::make_column_view(p, x.data(), 0, rows, &view));
  kernels::detail::gemm_columns(M, w.data(), K, view, beta, got.data(), N);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(same_bits(got[i], want[i])) << "at " << i;
}

TEST(ColumnView, GemmEqualsGemmOnMaterialisedColumns) {
  std::mt19937 rng(29);
  for (int t : {1, 2}) {
    kernels::set_threads(t);
    for (float beta : {0.0f, 1.0f}) {
      expect_gemm_columns_equals_gemm(conv2d(29, 19, 13, 11, 3, 1, 1), beta, rng);    // K 261: two wasm slabs
      expect_gemm_columns_equals_gemm(conv2d(3, 21, 48, 50, 7, 1, 3), beta, rng);     // N 2400 > one wasm slab
      expect_gemm_columns_equals_gemm(conv2d(5, 130, 9, 7, 3, 2, 1), beta, rng);      // M 130 > wasm's mc 128
      expect_gemm_columns_equals_gemm(conv2d(2, 3, 5, 5, 3, 1, 0), beta, rng);        // small: materialised
      expect_gemm_columns_equals_gemm(conv2d(64, 64, 30, 30, 3, 1, 1), beta, rng);    // ResNet layer1-like
      expect_gemm_columns_equals_gemm(conv2d(16, 24, 31, 29, 3, 2, 1), beta, rng);    // stride 2 gathers
    }
    for (int index = 0; index < 40; ++index) {
      ConvParams p = random_conv(rng, index);
      p.N = 1;
      p.group = 1;   // one group over all channels: the view and the GEMM see one (image, group)
      expect_gemm_columns_equals_gemm(p, index % 2 ? 1.0f : 0.0f, rng);
    }
  }
  kernels::set_threads(1);
}

}  // namespace
}  // namespace relscope
