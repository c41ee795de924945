// relscope/graph/op_params.h — ONNX attributes + input shapes -> plain parameter structs.
//
// Sections: spatial layout | ConvParams | PoolParams | GemmParams | MatMulParams | resolve_*() | axis helpers
//
// Why separate from the ops: the same numbers drive the forward kernels (src/engine/ops), the relevance
// engine (LRP rules re-run Conv with modified weights and run its transpose for the backward sweep) and
// any later backend. Resolving once, here, keeps auto_pad/ceil_mode/output_shape arithmetic in one place.
//
// Every resolve_* validates what it reads and throws relscope::Error (BadInput, or Unsupported for valid
// ONNX relscope does not implement) whose message starts with `where` (pass graph.node_label(node)).
#pragma once
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace relscope {

struct Node;

// ---- spatial layout -------------------------------------------------------------------------------
// Kernels handle up to 3 spatial dims. Arrays are RIGHT-ALIGNED: index 2 is the innermost (W) dim, and
// a 1-D or 2-D op fills the leading entries with neutral values (size 1, kernel 1, stride 1, pad 0,
// dilation 1). So one 3-D loop nest serves 1-D, 2-D and 3-D without per-rank code.
inline constexpr int kMaxSpatial = 3;
using Dims3 = std::array<int64_t, kMaxSpatial>;

// ---- ConvParams -------------------------------------------------------------------------------------
// One convolution y = conv(x, w) + b, x: (N, C, in...), w: (M, C/group, kernel...), y: (N, M, out...).
// For ConvTranspose, resolve_conv_transpose() returns the ADJOINT forward conv: ConvTranspose's output
// is this struct's x side (C channels, `in` spatial) and its input is the y side (M channels, `out`),
// so ConvTranspose(X, W) == kernels::conv_backward_data(p, X, W) with the unchanged ONNX weight layout.
// Pads may be negative there (output_shape larger than the natural size): kernels bound-check anyway.
struct ConvParams {
  int nspatial = 0;                 // 1, 2 or 3 real spatial dims
  int64_t N = 0, C = 0, M = 0, group = 1;
  Dims3 in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1};
  Dims3 stride{1, 1, 1}, dilation{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t C_per_group() const { return C / group; }
  int64_t M_per_group() const { return M / group; }
  // Rows of one group's im2col matrix = columns of its weight matrix.
  int64_t col_rows() const { return C_per_group() * kernel_size(); }
  // 1x1 kernel, stride 1, no padding: out == in, conv is a plain GEMM without im2col.
  bool is_pointwise() const;
  Shape x_shape() const;   // {N, C, in...} (real spatial dims only)
  Shape y_shape() const;   // {N, M, out...}
  Shape w_shape() const;   // {M, C/group, kernel...}
};

// ---- PoolParams -------------------------------------------------------------------------------------
enum class PoolKind { Max, Average };

struct PoolParams {
  int nspatial = 0;
  int64_t N = 0, C = 0;
  Dims3 in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1};
  Dims3 stride{1, 1, 1}, dilation{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  bool count_include_pad = false;   // AveragePool: padded taps count in the divisor
  int storage_order = 0;            // MaxPool Indices: 0 row-major, 1 column-major spatial flattening

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  Shape y_shape() const;   // {N, C, out...}
};

// ---- GemmParams ---------------------------------------------------------------------------------------
// Y(M,N) = alpha * op(A) op(B) + beta * C, C unidirectionally broadcast to (M, N).
struct GemmParams {
  bool transA = false, transB = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1, beta = 1;
  bool has_c = false;
};

// ---- MatMulParams ----------------------------------------------------------------------------------------
// numpy matmul: 1-D operands are promoted (A: prepend 1, B: append 1) and the promoted dims dropped from
// the result; batch dims broadcast. Batch b's A and B matrices start at a_offset[b]*M*K and b_offset[b]*K*N.
struct MatMulParams {
  int64_t M = 0, N = 0, K = 0;
  Shape out_shape;
  std::vector<int64_t> a_offset, b_offset;   // per broadcast batch index, in whole matrices
  bool b_shared = false;   // B has no (or all-1) batch dims: all of A's batches fold into one GEMM
};

// ---- ReduceParams ------------------------------------------------------------------------------------------
// ReduceMean/Sum/Max: which dims are reduced, and the output shape (keepdims applied). Axes are an
// attribute before opset 18 (ReduceSum: 13) and an optional constant input from then on; empty axes
// reduce everything unless noop_with_empty_axes makes the op an identity.
struct ReduceParams {
  std::vector<bool> mask;   // per input dim: reduced?
  Shape out;
  bool noop = false;
};

// ---- resolve_*() ----------------------------------------------------------------------------------------
ConvParams resolve_conv(const Node& node, const Shape& x, const Shape& w, std::string_view where);
ConvParams resolve_conv_transpose(const Node& node, const Shape& x, const Shape& w, std::string_view where);
PoolParams resolve_pool(const Node& node, const Shape& x, PoolKind kind, std::string_view where);
GemmParams resolve_gemm(const Node& node, const Shape& a, const Shape& b, const Shape* c, std::string_view where);
MatMulParams resolve_matmul(const Shape& a, const Shape& b, std::string_view where);
// `axes_input`: the constant axes input when given (nullptr otherwise).
ReduceParams resolve_reduce(const Node& node, int64_t opset, const Shape& x, const Tensor* axes_input, std::string_view where);

// ---- axis helpers -----------------------------------------------------------------------------------------
// Maps axis in [-rank, rank-1] to [0, rank-1]; error naming `what` otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view what, std::string_view where);

}  // namespace relscope
