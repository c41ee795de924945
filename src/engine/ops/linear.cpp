// relscope/engine/ops/linear.cpp — Conv, ConvTranspose, Gemm, MatMul: shape rules and cpu kernels.
//
// Sections: shared checks | Conv | ConvTranspose | Gemm | MatMul | registration
//
// The attribute arithmetic lives in graph/op_params (shared with the relevance engine) and the numerics in
// kernels/; this file only validates inputs, sets output shapes and wires tensors to kernels. `run`
// re-resolves the parameters from the actual shapes: it costs a few attribute lookups per node and keeps
// the op table stateless.
#include <string>

#include "engine/op_registry.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"

namespace relscope {

namespace {

// ---- shared checks ---------------------------------------------------------------------------------------
std::string where(const InferCtx& c) { return c.graph.node_label(c.node); }
std::string where(const RunCtx& c) { return c.graph.node_label(c.node); }

void require_float(const InferCtx& c, size_t k, const char* name) {
  if (c.has_input(k) && c.in_dtypes[k] != DType::Float32)
    c.unsupported(std::string("input ") + name + " is " + dtype_name(c.in_dtypes[k]) + "; this op supports float32 only");
}

void require_outputs(const InferCtx& c, size_t n) {
  if (c.node.outputs.size() > n)
    c.error("has " + std::to_string(c.node.outputs.size()) + " outputs; " + c.node.op_type + " has " + std::to_string(n));
}

const float* data_or_null(const RunCtx& c, size_t k) {
  return k < c.in.size() && c.in[k] ? c.in[k]->f.data() : nullptr;
}

// ---- Conv ---------------------------------------------------------------------------------------------------
void infer_conv(InferCtx& c) {
  require_float(c, 0, "X");
  require_float(c, 1, "W");
  require_float(c, 2, "B");
  require_outputs(c, 1);
  const ConvParams p = resolve_conv(c.node, c.shape(0), c.shape(1), where(c));
  if (c.has_input(2) && c.shape(2) != Shape{p.M})
    c.error("input B has shape " + shape_str(c.shape(2)) + "; expected [" + std::to_string(p.M) + "] (one per output channel)");
  c.out_shapes = {p.y_shape()};
  c.out_dtypes = {DType::Float32};
}

void run_conv(RunCtx& c) {
  const ConvParams p = resolve_conv(c.node, c.in[0]->shape, c.in[1]->shape, where(c));
  kernels::conv_forward(p, c.in[0]->f.data(), c.in[1]->f.data(), data_or_null(c, 2), c.out[0]->f.data());
}

// ---- ConvTranspose -----------------------------------------------------------------------------------------
// Its output is the x side of the adjoint conv p (see op_params.h): C channels, p.in spatial.
void infer_conv_transpose(InferCtx& c) {
  require_float(c, 0, "X");
  require_float(c, 1, "W");
  require_float(c, 2, "B");
  require_outputs(c, 1);
  const ConvParams p = resolve_conv_transpose(c.node, c.shape(0), c.shape(1), where(c));
  if (c.has_input(2) && c.shape(2) != Shape{p.C})
    c.error("input B has shape " + shape_str(c.shape(2)) + "; expected [" + std::to_string(p.C) + "] (one per output channel)");
  c.out_shapes = {p.x_shape()};
  c.out_dtypes = {DType::Float32};
}

void run_conv_transpose(RunCtx& c) {
  const ConvParams p = resolve_conv_transpose(c.node, c.in[0]->shape, c.in[1]->shape, where(c));
  float* y = c.out[0]->f.data();
  kernels::conv_backward_data(p, c.in[0]->f.data(), c.in[1]->f.data(), y);
  if (const float* b = data_or_null(c, 2)) kernels::add_channel_bias(p.N, p.C, p.in_size(), b, y);
}

// ---- Gemm ----------------------------------------------------------------------------------------------------
void infer_gemm(InferCtx& c) {
  require_float(c, 0, "A");
  require_float(c, 1, "B");
  require_float(c, 2, "C");
  require_outputs(c, 1);
  const GemmParams p = resolve_gemm(c.node, c.shape(0), c.shape(1), c.has_input(2) ? &c.shape(2) : nullptr, where(c));
  c.out_shapes = {Shape{p.M, p.N}};
  c.out_dtypes = {DType::Float32};
}

void run_gemm(RunCtx& c) {
  const Tensor &a = *c.in[0], &b = *c.in[1];
  const Tensor* cc = c.in.size() > 2 ? c.in[2] : nullptr;
  const GemmParams p = resolve_gemm(c.node, a.shape, b.shape, cc ? &cc->shape : nullptr, where(c));
  float* y = c.out[0]->f.data();
  float beta = 0.0f;
  if (cc && p.beta != 0.0f) {   // Y = beta * broadcast(C), then the GEMM accumulates alpha * A'B' onto it
    const Shape& cs = cc->shape;
    const int64_t crows = cs.size() == 2 ? cs[0] : 1, ccols = cs.empty() ? 1 : cs.back();
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j)
        y[i * p.N + j] = p.beta * cc->f[static_cast<size_t>((crows == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j))];
    beta = 1.0f;
  }
  kernels::gemm(p.transA, p.transB, p.M, p.N, p.K, p.alpha, a.f.data(), a.shape[1], b.f.data(), b.shape[1], beta, y,
                p.N);
}

// ---- MatMul --------------------------------------------------------------------------------------------------
void infer_matmul(InferCtx& c) {
  require_float(c, 0, "A");
  require_float(c, 1, "B");
  require_outputs(c, 1);
  c.out_shapes = {resolve_matmul(c.shape(0), c.shape(1), where(c)).out_shape};
  c.out_dtypes = {DType::Float32};
}

void run_matmul(RunCtx& c) {
  const MatMulParams p = resolve_matmul(c.in[0]->shape, c.in[1]->shape, where(c));
  const float *a = c.in[0]->f.data(), *b = c.in[1]->f.data();
  float* y = c.out[0]->f.data();
  const int64_t count = static_cast<int64_t>(p.a_offset.size());
  if (p.b_shared) {   // one tall GEMM: A's batches are contiguous rows
    kernels::gemm(false, false, count * p.M, p.N, p.K, 1.0f, a, p.K, b, p.N, 0.0f, y, p.N);
    return;
  }
  for (int64_t t = 0; t < count; ++t)
    kernels::gemm(false, false, p.M, p.N, p.K, 1.0f, a + p.a_offset[t] * p.M * p.K, p.K, b + p.b_offset[t] * p.K * p.N,
                  p.N, 0.0f, y + t * p.M * p.N, p.N);
}

}  // namespace

// ---- registration -------------------------------------------------------------------------------------------------
void register_linear_ops(OpTable& t) {
  // Overwrites: conv_forward seeds its output with the bias or runs its GEMMs with beta 0; Gemm seeds Y with
  // beta * C or runs with beta 0 (kernels::gemm never reads C then, and writes it even when K is 0).
  t.add(Op::Conv, infer_conv, run_conv, 2, 3, true);
  t.add(Op::ConvTranspose, infer_conv_transpose, run_conv_transpose, 2, 3);
  t.add(Op::Gemm, infer_gemm, run_gemm, 2, 3, true);
  t.add(Op::MatMul, infer_matmul, run_matmul, 2, 2, true);
}

}  // namespace relscope
