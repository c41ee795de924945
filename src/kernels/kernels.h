// relscope/kernels/kernels.h — the numeric primitives behind every heavy op, one interface for all builds.
//
// Sections: threads | GEMM | convolution | pooling | normalisation and softmax | reductions | relevance pruning
//
// Why one header: ops (src/engine/ops), the relevance engine (LRP re-runs Conv/Gemm with modified
// weights and sends relevance back through the transposed layer) and benchmarks all call these, so a
// faster implementation (a wasm_simd128 micro-kernel, a GPU path) replaces one .cpp, not every caller.
// The CPU implementation lives in src/kernels/cpu/*.cpp: Eigen natively, a packed wasm_simd128 micro-kernel
// (gemm_simd128.cpp) for GEMM in wasm builds, where Eigen has no SIMD path.
//
// Conventions: float32, row-major, NCHW; callers own all memory; outputs are fully overwritten (never
// assumed zero) unless a function says it accumulates. Scratch space is thread_local and grows only, so
// repeated calls do not churn the heap. Shapes are trusted: validation happens in src/graph/op_params.
#pragma once
#include <cstdint>
#include <vector>

#include "graph/op_params.h"

namespace relscope::kernels {

// ---- threads ----------------------------------------------------------------------------------------------
// Threads that conv_forward, conv_backward_data and gemm split their output over (default 1: the calling
// thread only, so single-threaded timings stay comparable across builds). Process-wide; wasm builds have no
// threads and keep 1. Outputs are split into disjoint ranges (no races, no atomics); results agree with the
// serial run up to float rounding (a narrower GEMM may block its K loop differently).
void set_threads(int n);
int threads();
int hardware_threads();   // std::thread::hardware_concurrency(), at least 1 (1 in wasm)

// ---- GEMM -------------------------------------------------------------------------------------------------
// C(M,N) = alpha * op(A) op(B) + beta * C, op(X) = X or X^T; every matrix row-major with its leading
// dimension (distance between rows). beta == 0 never reads C (it may hold garbage or NaN).
// Why: Gemm, MatMul, every Conv (im2col/pointwise) and LRP's dense rules reduce to this one call.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Multiply-accumulates asked of gemm, conv_forward and conv_backward_data since the process started, a
// convolution counted as the direct one (Winograd does 2.25-4x fewer; conv_backward_data_ones counts none).
// Why: `relscope bench` compares an explanation's with a forward pass's, the work the method needs whatever the
// machine, which bounds their time ratio where convolutions dominate.
uint64_t multiply_accumulates();

// ---- convolution -------------------------------------------------------------------------------------------
// y = conv(x, w) + b for the whole batch (p.N images): x (N,C,in), w (M,C/group,kernel), b (M) or null,
// y (N,M,out). Per image and group: a GEMM whose packing reads the im2col matrix in place (CPU back-end:
// kernels/cpu/column_view.h; never stored); pointwise (1x1, stride 1, no pad) is a GEMM straight on x; large
// 3x3 stride-1 layers are Winograd F(2x2, 3x3) or, with many tiles, F(4x4, 3x3) (kernels/cpu/winograd.cpp:
// 16 or 36 GEMMs, 2.25x or 4x fewer flops).
void conv_forward(const ConvParams& p, const float* x, const float* w, const float* b_or_null, float* y);

// dx = conv^T(dy, w): the adjoint of conv_forward's linear part, dy (N,M,out) -> dx (N,C,in), overwritten.
// Why: it is ConvTranspose's forward pass (with p from resolve_conv_transpose) and the backward sweep of
// LRP/gradients through a Conv (p from resolve_conv). GEMM (W^T dy) + col2im per image and group; Winograd
// where conv_forward takes it (the adjoint of a 3x3 stride-1 conv is one).
void conv_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx);

// conv_backward_data for weights that are all ones (LRP's Flat rule), without them: every input channel of a
// group gets the same values, the adjoint of a one-channel box filter applied to dy summed over the group's
// output channels. Why: no GEMM and (C/group) times fewer scatters; the stem of an image model, where Flat sits
// in the usual composites, has the costliest adjoint of all its layers.
void conv_backward_data_ones(const ConvParams& p, const float* dy, float* dx);

// The im2col matrix of one image and one group (C/group channels starting at x) restricted to output
// rows [row_begin, row_end) (a row = one (d, h) position of the output, p.out[2] columns wide):
// col is (C/group * kernel_size) x ((row_end - row_begin) * p.out[2]). Padding taps read as 0.
void im2col(const ConvParams& p, const float* x, int64_t row_begin, int64_t row_end, float* col);
// The adjoint of im2col: ACCUMULATES col's entries into x (one image, one group, same row band).
void col2im(const ConvParams& p, const float* col, int64_t row_begin, int64_t row_end, float* x);

// y[n,c,...] += b[c]: ConvTranspose's bias (and any per-channel shift).
void add_channel_bias(int64_t N, int64_t C, int64_t inner, const float* b, float* y);

// ---- pooling ---------------------------------------------------------------------------------------------
// Max over each window (padding never wins; a window with no real tap gives -inf). indices_or_null gets
// ONNX's Indices: the flat index into x (N*C*spatial), spatial part row- or column-major per
// p.storage_order; ties keep the first tap in row-major window order.
void max_pool(const PoolParams& p, const float* x, float* y, int64_t* indices_or_null);
// Mean over each window; divisor = real taps, or with p.count_include_pad the taps inside the padded
// input (a ceil_mode overhang past the end padding never counts). A window with divisor 0 gives 0.
void avg_pool(const PoolParams& p, const float* x, float* y);
// The adjoint of avg_pool: dx (N,C,in) = the sum of dy / divisor over the windows holding each input, with
// avg_pool's divisor; overwritten. Why here: LRP's vector-Jacobian product and the GPU program's CPU reference
// both need it, and both must divide exactly as the forward pass does.
void avg_pool_backward(const PoolParams& p, const float* dy, float* dx);
// Mean or max of each of `planes` contiguous runs of `size` floats (GlobalAverage/MaxPool).
void global_pool(bool is_max, int64_t planes, int64_t size, const float* x, float* y);

// ---- normalisation and softmax -------------------------------------------------------------------------------
// y[n,c,i] = x[n,c,i] * scale[c] + shift[c]: inference BatchNorm after folding (scale = g/sqrt(var+eps),
// shift = beta - mean*scale), the same form the LRP canonizer folds into the preceding Conv.
void channel_affine(int64_t N, int64_t C, int64_t inner, const float* scale, const float* shift, const float* x,
                    float* y);

// LayerNorm over rows of `inner` elements: y = (x - mean) / sqrt(var + eps) * gamma + beta. gamma/beta
// rows advance by *_row_stride per row (0: one row shared by all; inner: full broadcast); beta may be null.
// mean_out / inv_std_out (one float per row) may be null.
void layer_norm(int64_t rows, int64_t inner, const float* x, const float* gamma, int64_t gamma_row_stride,
                const float* beta, int64_t beta_row_stride, float eps, float* y, float* mean_out,
                float* inv_std_out);

// Softmax (or log-softmax) along a strided axis: x viewed as (outer, len, inner), normalised over len.
// Numerically stable (max subtracted). ONNX opset < 13's "coerce to 2-D" form is inner = 1.
void softmax(const float* x, float* y, int64_t outer, int64_t len, int64_t inner, bool log);

// ---- reductions ---------------------------------------------------------------------------------------------
// Mean, sum or max over the dims with reduce[d] == true of x (shape `shape`); y holds the kept dims in
// order. Consecutive dims of the same kind are merged first, so NCHW -> NC (GAP-like) is a row
// reduction. Sums accumulate in double. Over zero elements: mean NaN, sum 0, max -inf.
enum class ReduceKind { Mean, Sum, Max };
void reduce(ReduceKind kind, const float* x, const Shape& shape, const std::vector<bool>& reduce, float* y);

// ---- relevance pruning --------------------------------------------------------------------------------------
// Pruned LRP's choice on one sample's relevance r[0..n) (the method: relevance/prune.h). Within each sign
// (r > 0, r < 0; zeros take no part) whose proportion p is > 0 and which has at least two entries, entries
// are taken in order of increasing |r| (ties: lower index first) while the running sum of their |r| (in
// double) stays <= p * the sign's mass, and at most all but one of them. prune_relevance zeroes those and
// scales the sign's survivors by mass / (mass - removed) (in double, rounded once to float); it returns how
// many it zeroed. prune_keep_mask leaves r as it is and writes keep[k] = 0 for those entries, 1 elsewhere.
// Proportions are trusted (validated in src/relevance). The GPU's prune.wgsl is tested against these.
int64_t prune_relevance(float* r, int64_t n, float p_pos, float p_neg);
int64_t prune_keep_mask(const float* r, int64_t n, float p_pos, float p_neg, float* keep);

}  // namespace relscope::kernels
