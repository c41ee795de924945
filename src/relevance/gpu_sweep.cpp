// relscope/relevance/gpu_sweep.cpp — the rules of the backward sweep as GPU steps, one node at a time.
//
// Sections: NodeSweep (handing relevance to inputs) | linear-layer rule (and PLRP-M's re-run) | pool vjp | apply_rule |
//           precompute_denominators
#include "relevance/composite.h"
#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance::gpu_detail {

// ---- NodeSweep -------------------------------------------------------------------------------------------------------
void NodeSweep::give_fresh(size_t slot, int b) {
  int& r = c.rel[n.inputs[slot]];
  if (r < 0) {
    r = b;
    return;
  }
  B().ew(Ew::Accumulate, nx(slot), b, -1, -1, r, 1.0f);
  if (b != R) B().release(b);
}

void NodeSweep::give_R(size_t slot) {
  if (!r_moved && c.rel[n.inputs[slot]] < 0) {
    c.rel[n.inputs[slot]] = R;
    r_moved = true;
    return;
  }
  give_fresh(slot, B().copy_of(R, nx(slot)));
}

void NodeSweep::give_product(size_t slot, int a, int b, float f) {
  int& r = c.rel[n.inputs[slot]];
  if (r < 0) {
    r = B().temp(nx(slot));
    B().ew(Ew::Product, nx(slot), a, b, -1, r, f);
  } else {
    B().ew(Ew::AccumulateProduct, nx(slot), a, b, -1, r, f);
  }
}

std::vector<size_t> NodeSweep::varying_slots() const {
  std::vector<size_t> s;
  for (size_t k = 0; k < n.inputs.size(); ++k)
    if (c.varying(n.inputs[k])) s.push_back(k);
  return s;
}

namespace {

// ---- linear-layer rule -------------------------------------------------------------------------------------------
// x under input modifier m: a buffer (x itself, or a work buffer to release), or -1 when it is all zero.
struct TermInput {
  int buffer = -1;
  bool temp = false;
};

TermInput term_input(Compiler& c, const LinearLayer& L, const Rule& r, InputMod m, int xv, const std::string& where) {
  Builder& B = c.B;
  const int x = c.value(xv);
  const int64_t n = c.numel(xv);
  switch (m) {
    case InputMod::Identity: return {x, false};
    case InputMod::Positive:
      if (c.nonneg[xv]) return {x, false};
      break;
    case InputMod::Negative:
      if (c.nonneg[xv]) return {-1, false};   // x- of a ReLU output: the CPU skips this term too
      break;
    case InputMod::Ones: return {ones_constant(B, *L.plan, n), false};   // (Flat's) kept by the runner: no Fill per run
    case InputMod::Low:
    case InputMod::High:
      return {B.owned(bound_tensor(m == InputMod::Low ? r.low : r.high, L.x_shape, L.channel_axis, where)), false};
  }
  const int t = B.temp(n);
  B.ew(m == InputMod::Positive ? Ew::Relu : Ew::Negative, n, x, -1, -1, t);
  return {t, true};
}

// Each term's input (after its input modifier, and PLRP-M's mask `keep` when >= 0; -1: all zero) and weight.
void term_operands(Compiler& c, const LinearLayer& L, const Rule& r, int xv, const std::string& where, int keep,
                   std::vector<TermInput>& xs, std::vector<Weight>& ws) {
  Builder& B = c.B;
  const int64_t nx = c.numel(xv);
  xs.assign(r.terms.size(), TermInput{});
  ws.assign(r.terms.size(), Weight{});
  for (size_t t = 0; t < r.terms.size(); ++t) {
    const Term& term = r.terms[t];
    xs[t] = term_input(c, L, r, term.input, xv, where);
    if (keep >= 0 && xs[t].buffer >= 0) {
      const int masked = B.temp(nx);
      B.ew(Ew::Mul, nx, xs[t].buffer, keep, -1, masked);
      if (xs[t].temp) B.release(xs[t].buffer);
      xs[t] = {masked, true};
    }
    if (xs[t].buffer >= 0) ws[t] = weight_buffer(B, L, term.weight, r.gamma);
  }
}

// Per group the sum of its terms' z (bias included): fresh buffers the caller releases. A group's first
// contribution writes the buffer instead of adding to zeros (0 + z == z): the recorded output times the sign
// (Expand with inner 1), or with sign +1 the forward step itself, with the term's bias where the kernel adds one
// (a convolution). ResNet-18's ZPlus layers: one conv step where there were Fill, conv, Accumulate, AccumulateBias.
std::vector<int> group_denominators(Compiler& c, const LinearLayer& L, const Rule& r, const std::vector<TermInput>& xs,
                                    const std::vector<Weight>& ws, int y, int64_t ny, bool masked) {
  Builder& B = c.B;
  std::vector<int> denom(r.groups.size(), -1);
  for (size_t t = 0; t < r.terms.size(); ++t) {
    const Term& term = r.terms[t];
    int& d = denom[term.group];
    bool bias_added = false;
    if (xs[t].buffer >= 0) {
      const bool reruns = !masked && term.input == InputMod::Identity && term.weight == ParamMod::Identity &&
                          (term.bias == ParamMod::Identity || L.bias.empty());
      if (reruns) {   // z is the recorded output, bias included
        if (d < 0) B.ew(Ew::Expand, ny, y, -1, -1, d = B.temp(ny), term.denom_sign);
        else B.ew(Ew::Accumulate, ny, y, -1, -1, d, term.denom_sign);
        continue;
      }
      if (d < 0 && term.denom_sign == 1.0f) {
        bias_added = linear_forward(B, L, xs[t].buffer, ws[t], d = B.temp(ny), bias_buffer(B, L, term.bias, r.gamma, 1.0f));
      } else {
        const int z = B.temp(ny);
        linear_forward(B, L, xs[t].buffer, ws[t], z);
        if (d < 0) B.ew(Ew::Expand, ny, z, -1, -1, d = B.temp(ny), term.denom_sign);
        else B.ew(Ew::Accumulate, ny, z, -1, -1, d, term.denom_sign);
        B.release(z);
      }
    }
    const int bias = bias_added ? -1 : bias_buffer(B, L, term.bias, r.gamma, term.denom_sign);
    if (bias >= 0) add_bias(B, L, bias, d >= 0 ? d : d = B.zeros(ny));
  }
  for (int& d : denom)
    if (d < 0) d = B.zeros(ny);
  return denom;
}

// A linear layer's rule (rule.h): per group the stabilised sum of its terms' z, R / that, and each term's
// x_t * f^T(ratio; w_t) summed with its coefficient. Mirrors apply_linear_rule, also its `keep` (PLRP-M: a
// 0/1 buffer of x's size; the masked inputs leave every term, so no term's z is the recorded output). The
// denominators come from c.denoms when precompute_denominators made them (never with a mask).
// Returns a fresh buffer, or `into` (the input's relevance so far, >= 0) when a single term is active: that
// term then adds to it in place, as give_fresh would have added the fresh buffer (r + (0 + c*x*g) == r + c*x*g).
int linear_rule(NodeSweep& s, int keep = -1, int into = -1) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const Rule& r = s.rule;
  const LinearLayer L = linear_layer(c.g, c.p, s.n);
  const int xv = s.n.inputs[L.input_slot], y = c.value(s.n.outputs[0]);
  const int64_t nx = c.numel(xv), ny = c.numel(s.n.outputs[0]);
  std::vector<TermInput> xs;
  std::vector<Weight> ws;
  term_operands(c, L, r, xv, s.where, keep, xs, ws);
  const auto pre = keep < 0 ? c.denoms.find(s.n.outputs[0]) : c.denoms.end();
  const bool precomputed = pre != c.denoms.end();
  const std::vector<int> denom = precomputed ? pre->second : group_denominators(c, L, r, xs, ws, y, ny, keep >= 0);
  // Per group R / stab(denominator): a StabDivide step, or (ratio -1: no output mask, a convolution's backward
  // step) read on the fly by each term's transposed convolution (its prologue): no ratio buffer, one step less.
  std::vector<int> ratio(r.groups.size(), -1);
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const OutputMask mask = r.groups[gi].mask;
    const uint32_t mode = mask == OutputMask::All ? 0 : mask == OutputMask::ZPositive ? 1 : 2;
    if (mode == 0 && reads_ratio_in_prologue(L)) continue;
    ratio[gi] = B.temp(ny);
    B.ew(Ew::StabDivide, ny, s.R, denom[gi], mode ? y : -1, ratio[gi], r.epsilon, 1, 0, mode);
    if (!precomputed) B.release(denom[gi]);
  }
  const auto active = std::count_if(xs.begin(), xs.end(), [](const TermInput& x) { return x.buffer >= 0; });
  int out = active == 1 ? into : -1;
  for (size_t t = 0; t < r.terms.size(); ++t) {
    if (xs[t].buffer < 0) continue;
    const bool first = out < 0;   // writes out; the others add to it
    if (first) out = B.temp(nx);
    const size_t gi = static_cast<size_t>(r.terms[t].group);
    if (ratio[gi] < 0) linear_backward_product(B, L, s.R, ws[t], xs[t].buffer, r.terms[t].coef, out, !first, {denom[gi], r.epsilon});
    else linear_backward_product(B, L, ratio[gi], ws[t], xs[t].buffer, r.terms[t].coef, out, !first);
    if (xs[t].temp) B.release(xs[t].buffer);
  }
  for (int rb : ratio) B.release(rb);
  for (size_t gi = 0; gi < r.groups.size(); ++gi)
    if (ratio[gi] < 0 && !precomputed) B.release(denom[gi]);
  return out >= 0 ? out : B.zeros(nx);   // no active term: all zero
}

// PLRP-M at a prunable layer: the entries of `r_in` (what the rule gave the layer's input) that pruning would
// zero are masked out of the input, and the rule runs again (explain.cpp's install_pruner). Returns the
// relevance to hand on (r_in itself where the layer is not pruned).
int masked_rerun(NodeSweep& s, int r_in) {
  Compiler& c = s.c;
  auto it = c.prune->at_layer.find(s.n.name);
  if (it == c.prune->at_layer.end() || it->second.pos + it->second.neg == 0.0f) return r_in;
  const int64_t nx = c.numel(s.n.inputs[linear_layer(c.g, c.p, s.n).input_slot]);
  GpuExplanation::PrunedLayer layer{s.n.name};
  layer.before = c.B.kept_copy(r_in, nx);
  layer.keep = c.B.fresh(nx);
  c.B.prune(r_in, layer.keep, c.batch, nx / c.batch, it->second);
  const int again = linear_rule(s, layer.keep);
  c.B.release(r_in);
  layer.after = c.B.kept_copy(again, nx);
  c.B.gx.pruned.push_back(std::move(layer));
  return again;
}

// ---- pool vjp ------------------------------------------------------------------------------------------------------
// The vector-Jacobian product of a pool or GAP applied to `dy` (a fresh buffer of the input's size).
int pool_vjp(NodeSweep& s, int dy) {
  Builder& B = s.B();
  const int64_t nx = s.nx(0);
  if (s.n.op == Op::ReduceMean || s.n.op == Op::ReduceSum) return reduce_vjp(s.c, s.n, dy);
  const int dx = B.temp(nx);
  if (s.n.op == Op::GlobalAveragePool) {
    const int64_t size = nx / s.c.numel(s.n.outputs[0]);
    B.ew(Ew::Expand, nx, dy, -1, -1, dx, 1.0f / static_cast<float>(size), size);
    return dx;
  }
  Step st = s.c.pools.at(s.n.outputs[0]);
  st.words[0] = static_cast<uint32_t>(nx);
  if (st.kernel == Kernel::MaxPool) {
    st.kernel = Kernel::MaxPoolBackward;
    st.bind = {dy, st.bind[2], dx, -1, -1};
  } else {
    st.kernel = Kernel::AvgPoolBackward;
    st.bind = {dy, dx, -1, -1, -1};
  }
  B.prog().steps.push_back(st);
  return dx;
}

}  // namespace

// ---- apply_rule ----------------------------------------------------------------------------------------------------
void apply_rule(NodeSweep& s) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const Node& n = s.n;
  const int64_t ny = c.numel(n.outputs[0]);
  switch (s.rule.kind) {
    case RuleKind::Linear: {
      // PLRP-M re-runs the rule on what it gave the input alone; otherwise that may go straight onto the
      // input's relevance so far.
      const size_t slot = linear_layer(c.g, c.p, n).input_slot;
      const bool masked = c.prune && c.prune_mode == PruneMode::Mask;
      const int so_far = masked ? -1 : c.rel[n.inputs[slot]];
      int r_in = linear_rule(s, -1, so_far);
      if (so_far >= 0 && r_in == so_far) return;   // added in place
      if (masked) r_in = masked_rerun(s, r_in);
      s.give_fresh(slot, r_in);
      return;
    }
    case RuleKind::Pass:
      // As sweep.cpp: R itself to an input of the output's shape, the op's gradient of R to a broadcast one.
      for (size_t k : s.varying_slots()) {
        if (c.p.shapes[n.inputs[k]] == c.p.shapes[n.outputs[0]]) s.give_R(k);
        else s.give_fresh(k, binary_vjp(s, k, s.R));
      }
      return;
    case RuleKind::Norm: {
      // x * vjp(R / stab(y))
      const int ratio = B.temp(ny);
      B.ew(Ew::StabDivide, ny, s.R, c.value(n.outputs[0]), -1, ratio, s.rule.epsilon);
      if (n.op == Op::Add || n.op == Op::Sub) {
        for (size_t k : s.varying_slots()) {
          const Shape &ys = c.p.shapes[n.outputs[0]], &xs = c.p.shapes[n.inputs[k]];
          const int g = xs == ys ? ratio : sum_to_shape(c, ratio, ys, xs);   // (a residual Add: no copy)
          s.give_product(k, c.value(n.inputs[k]), g, n.op == Op::Sub && k == 1 ? -1.0f : 1.0f);
          if (g != ratio) B.release(g);
        }
      } else if (n.op == Op::AveragePool || n.op == Op::GlobalAveragePool || n.op == Op::ReduceMean || n.op == Op::ReduceSum) {
        const int g = pool_vjp(s, ratio);
        s.give_product(0, c.value(n.inputs[0]), g, 1.0f);   // x * g (1 * x * g is exact)
        B.release(g);
      } else {
        unsupported(s.where + ": the norm rule on " + std::string(op_name(n.op)));
      }
      B.release(ratio);
      return;
    }
    case RuleKind::Gradient:
      if (only_reshapes(n.op)) {
        if (c.varying(n.inputs[0])) s.give_R(0);
        return;
      }
      if (is_routing(n.op)) {
        routing_vjp(s);
        return;
      }
      switch (n.op) {
        case Op::Conv:
        case Op::ConvTranspose:
        case Op::Gemm:
        case Op::MatMul: {
          if (n.op == Op::MatMul && node_role(c.g, c.p, n) == NodeRole::Product) {
            matmul_vjp(s);
            return;
          }
          const LinearLayer L = linear_layer(c.g, c.p, n);
          const int dx = B.temp(c.numel(n.inputs[L.input_slot]));
          linear_backward(B, L, s.R, weight_buffer(B, L, ParamMod::Identity, 0.0f), dx);
          s.give_fresh(L.input_slot, dx);
          return;
        }
        case Op::Relu: {
          const int dx = B.temp(ny);
          B.ew(Ew::ReluGrad, ny, s.R, c.value(n.inputs[0]), -1, dx);
          s.give_fresh(0, dx);
          return;
        }
        case Op::MaxPool:
        case Op::AveragePool:
        case Op::GlobalAveragePool:
        case Op::GlobalMaxPool:
        case Op::ReduceMax:
        case Op::ReduceMean:
        case Op::ReduceSum:
          s.give_fresh(0, pool_vjp(s, s.R));
          return;
        case Op::Erf: {
          const int dx = B.temp(ny);
          B.ew(Ew::ErfGrad, ny, s.R, c.value(n.inputs[0]), -1, dx);
          s.give_fresh(0, dx);
          return;
        }
        case Op::Pow: {
          const int dx = B.temp(ny);
          B.ew(Ew::PowGrad, ny, s.R, c.value(n.inputs[0]), -1, dx, pow_exponent(c, n));
          s.give_fresh(0, dx);
          return;
        }
        case Op::Sqrt: {   // dy * 0.5 / y
          const int q = B.temp(ny), dx = B.temp(ny);
          B.ew(Ew::Divide, ny, s.R, c.value(n.outputs[0]), -1, q);
          B.ew(Ew::Expand, ny, q, -1, -1, dx, 0.5f);
          B.release(q);
          s.give_fresh(0, dx);
          return;
        }
        case Op::LeakyRelu: {
          const int dx = B.temp(ny);
          B.ew(Ew::LeakyReluGrad, ny, s.R, c.value(n.inputs[0]), -1, dx, n.attrs.get_float("alpha", 0.01f));
          s.give_fresh(0, dx);
          return;
        }
        case Op::Clip: {
          const auto [lo, hi] = clip_bounds(c, n);
          const int dx = B.temp(ny);
          B.ew(Ew::ClipGrad, ny, s.R, c.value(n.inputs[0]), -1, dx, lo, 1, 0, 0, hi);
          s.give_fresh(0, dx);
          return;
        }
        case Op::Sigmoid:
        case Op::Tanh: {
          const int dx = B.temp(ny);
          B.ew(n.op == Op::Sigmoid ? Ew::SigmoidGrad : Ew::TanhGrad, ny, s.R, -1, c.value(n.outputs[0]), dx);
          s.give_fresh(0, dx);
          return;
        }
        case Op::Add:
        case Op::Sub:
        case Op::Mul:
        case Op::Div:
          for (size_t k : s.varying_slots()) {
            if (n.op == Op::Add && c.p.shapes[n.inputs[k]] == c.p.shapes[n.outputs[0]]) s.give_R(k);
            else s.give_fresh(k, binary_vjp(s, k, s.R));
          }
          return;
        case Op::Softmax:
        case Op::LogSoftmax:
          softmax_vjp(s);
          return;
        case Op::LayerNormalization:
          layer_norm_vjp(s);
          return;
        case Op::BatchNormalization: {
          const Shape& xs = c.p.shapes[n.inputs[0]];
          const int64_t C = xs.size() > 1 ? xs[1] : 1;
          const int zero = B.zeros(C);
          const int dx = B.temp(ny);
          B.ew(Ew::ChannelAffine, ny, s.R, c.bn_scale.at(n.outputs[0]), zero, dx, 0.0f, ny / std::max<int64_t>(1, xs[0] * C), C);
          B.release(zero);
          s.give_fresh(0, dx);
          return;
        }
        default:
          unsupported(s.where + ": the gradient of " + std::string(op_name(n.op)));
      }
    case RuleKind::Softmax:
      if (n.op != Op::Softmax) unsupported(s.where + ": the softmax rule on " + std::string(op_name(n.op)));
      softmax_rule(s);
      return;
    case RuleKind::Product:
      product_rule(s);
      return;
  }
}

// ---- binary_vjp -------------------------------------------------------------------------------------------------------
// vjp.cpp's elementwise cases: dy (Add), -dy (Sub's second input), dy * b, dy * a, dy / b, -dy * a / b^2, each
// summed back onto a broadcast input's shape.
int binary_vjp(NodeSweep& s, size_t slot, int dy) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const Node& n = s.n;
  if (n.op != Op::Add && n.op != Op::Sub && n.op != Op::Mul && n.op != Op::Div)
    unsupported(s.where + ": relevance through a broadcast " + std::string(op_name(n.op)));
  const Shape& ys = c.p.shapes[n.outputs[0]];
  const int64_t ny = shape_numel(ys);
  // Each op reads the previous result (dy itself first) into a fresh buffer; dy is never written.
  int d = -1;
  auto then = [&](Ew op, int b, float f = 0.0f) {
    const int t = B.temp(ny);
    B.ew(op, ny, d >= 0 ? d : dy, b, -1, t, f);
    B.release(d);
    d = t;
  };
  if (n.op == Op::Sub && slot == 1) then(Ew::Expand, -1, -1.0f);
  if (n.op == Op::Mul || n.op == Op::Div) {
    const Operand a = broadcast_value(c, n.inputs[0], ys), b = broadcast_value(c, n.inputs[1], ys);
    if (n.op == Op::Mul) {
      then(Ew::Mul, slot == 0 ? b.buffer : a.buffer);
    } else if (slot == 0) {
      then(Ew::Divide, b.buffer);
    } else {
      then(Ew::Mul, a.buffer);
      then(Ew::Divide, b.buffer);
      then(Ew::Divide, b.buffer);
      then(Ew::Expand, -1, -1.0f);
    }
    if (a.temp) B.release(a.buffer);
    if (b.temp) B.release(b.buffer);
  }
  const Shape& xs = c.p.shapes[n.inputs[slot]];
  if (xs == ys) return d >= 0 ? d : B.copy_of(dy, ny);   // a fresh buffer either way
  const int out = sum_to_shape(c, d >= 0 ? d : dy, ys, xs);
  B.release(d);
  return out;
}

// ---- precompute_denominators --------------------------------------------------------------------------------------
void precompute_denominators(Compiler& c, const std::vector<Rule>& rules, int out_value) {
  // The linear layers the sweep reaches: producers of values the output depends on, in sweep order.
  std::vector<bool> reached(c.g.values.size(), false);
  reached[static_cast<size_t>(out_value)] = true;
  std::vector<int> layers;
  int64_t need = 0;
  for (size_t k = c.p.steps.size(); k-- > 0;) {
    const int step = c.p.steps[k];
    const Node& n = c.g.nodes[static_cast<size_t>(step)];
    bool any = false;
    for (int v : n.outputs) any = any || (v >= 0 && reached[static_cast<size_t>(v)]);
    if (!any) continue;
    for (int v : n.inputs)
      if (v >= 0) reached[static_cast<size_t>(v)] = true;
    if (rules[static_cast<size_t>(step)].kind != RuleKind::Linear) continue;
    layers.push_back(step);
    need += static_cast<int64_t>(rules[static_cast<size_t>(step)].groups.size()) * c.numel(n.outputs[0]);
  }
  int64_t pass_words = 0;
  for (int b : c.pass) pass_words += c.B.prog().buffers[static_cast<size_t>(b)].words;
  if (need > pass_words) return;   // more memory than the forward pass: computed in the sweep as they are needed
  for (int step : layers) {
    const Node& n = c.g.nodes[static_cast<size_t>(step)];
    const Rule& r = rules[static_cast<size_t>(step)];
    const LinearLayer L = linear_layer(c.g, c.p, n);
    const int xv = n.inputs[L.input_slot];
    std::vector<TermInput> xs;
    std::vector<Weight> ws;
    term_operands(c, L, r, xv, c.g.node_label(n), -1, xs, ws);
    c.denoms[n.outputs[0]] = group_denominators(c, L, r, xs, ws, c.value(n.outputs[0]), c.numel(n.outputs[0]), false);
    for (const TermInput& t : xs)
      if (t.temp) c.B.release(t.buffer);
  }
}

}  // namespace relscope::relevance::gpu_detail
