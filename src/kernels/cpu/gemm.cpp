// relscope/kernels/cpu/gemm.cpp — row-major GEMM on Eigen (native and wasm with -msimd128).
//
// Sections: Eigen maps | packing scratch | product dispatch | serial gemm | gemm() (thread split) |
//           gemm_columns (a conv's implicit im2col as B)
//
// Why Eigen maps: strided row-major views cost nothing and let Eigen's blocked GEMM (cache-tiled,
// vectorised packing) do the work; transposes are free views, dispatched at compile time.
// Under wasm with -msimd128, products big enough to fill 4x8 tiles go to gemm_simd128.cpp instead
// (about 2x Eigen there); small and matrix-vector products stay on Eigen.
// gemm_columns: conv_forward's product with its im2col matrix read in place (column_view.h): natively Eigen's
// own lhs packing and kernel with the view as the lhs mapper, in wasm gemm_simd128's; same blocking, so the
// result equals gemm() on the stored matrix bit for bit (wasm forward -6%, 7-22 MiB less scratch).
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
#include "kernels/cpu/column_view.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace relscope::kernels {

#if defined(__wasm_simd128__)
namespace detail {
void gemm_simd128(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_simd128_columns(int64_t M, const float* A, int64_t lda, const ColumnView& B, float beta, float* C,
                          int64_t ldc);
// gemm_serial's choice: the micro-kernel when the product fills its 4x8 tiles, else Eigen.
inline bool simd128_worth_it(int64_t M, int64_t N, int64_t K) { return M >= 4 && N >= 8 && M * N * K >= 8192; }
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
  if (detail::simd128_worth_it(M, N, K)) {
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
// serial(i0, i1, j0, j1) computes C's block [i0, i1) x [j0, j1).
template <class Serial>
void split_gemm(int64_t M, int64_t N, int64_t K, Serial&& serial) {
  const double work = 2.0 * static_cast<double>(M) * N * std::max<int64_t>(K, 1);
  if (detail::in_parallel_region() || threads() <= 1 || K <= 0) {
    serial(0, M, 0, N);
  } else if (N >= M) {
    constexpr int64_t kU = 16;
    detail::parallel_ranges((N + kU - 1) / kU, work,
                            [&](int64_t b0, int64_t b1) { serial(0, M, b0 * kU, std::min(N, b1 * kU)); });
  } else {
    constexpr int64_t kU = 8;
    detail::parallel_ranges((M + kU - 1) / kU, work,
                            [&](int64_t b0, int64_t b1) { serial(b0 * kU, std::min(M, b1 * kU), 0, N); });
  }
}

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  split_gemm(M, N, K, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    gemm_serial(transA, transB, i1 - i0, j1 - j0, K, alpha, transA ? A + i0 : A + i0 * lda, lda,
                transB ? B + j0 * ldb : B + j0, ldb, beta, C + i0 * ldc + j0, ldc);
  });
}

// ---- gemm_columns -----------------------------------------------------------------------------------------------
namespace {

#if !defined(__wasm_simd128__)
// Eigen's lhs for C^T = col^T A^T (how a row-major C is computed, see ScratchBlocking): lhs(i, k) = col(k, i).
// gemm_pack_lhs reads it a packet of consecutive output positions at a time: one unaligned load when they
// are consecutive input floats, else a gather; either way the packed panel holds exactly im2col's values.
class ColumnLhsMapper {
 public:
  using LinearMapper = void;   // named by gemm_pack_lhs, never used by its column-major packing
  ColumnLhsMapper(const detail::ColumnView& v, Eigen::Index i0, Eigen::Index k0) : v_(&v), i0_(i0), k0_(k0) {}
  ColumnLhsMapper getSubMapper(Eigen::Index i, Eigen::Index k) const { return {*v_, i0_ + i, k0_ + k}; }
  float operator()(Eigen::Index i, Eigen::Index k) const { return v_->at(k0_ + k, i0_ + i); }
  template <class Packet>
  Packet loadPacket(Eigen::Index i, Eigen::Index k) const {
    constexpr int n = Eigen::internal::unpacket_traits<Packet>::size;
    if (const float* s = v_->run(k0_ + k, i0_ + i, n)) return Eigen::internal::ploadu<Packet>(s);
    alignas(64) float t[n];
    v_->gather(k0_ + k, i0_ + i, n, t);
    return Eigen::internal::pload<Packet>(t);
  }

 private:
  const detail::ColumnView* v_;
  Eigen::Index i0_, k0_;
};

// Eigen's sequential blocked product (general_matrix_matrix_product<..., ColMajor>::run) with the lhs packed
// through ColumnLhsMapper: same blocking, same packing order, same kernel as blocked_product<RowMajor, RowMajor>.
void blocked_columns(int64_t M, const float* A, int64_t lda, const detail::ColumnView& B, float* C, int64_t ldc) {
  namespace ei = Eigen::internal;
  using Index = Eigen::Index;
  using Traits = ei::gebp_traits<float, float>;
  using RhsMapper = ei::const_blas_data_mapper<float, Index, Eigen::ColMajor>;
  using ResMapper = ei::blas_data_mapper<float, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  const Index rows = B.cols(), cols = M, depth = B.rows();   // C^T is (positions x channels)
  ScratchBlocking blocking(M, rows, depth);
  const Index kc = blocking.kc(), mc = std::min(rows, blocking.mc()), nc = std::min(cols, blocking.nc());
  ei::gemm_pack_lhs<float, Index, ColumnLhsMapper, Traits::mr, Traits::LhsProgress, Traits::LhsPacket4Packing,
                    Eigen::ColMajor>
      pack_lhs;
  ei::gemm_pack_rhs<float, Index, RhsMapper, Traits::nr, Eigen::ColMajor> pack_rhs;
  ei::gebp_kernel<float, float, Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
  const ColumnLhsMapper lhs(B, 0, 0);
  const RhsMapper rhs(A, lda);
  const ResMapper res(C, ldc, 1);
  float *blockA = blocking.blockA(), *blockB = blocking.blockB();
  const bool pack_rhs_once = mc != rows && kc == depth && nc == cols;
  for (Index i2 = 0; i2 < rows; i2 += mc) {
    const Index actual_mc = std::min(i2 + mc, rows) - i2;
    for (Index k2 = 0; k2 < depth; k2 += kc) {
      const Index actual_kc = std::min(k2 + kc, depth) - k2;
      pack_lhs(blockA, lhs.getSubMapper(i2, k2), actual_kc, actual_mc);
      for (Index j2 = 0; j2 < cols; j2 += nc) {
        const Index actual_nc = std::min(j2 + nc, cols) - j2;
        if (!pack_rhs_once || i2 == 0) pack_rhs(blockB, rhs.getSubMapper(k2, j2), actual_kc, actual_nc);
        gebp(res.getSubMapper(i2, j2), blockA, blockB, actual_mc, actual_kc, actual_nc, 1.0f);
      }
    }
  }
}
#endif

void gemm_columns_serial(int64_t M, const float* A, int64_t lda, const detail::ColumnView& B, float beta, float* C,
                         int64_t ldc) {
  const int64_t N = B.cols(), K = B.rows();
#if defined(__wasm_simd128__)
  if (detail::simd128_worth_it(M, N, K)) {
    detail::gemm_simd128_columns(M, A, lda, B, beta, C, ldc);
    return;
  }
#else
  if (M > 1 && N > 1 && M + N + K >= 20) {   // gemm_serial's blocked path
    MMap c(C, M, N, Eigen::OuterStride<>(ldc));
    if (beta == 0.0f)
      c.setZero();
    else if (beta != 1.0f)
      c *= beta;
    blocked_columns(M, A, lda, B, C, ldc);
    return;
  }
#endif
  // Too small for a packed kernel: materialise the columns and take gemm_serial's other paths.
  thread_local std::vector<float> col;
  if (col.size() < static_cast<size_t>(K * N)) col.resize(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k) B.gather(k, 0, N, col.data() + k * N);
  gemm_serial(false, false, M, N, K, 1.0f, A, lda, col.data(), N, beta, C, ldc);
}

}  // namespace

void detail::gemm_columns(int64_t M, const float* A, int64_t lda, const ColumnView& B, float beta, float* C,
                          int64_t ldc) {
  if (M <= 0 || B.cols() <= 0) return;
  split_gemm(M, B.cols(), B.rows(), [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    gemm_columns_serial(i1 - i0, A + i0 * lda, lda, B.columns(j0, j1 - j0), beta, C + i0 * ldc + j0, ldc);
  });
}

}  // namespace relscope::kernels

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
