// relscope/kernels/cpu/column_view.h — a convolution's im2col matrix read in place, never stored.
//
// Sections: ColumnView | tables
//
// Why: im2col writes C*k*k floats per output position (layer1 of ResNet-18 at 224x224: 7 MiB, past L2), and
// the GEMM's packing reads them straight back. The GEMMs' packers (Eigen's lhs panels natively, in gemm.cpp;
// gemm_simd128's pack_b in wasm) read the same values through this view instead: one pass over an input that
// stays in cache instead of two over a column matrix that does not. Values and zeros are exactly im2col's, so
// the packed panels, and the products, are bit-identical to the materialised path.
// col(k, j): k = (channel, kz, ky, kx) as im2col orders its rows, j = an output position of rows [r0, r1).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "graph/op_params.h"

namespace relscope::kernels::detail {

// ---- ColumnView ----------------------------------------------------------------------------------------------
class ColumnView {
 public:
  // Tap k reads input (z, y, x) = position + (dz, dy, dx); `offset` is that shift (and its channel) in floats.
  struct Tap {
    int64_t offset;
    int32_t dz, dy, dx;
  };
  // Output position j: its window's origin (z, y, x) in input coordinates, its flat offset, and how many
  // positions its output row still holds from j on (j..j+run-1 share z and y).
  struct Pos {
    int64_t offset;
    int32_t z, y, x, run;
  };

  ColumnView(const float* x, const Tap* taps, const Pos* pos, int64_t K, int64_t N, const Dims3& in, int64_t stride_x)
      : x_(x), taps_(taps), pos_(pos), K_(K), N_(N), sx_(stride_x) {
    for (int d = 0; d < 3; ++d) in_[d] = static_cast<uint32_t>(in[d]);
  }

  int64_t rows() const { return K_; }
  int64_t cols() const { return N_; }
  // The view of columns [j0, j0 + n): a thread's share of the GEMM's output.
  ColumnView columns(int64_t j0, int64_t n) const {
    ColumnView v = *this;
    v.pos_ += j0;
    v.N_ = n;
    return v;
  }

  // col(k, j), one entry at a time: the definition that run() and gather() must agree with (the kernels use
  // those; tests/unit/test_kernels_column_view.cpp compares them against this and against im2col).
  float at(int64_t k, int64_t j) const {
    const Tap& t = taps_[k];
    const Pos& q = pos_[j];
    // Unsigned compares: a negative coordinate wraps past the bound.
    const bool inside = static_cast<uint32_t>(q.z + t.dz) < in_[0] && static_cast<uint32_t>(q.y + t.dy) < in_[1] &&
                        static_cast<uint32_t>(q.x + t.dx) < in_[2];
    return inside ? x_[q.offset + t.offset] : 0.0f;
  }

  // col(k, j..j+n-1) when those n values are n consecutive floats of the input (one output row, unit stride,
  // no padding among them), else nullptr.
  const float* run(int64_t k, int64_t j, int64_t n) const {
    const Pos& q = pos_[j];
    if (sx_ != 1 || q.run < n) return nullptr;
    const Tap& t = taps_[k];
    const int64_t x0 = int64_t{q.x} + t.dx;
    const bool inside = static_cast<uint32_t>(q.z + t.dz) < in_[0] && static_cast<uint32_t>(q.y + t.dy) < in_[1] &&
                        x0 >= 0 && x0 + n <= int64_t{in_[2]};
    return inside ? x_ + q.offset + t.offset : nullptr;
  }

  // col(k, j + e) = s[e * stride_x] for e < n, with all of s[0, n * stride_x) inside one row of the input (a
  // whole vector of loads may read them), else nullptr. run() is the unit-stride case.
  const float* strided_run(int64_t k, int64_t j, int64_t n) const {
    const Pos& q = pos_[j];
    if (q.run < n) return nullptr;
    const Tap& t = taps_[k];
    const int64_t x0 = int64_t{q.x} + t.dx;
    const bool inside = static_cast<uint32_t>(q.z + t.dz) < in_[0] && static_cast<uint32_t>(q.y + t.dy) < in_[1] &&
                        x0 >= 0 && x0 + n * sx_ <= int64_t{in_[2]};
    return inside ? x_ + q.offset + t.offset : nullptr;
  }
  int64_t stride_x() const { return sx_; }

  // dst[i] = col(k, j + i) for i < n: per output row the positions are a strided run of one input row, of
  // which a contiguous range lies inside the input (the rest reads as padding's 0).
  void gather(int64_t k, int64_t j, int64_t n, float* dst) const {
    const Tap& t = taps_[k];
    for (int64_t i = 0; i < n;) {
      const Pos& q = pos_[j + i];
      const int64_t m = std::min<int64_t>(n - i, q.run);   // positions left in this output row
      float* d = dst + i;
      i += m;
      if (static_cast<uint32_t>(q.z + t.dz) >= in_[0] || static_cast<uint32_t>(q.y + t.dy) >= in_[1]) {
        std::fill(d, d + m, 0.0f);
        continue;
      }
      // Position e reads input x = x0 + e*sx; inside for e in [lo, hi).
      const int64_t x0 = int64_t{q.x} + t.dx, w = in_[2];
      const int64_t lo = std::min(m, x0 >= 0 ? int64_t{0} : (-x0 + sx_ - 1) / sx_);
      const int64_t hi = std::max(lo, std::min(m, x0 >= w ? int64_t{0} : (w - x0 + sx_ - 1) / sx_));
      const float* s = x_ + q.offset + t.offset;   // position e's value is s[e * sx] when inside
      std::fill(d, d + lo, 0.0f);
      if (sx_ == 1) {
        std::copy(s + lo, s + hi, d + lo);
      } else {
        for (int64_t e = lo; e < hi; ++e) d[e] = s[e * sx_];
      }
      std::fill(d + hi, d + m, 0.0f);
    }
  }

 private:
  const float* x_;
  const Tap* taps_;
  const Pos* pos_;
  int64_t K_, N_, sx_;   // sx_: the conv's stride along x
  uint32_t in_[3];
};

// ---- tables ----------------------------------------------------------------------------------------------------
// The view of one (image, group)'s column matrix for output rows [r0, r1); x points at the group's first input
// channel. The tables live in this thread's grow-only scratch, valid until its next make_column_view.
// False when a coordinate would not fit the tables' 32 bits (the caller then materialises im2col).
bool make_column_view(const ConvParams& p, const float* x, int64_t r0, int64_t r1, ColumnView* view);

// C (M x N) = A (M x K, row-major, leading dimension lda) * col + beta * C (row-major, ldc), where col is the
// view's K x N matrix: kernels::gemm(false, false, ...) on the materialised im2col, bit for bit, with the same
// split over threads (gemm.cpp; the wasm micro-kernel's packing in gemm_simd128.cpp).
void gemm_columns(int64_t M, const float* A, int64_t lda, const ColumnView& B, float beta, float* C, int64_t ldc);

}  // namespace relscope::kernels::detail
