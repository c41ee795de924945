// relscope/kernels/cpu/winograd.cpp — 3x3 stride-1 convolution (and its adjoint) as Winograd F(2x2, 3x3) or
// F(4x4, 3x3).
//
// Sections: transforms | weights | F(4x4, 3x3) | one block of tile rows | entry points
//
// Why: 3x3 stride-1 convs hold ~80% of a ResNet's FLOPs, and an explanation runs each of them three times (the
// forward pass, the rule's modified-weight pass, the adjoint). F(2x2, 3x3) computes a 2x2 output tile from a 4x4
// input tile with 16 multiplies per channel pair instead of 36: the conv becomes 16 GEMMs (one per point of the
// transformed tile) of the transformed weights U (out x in) with the transformed input tiles V (in x tiles),
// 2.25x fewer flops, plus elementwise transforms that are O(channels x pixels). Lavin & Gray 2016 (arXiv
// 1509.09308). F(2x2, 3x3)'s transforms use only 0, +-1 and 0.5: its rounding error is of the direct sum's order,
// but relative to a tile's magnitude rather than each output's (what that does to pruned LRP: winograd_pays).
// F(4x4, 3x3) (36 multiplies per 4x4 tile: 2.25 per output instead of 4) takes the layers with many tiles
// (winograd_tile), at ~5-7x F(2x2)'s rounding (its section says which points and why).
// The adjoint of a 3x3 stride-1 conv is itself one (weights flipped, in/out swapped, padding 2 - pad), so it
// uses the same code: no column matrix, no col2im.
// Layout: blocks of whole tile rows of one image (V and the GEMM outputs within 4 MiB); threads take disjoint
// blocks, or on an image that fits one block split its channels and its 16 (36) GEMMs (run). Weights are
// transformed on every call (kernels are stateless): cheap next to the GEMMs where winograd_pays says yes.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/aligned_buffer.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/winograd.h"
#include "kernels/cpu/work_count.h"
#include "kernels/kernels.h"

namespace relscope::kernels::detail {

namespace {

// One 3x3 correlation: out[co][y][x] = sum_ci sum_ky,kx in[ci][y + ky - py][x + kx - px] * g(co, ci, ky, kx),
// reads outside the input are 0. `cin`/`cout` are the channels of in/out; U holds g transformed.
struct Plan {
  int64_t cin = 0, cout = 0, ih = 0, iw = 0, oh = 0, ow = 0, py = 0, px = 0;
  int64_t m = 2;   // output tile: F(2x2, 3x3) or F(4x4, 3x3)
  int64_t tile_rows() const { return (oh + m - 1) / m; }
  int64_t tile_cols() const { return (ow + m - 1) / m; }
  int64_t points() const { return (m + 2) * (m + 2); }   // of a transformed tile: one GEMM each
};

// ---- transforms ----------------------------------------------------------------------------------------------
// Input: V = B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. A tile row's 4x4 tiles start at even
// columns, so each input row is split into its even and odd columns first (e[k] = row[2k], o[k] = row[2k+1]):
// tile t then reads e[t], o[t], e[t+1], o[t+1], and every loop below runs over contiguous tiles (vectorised).
// Even and odd columns of one input row: e[k] = row[2k - px], o[k] = row[2k + 1 - px], 0 outside the row (padding).
void split_row(const float* __restrict row, int64_t iw, int64_t px, int64_t n, float* __restrict e,
               float* __restrict o) {
  // k where both reads are inside: 0 <= 2k - px and 2k + 1 - px < iw
  const int64_t lo = std::min(n, std::max<int64_t>(0, (px + 1) / 2)), hi = std::max(lo, std::min(n, (iw + px) / 2));
  for (int64_t k = 0; k < lo; ++k) {
    const int64_t x0 = 2 * k - px, x1 = x0 + 1;
    e[k] = x0 >= 0 && x0 < iw ? row[x0] : 0.0f;
    o[k] = x1 >= 0 && x1 < iw ? row[x1] : 0.0f;
  }
  for (int64_t k = lo; k < hi; ++k) {   // no checks: 0 <= 2k - px, 2k + 1 - px < iw
    e[k] = row[2 * k - px];
    o[k] = row[2 * k + 1 - px];
  }
  for (int64_t k = hi; k < n; ++k) {
    const int64_t x0 = 2 * k - px, x1 = x0 + 1;
    e[k] = x0 >= 0 && x0 < iw ? row[x0] : 0.0f;
    o[k] = x1 >= 0 && x1 < iw ? row[x1] : 0.0f;
  }
}

// B^T d's rows from d's four rows, in place.
void combine_rows(float* __restrict a0, float* __restrict a1, float* __restrict a2, float* __restrict a3,
                  int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float d0 = a0[k], d1 = a1[k], d2 = a2[k], d3 = a3[k];
    a0[k] = d0 - d2;
    a1[k] = d1 + d2;
    a2[k] = d2 - d1;
    a3[k] = d1 - d3;
  }
}

// (B^T d) B for one of its rows, split into even (E) and odd (O) columns: tile t's four points.
void combine_cols(const float* __restrict E, const float* __restrict O, int64_t tc, float* __restrict v0,
                  float* __restrict v1, float* __restrict v2, float* __restrict v3) {
  for (int64_t t = 0; t < tc; ++t) {
    v0[t] = E[t] - E[t + 1];
    v1[t] = O[t] + E[t + 1];
    v2[t] = E[t + 1] - O[t];
    v3[t] = O[t] - O[t + 1];
  }
}

// One tile row of one channel: its 4 input rows split, combined, stored as V's 16 points (stride v_stride).
void input_tile_row(const Plan& p, const float* plane, int64_t tr, float* e, float* o, float* v, int64_t v_stride) {
  const int64_t tc = p.tile_cols(), n = tc + 1;
  for (int i = 0; i < 4; ++i) {
    const int64_t iy = 2 * tr - p.py + i;
    if (iy < 0 || iy >= p.ih) {
      std::fill(e + i * n, e + (i + 1) * n, 0.0f);
      std::fill(o + i * n, o + (i + 1) * n, 0.0f);
    } else {
      split_row(plane + iy * p.iw, p.iw, p.px, n, e + i * n, o + i * n);
    }
  }
  combine_rows(e, e + n, e + 2 * n, e + 3 * n, n);
  combine_rows(o, o + n, o + 2 * n, o + 3 * n, n);
  for (int i = 0; i < 4; ++i) {
    float* v0 = v + (4 * i) * v_stride;
    combine_cols(e + i * n, o + i * n, tc, v0, v0 + v_stride, v0 + 2 * v_stride, v0 + 3 * v_stride);
  }
}

// Output: Y = A^T m A, A^T = [1 1 1 0; 0 1 -1 -1], plus the bias; the 2x2 tiles are written where they lie inside
// the output plane. m holds the 16 GEMM results of a tile row (stride ms between points); s is 6 * tc scratch.
void output_tile_row(const Plan& p, const float* __restrict m, int64_t ms, float bias, int64_t tr,
                     float* __restrict s, float* __restrict plane) {
  const int64_t tc = p.tile_cols();
  float* __restrict y = s + 4 * tc;   // one output row, interleaved: y[2t + b]
  for (int a = 0; a < 2; ++a) {
    // (A^T m)'s row a, column j: a = 0: m[0][j] + m[1][j] + m[2][j]; a = 1: m[1][j] - m[2][j] - m[3][j]
    float* __restrict r = s;   // four columns of tc
    for (int j = 0; j < 4; ++j) {
      const float *__restrict m0 = m + j * ms, *__restrict m1 = m0 + 4 * ms, *__restrict m2 = m1 + 4 * ms,
                  *__restrict m3 = m2 + 4 * ms;
      float* __restrict rj = r + j * tc;
      if (a == 0)
        for (int64_t t = 0; t < tc; ++t) rj[t] = m0[t] + m1[t] + m2[t];
      else
        for (int64_t t = 0; t < tc; ++t) rj[t] = m1[t] - m2[t] - m3[t];
    }
    const float *__restrict r0 = r, *__restrict r1 = r + tc, *__restrict r2 = r + 2 * tc, *__restrict r3 = r + 3 * tc;
    for (int64_t t = 0; t < tc; ++t) {
      y[2 * t] = r0[t] + r1[t] + r2[t] + bias;
      y[2 * t + 1] = r1[t] - r2[t] - r3[t] + bias;
    }
    const int64_t oy = 2 * tr + a;
    if (oy < p.oh) std::memcpy(plane + oy * p.ow, y, static_cast<size_t>(p.ow) * sizeof(float));
  }
}

// ---- weights -------------------------------------------------------------------------------------------------
// Filters (row, c0 + j), j < cn, transposed to g[tap][j] so that the transforms run across filters (vectorised).
// Forward: row = output channel m, col = input channel c, g = w[m][c]; adjoint: row = c, col = m, g = w[m][c]
// rotated by 180 degrees (its taps reversed).
void gather_filters(const float* w, int64_t C, bool adjoint, int64_t row, int64_t c0, int64_t cn, float (*g)[64]) {
  for (int64_t j = 0; j < cn; ++j) {
    const int64_t col = c0 + j;
    const float* f = adjoint ? w + (col * C + row) * 9 : w + (row * C + col) * 9;
    for (int k = 0; k < 9; ++k) g[k][j] = f[adjoint ? 8 - k : k];
  }
}

// U[xi][row][col] = (G g G^T)[xi], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], for g = w's 3x3 filter of (row, col).
// Forward: row = output channel m, col = input channel c, g = w[m][c]. Adjoint (`adjoint`): row = c, col = m,
// g = w[m][c] rotated by 180 degrees.
void transform_weight_rows(const float* w, int64_t M, int64_t C, bool adjoint, int64_t row0, int64_t row1, float* U) {
  const int64_t rows = adjoint ? C : M, cols = adjoint ? M : C, plane = rows * cols;
  // A chunk of a row's filters at a time, transposed to g[tap][filter] so that every step below runs across
  // filters (vectorised), and U's 16 planes are written a contiguous run at a time.
  constexpr int64_t kChunk = 64;
  float g[9][kChunk], gg[12][kChunk], u[16][kChunk];
  for (int64_t row = row0; row < row1; ++row)
    for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
      const int64_t cn = std::min(kChunk, cols - c0);
      gather_filters(w, C, adjoint, row, c0, cn, g);
      for (int kx = 0; kx < 3; ++kx)   // G g: rows 0..3, columns kx (gg[3i + kx])
        for (int64_t j = 0; j < cn; ++j) {
          const float a = g[kx][j], b = g[3 + kx][j], c = g[6 + kx][j];
          gg[kx][j] = a;
          gg[3 + kx][j] = 0.5f * (a + b + c);
          gg[6 + kx][j] = 0.5f * (a - b + c);
          gg[9 + kx][j] = c;
        }
      for (int i = 0; i < 4; ++i)   // (G g) G^T
        for (int64_t j = 0; j < cn; ++j) {
          const float a = gg[3 * i][j], b = gg[3 * i + 1][j], c = gg[3 * i + 2][j];
          u[4 * i][j] = a;
          u[4 * i + 1][j] = 0.5f * (a + b + c);
          u[4 * i + 2][j] = 0.5f * (a - b + c);
          u[4 * i + 3][j] = c;
        }
      for (int xi = 0; xi < 16; ++xi)
        std::memcpy(U + xi * plane + row * cols + c0, u[xi], static_cast<size_t>(cn) * sizeof(float));
    }
}


// ---- F(4x4, 3x3) -----------------------------------------------------------------------------------------------
// A 4x4 output tile from a 6x6 input tile with 36 multiplies per channel pair (F(2x2)'s 16 per 2x2: 2.25 per
// output instead of 4), on the points (0, 1, -1, 1/2, -2, infinity). The points set the rounding: Lavin's
// (0, +-1, +-2) err by 11-22x F(2x2)'s, these by 5-7x, about 3x a direct float sum (bench/winograd_error.cpp,
// which also derives the matrices below).
//   B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0; 0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]
//   G = [1 0 0; 1/3 1/3 1/3; -1/3 1/3 -1/3; -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
// A tile row's tiles start at columns 4t, so the rows combined by B^T are split into their four phases
// (q_k[t] = row[4t + k]): tile t reads q0..q3[t], q0[t + 1], q1[t + 1], and the loops run over contiguous tiles.

// B^T applied to six vectors d0..d5 of length n, into v0..v5 (element by element).
void bt6(const float* const* d, float* const* v, int64_t n) {
  const float *__restrict d0 = d[0], *__restrict d1 = d[1], *__restrict d2 = d[2], *__restrict d3 = d[3],
              *__restrict d4 = d[4], *__restrict d5 = d[5];
  float *__restrict v0 = v[0], *__restrict v1 = v[1], *__restrict v2 = v[2], *__restrict v3 = v[3],
                    *__restrict v4 = v[4], *__restrict v5 = v[5];
  for (int64_t k = 0; k < n; ++k) {
    const float a0 = d0[k], a1 = d1[k], a2 = d2[k], a3 = d3[k], a4 = d4[k], a5 = d5[k];
    v0[k] = a0 - 1.5f * a1 - 2.0f * a2 + 1.5f * a3 + a4;
    v1[k] = -a1 + 0.5f * a2 + 2.5f * a3 + a4;
    v2[k] = a1 - 2.5f * a2 + 0.5f * a3 + a4;
    v3[k] = -2.0f * a1 - a2 + 2.0f * a3 + a4;
    v4[k] = 0.5f * a1 - a2 - 0.5f * a3 + a4;
    v5[k] = a1 - 1.5f * a2 - 2.0f * a3 + 1.5f * a4 + a5;
  }
}

// Input row iy into r[0, 4n), read from column -px on, 0 outside the row (padding).
void padded_row(const Plan& p, const float* plane, int64_t iy, int64_t n, float* __restrict r) {
  const int64_t w = 4 * n;
  if (iy < 0 || iy >= p.ih) {
    std::fill(r, r + w, 0.0f);
    return;
  }
  const float* row = plane + iy * p.iw;
  // r[b] = row[b - px] for b in [lo, hi); px is negative for an adjoint with padding 3
  const int64_t lo = std::clamp<int64_t>(p.px, 0, w), hi = std::clamp<int64_t>(p.iw + p.px, lo, w);
  std::fill(r, r + lo, 0.0f);
  std::memcpy(r + lo, row + lo - p.px, static_cast<size_t>(hi - lo) * sizeof(float));
  std::fill(r + hi, r + w, 0.0f);
}

// One tile row of one channel into V's 36 points (stride v_stride). q is scratch of 2 x 6 x 4n floats: the six
// input rows padded, combined down the columns (B^T d, whole rows at once), then each split into its four phases
// so that the pass along the row (d B) runs over contiguous tiles.
void input_tile_row4(const Plan& p, const float* plane, int64_t tr, float* q, float* v, int64_t v_stride) {
  const int64_t tc = p.tile_cols(), n = tc + 1, w = 4 * n;
  float* c = q + 6 * w;
  const float* d[6];
  float* out[6];
  for (int i = 0; i < 6; ++i) {
    padded_row(p, plane, 4 * tr - p.py + i, n, q + i * w);
    d[i] = q + i * w, out[i] = c + i * w;
  }
  bt6(d, out, w);
  for (int i = 0; i < 6; ++i) {
    const float* __restrict ci = c + i * w;
    float* __restrict ph = q + i * w;   // phases k at ph + k n (the padded rows are no longer needed)
    for (int64_t t = 0; t < n; ++t) {
      ph[t] = ci[4 * t];
      ph[n + t] = ci[4 * t + 1];
      ph[2 * n + t] = ci[4 * t + 2];
      ph[3 * n + t] = ci[4 * t + 3];
    }
    const float* dh[6] = {ph, ph + n, ph + 2 * n, ph + 3 * n, ph + 1, ph + n + 1};
    float* vo[6];
    for (int j2 = 0; j2 < 6; ++j2) vo[j2] = v + (6 * i + j2) * v_stride;
    bt6(dh, vo, tc);
  }
}

// Y = A^T m A plus the bias for one tile row of one output channel; m holds its 36 GEMM results (stride ms
// between points), s is scratch of 28 * tc floats. Down the columns once for all four output rows (each
// point's results read once), then along each row into its four interleaved outputs.
void output_tile_row4(const Plan& p, const float* __restrict m, int64_t ms, float bias, int64_t tr, float* __restrict s,
                      float* __restrict plane) {
  const int64_t tc = p.tile_cols();
  float* __restrict y = s + 24 * tc;   // one output row, interleaved: y[4t + b]
  for (int j = 0; j < 6; ++j) {   // (A^T m)'s column j, rows a = 0..3 at s + (6a + j) tc
    const float *__restrict m0 = m + j * ms, *__restrict m1 = m0 + 6 * ms, *__restrict m2 = m1 + 6 * ms,
                *__restrict m3 = m2 + 6 * ms, *__restrict m4 = m3 + 6 * ms, *__restrict m5 = m4 + 6 * ms;
    float *__restrict r0 = s + j * tc, *__restrict r1 = r0 + 6 * tc, *__restrict r2 = r1 + 6 * tc,
                      *__restrict r3 = r2 + 6 * tc;
    for (int64_t t = 0; t < tc; ++t) {
      const float a1 = m1[t], a2 = m2[t], a3 = m3[t], a4 = m4[t];
      r0[t] = m0[t] + a1 + a2 + a3 + a4;
      r1[t] = a1 - a2 + 0.5f * a3 - 2.0f * a4;
      r2[t] = a1 + a2 + 0.25f * a3 + 4.0f * a4;
      r3[t] = a1 - a2 + 0.125f * a3 - 8.0f * a4 + m5[t];
    }
  }
  for (int a = 0; a < 4; ++a) {
    const int64_t oy = 4 * tr + a;
    if (oy >= p.oh) break;
    const float* ra = s + 6 * a * tc;
    const float *__restrict r0 = ra, *__restrict r1 = ra + tc, *__restrict r2 = ra + 2 * tc, *__restrict r3 = ra + 3 * tc,
                *__restrict r4 = ra + 4 * tc, *__restrict r5 = ra + 5 * tc;
    for (int64_t t = 0; t < tc; ++t) {
      y[4 * t] = r0[t] + r1[t] + r2[t] + r3[t] + r4[t] + bias;
      y[4 * t + 1] = r1[t] - r2[t] + 0.5f * r3[t] - 2.0f * r4[t] + bias;
      y[4 * t + 2] = r1[t] + r2[t] + 0.25f * r3[t] + 4.0f * r4[t] + bias;
      y[4 * t + 3] = r1[t] - r2[t] + 0.125f * r3[t] - 8.0f * r4[t] + r5[t] + bias;
    }
    std::memcpy(plane + oy * p.ow, y, static_cast<size_t>(p.ow) * sizeof(float));
  }
}

// U[xi][row][col] = (G g G^T)[xi] for F(4x4), 36 points; as transform_weight_rows.
void transform_weight_rows4(const float* w, int64_t M, int64_t C, bool adjoint, int64_t row0, int64_t row1, float* U) {
  const int64_t rows = adjoint ? C : M, cols = adjoint ? M : C, plane = rows * cols;
  constexpr int64_t kChunk = 64;
  constexpr float t3 = 1.0f / 3.0f, f15 = 1.0f / 15.0f;
  float g[9][kChunk], gg[18][kChunk], u[6][kChunk];
  // G's rows applied to (a, b, c): the same six formulas for G g and for (G g) G^T
  auto apply_g = [&](float a, float b, float c, float* o) {
    o[0] = a;
    o[1] = t3 * (a + b + c);
    o[2] = t3 * (-a + b - c);
    o[3] = -f15 * (16.0f * a + 8.0f * b + 4.0f * c);
    o[4] = f15 * (a - 2.0f * b + 4.0f * c);
    o[5] = c;
  };
  for (int64_t row = row0; row < row1; ++row)
    for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
      const int64_t cn = std::min(kChunk, cols - c0);
      gather_filters(w, C, adjoint, row, c0, cn, g);
      for (int kx = 0; kx < 3; ++kx)   // G g: gg[3i + kx]
        for (int64_t j = 0; j < cn; ++j) {
          float o[6];
          apply_g(g[kx][j], g[3 + kx][j], g[6 + kx][j], o);
          for (int i = 0; i < 6; ++i) gg[3 * i + kx][j] = o[i];
        }
      for (int i = 0; i < 6; ++i) {   // (G g) G^T, row i
        for (int64_t j = 0; j < cn; ++j) {
          float o[6];
          apply_g(gg[3 * i][j], gg[3 * i + 1][j], gg[3 * i + 2][j], o);
          for (int jj = 0; jj < 6; ++jj) u[jj][j] = o[jj];
        }
        for (int jj = 0; jj < 6; ++jj)
          std::memcpy(U + (6 * i + jj) * plane + row * cols + c0, u[jj], static_cast<size_t>(cn) * sizeof(float));
      }
    }
}

// All of U, its rows split over the threads (serial, the transform held a 2-thread ResNet-18 forward back).
void transform_weights(int64_t m, const float* w, int64_t M, int64_t C, bool adjoint, float* U) {
  // ~300 flops' worth of time per filter (0.12 ms for 128 x 128 natively): layer1's 64 x 64 goes parallel too
  parallel_ranges(adjoint ? C : M, (m == 4 ? 600.0 : 300.0) * M * C, [&](int64_t r0, int64_t r1) {
    if (m == 4)
      transform_weight_rows4(w, M, C, adjoint, r0, r1, U);
    else
      transform_weight_rows(w, M, C, adjoint, r0, r1, U);
  });
}

// ---- one block of tile rows ------------------------------------------------------------------------------------
// Budget of V + GEMM results per block, in floats (4 MiB): whole images up to ResNet's layer2 at 224x224. The
// GEMMs' width is the block's tile count, and wider ones run faster: natively (1 thread) a budget of 256k floats
// made layer2 (128 channels, 28x28) 1.55 ms and layer3 2.3 ms, 1M floats 1.22 and 1.50 (im2col: 1.83, 1.77);
// wasm's timings did not move with the budget.
constexpr int64_t kBlockFloats = int64_t{1} << 20;

struct BlockScratch;   // thread_scratch tags: V + GEMM results, a thread's split rows, the transformed weights
struct RowScratch;
struct WeightScratch;

// Tile rows [tr0, tr1) of one image: V (points x cin x tiles) at v, the GEMM results (points x cout x tiles) after it. The
// three steps below each take a range (input channels, points of the tile, output channels), so one thread can
// run a whole block, or threads can share one.
struct Block {
  const Plan& p;
  int64_t tr0, tr1;
  float* v;
  int64_t tiles() const { return (tr1 - tr0) * p.tile_cols(); }
  float* results() const { return v + p.points() * p.cin * tiles(); }
  static int64_t floats(const Plan& p, int64_t rows) { return p.points() * (p.cin + p.cout) * rows * p.tile_cols(); }
};

void transform_inputs(const Block& b, const float* in, int64_t c0, int64_t c1) {
  const Plan& p = b.p;
  const int64_t tc = p.tile_cols(), n = tc + 1, tiles = b.tiles();
  float* rows = thread_scratch<RowScratch>(static_cast<size_t>((p.m == 4 ? 48 : 8) * n));   // F(4x4): 2 x 6 x 4n
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t tr = b.tr0; tr < b.tr1; ++tr) {
      float* v = b.v + c * tiles + (tr - b.tr0) * tc;
      if (p.m == 4)
        input_tile_row4(p, in + c * p.ih * p.iw, tr, rows, v, p.cin * tiles);
      else
        input_tile_row(p, in + c * p.ih * p.iw, tr, rows, rows + 4 * n, v, p.cin * tiles);
    }
}

void multiply(const Block& b, const float* U, int64_t x0, int64_t x1) {
  const Plan& p = b.p;
  const int64_t tiles = b.tiles();
  for (int64_t xi = x0; xi < x1; ++xi)
    gemm_uncounted(false, false, p.cout, tiles, p.cin, 1.0f, U + xi * p.cout * p.cin, p.cin, b.v + xi * p.cin * tiles, tiles,
         0.0f, b.results() + xi * p.cout * tiles, tiles);
}

void transform_outputs(const Block& b, const float* bias, int64_t m0, int64_t m1, float* out) {
  const Plan& p = b.p;
  const int64_t tc = p.tile_cols(), tiles = b.tiles();
  float* rows = thread_scratch<RowScratch>(static_cast<size_t>((p.m == 4 ? 28 : 6) * tc));
  for (int64_t co = m0; co < m1; ++co)
    for (int64_t tr = b.tr0; tr < b.tr1; ++tr) {
      const float* r = b.results() + co * tiles + (tr - b.tr0) * tc;
      const float bc = bias ? bias[co] : 0.0f;
      if (p.m == 4)
        output_tile_row4(p, r, p.cout * tiles, bc, tr, rows, out + co * p.oh * p.ow);
      else
        output_tile_row(p, r, p.cout * tiles, bc, tr, rows, out + co * p.oh * p.ow);
    }
}

int64_t rows_per_block(const Plan& p) {
  const int64_t fit = std::clamp<int64_t>(kBlockFloats / Block::floats(p, 1), 1, p.tile_rows());
  const int64_t t = threads();   // at least one block per thread
  return std::min(fit, (p.tile_rows() + t - 1) / t);
}

// Measured (2 threads against 1, forward ms): layer3 (7 tile rows) 1.59 split by tile rows, 0.88 split as
// below, 1.72 on 1 thread; layer2 0.87 / 0.71 / 1.32; layer1 (28 tile rows, more than one block) 0.71 by
// tile rows, 1.39 on 1 thread.
// An image that fits one block, on 2+ threads, is split three times: its input channels for the input transform,
// the 16 GEMMs (whole: splitting their rows left Eigen's 48-row AVX-512 panels a 16-row tail at 64 rows a
// thread), its output channels for the output transform. Splitting tile rows instead would give each thread
// GEMMs half as wide, and layer3's 7 tile rows split 4 + 3. Larger images: blocks of tile rows over the threads.
void run(const Plan& p, int64_t batch, const float* U, const float* in, const float* bias, float* out) {
  const int64_t in_image = p.cin * p.ih * p.iw, out_image = p.cout * p.oh * p.ow;
  if (threads() > 1 && Block::floats(p, p.tile_rows()) <= kBlockFloats) {
    const int64_t floats = Block::floats(p, p.tile_rows());
    const Block b{p, 0, p.tile_rows(), thread_scratch<BlockScratch>(static_cast<size_t>(floats))};
    constexpr double kSplit = 1e12;   // always split: run chose to
    for (int64_t n = 0; n < batch; ++n) {
      parallel_ranges(p.cin, kSplit, [&](int64_t c0, int64_t c1) { transform_inputs(b, in + n * in_image, c0, c1); });
      parallel_ranges(p.points(), kSplit, [&](int64_t x0, int64_t x1) { multiply(b, U, x0, x1); });
      parallel_ranges(p.cout, kSplit, [&](int64_t m0, int64_t m1) {
        transform_outputs(b, bias, m0, m1, out + n * out_image);
      });
    }
    return;
  }
  const int64_t per_block = rows_per_block(p), blocks = (p.tile_rows() + per_block - 1) / per_block;
  const double work = 2.0 * p.points() * p.cin * p.cout * p.tile_rows() * p.tile_cols() * batch;
  parallel_ranges(batch * blocks, work, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) {
      const int64_t n = i / blocks, tr0 = (i % blocks) * per_block, tr1 = std::min(p.tile_rows(), tr0 + per_block);
      const Block b{p, tr0, tr1, thread_scratch<BlockScratch>(static_cast<size_t>(Block::floats(p, tr1 - tr0)))};
      transform_inputs(b, in + n * in_image, 0, p.cin);
      multiply(b, U, 0, p.points());
      transform_outputs(b, bias, 0, p.cout, out + n * out_image);
    }
  });
}

}  // namespace

// ---- entry points --------------------------------------------------------------------------------------------------
bool winograd_fits(const ConvParams& p) {
  const Dims3 &k = p.kernel, &s = p.stride, &d = p.dilation;
  return p.group == 1 && k[0] == 1 && k[1] == 3 && k[2] == 3 && s[0] == 1 && s[1] == 1 && s[2] == 1 &&
         d[0] == 1 && d[1] == 1 && d[2] == 1 && p.in[0] == 1 && p.out[0] == 1 && p.pad_begin[0] == 0;
}

// Measured per layer against im2col (bench/bench_kernels.cpp, 1 thread, forward / adjoint ms), native | wasm:
//   64ch 56x56 (784 tiles)    im2col 1.97/2.24 winograd 1.35/1.38 | 6.4/5.9 -> 3.2/3.3
//   128ch 28x28 (196)         1.83/1.89 -> 1.22/1.25              | 5.8/5.6 -> 3.1/3.1
//   256ch 14x14 (49)          1.77/1.99 -> 1.50/1.56              | 5.9/5.8 -> 3.9/4.1
//   512ch 7x7 (16)            2.14/2.41 -> 3.69/5.05              | 6.9/7.3 -> 6.8/8.5
//   32->64ch 16x16 (64)       0.097/0.102 -> 0.110/0.123          | 0.27/0.28 -> 0.20/0.20
//   16ch 32x32 (256)          0.087/0.091 -> 0.078/0.078          | 0.20/0.18 -> 0.13/0.13
// The weight transform (16 x M x C floats written per call) is what loses with many channels and few tiles: an
// image's tiles must be at least an eighth of the channels. Natively Eigen's GEMM runs near AVX-512 peak and the
// transforms' memory traffic weighs more: there a conv needs ~128 tiles, or ~32 when its GEMMs are deep (128+
// channels each side: ResNet-18's layer3, 1.15x natively and 1.5x in wasm).
// One rule for every build, although wasm would gain from ~16 tiles up (layer3: 1.5x): Winograd's rounding is
// not the direct sum's (an output's error scales with its tile's magnitude, not its own), and pruned LRP ranks
// the smallest relevances, so its cut-offs move. With wasm on Winograd from 16 tiles, fashion_cnn's pruned LRP
// in wasm and on WebGPU zeroed different entries (the direct sums agreed), and PLRP-M on fashion_resnet moved by
// 3.6e-4 of max|R|. So wasm and native pick the same algorithm for a layer, and small models (the demo, the
// lessons) explain alike on every back-end. ResNet-18's LRP relevance moves by 2.4e-5 of max|R| against im2col
// (pruned LRP: 3.7e-7).
//
// F(4x4) where a layer has at least 49 of its tiles, 32+ channels each side and little waste past the edge
// (ResNet-18's layer1 and layer2; layer3's 16 tiles lose), measured 2026-12-03 (forward, ms, F(2x2) -> F(4x4)):
//   64ch 56x56                native 1.17 -> 1.15 | wasm 3.28 -> 2.64
//   128ch 28x28               1.07 -> 1.05        | 2.97 -> 2.50
//   256ch 14x14               1.49 -> 2.18        | 3.45 -> 3.70
//   32ch 112x112              1.74 -> 1.66        | 4.11 -> 3.45
//   16ch 32x32                0.081 -> 0.097      | 0.122 -> 0.130
// Natively the transforms, not the GEMMs, now bound these layers; wasm's GEMM is at its mul + add peak, so
// fewer multiplies is what speeds it up: ResNet-18 in wasm forward 78 -> 73.5 ms, explain 240 -> 231 (two
// alternated pairs), native unchanged. Its rounding took ResNet-18's WebGPU agreement (direct sums on the GPU)
// from 9.6e-6 to 3.5e-5 of max|R|; zennit parity asks 1e-3.
//
// Decided per image, not per batch: an image's result must not depend on what it is batched with (the GPU
// program and the explainer batch the same layer differently).
int winograd_tile(const ConvParams& p) {
  if (!winograd_fits(p)) return 0;
  const int64_t tiles = ((p.out[1] + 1) / 2) * ((p.out[2] + 1) / 2);
  const int64_t narrow = std::min(p.C, p.M);
  if (!(narrow >= 16 && (tiles >= 128 || (tiles >= 32 && narrow >= 128)) && tiles * 8 >= std::max(p.C, p.M))) return 0;
  // F(4x4) where its 36-point weight transform is shared by enough tiles and its tiles waste little of the
  // output (a 4x4 tile past the edge computes outputs nobody reads).
  const int64_t tr4 = (p.out[1] + 3) / 4, tc4 = (p.out[2] + 3) / 4;
  const bool snug = 100 * 16 * tr4 * tc4 <= 115 * p.out[1] * p.out[2];
  return narrow >= 32 && tr4 * tc4 >= 49 && snug ? 4 : 2;
}

bool winograd_pays(const ConvParams& p) { return winograd_tile(p) != 0; }

void winograd_conv_forward(const ConvParams& p, const float* x, const float* w, const float* b, float* y, int tile) {
  Plan plan;
  plan.cin = p.C, plan.cout = p.M, plan.ih = p.in[1], plan.iw = p.in[2], plan.oh = p.out[1], plan.ow = p.out[2];
  plan.py = p.pad_begin[1], plan.px = p.pad_begin[2];
  plan.m = tile == 4 || (tile == 0 && winograd_tile(p) == 4) ? 4 : 2;
  float* U = thread_scratch<WeightScratch>(static_cast<size_t>(plan.points() * p.M * p.C));   // workers only read it
  transform_weights(plan.m, w, p.M, p.C, false, U);
  run(plan, p.N, U, x, b, y);
}

void winograd_conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, int tile) {
  // dx[c][iy][ix] = sum_m sum_ky,kx dy[m][iy + pb - ky][ix + pb - kx] w[m][c][ky][kx]: with k = 2 - ky, a
  // correlation of dy reading row iy + k - (2 - pb) with the rotated filter.
  Plan plan;
  plan.cin = p.M, plan.cout = p.C, plan.ih = p.out[1], plan.iw = p.out[2], plan.oh = p.in[1], plan.ow = p.in[2];
  plan.py = 2 - p.pad_begin[1], plan.px = 2 - p.pad_begin[2];
  plan.m = tile == 4 || (tile == 0 && winograd_tile(p) == 4) ? 4 : 2;
  float* U = thread_scratch<WeightScratch>(static_cast<size_t>(plan.points() * p.M * p.C));   // workers only read it
  transform_weights(plan.m, w, p.M, p.C, true, U);
  run(plan, p.N, U, dy, nullptr, dx);
}

}  // namespace relscope::kernels::detail
