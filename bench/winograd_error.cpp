// bench/winograd_error.cpp — float32 rounding error of Winograd F(2x2, 3x3) and F(4x4, 3x3) (per choice of
// interpolation points) against a double-precision direct convolution, in units of max|y|.
//
// Sections: transforms from points | one layer | main
//
// Why: F(4x4, 3x3) would do 2.25 multiplies per output instead of F(2x2, 3x3)'s 4 (wasm's GEMM is at its
// 128-bit mul + add peak, so fewer multiplies is what narrows wasm / native), at a rounding cost that depends on
// the points (Barabasz et al. 2020, "Error analysis and improving the accuracy of Winograd convolution").
// This measures that cost on a ReLU-like input before anyone builds it. Not part of the CMake project:
//   g++ -O2 -std=c++20 bench/winograd_error.cpp -o /tmp/winograd_error && /tmp/winograd_error
// Measured 2026-12-03 (64-256 input channels, 16 outputs, 24x24): direct float sum 0.7-1.1e-6 of max|y|,
// F(2x2) 2.4-5.3e-7, F(4x4) with Lavin's points (0, +-1, +-2) 4.5-9.1e-6 (11-22x F(2x2)), with (0, +-1, 1/2, -2)
// 1.8-2.9e-6 and (0, +-1, 2, -1/2) 2.1-3.2e-6 (5-7x F(2x2), ~3x the direct float sum).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <utility>
#include <vector>

namespace {

// ---- transforms from points ----------------------------------------------------------------------------------
// Toom-Cook F(m, 3) on n = m + 2 points (n - 1 finite ones and infinity): A^T (m x n) and G (n x 3) from the
// points; B^T (n x n) solved from the identity sum_j AT[i][j] G[j][k] BT[j][l] = [l == i + k] (least squares on
// the normal equations, which are exact here), so no closed form has to be trusted.
struct Transforms {
  int m = 0, n = 0;
  std::vector<double> AT, G, BT;   // row-major
};

Transforms toom_cook(int m, const std::vector<double>& p) {
  Transforms t;
  t.m = m, t.n = m + 2;
  const int n = t.n, U = n * n;
  t.AT.assign(m * n, 0), t.G.assign(n * 3, 0), t.BT.assign(U, 0);
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) t.AT[i * n + j] = j < n - 1 ? std::pow(p[j], i) : (i == m - 1);
    double f = 1;
    for (int k = 0; j < n - 1 && k < n - 1; ++k)
      if (k != j) f *= p[j] - p[k];
    for (int k = 0; k < 3; ++k) t.G[j * 3 + k] = j < n - 1 ? std::pow(p[j], k) / f : (k == 2);
  }
  std::vector<double> N(U * U, 0), b(U, 0), row(U);
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < 3; ++k)
      for (int l = 0; l < n; ++l) {
        std::fill(row.begin(), row.end(), 0.0);
        for (int j = 0; j < n; ++j) row[j * n + l] = t.AT[i * n + j] * t.G[j * 3 + k];
        for (int a = 0; a < U; ++a) {
          b[a] += row[a] * (l == i + k);
          for (int c = 0; c < U; ++c) N[a * U + c] += row[a] * row[c];
        }
      }
  for (int a = 0; a < U; ++a)
    if (N[a * U + a] == 0) N[a * U + a] = 1;   // an entry no equation constrains: 0
  for (int c = 0; c < U; ++c) {   // Gauss-Jordan with partial pivoting
    int piv = c;
    for (int a = c + 1; a < U; ++a)
      if (std::fabs(N[a * U + c]) > std::fabs(N[piv * U + c])) piv = a;
    for (int k = 0; k < U; ++k) std::swap(N[c * U + k], N[piv * U + k]);
    std::swap(b[c], b[piv]);
    for (int a = 0; a < U; ++a)
      if (a != c) {
        const double f = N[a * U + c] / N[c * U + c];
        for (int k = 0; k < U; ++k) N[a * U + k] -= f * N[c * U + k];
        b[a] -= f * b[c];
      }
  }
  for (int a = 0; a < U; ++a) t.BT[a] = b[a] / N[a * U + a];
  return t;
}

// ---- one layer -------------------------------------------------------------------------------------------------
struct Layer {
  int C, M, H;   // input channels, output channels, input size (valid conv: output H - 2)
  std::vector<float> x, w;
  std::vector<double> ref;   // the direct sum in double
  double scale = 0;          // max |ref|
};

// Max |y - ref| / max|ref| of the 2-D algorithm Y = A^T [sum_c (G g G^T) .* (B^T d B)] A, everything in float.
double winograd_error(const Layer& L, const Transforms& t) {
  const int m = t.m, n = t.n, O = L.H - 2;
  std::vector<float> AT(t.AT.begin(), t.AT.end()), G(t.G.begin(), t.G.end()), BT(t.BT.begin(), t.BT.end());
  std::vector<float> U(static_cast<size_t>(L.M) * L.C * n * n), V(static_cast<size_t>(L.C) * n * n), gg(n * 3), tt(n * n);
  for (int mo = 0; mo < L.M; ++mo)
    for (int c = 0; c < L.C; ++c) {
      const float* g = &L.w[(static_cast<size_t>(mo) * L.C + c) * 9];
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) gg[i * 3 + k] = G[i * 3] * g[k] + G[i * 3 + 1] * g[3 + k] + G[i * 3 + 2] * g[6 + k];
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
          U[((static_cast<size_t>(mo) * L.C + c) * n + i) * n + j] =
              gg[i * 3] * G[j * 3] + gg[i * 3 + 1] * G[j * 3 + 1] + gg[i * 3 + 2] * G[j * 3 + 2];
    }
  double err = 0;
  for (int ty = 0; ty + m <= O; ty += m)
    for (int tx = 0; tx + m <= O; tx += m) {
      for (int c = 0; c < L.C; ++c) {
        const float* d = &L.x[(static_cast<size_t>(c) * L.H + ty) * L.H + tx];
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            float a = 0;
            for (int k = 0; k < n; ++k) a += BT[i * n + k] * d[k * L.H + j];
            tt[i * n + j] = a;
          }
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            float a = 0;
            for (int k = 0; k < n; ++k) a += tt[i * n + k] * BT[j * n + k];
            V[(static_cast<size_t>(c) * n + i) * n + j] = a;
          }
      }
      for (int mo = 0; mo < L.M; ++mo) {
        std::vector<float> P(n * n, 0.0f);
        for (int c = 0; c < L.C; ++c)
          for (int e = 0; e < n * n; ++e) P[e] += U[(static_cast<size_t>(mo) * L.C + c) * n * n + e] * V[static_cast<size_t>(c) * n * n + e];
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            float a = 0;
            for (int k = 0; k < n; ++k) a += AT[i * n + k] * P[k * n + j];
            tt[i * n + j] = a;
          }
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) {
            float a = 0;
            for (int k = 0; k < n; ++k) a += tt[i * n + k] * AT[j * n + k];
            err = std::max(err, std::fabs(a - L.ref[(static_cast<size_t>(mo) * O + ty + i) * O + tx + j]));
          }
      }
    }
  return err / L.scale;
}

}  // namespace

// ---- main ------------------------------------------------------------------------------------------------------
int main() {
  const std::vector<std::pair<const char*, std::vector<double>>> f4 = {
      {"F(4x4) 0 +-1 +-2 (Lavin)", {0, 1, -1, 2, -2}}, {"F(4x4) 0 +-1 2 -1/2", {0, 1, -1, 2, -0.5}},
      {"F(4x4) 0 +-1 1/2 -2", {0, 1, -1, 0.5, -2}},   {"F(4x4) 0 +-1 +-1/2", {0, 1, -1, 0.5, -0.5}}};
  const Transforms f2 = toom_cook(2, {0, 1, -1});   // F(2x2, 3x3) (up to scaling, the one winograd.cpp uses)
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 1);
  for (int C : {64, 128, 256}) {
    Layer L{C, 16, 26, {}, {}, {}, 0};
    const int O = L.H - 2;
    L.x.resize(static_cast<size_t>(C) * L.H * L.H), L.w.resize(static_cast<size_t>(L.M) * C * 9);
    for (float& v : L.x) v = std::max(0.0f, nd(rng));   // after a ReLU
    for (float& v : L.w) v = nd(rng) / std::sqrt(9.0f * C);
    L.ref.resize(static_cast<size_t>(L.M) * O * O);
    double direct = 0;
    std::vector<float> y32(L.ref.size());
    for (int mo = 0; mo < L.M; ++mo)
      for (int y = 0; y < O; ++y)
        for (int xx = 0; xx < O; ++xx) {
          double acc = 0;
          float a32 = 0;   // the direct sum in float, channel by channel (an im2col GEMM's order, roughly)
          for (int c = 0; c < C; ++c)
            for (int k = 0; k < 9; ++k) {
              const float wv = L.w[(static_cast<size_t>(mo) * C + c) * 9 + k];
              const float xv = L.x[(static_cast<size_t>(c) * L.H + y + k / 3) * L.H + xx + k % 3];
              acc += static_cast<double>(wv) * xv;
              a32 += wv * xv;
            }
          const size_t o = (static_cast<size_t>(mo) * O + y) * O + xx;
          L.ref[o] = acc, y32[o] = a32;
          L.scale = std::max(L.scale, std::fabs(acc));
        }
    for (size_t o = 0; o < y32.size(); ++o) direct = std::max(direct, std::fabs(y32[o] - L.ref[o]));
    std::printf("C = %3d: direct float %.2e  F(2x2) %.2e", C, direct / L.scale, winograd_error(L, f2));
    for (const auto& [name, points] : f4) std::printf("  %s %.2e", name, winograd_error(L, toom_cook(4, points)));
    std::printf("\n");
  }
  return 0;
}
