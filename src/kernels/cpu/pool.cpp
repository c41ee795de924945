// relscope/kernels/cpu/pool.cpp — max/average pooling over 1-3 spatial dims, and global pooling.
//
// Sections: tap ranges | separable max | first maximum | max_pool | avg_pool | avg_pool_backward | global_pool
//
// Why tap ranges: each output's window is clipped to the input once per dim (a small table per call),
// so the inner loops carry no bounds checks and padding never has to be materialised.
// Why separable max: a 2-D window's maximum is the maximum over its rows of each row's maximum, and the
// rows' maxima are shared by the windows that overlap vertically: ResNet's 3x3/2 max-pool does ~2.5 vectorised
// max per output instead of 9 scalar taps (it was ~5% of a forward pass).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace relscope::kernels {

namespace {

// ---- tap ranges ------------------------------------------------------------------------------------------
int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; }

// For one dim: per output position, the kernel taps [lo, hi) landing in the input, and how many taps
// land inside the padded input [-pad_begin, in + pad_end) (AveragePool's count_include_pad divisor).
struct TapRange {
  int64_t lo, hi, padded;
};

std::vector<TapRange> tap_ranges(int64_t in, int64_t out, int64_t k, int64_t s, int64_t dl, int64_t pb, int64_t pe) {
  std::vector<TapRange> r(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * s - pb;
    const int64_t lo = std::clamp<int64_t>(ceil_div(-start, dl), 0, k);
    const int64_t hi = std::clamp<int64_t>(ceil_div(in - start, dl), lo, k);
    const int64_t padded = std::clamp<int64_t>(ceil_div(in + pe - start, dl), 0, k);
    r[static_cast<size_t>(o)] = {lo, hi, padded};
  }
  return r;
}

struct Taps {
  std::vector<TapRange> z, y, x;
  explicit Taps(const PoolParams& p)
      : z(tap_ranges(p.in[0], p.out[0], p.kernel[0], p.stride[0], p.dilation[0], p.pad_begin[0], p.pad_end[0])),
        y(tap_ranges(p.in[1], p.out[1], p.kernel[1], p.stride[1], p.dilation[1], p.pad_begin[1], p.pad_end[1])),
        x(tap_ranges(p.in[2], p.out[2], p.kernel[2], p.stride[2], p.dilation[2], p.pad_begin[2], p.pad_end[2])) {}
};

// ---- separable max ---------------------------------------------------------------------------------------------
// One plane of a 1-D/2-D max-pool without NaNs, equal bit for bit to folding every window's taps in ONNX's
// row-major order with std::max (max(best, tap) keeps best unless tap is greater): that fold yields the window's
// first tap holding its maximum (which matters for +0 vs -0), and so does folding the rows' first maxima in row
// order. (With a NaN in the plane the two differ, so such planes take the tap loop, which keeps a NaN only
// as a window's first tap.) h is scratch of in[1] x out[2] floats: each input row's horizontal maxima.
// Calls f(std::integral_constant<int, S>) with S the x stride when it is 1 or 2 (a constant: the strided loops
// below vectorise), else S = 0 (the stride read at run time).
template <class F>
void with_stride(int64_t s, F&& f) {
  if (s == 1)
    f(std::integral_constant<int, 1>{});
  else if (s == 2)
    f(std::integral_constant<int, 2>{});
  else
    f(std::integral_constant<int, 0>{});
}

template <int S>   // with_stride's S
void horizontal_max(const float* row, int64_t s, int64_t dl, int64_t pb, int64_t k, int64_t a, int64_t b, float* h) {
  const int64_t st = S > 0 ? S : s;
  for (int64_t ox = a; ox < b; ++ox) h[ox] = row[ox * st - pb];
  for (int64_t jx = 1; jx < k; ++jx) {
    const int64_t off = jx * dl - pb;   // inside the row for every ox in [a, b)
    for (int64_t ox = a; ox < b; ++ox) h[ox] = std::max(h[ox], row[ox * st + off]);
  }
}

// Outputs [first, second) of a row have their whole window inside the input row.
std::pair<int64_t, int64_t> whole_windows(const Taps& t, int64_t k, int64_t out_w) {
  int64_t a = 0, b = out_w;
  while (a < out_w && (t.x[a].lo != 0 || t.x[a].hi != k)) ++a;
  while (b > a && (t.x[b - 1].lo != 0 || t.x[b - 1].hi != k)) --b;
  return {a, b};
}

void separable_max_plane(const PoolParams& p, const Taps& t, const float* xp, float* yp, float* h) {
  const int64_t in_h = p.in[1], in_w = p.in[2], out_h = p.out[1], out_w = p.out[2];
  const int64_t s = p.stride[2], dl = p.dilation[2], pb = p.pad_begin[2], k = p.kernel[2];
  const auto ab = whole_windows(t, k, out_w);
  const int64_t a = ab.first, b = ab.second;   // not a structured binding: clang 14 cannot capture one
  for (int64_t iy = 0; iy < in_h; ++iy) {
    const float* row = xp + iy * in_w;
    float* hr = h + iy * out_w;
    auto clipped = [&](int64_t ox) {   // a window the row's ends cut (or that misses the row: -inf)
      const TapRange& rx = t.x[ox];
      float best = -std::numeric_limits<float>::infinity();
      if (rx.lo < rx.hi) {
        best = row[ox * s - pb + rx.lo * dl];
        for (int64_t jx = rx.lo + 1; jx < rx.hi; ++jx) best = std::max(best, row[ox * s - pb + jx * dl]);
      }
      hr[ox] = best;
    };
    for (int64_t ox = 0; ox < a; ++ox) clipped(ox);
    for (int64_t ox = b; ox < out_w; ++ox) clipped(ox);
    with_stride(s, [&](auto S) { horizontal_max<decltype(S)::value>(row, s, dl, pb, k, a, b, hr); });
  }
  for (int64_t oy = 0; oy < out_h; ++oy) {
    const TapRange& ry = t.y[oy];
    float* yr = yp + oy * out_w;
    if (ry.lo >= ry.hi) {
      std::fill(yr, yr + out_w, -std::numeric_limits<float>::infinity());
      continue;
    }
    const int64_t iy0 = oy * p.stride[1] - p.pad_begin[1];
    std::copy(h + (iy0 + ry.lo * p.dilation[1]) * out_w, h + (iy0 + ry.lo * p.dilation[1] + 1) * out_w, yr);
    for (int64_t jy = ry.lo + 1; jy < ry.hi; ++jy) {
      const float* hr = h + (iy0 + jy * p.dilation[1]) * out_w;
      for (int64_t ox = 0; ox < out_w; ++ox) yr[ox] = std::max(yr[ox], hr[ox]);
    }
  }
}

// ---- first maximum -----------------------------------------------------------------------------------------
// Where each window's maximum sits (ONNX: its first tap in row-major order holding it), for a plane without NaN
// that separable_max_plane has reduced to yp: every window's taps visited in reverse order, each tap equal to the
// maximum overwriting the position, so the last write is the first such tap and the loops carry no branch (they
// vectorise over a row's outputs). The tap loop this replaces spent ~25 ns per output of ResNet-18's max-pool
// (two passes over 9 taps with 64-bit index arithmetic): ~5 ms of every explanation, natively. at is scratch of
// out[2] positions in the plane (int32: the caller checks the plane's size).
template <int S>   // with_stride's S
void match_taps(const float* row, int64_t s, int64_t off, int32_t pos0, const float* yr, int64_t a, int64_t b,
                int32_t* at) {
  const int64_t st = S > 0 ? S : s;
  for (int64_t ox = a; ox < b; ++ox)
    at[ox] = row[ox * st + off] == yr[ox] ? pos0 + static_cast<int32_t>(ox * st) : at[ox];
}

void first_max_plane(const PoolParams& p, const Taps& t, const float* xp, const float* yp, int64_t plane_start,
                     int64_t* ip, int32_t* at) {
  const int64_t in_w = p.in[2], out_h = p.out[1], out_w = p.out[2];
  const int64_t s = p.stride[2], dl = p.dilation[2], pb = p.pad_begin[2], k = p.kernel[2];
  const auto ab = whole_windows(t, k, out_w);
  const int64_t a = ab.first, b = ab.second;   // not a structured binding: clang 14 cannot capture one
  for (int64_t oy = 0; oy < out_h; ++oy) {
    const TapRange& ry = t.y[oy];
    const float* yr = yp + oy * out_w;
    std::fill(at, at + out_w, 0);   // an empty window: position 0, as the tap loop gives it
    for (int64_t jy = ry.hi - 1; jy >= ry.lo; --jy) {
      const int64_t iy = oy * p.stride[1] - p.pad_begin[1] + jy * p.dilation[1];
      const float* row = xp + iy * in_w;
      for (int64_t jx = k - 1; jx >= 0; --jx) {
        const int64_t off = jx * dl - pb;
        const auto pos0 = static_cast<int32_t>(iy * in_w + off);
        with_stride(s, [&](auto S) { match_taps<decltype(S)::value>(row, s, off, pos0, yr, a, b, at); });
      }
      auto clipped = [&](int64_t ox) {
        for (int64_t jx = t.x[ox].hi - 1; jx >= t.x[ox].lo; --jx) {
          const int64_t ix = ox * s - pb + jx * dl;
          if (row[ix] == yr[ox]) at[ox] = static_cast<int32_t>(iy * in_w + ix);
        }
      };
      for (int64_t ox = 0; ox < a; ++ox) clipped(ox);
      for (int64_t ox = b; ox < out_w; ++ox) clipped(ox);
    }
    int64_t* ir = ip + oy * out_w;
    for (int64_t ox = 0; ox < out_w; ++ox) ir[ox] = plane_start + at[ox];
  }
}

bool has_nan(const float* x, int64_t n) {
  unsigned nan = 0;   // GCC vectorises an unsigned or-reduction, not a bool one
  for (int64_t i = 0; i < n; ++i) nan |= x[i] != x[i];
  return nan != 0;
}

// A pool's work in parallel_ranges' unit (a GEMM flop, ~0.01 ns natively): a tap, with its strided loads and
// padding checks, costs ~0.2 ns (ResNet-18's 3x3/2 max-pool: 1.8M taps, 0.37 ms). Counted as one flop per tap,
// that max-pool stayed under the threshold and ran on one thread.
double tap_work(const PoolParams& p) {
  return 20.0 * static_cast<double>(p.N * p.C) * p.out_size() * p.kernel[0] * p.kernel[1] * p.kernel[2];
}

}  // namespace

// ---- max_pool ---------------------------------------------------------------------------------------------
void max_pool(const PoolParams& p, const float* x, float* y, int64_t* indices) {
  const Taps t(p);
  const Dims3 &in = p.in, &out = p.out, &s = p.stride, &dl = p.dilation, &pb = p.pad_begin;
  const int64_t is = p.in_size(), os = p.out_size();
  // Planes are independent (disjoint outputs): split them over threads. Serial, ResNet-18's 3x3/2 max-pool was
  // ~10% of a 2-thread forward pass.
  const double work = tap_work(p);
  // 1-D or 2-D; indices (relevance's arg-max, row-major) from first_max_plane after the values.
  const bool separable = p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 &&
                         (!indices || (p.storage_order == 0 && is <= std::numeric_limits<int32_t>::max()));
  detail::parallel_ranges(p.N * p.C, work, [&](int64_t plane0, int64_t plane1) {
    thread_local std::vector<float> rows_max;
    thread_local std::vector<int32_t> first_at;
    if (separable && rows_max.size() < static_cast<size_t>(p.in[1] * p.out[2]))
      rows_max.resize(static_cast<size_t>(p.in[1] * p.out[2]));
    if (separable && indices && first_at.size() < static_cast<size_t>(p.out[2])) first_at.resize(static_cast<size_t>(p.out[2]));
    for (int64_t plane = plane0; plane < plane1; ++plane) {
      const float* xp = x + plane * is;
      float* yp = y + plane * os;
      int64_t* ip = indices ? indices + plane * os : nullptr;
      if (separable && !has_nan(xp, is)) {
        separable_max_plane(p, t, xp, yp, rows_max.data());
        if (ip) first_max_plane(p, t, xp, yp, plane * is, ip, first_at.data());
        continue;
      }
      int64_t o = 0;
      for (int64_t oz = 0; oz < out[0]; ++oz)
        for (int64_t oy = 0; oy < out[1]; ++oy)
          for (int64_t ox = 0; ox < out[2]; ++ox, ++o) {
            const TapRange &rz = t.z[oz], &ry = t.y[oy], &rx = t.x[ox];
            // Calls f(offset in the plane) for every tap of this output's window, in ONNX's order.
            auto taps = [&](auto&& f) {
              for (int64_t jz = rz.lo; jz < rz.hi; ++jz) {
                const int64_t iz = oz * s[0] - pb[0] + jz * dl[0];
                for (int64_t jy = ry.lo; jy < ry.hi; ++jy) {
                  const int64_t iy = oy * s[1] - pb[1] + jy * dl[1];
                  const int64_t row = (iz * in[1] + iy) * in[2] + (ox * s[2] - pb[2]);   // valid taps land in the row
                  for (int64_t jx = rx.lo; jx < rx.hi; ++jx) f(row + jx * dl[2]);
                }
              }
            };
            // The maximum first (max instructions, no branch: on real activations "new maximum?" is a coin
            // flip, and mispredicting it cost ~3 ns per tap), then, if asked, the first tap holding it (ONNX:
            // the first maximum wins). Seeded with the first tap, so a NaN there stays, as a strict > keeps it.
            const bool any = rz.lo < rz.hi && ry.lo < ry.hi && rx.lo < rx.hi;
            const int64_t first = any ? ((oz * s[0] - pb[0] + rz.lo * dl[0]) * in[1] + oy * s[1] - pb[1] + ry.lo * dl[1]) * in[2] +
                                            ox * s[2] - pb[2] + rx.lo * dl[2]
                                      : -1;   // the window's first tap, in the order taps() visits them
            float best = any ? xp[first] : -std::numeric_limits<float>::infinity();
            if (any) taps([&](int64_t k) { best = std::max(best, xp[k]); });
            int64_t at = first;
            if (ip && any && best == best) {
              at = -1;
              taps([&](int64_t k) { at = at < 0 && xp[k] == best ? k : at; });
            }
            yp[o] = best;
            if (ip) {
              int64_t spatial = 0;
              if (at >= 0 && p.storage_order == 0) {
                spatial = at;
              } else if (at >= 0) {   // column-major: (x, y, z) order
                const int64_t bx = at % in[2], by = (at / in[2]) % in[1], bz = at / (in[2] * in[1]);
                spatial = (bx * in[1] + by) * in[0] + bz;
              }
              ip[o] = plane * is + spatial;
            }
          }
    }
  });
}

// ---- avg_pool ------------------------------------------------------------------------------------------------
void avg_pool(const PoolParams& p, const float* x, float* y) {
  const Taps t(p);
  const Dims3 &in = p.in, &out = p.out, &s = p.stride, &dl = p.dilation, &pb = p.pad_begin;
  const int64_t is = p.in_size(), os = p.out_size();
  const double work = tap_work(p);
  detail::parallel_ranges(p.N * p.C, work, [&](int64_t plane0, int64_t plane1) {
    for (int64_t plane = plane0; plane < plane1; ++plane) {
      const float* xp = x + plane * is;
      float* yp = y + plane * os;
      int64_t o = 0;
      for (int64_t oz = 0; oz < out[0]; ++oz)
        for (int64_t oy = 0; oy < out[1]; ++oy)
          for (int64_t ox = 0; ox < out[2]; ++ox, ++o) {
            const TapRange &rz = t.z[oz], &ry = t.y[oy], &rx = t.x[ox];
            float sum = 0.0f;
            for (int64_t jz = rz.lo; jz < rz.hi; ++jz) {
              const int64_t iz = oz * s[0] - pb[0] + jz * dl[0];
              for (int64_t jy = ry.lo; jy < ry.hi; ++jy) {
                const int64_t iy = oy * s[1] - pb[1] + jy * dl[1];
                const int64_t row = (iz * in[1] + iy) * in[2] + (ox * s[2] - pb[2]);   // window start; valid taps land in the row
                for (int64_t jx = rx.lo; jx < rx.hi; ++jx) sum += xp[row + jx * dl[2]];
              }
            }
            const int64_t count = p.count_include_pad ? rz.padded * ry.padded * rx.padded
                                                      : (rz.hi - rz.lo) * (ry.hi - ry.lo) * (rx.hi - rx.lo);
            yp[o] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
          }
    }
  });
}

// ---- avg_pool_backward --------------------------------------------------------------------------------------------
void avg_pool_backward(const PoolParams& p, const float* dy, float* dx) {
  const Taps t(p);
  const Dims3 &in = p.in, &out = p.out, &s = p.stride, &dl = p.dilation, &pb = p.pad_begin;
  const int64_t is = p.in_size(), os = p.out_size();
  std::fill(dx, dx + p.N * p.C * is, 0.0f);
  for (int64_t plane = 0; plane < p.N * p.C; ++plane) {
    const float* dyp = dy + plane * os;
    float* dxp = dx + plane * is;
    int64_t o = 0;
    for (int64_t oz = 0; oz < out[0]; ++oz)
      for (int64_t oy = 0; oy < out[1]; ++oy)
        for (int64_t ox = 0; ox < out[2]; ++ox, ++o) {
          const TapRange &rz = t.z[oz], &ry = t.y[oy], &rx = t.x[ox];
          const int64_t count = p.count_include_pad ? rz.padded * ry.padded * rx.padded
                                                    : (rz.hi - rz.lo) * (ry.hi - ry.lo) * (rx.hi - rx.lo);
          if (count <= 0) continue;
          const float share = dyp[o] / static_cast<float>(count);
          for (int64_t jz = rz.lo; jz < rz.hi; ++jz) {
            const int64_t iz = oz * s[0] - pb[0] + jz * dl[0];
            for (int64_t jy = ry.lo; jy < ry.hi; ++jy) {
              const int64_t iy = oy * s[1] - pb[1] + jy * dl[1];
              const int64_t row = (iz * in[1] + iy) * in[2] + (ox * s[2] - pb[2]);
              for (int64_t jx = rx.lo; jx < rx.hi; ++jx) dxp[row + jx * dl[2]] += share;
            }
          }
        }
  }
}

// ---- global_pool -------------------------------------------------------------------------------------------------
void global_pool(bool is_max, int64_t planes, int64_t size, const float* x, float* y) {
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * size;
    if (is_max) {
      float m = size > 0 ? xp[0] : -std::numeric_limits<float>::infinity();
      for (int64_t i = 1; i < size; ++i) m = std::max(m, xp[i]);
      y[pl] = m;
    } else {
      double sum = 0.0;   // double: a 224x224 plane summed in float loses ~3 digits
      for (int64_t i = 0; i < size; ++i) sum += xp[i];
      y[pl] = size > 0 ? static_cast<float>(sum / static_cast<double>(size)) : 0.0f;
    }
  }
}

}  // namespace relscope::kernels
