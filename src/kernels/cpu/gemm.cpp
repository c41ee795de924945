// relscope/kernels/cpu/gemm.cpp — row-major GEMM on Eigen (native and wasm with -msimd128).
//
// Sections: Eigen maps | packing scratch | product dispatch | serial gemm | work counter, gemm() (thread split) |
//           gemm_columns (a conv's implicit im2col as B)
//
// Why Eigen maps: strided row-major views cost nothing and let Eigen's blocked GEMM (cache-tiled,
// vectorised packing) do the work; transposes are free views, dispatched at compile time.
// Under wasm with -msimd128, products big enough to fill 4x8 tiles go to gemm_simd128.cpp instead
// (about 2x Eigen there); small and matrix-vector products stay on Eigen.
// gemm_columns: conv_forward's product with its im2col matrix read in place (column_view.h): natively Eigen's
// lhs panels packed from the view (Eigen's layout, one gather per panel and k) for Eigen's own kernel, in wasm
// gemm_simd128's pack_b; same blocking, so the result equals gemm() on the stored matrix bit for bit
// (ResNet-18 forward: wasm -10%, native -6%; 10-22 MiB less scratch).
// Threads: Eigen parallelises GEMM only through OpenMP, so gemm() splits C into column (or row) blocks
// itself and runs one serial product per block (parallel.h).
// Packing scratch: Eigen's product expression allocates its packed panels (hundreds of KiB) on the heap per
// call; glibc hands such blocks back to the kernel, trims the heap, and the next call page-faults them (and
// the activations allocated around them) in again: ~1,580 faults per forward-only ResNet-18 run, 0 since
// large products call Eigen's blocked kernel with panels in a grow-only buffer per thread (same kernel,
// same blocking, same results).
#include <algorithm>
#include <atomic>
#include <vector>

// GCC 12 reports Eigen 3.4's AVX-512 rhs packing (gemm_pack_rhs, _mm512_unpacklo_ps) as "may be used
// uninitialized": a known false positive in Eigen's headers (131 lines per build), not in this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Eigen's packet types (__m512 and its halves) carry vector attributes that GCC drops, and says so, when they
// are template arguments, as pack_lhs_columns' unpacket_traits<Half> are (Eigen silences this in its own code).
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
#include <Eigen/Core>

#include "kernels/cpu/aligned_buffer.h"
#include "kernels/cpu/column_view.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/work_count.h"
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

// C = beta * C, never reading C when beta is 0 (it may hold NaN); the blocked products then add alpha*AB.
void scale_c(MMap& c, float beta) {
  if (beta == 0.0f)
    c.setZero();
  else if (beta != 1.0f)
    c *= beta;
}

// What Eigen's own product does below its coefficient-wise threshold (20) or for a vector stays on Eigen's
// expression path; the rest runs its blocked kernel with this thread's panels.
bool blocked_worth_it(int64_t M, int64_t N, int64_t K) { return M > 1 && N > 1 && M + N + K >= 20; }

// ---- serial gemm ------------------------------------------------------------------------------------------------
void gemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  MMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K <= 0 || alpha == 0.0f) {   // no product term: C = beta * C
    scale_c(c, beta);
    return;
  }
#if defined(__wasm_simd128__)
  if (detail::simd128_worth_it(M, N, K)) {
    detail::gemm_simd128(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  // A transposed row-major operand is column-major.
  if (blocked_worth_it(M, N, K)) {
    scale_c(c, beta);
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
namespace {

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

}  // namespace

// ---- work counter ------------------------------------------------------------------------------------------------
namespace {
std::atomic<uint64_t> g_multiply_accumulates{0};
}

void detail::count_multiply_accumulates(uint64_t n) { g_multiply_accumulates.fetch_add(n, std::memory_order_relaxed); }
uint64_t multiply_accumulates() { return g_multiply_accumulates.load(std::memory_order_relaxed); }

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M > 0 && N > 0 && K > 0) detail::count_multiply_accumulates(static_cast<uint64_t>(M * N * K));
  detail::gemm_uncounted(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void detail::gemm_uncounted(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
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
// Eigen's lhs for C^T = col^T A^T (how a row-major C is computed, see ScratchBlocking): lhs(i, k) = col(k, i),
// packed as gemm_pack_lhs<..., ColMajor> packs it: rows in panels (3, 2 and 1 packets wide, a half and a quarter
// packet, then single rows, peeled exactly as below), each panel k-major. Each (panel, k) is one gather of the
// view's positions: an Eigen mapper handing out one checked packet at a time made packing as slow as im2col
// plus packing had been; this is 6% off a native ResNet-18 forward pass. The GEMM equals gemm() on the stored
// columns bit for bit (ColumnView tests), which a wrong layout could not.
void pack_lhs_columns(float* blockA, const detail::ColumnView& v, Eigen::Index i0, Eigen::Index k0, Eigen::Index depth,
                      Eigen::Index rows) {
  namespace ei = Eigen::internal;
  using Traits = ei::gebp_traits<float, float>;
  using Packet = Traits::LhsPacket4Packing;
  using Half = typename ei::unpacket_traits<Packet>::half;
  using Quarter = typename ei::unpacket_traits<Half>::half;
  constexpr Eigen::Index P = ei::unpacket_traits<Packet>::size, H = ei::unpacket_traits<Half>::size,
                         Q = ei::unpacket_traits<Quarter>::size, Pack1 = Traits::mr;
  static_assert(Traits::LhsProgress == P, "real float lhs: Pack2 is one packet");
  const Eigen::Index mc3 = Pack1 >= 3 * P ? (rows / (3 * P)) * (3 * P) : 0;
  const Eigen::Index mc2 = Pack1 >= 2 * P ? mc3 + ((rows - mc3) / (2 * P)) * (2 * P) : 0;
  const Eigen::Index mc1 = Pack1 >= 1 * P ? mc2 + ((rows - mc2) / P) * P : 0;
  const Eigen::Index mch = Pack1 >= H ? mc1 + ((rows - mc1) / H) * H : 0;
  const Eigen::Index mcq = Pack1 >= Q ? (rows / Q) * Q : 0;
  Eigen::Index i = 0;
  float* dst = blockA;
  auto panels = [&](bool on, Eigen::Index end, Eigen::Index w) {
    if (!on) return;
    for (; i < end; i += w) {
      for (Eigen::Index k = 0; k < depth; ++k) v.gather(k0 + k, i0 + i, w, dst + k * w);
      dst += w * depth;
    }
  };
  panels(Pack1 >= 3 * P, mc3, 3 * P);
  panels(Pack1 >= 2 * P, mc2, 2 * P);
  panels(Pack1 >= P, mc1, P);
  panels(H < P && Pack1 >= H, mch, H);
  panels(Q < H && Pack1 >= Q, mcq, Q);
  panels(true, rows, 1);
}

// Eigen's sequential blocked product (general_matrix_matrix_product<..., ColMajor>::run) with the lhs packed
// from the view: same blocking, same packed panels, same kernel as blocked_product<RowMajor, RowMajor>.
void blocked_columns(int64_t M, const float* A, int64_t lda, const detail::ColumnView& B, float* C, int64_t ldc) {
  namespace ei = Eigen::internal;
  using Index = Eigen::Index;
  using Traits = ei::gebp_traits<float, float>;
  using RhsMapper = ei::const_blas_data_mapper<float, Index, Eigen::ColMajor>;
  using ResMapper = ei::blas_data_mapper<float, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  const Index rows = B.cols(), cols = M, depth = B.rows();   // C^T is (positions x channels)
  ScratchBlocking blocking(M, rows, depth);
  const Index kc = blocking.kc(), mc = std::min(rows, blocking.mc()), nc = std::min(cols, blocking.nc());
  ei::gemm_pack_rhs<float, Index, RhsMapper, Traits::nr, Eigen::ColMajor> pack_rhs;
  ei::gebp_kernel<float, float, Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
  const RhsMapper rhs(A, lda);
  const ResMapper res(C, ldc, 1);
  float *blockA = blocking.blockA(), *blockB = blocking.blockB();
  const bool pack_rhs_once = mc != rows && kc == depth && nc == cols;
  for (Index i2 = 0; i2 < rows; i2 += mc) {
    const Index actual_mc = std::min(i2 + mc, rows) - i2;
    for (Index k2 = 0; k2 < depth; k2 += kc) {
      const Index actual_kc = std::min(k2 + kc, depth) - k2;
      pack_lhs_columns(blockA, B, i2, k2, actual_kc, actual_mc);
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
  if (blocked_worth_it(M, N, K)) {   // gemm_serial's blocked path
    MMap c(C, M, N, Eigen::OuterStride<>(ldc));
    scale_c(c, beta);
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
