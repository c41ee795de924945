// relscope/relevance/gpu_attention.cpp — the ops of attention blocks on the GPU: (Log)Softmax, LayerNormalization
// and products of two activations (q k^T, attention x v), forward and backward.
//
// Sections: row geometry | forward | AttnLRP rules | gradients
//
// Softmax and LayerNorm are Rows steps (program.h): one invocation per row, so the row's sum or mean is
// computed once, in order, like the CPU. The rules mirror sweep.cpp: the softmax rule x * (R - s * sum R),
// and the product rule's even share per varying factor, x_k * vjp(R / (n * stab(y))) for a MatMul.
#include "relevance/gpu_explain_detail.h"
#include "relevance/vjp.h"

namespace relscope::relevance::gpu_detail {

using kernels::gpu::RowOp;

namespace {

// ---- row geometry ----------------------------------------------------------------------------------------------
struct Rows {
  int64_t outer = 1, len = 1, inner = 1;
};

// Softmax's rows: the axis, or (before opset 13) every dim from the axis on, as sweep.cpp's softmax_rule.
Rows softmax_rows(const Compiler& c, const Node& n) {
  const Shape& xs = c.p.shapes[n.inputs[0]];
  const int64_t rank = static_cast<int64_t>(xs.size());
  const bool coerce_2d = c.g.opset < 13;
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", coerce_2d ? 1 : -1), rank, "axis", c.g.node_label(n));
  Rows r;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? r.outer : (d == axis || coerce_2d ? r.len : r.inner)) *= xs[d];
  return r;
}

void rows_step(Builder& B, RowOp op, const Rows& r, int a, int b, int cc, int out, float f = 0.0f, bool has_c = false) {
  Step& s = B.step(Kernel::Rows, r.outer * r.inner, {a, b, cc, out});
  s.words[1] = static_cast<uint32_t>(op);
  s.words[2] = static_cast<uint32_t>(r.len);
  s.words[3] = static_cast<uint32_t>(r.inner);
  s.words[4] = float_word(f);
  s.words[5] = has_c ? 1 : 0;
}

// LayerNorm's Scale or B as one row of `len` values (the usual X[axis:] shape as is, smaller shapes broadcast
// on the CPU); -1 when absent. Parameters that vary across rows are not supported.
int layer_norm_param(Compiler& c, const Node& n, size_t slot) {
  if (slot >= n.inputs.size() || n.inputs[slot] < 0) return -1;
  const int v = n.inputs[slot];
  const std::string where = c.g.node_label(n);
  if (!c.p.is_constant(v)) unsupported(where + ": LayerNormalization with a computed scale or bias");
  const Shape& xs = c.p.shapes[n.inputs[0]];
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(xs.size()), "attribute axis", where);
  const Shape row(xs.begin() + axis, xs.end());
  const Tensor& t = *c.p.constants[v];
  if (t.shape == row) return c.value(v);
  if (t.shape.size() > row.size()) unsupported(where + ": LayerNormalization parameters that vary across rows");
  const std::vector<int64_t> map = broadcast_map(row, t.shape);
  std::vector<float> vals(map.size());
  for (size_t k = 0; k < map.size(); ++k) vals[k] = t.f[static_cast<size_t>(map[k])];
  return c.B.owned(std::move(vals));
}

Rows layer_norm_rows(const Compiler& c, const Node& n) {
  const Shape& xs = c.p.shapes[n.inputs[0]];
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(xs.size()), "attribute axis", c.g.node_label(n));
  Rows r;
  for (size_t d = 0; d < xs.size(); ++d) (static_cast<int64_t>(d) < axis ? r.outer : r.len) *= xs[d];
  return r;
}

struct MatMulGeometry {
  int64_t M = 0, N = 0, K = 0, batch = 1, off_a = 0, off_b = 0;
};

// A MatMul of two rank >= 2 operands whose batch dims are either the output's or all 1 (shared).
MatMulGeometry matmul_geometry(const Compiler& c, const Node& n) {
  const std::string where = c.g.node_label(n);
  const Shape &as = c.p.shapes[n.inputs[0]], &bs = c.p.shapes[n.inputs[1]], &ys = c.p.shapes[n.outputs[0]];
  if (as.size() < 2 || bs.size() < 2) unsupported(where + ": MatMul with a 1-D operand");
  MatMulGeometry m;
  m.M = as[as.size() - 2], m.K = as.back(), m.N = bs.back();
  m.batch = shape_numel(ys) / std::max<int64_t>(m.M * m.N, 1);
  auto offset = [&](const Shape& s, int64_t per) -> int64_t {
    const size_t yb = ys.size() - 2, sb = s.size() - 2;
    bool all_one = true, same = true;
    for (size_t d = 0; d < yb; ++d) {
      const int64_t dim = d + sb >= yb ? s[d + sb - yb] : 1;
      all_one = all_one && dim == 1;
      same = same && dim == ys[d];
    }
    if (same) return m.batch > 1 ? per : 0;
    if (all_one) return 0;
    unsupported(where + ": MatMul whose batch dims broadcast in part");
  };
  m.off_a = offset(as, m.M * m.K);
  m.off_b = offset(bs, m.K * m.N);
  return m;
}

// dA = dy B^T and dB = A^T dy for every varying operand; with `times_operand` each is multiplied by its
// operand (the product rule's x * vjp), else they are the plain gradient.
void matmul_backward(NodeSweep& s, int dy, bool times_operand) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const MatMulGeometry m = matmul_geometry(c, s.n);
  const int a = c.value(s.n.inputs[0]), b = c.value(s.n.inputs[1]);
  for (size_t slot : s.varying_slots()) {
    if (m.batch > 1 && (slot == 0 ? m.off_a : m.off_b) == 0)
      unsupported(s.where + ": relevance into a MatMul operand shared by the batch");
    const int64_t n = s.nx(slot);
    const int g = B.temp(n);
    if (slot == 0) gemm_step(B, false, true, m.M, m.K, m.N, dy, m.N, b, m.N, g, m.K, m.batch, m.M * m.N, m.off_b, m.off_a);
    else gemm_step(B, true, false, m.K, m.N, m.M, a, m.K, dy, m.N, g, m.N, m.batch, m.off_a, m.M * m.N, m.off_b);
    if (!times_operand) {
      s.give_fresh(slot, g);
      continue;
    }
    const int t = B.temp(n);
    B.ew(Ew::Mul, n, c.value(s.n.inputs[slot]), g, -1, t);
    B.release(g);
    s.give_fresh(slot, t);
  }
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------------------------------
void softmax_forward(Compiler& c, const Node& n) {
  const int out = n.outputs[0];
  c.new_value(out);
  const bool log = n.op == Op::LogSoftmax;
  rows_step(c.B, log ? RowOp::LogSoftmax : RowOp::Softmax, softmax_rows(c, n), c.value(n.inputs[0]), -1, -1, c.buf[out]);
  c.nonneg[out] = !log;
}

void layer_norm_forward(Compiler& c, const Node& n) {
  const int out = n.outputs[0];
  const int scale = layer_norm_param(c, n, 1), bias = layer_norm_param(c, n, 2);
  c.new_value(out);
  rows_step(c.B, RowOp::LayerNorm, layer_norm_rows(c, n), c.value(n.inputs[0]), scale, bias, c.buf[out],
            n.attrs.get_float("epsilon", 1e-5f), bias >= 0);
}

void matmul_forward(Compiler& c, const Node& n) {
  const MatMulGeometry m = matmul_geometry(c, n);
  const int out = n.outputs[0];
  c.new_value(out);
  gemm_step(c.B, false, false, m.M, m.N, m.K, c.value(n.inputs[0]), m.K, c.value(n.inputs[1]), m.N, c.buf[out], m.N, m.batch,
            m.off_a, m.off_b, m.M * m.N);
  c.nonneg[out] = c.nonneg[n.inputs[0]] && c.nonneg[n.inputs[1]];
}

// ---- AttnLRP rules ---------------------------------------------------------------------------------------------
void softmax_rule(NodeSweep& s) {
  const int out = s.B().temp(s.nx(0));
  rows_step(s.B(), RowOp::SoftmaxRule, softmax_rows(s.c, s.n), s.c.value(s.n.inputs[0]), s.c.value(s.n.outputs[0]), s.R, out);
  s.give_fresh(0, out);
}

void product_rule(NodeSweep& s) {
  Builder& B = s.B();
  const std::vector<size_t> slots = s.varying_slots();
  const float share = 1.0f / static_cast<float>(slots.size());
  const int64_t ny = s.c.numel(s.n.outputs[0]);
  if (s.n.op == Op::Mul) {   // R / n to each factor exactly (sweep.cpp says why not x * vjp here)
    for (size_t slot : slots) {
      const int part = B.temp(ny);
      B.ew(Ew::Expand, ny, s.R, -1, -1, part, share);
      const Shape &ys = s.c.p.shapes[s.n.outputs[0]], &xs = s.c.p.shapes[s.n.inputs[slot]];
      if (xs == ys) {
        s.give_fresh(slot, part);
        continue;
      }
      const int summed = sum_to_shape(s.c, part, ys, xs);
      B.release(part);
      s.give_fresh(slot, summed);
    }
    return;
  }
  if (s.n.op != Op::MatMul) unsupported(s.where + ": the product rule on " + std::string(op_name(s.n.op)));
  // R / (n * stab(y)) as R / stab'(n * y) with the stabiliser scaled by n: the same float operations as
  // sweep.cpp's for n = 2 (a power of two scales exactly), which matters where y is near 0.
  const float n = static_cast<float>(slots.size());
  const int scaled = B.temp(ny), ratio = B.temp(ny);
  B.ew(Ew::Expand, ny, s.c.value(s.n.outputs[0]), -1, -1, scaled, n);
  B.ew(Ew::StabDivide, ny, s.R, scaled, -1, ratio, s.rule.epsilon * n);
  B.release(scaled);
  matmul_backward(s, ratio, true);
  B.release(ratio);
}

// ---- gradients ---------------------------------------------------------------------------------------------------
void softmax_vjp(NodeSweep& s) {
  const int dx = s.B().temp(s.nx(0));
  rows_step(s.B(), s.n.op == Op::LogSoftmax ? RowOp::LogSoftmaxGrad : RowOp::SoftmaxGrad, softmax_rows(s.c, s.n), -1,
            s.c.value(s.n.outputs[0]), s.R, dx);
  s.give_fresh(0, dx);
}

void layer_norm_vjp(NodeSweep& s) {
  const int dx = s.B().temp(s.nx(0));
  rows_step(s.B(), RowOp::LayerNormGrad, layer_norm_rows(s.c, s.n), s.c.value(s.n.inputs[0]), layer_norm_param(s.c, s.n, 1), s.R, dx,
            s.n.attrs.get_float("epsilon", 1e-5f));
  s.give_fresh(0, dx);
}

void matmul_vjp(NodeSweep& s) { matmul_backward(s, s.R, false); }

}  // namespace relscope::relevance::gpu_detail
