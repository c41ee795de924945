// relscope/kernels/cpu/gemm.cpp — row-major GEMM on Eigen (native and wasm with -msimd128).
//
// Sections: Eigen maps | product dispatch | serial gemm | gemm() (thread split)
//
// Why Eigen maps: strided row-major views cost nothing and let Eigen's blocked GEMM (cache-tiled,
// vectorised packing) do the work; transposes are free views, dispatched at compile time.
// Under wasm with -msimd128, products big enough to fill 4x8 tiles go to gemm_simd128.cpp instead
// (about 2x Eigen there); small and matrix-vector products stay on Eigen.
// Threads: Eigen parallelises GEMM only through OpenMP, so gemm() splits C into column (or row) blocks
// itself and runs one serial product per block (parallel.h).
#include <algorithm>

#include <Eigen/Core>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace relscope::kernels {

#if defined(__wasm_simd128__)
namespace detail {
void gemm_simd128(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
}
#endif

namespace {

// ---- Eigen maps -------------------------------------------------------------------------------------------
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;
using MMap = Eigen::Map<RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;

// ---- product dispatch ----------------------------------------------------------------------------------------
template <class OpA, class OpB>
void product(MMap& c, const OpA& a, const OpB& b, float alpha, float beta) {
  if (beta == 0.0f) {
    c.noalias() = alpha * a * b;   // Eigen zeroes the destination first: C is never read
  } else {
    if (beta != 1.0f) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

// ---- serial gemm ------------------------------------------------------------------------------------------------
void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  MMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K <= 0 || alpha == 0.0f) {   // no product term: C = beta * C (beta 0 must not read C)
    if (beta == 0.0f)
      c.setZero();
    else if (beta != 1.0f)
      c *= beta;
    return;
  }
#if defined(__wasm_simd128__)
  if (M >= 4 && N >= 8 && M * N * K >= 8192) {
    detail::gemm_simd128(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  // Stored shapes: A is (M,K) or, transposed, (K,M); likewise B.
  const CMap a(A, transA ? K : M, transA ? M : K, Eigen::OuterStride<>(lda));
  const CMap b(B, transB ? N : K, transB ? K : N, Eigen::OuterStride<>(ldb));
  if (!transA && !transB)
    product(c, a, b, alpha, beta);
  else if (!transA && transB)
    product(c, a, b.transpose(), alpha, beta);
  else if (transA && !transB)
    product(c, a.transpose(), b, alpha, beta);
  else
    product(c, a.transpose(), b.transpose(), alpha, beta);
}

}  // namespace

// ---- gemm() -------------------------------------------------------------------------------------------------
// Split the wider side of C over threads: columns in blocks of 16 (whole SIMD tiles), else rows in blocks of 8.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const double work = 2.0 * static_cast<double>(M) * N * std::max<int64_t>(K, 1);
  if (detail::in_parallel_region() || threads() <= 1 || K <= 0) {
    gemm_serial(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if (N >= M) {
    constexpr int64_t kU = 16;
    detail::parallel_ranges((N + kU - 1) / kU, work, [&](int64_t b0, int64_t b1) {
      const int64_t j0 = b0 * kU, j1 = std::min(N, b1 * kU);
      gemm_serial(transA, transB, M, j1 - j0, K, alpha, A, lda, transB ? B + j0 * ldb : B + j0, ldb, beta, C + j0, ldc);
    });
  } else {
    constexpr int64_t kU = 8;
    detail::parallel_ranges((M + kU - 1) / kU, work, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * kU, i1 = std::min(M, b1 * kU);
      gemm_serial(transA, transB, i1 - i0, N, K, alpha, transA ? A + i0 : A + i0 * lda, lda, B, ldb, beta, C + i0 * ldc, ldc);
    });
  }
}

}  // namespace relscope::kernels
