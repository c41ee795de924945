// relscope/kernels/cpu/gemm_simd128.cpp — a packed GEMM with a wasm_simd128 4x8 micro-kernel.
//
// Sections: blocking | packing | micro-kernel | driver (a stored B, or a conv's implicit im2col)
//
// Why: Eigen 3.4 has no wasm SIMD packet path, so under Emscripten its GEMM runs on LLVM's
// auto-vectorisation at ~17-20 GFLOP/s. This is the classic Goto/BLIS structure (pack a kc x nc slab of
// B and an mc x kc block of A into contiguous micro-panels, then a register-blocked 4x8 kernel over
// them): packing absorbs the transposes and leading dimensions, the kernel streams two v128 of B and
// four broadcasts of A per k. Compiled only for wasm with -msimd128; elsewhere this file is empty and
// kernels::gemm stays on Eigen (see gemm.cpp for the dispatch).
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/aligned_buffer.h"
#include "kernels/cpu/column_view.h"

namespace relscope::kernels::detail {

namespace {

// ---- blocking ----------------------------------------------------------------------------------------------
constexpr int64_t kMR = 4, kNR = 8;          // micro-tile: 8 accumulators of 4 floats
constexpr int64_t kKC = 256;                 // depth of one packed slab (a B micro-panel is 8 KiB: L1)
constexpr int64_t kMC = 128;                 // rows of A per packed block (128 KiB: L2)
constexpr int64_t kNC = 2048;                // columns of B per packed slab

// ---- packing -------------------------------------------------------------------------------------------------
// A block rows [i0, i0+mc) x depth [p0, p0+kc) -> micro-panels of kMR rows, k-major; rows past M are 0.
// Vectorised: with few columns (layer4's 7x7 outputs: N = 49) every A element is packed for only a handful
// of tiles, and a scalar gather made packing as slow as the multiply. Row-major A: 4x4 blocks are loaded
// and transposed in registers; transposed A already holds 4 consecutive rows contiguously per k.
void pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int64_t M,
            float* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t i = i0 + ir;
    if (i + kMR <= M && trans) {
      const float* s = A + p0 * lda + i;
      for (int64_t k = 0; k < kc; ++k) wasm_v128_store(dst + k * kMR, wasm_v128_load(s + k * lda));
    } else if (i + kMR <= M) {
      const float *s0 = A + i * lda + p0, *s1 = s0 + lda, *s2 = s1 + lda, *s3 = s2 + lda;
      int64_t k = 0;
      for (; k + 4 <= kc; k += 4) {
        const v128_t r0 = wasm_v128_load(s0 + k), r1 = wasm_v128_load(s1 + k);
        const v128_t r2 = wasm_v128_load(s2 + k), r3 = wasm_v128_load(s3 + k);
        const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        float* d = dst + k * kMR;
        wasm_v128_store(d, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        wasm_v128_store(d + 4, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        wasm_v128_store(d + 8, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        wasm_v128_store(d + 12, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; k < kc; ++k) {
        float* d = dst + k * kMR;
        d[0] = s0[k];
        d[1] = s1[k];
        d[2] = s2[k];
        d[3] = s3[k];
      }
    } else {   // the last, partial panel: rows past M are zero
      for (int64_t r = 0; r < kMR; ++r) {
        float* d = dst + r;
        if (i + r >= M) {
          for (int64_t k = 0; k < kc; ++k) d[k * kMR] = 0.0f;
        } else if (!trans) {
          const float* s = A + (i + r) * lda + p0;
          for (int64_t k = 0; k < kc; ++k) d[k * kMR] = s[k];
        } else {
          const float* s = A + p0 * lda + i + r;
          for (int64_t k = 0; k < kc; ++k) d[k * kMR] = s[k * lda];
        }
      }
    }
    dst += kMR * kc;
  }
}

// Four rows of 4 floats (r0..r3 from s0..s3 at k) transposed into dst's rows k..k+3 (row stride kNR).
inline void transpose4_store(const float* s0, const float* s1, const float* s2, const float* s3, float* d) {
  const v128_t r0 = wasm_v128_load(s0), r1 = wasm_v128_load(s1), r2 = wasm_v128_load(s2), r3 = wasm_v128_load(s3);
  const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
  const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
  wasm_v128_store(d, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
  wasm_v128_store(d + kNR, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
  wasm_v128_store(d + 2 * kNR, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
  wasm_v128_store(d + 3 * kNR, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
}

// B slab depth [p0, p0+kc) x columns [j0, j0+nc) -> micro-panels of kNR columns, k-major; columns past N are 0.
void pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int64_t N,
            float* dst) {
  for (int64_t jr = 0; jr < nc; jr += kNR) {
    const int64_t j = j0 + jr, w = std::min(kNR, std::min(nc - jr, N - j));
    if (!trans && w == kNR) {   // the common case: 8 contiguous floats per k
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = B + (p0 + k) * ldb + j;
        wasm_v128_store(dst + k * kNR, wasm_v128_load(s));
        wasm_v128_store(dst + k * kNR + 4, wasm_v128_load(s + 4));
      }
    } else if (trans && w == kNR) {   // 8 rows of B^T (a Linear layer's weight as stored): 4x4 blocks transposed
      const float* s = B + j * ldb + p0;
      int64_t k = 0;
      for (; k + 4 <= kc; k += 4)
        for (int64_t h = 0; h < kNR; h += 4) {
          const float* r = s + h * ldb + k;
          transpose4_store(r, r + ldb, r + 2 * ldb, r + 3 * ldb, dst + k * kNR + h);
        }
      for (; k < kc; ++k)
        for (int64_t c = 0; c < kNR; ++c) dst[k * kNR + c] = s[c * ldb + k];
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t c = 0; c < kNR; ++c)
          dst[k * kNR + c] = c < w ? (trans ? B[(j + c) * ldb + p0 + k] : B[(p0 + k) * ldb + j + c]) : 0.0f;
    }
    dst += kNR * kc;
  }
}

// The same panels from a conv's column matrix read in place (ColumnView; transB never applies): 8 positions
// of one input row are two loads (at stride 2: four loads and two shuffles, which took the stem's forward from
// 10.3 to 7.6 ms), anything else (row ends, padding) gathers im2col's values one by one.
void pack_b_columns(const ColumnView& B, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int64_t N, float* dst) {
  const bool stride2 = B.stride_x() == 2;
  for (int64_t jr = 0; jr < nc; jr += kNR) {
    const int64_t j = j0 + jr, w = std::min(kNR, std::min(nc - jr, N - j));
    for (int64_t k = 0; k < kc; ++k) {
      float* d = dst + k * kNR;
      if (const float* s = w == kNR ? B.run(p0 + k, j, kNR) : nullptr) {
        wasm_v128_store(d, wasm_v128_load(s));
        wasm_v128_store(d + 4, wasm_v128_load(s + 4));
      } else if (const float* s2 = w == kNR && stride2 ? B.strided_run(p0 + k, j, kNR) : nullptr) {
        // Stride 2 (the stem, the downsampling convs): the even lanes of 16 consecutive floats.
        const v128_t v0 = wasm_v128_load(s2), v1 = wasm_v128_load(s2 + 4), v2 = wasm_v128_load(s2 + 8),
                     v3 = wasm_v128_load(s2 + 12);
        wasm_v128_store(d, wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6));
        wasm_v128_store(d + 4, wasm_i32x4_shuffle(v2, v3, 0, 2, 4, 6));
      } else {
        B.gather(p0 + k, j, w, d);
        std::fill(d + w, d + kNR, 0.0f);
      }
    }
    dst += kNR * kc;
  }
}

// ---- micro-kernel -----------------------------------------------------------------------------------------------
// An edge tile's top-left rows x cols from t (row stride ts) into C, with micro's alpha/beta/first contract.
inline void store_edge(const float* t, int64_t ts, float alpha, float beta, bool first, float* C, int64_t ldc,
                       int64_t rows, int64_t cols) {
  const bool read_c = !first || beta != 0.0f;
  const float bs = first ? beta : 1.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& dst = C[r * ldc + c];
      dst = alpha * t[r * ts + c] + (read_c ? bs * dst : 0.0f);
    }
}

// tile(4x8) = sum_k a[k] (x) b[k]; then C = alpha*tile + beta*C (beta == 0: C not read), first=false: C += alpha*tile.
// Only the top-left rows x cols of the tile are written (edge tiles).
// Never inlined, and called from two sites (full and edge tiles): binaryen inlines every function that has a
// single caller, and this loop merged into the driver made V8 spill its 8 accumulators (measured: the same
// GEMM at 15-19 instead of 45 GFLOP/s, depending on what else the driver's caller inlined).
__attribute__((noinline)) void micro(int64_t kc, const float* a, const float* b, float alpha, float beta, bool first,
                                     float* C, int64_t ldc, int64_t rows, int64_t cols) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t av = wasm_v128_load32_splat(a);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(av, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(av, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(av, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(av, b1));
    av = wasm_v128_load32_splat(a + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(av, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(av, b1));
  }
  const v128_t va = wasm_f32x4_splat(alpha), vb = wasm_f32x4_splat(first ? beta : 1.0f);
  const bool read_c = !first || beta != 0.0f;
  v128_t acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  if (rows == kMR && cols == kNR) {
    for (int64_t r = 0; r < kMR; ++r) {
      float* cr = C + r * ldc;
      v128_t lo = wasm_f32x4_mul(va, acc[r][0]), hi = wasm_f32x4_mul(va, acc[r][1]);
      if (read_c) {
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(vb, wasm_v128_load(cr)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(vb, wasm_v128_load(cr + 4)));
      }
      wasm_v128_store(cr, lo);
      wasm_v128_store(cr + 4, hi);
    }
    return;
  }
  alignas(16) float t[kMR][kNR];
  for (int64_t r = 0; r < kMR; ++r) {
    wasm_v128_store(&t[r][0], acc[r][0]);
    wasm_v128_store(&t[r][4], acc[r][1]);
  }
  store_edge(&t[0][0], kNR, alpha, beta, first, C, ldc, rows, cols);
}

// The same for a tile of at most 4 columns, reading the left half of each packed 8-wide row of b: a row's tail
// (N = 49, layer3's Winograd tiles and layer4's 7x7 outputs, leaves 1 column) then costs 4 columns of
// multiplies, not 8. Two call sites in the driver for the reason above.
__attribute__((noinline)) void micro_narrow(int64_t kc, const float* a, const float* b, float alpha, float beta,
                                            bool first, float* C, int64_t ldc, int64_t rows, int64_t cols) {
  v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const v128_t b0 = wasm_v128_load(b);
    c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(wasm_v128_load32_splat(a), b0));
    c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(wasm_v128_load32_splat(a + 1), b0));
    c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(wasm_v128_load32_splat(a + 2), b0));
    c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(wasm_v128_load32_splat(a + 3), b0));
  }
  alignas(16) float t[kMR][4];
  wasm_v128_store(t[0], c0);
  wasm_v128_store(t[1], c1);
  wasm_v128_store(t[2], c2);
  wasm_v128_store(t[3], c3);
  store_edge(&t[0][0], 4, alpha, beta, first, C, ldc, rows, cols);
}

// ---- driver ----------------------------------------------------------------------------------------------------------
// C = alpha * A B + beta * C over packed blocks; pack_b(p0, kc, j0, nc, dst) packs B's slab (nc a multiple of kNR).
template <class PackB>
void blocked(bool transA, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, PackB&& pack_b,
             float beta, float* C, int64_t ldc) {
  thread_local std::vector<float> abuf, bbuf;
  float* pa = aligned_floats(abuf, static_cast<size_t>(kMC * kKC));
  float* pb = aligned_floats(bbuf, static_cast<size_t>(kKC * kNC));
  for (int64_t j0 = 0; j0 < N; j0 += kNC) {
    const int64_t nc = std::min(kNC, N - j0);
    for (int64_t p0 = 0; p0 < K; p0 += kKC) {
      const int64_t kc = std::min(kKC, K - p0);
      pack_b(p0, kc, j0, (nc + kNR - 1) / kNR * kNR, pb);
      for (int64_t i0 = 0; i0 < M; i0 += kMC) {
        const int64_t mc = std::min(kMC, M - i0);
        pack_a(transA, A, lda, i0, (mc + kMR - 1) / kMR * kMR, p0, kc, M, pa);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t rows = std::min(kMR, mc - ir), cols = std::min(kNR, nc - jr);
            float* c = C + (i0 + ir) * ldc + j0 + jr;
            if (rows == kMR && cols == kNR)
              micro(kc, pa + ir * kc, pb + jr * kc, alpha, beta, p0 == 0, c, ldc, kMR, kNR);
            else if (cols > kNR / 2)
              micro(kc, pa + ir * kc, pb + jr * kc, alpha, beta, p0 == 0, c, ldc, rows, cols);
            else if (rows == kMR)
              micro_narrow(kc, pa + ir * kc, pb + jr * kc, alpha, beta, p0 == 0, c, ldc, kMR, cols);
            else
              micro_narrow(kc, pa + ir * kc, pb + jr * kc, alpha, beta, p0 == 0, c, ldc, rows, cols);
          }
      }
    }
  }
}

}  // namespace

// Same contract as kernels::gemm; the caller guarantees M, N, K > 0.
void gemm_simd128(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  blocked(
      transA, M, N, K, alpha, A, lda,
      [&](int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) { pack_b(transB, B, ldb, p0, kc, j0, nc, N, dst); },
      beta, C, ldc);
}

// gemm_simd128(false, false, ...) with B the view's column matrix (column_view.h's gemm_columns).
void gemm_simd128_columns(int64_t M, const float* A, int64_t lda, const ColumnView& B, float beta, float* C,
                          int64_t ldc) {
  const int64_t N = B.cols();
  blocked(
      false, M, N, B.rows(), 1.0f, A, lda,
      [&](int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) { pack_b_columns(B, p0, kc, j0, nc, N, dst); },
      beta, C, ldc);
}

}  // namespace relscope::kernels::detail
#endif  // __wasm_simd128__
