// relscope/kernels/cpu/gemm.cpp — row-major GEMM on Eigen (native and wasm with -msimd128).
//
// Sections: Eigen maps | packing scratch | product dispatch | serial gemm | gemm() (thread split)
//
// Why Eigen maps: strided row-major views cost nothing and let Eigen's blocked GEMM (cache-tiled,
// vectorised packing) do the work; transposes are free views, dispatched at compile time.
// Under wasm with -msimd128, products big enough to fill 4x8 tiles go to gemm_simd128.cpp instead
// (about 2x Eigen there); small and matrix-vector products stay on Eigen.
// Threads: Eigen parallelises GEMM only through OpenMP, so gemm() splits C into column (or row) blocks
// itself and runs one serial product per block (parallel.h).
// Packing scratch: Eigen's product expression allocates its packed panels (hundreds of KiB) on the heap per
// call; glibc hands such blocks back to the kernel, trims the heap, and the next call page-faults them (and
// the activations allocated around them) in again: ~1,580 faults per forward-only ResNet-18 run, 0 since
// large products call Eigen's blocked kernel with panels in a grow-only buffer per thread (same kernel,
// same blocking, same results).
#include <algorithm>
#include <vector>

// GCC 12 reports Eigen 3.4's AVX-512 rhs packing (gemm_pack_rhs, _mm512_unpacklo_ps) as "may be used
// uninitialized": a known false positive in Eigen's headers (131 lines per build), not in this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>

#include "kernels/cpu/aligned_buffer.h"
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

// ---- packing scratch -----------------------------------------------------------------------------------------
// Eigen's cache blocking for a row-major C (what gemm_blocking_space<RowMajor, ...> computes), with the packed
// panels in this thread's grow-only buffer instead of a fresh heap block per call.
class ScratchBlocking : public Eigen::internal::level3_blocking<float, float> {
 public:
  ScratchBlocking(int64_t M, int64_t N, int64_t K) {
    // Row-major C is computed as the column-major product C^T = B^T A^T: rows and columns swap.
    m_mc = N;
    m_nc = M;
    m_kc = K;
    Eigen::internal::computeProductBlockingSizes<float, float, 1, Eigen::Index>(m_kc, m_mc, m_nc, 1);
    const size_t size_a = static_cast<size_t>(m_mc * m_kc), size_b = static_cast<size_t>(m_kc * m_nc);
    thread_local std::vector<float> panels;   // Eigen stores its packets aligned: 64-byte start
    float* base = detail::aligned_floats(panels, round_up(size_a) + size_b);
    m_blockA = base;
    m_blockB = base + round_up(size_a);
  }

 private:
  static size_t round_up(size_t n) { return (n + 15) / 16 * 16; }   // blockB on a 64-byte boundary too
};

// C += alpha * op(A) op(B) through Eigen's blocked kernel with this thread's panels (M, N > 1).
template <int OrderA, int OrderB>
void blocked_product(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  ScratchBlocking blocking(M, N, K);
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, float, OrderA, false, float, OrderB, false,
                                                 Eigen::RowMajor, 1>::run(M, N, K, A, lda, B, ldb, C, 1, ldc, alpha,
                                                                          blocking);
}

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
  // What Eigen's own product does below its coefficient-wise threshold (20) or for a vector stays on Eigen;
  // the rest runs its blocked kernel with per-thread panels. A transposed row-major operand is column-major.
  if (M > 1 && N > 1 && M + N + K >= 20) {
    if (beta == 0.0f)
      c.setZero();
    else if (beta != 1.0f)
      c *= beta;
    constexpr int R = Eigen::RowMajor, Cm = Eigen::ColMajor;
    if (!transA && !transB)
      blocked_product<R, R>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else if (!transA && transB)
      blocked_product<R, Cm>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else if (transA && !transB)
      blocked_product<Cm, R>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    else
      blocked_product<Cm, Cm>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
    return;
  }
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

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
