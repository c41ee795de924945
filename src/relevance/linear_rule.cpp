// relscope/relevance/linear_rule.cpp — the generic rule engine for linear layers.
//
// Sections: modifiers | layer construction (Conv, ConvTranspose, Gemm, MatMul) | apply_linear_rule
#include "relevance/linear_rule.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"
#include "relevance/sweep.h"

namespace relscope::relevance {

// ---- modifiers --------------------------------------------------------------------------------------------
namespace {

// Each modifier's formula, once; `with_modifier` turns a runtime ParamMod into the compile-time one, so a loop
// over a whole weight tensor is specialised (and vectorised) rather than switching per element.
template <ParamMod M>
float modified(float v, float gamma) {
  if constexpr (M == ParamMod::Identity) return v;
  if constexpr (M == ParamMod::Positive) return std::max(v, 0.0f);
  if constexpr (M == ParamMod::Negative) return std::min(v, 0.0f);
  if constexpr (M == ParamMod::Zero) return 0.0f;
  if constexpr (M == ParamMod::Ones) return 1.0f;
  if constexpr (M == ParamMod::Square) return v * v;
  if constexpr (M == ParamMod::GammaPositive) return v + gamma * std::max(v, 0.0f);
  if constexpr (M == ParamMod::GammaNegative) return v + gamma * std::min(v, 0.0f);
  (void)gamma;
  return v;
}

template <class F>
auto with_modifier(ParamMod m, F&& f) {
  using P = ParamMod;
  switch (m) {
    case P::Identity: return f(std::integral_constant<P, P::Identity>{});
    case P::Positive: return f(std::integral_constant<P, P::Positive>{});
    case P::Negative: return f(std::integral_constant<P, P::Negative>{});
    case P::Zero: return f(std::integral_constant<P, P::Zero>{});
    case P::Ones: return f(std::integral_constant<P, P::Ones>{});
    case P::Square: return f(std::integral_constant<P, P::Square>{});
    case P::GammaPositive: return f(std::integral_constant<P, P::GammaPositive>{});
    case P::GammaNegative: return f(std::integral_constant<P, P::GammaNegative>{});
  }
  return f(std::integral_constant<P, P::Identity>{});
}

}  // namespace

float modify_param(float v, ParamMod m, float gamma) {
  return with_modifier(m, [&](auto M) { return modified<M()>(v, gamma); });
}

// ZBox bounds: one value, or one per channel along `axis`.
std::vector<float> bound_tensor(const std::vector<float>& bounds, const Shape& shape, int axis, const std::string& where) {
  const int64_t n = shape_numel(shape);
  std::vector<float> out(static_cast<size_t>(n));
  if (bounds.size() == 1) {
    std::fill(out.begin(), out.end(), bounds[0]);
    return out;
  }
  if (axis >= static_cast<int>(shape.size()) || static_cast<int64_t>(bounds.size()) != shape[axis])
    fail_input(where + ": zbox has " + std::to_string(bounds.size()) + " per-channel bounds but the layer input " +
               shape_str(shape) + " has " + (axis < static_cast<int>(shape.size()) ? std::to_string(shape[axis]) : "no") +
               " channels on axis " + std::to_string(axis));
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t k0 = 0, row = 0; k0 < n; k0 += inner, ++row)   // a row of one channel at a time: no division per element
    std::fill(out.begin() + k0, out.begin() + std::min(n, k0 + inner), bounds[static_cast<size_t>(row % shape[axis])]);
  return out;
}

namespace {

// x under input modifier m, written into `out` (a reused buffer).
void modify_input(const Tensor& x, InputMod m, const Rule& r, int axis, const std::string& where, std::vector<float>& out) {
  out.resize(x.f.size());
  switch (m) {
    case InputMod::Identity: std::copy(x.f.begin(), x.f.end(), out.begin()); return;
    case InputMod::Positive: std::transform(x.f.begin(), x.f.end(), out.begin(), [](float v) { return std::max(v, 0.0f); }); return;
    case InputMod::Negative: std::transform(x.f.begin(), x.f.end(), out.begin(), [](float v) { return std::min(v, 0.0f); }); return;
    case InputMod::Ones: std::fill(out.begin(), out.end(), 1.0f); return;
    case InputMod::Low: out = bound_tensor(r.low, x.shape, axis, where); return;
    case InputMod::High: out = bound_tensor(r.high, x.shape, axis, where); return;
  }
}

const Tensor& constant_input(const Plan& p, const Node& n, int slot) { return *p.constants[n.inputs[slot]]; }

// ---- plan memo (modified weights) -------------------------------------------------------------------------
// The vector stored in p.memo under "lrp:" + key, made by make() on first use.
template <class Make>
const std::vector<float>& memoised(const Plan& p, const std::string& key, Make&& make) {
  return p.memo_floats("lrp:" + key, std::forward<Make>(make));
}

void use_weight(LinearLayer& L, const Plan& p, const std::vector<float>& w, std::string key) {
  L.weight = w.data();
  L.weight_size = w.size();
  L.plan = &p;
  L.memo_key = std::move(key);
}

}  // namespace

// "m" or "m/gamma-bits": gamma only matters to the Gamma modifiers, and is keyed by its exact bits.
std::string modifier_key(ParamMod m, float gamma) {
  std::string key = std::to_string(static_cast<int>(m));
  if (m == ParamMod::GammaPositive || m == ParamMod::GammaNegative) {
    uint32_t bits;
    std::memcpy(&bits, &gamma, sizeof bits);
    key += "/" + std::to_string(bits);
  }
  return key;
}

// The layer's weight under modifier m: the weight itself for Identity, else computed once per plan.
const float* modified_weight(const LinearLayer& L, ParamMod m, float gamma) {
  if (m == ParamMod::Identity) return L.weight;
  const std::string key = L.memo_key + "/" + modifier_key(m, gamma);
  return memoised(*L.plan, key, [&] {
    std::vector<float> out(L.weight_size);
    // One loop per modifier, so each vectorises: a switch per element cost wasm 89 ms for ResNet-18's w+ on
    // a first explanation.
    const float* w = L.weight;
    with_modifier(m, [&](auto M) {
      for (size_t k = 0; k < out.size(); ++k) out[k] = modified<M()>(w[k], gamma);
    });
    return out;
  }).data();
}

// ---- layer construction -------------------------------------------------------------------------------------
LinearLayer linear_layer(const Graph& g, const Plan& p, const Node& n) {
  const std::string where = g.node_label(n);
  LinearLayer L;
  L.output_value = n.outputs[0];
  auto has_bias = [&](size_t slot) { return n.inputs.size() > slot && n.inputs[slot] >= 0; };
  if (n.op == Op::Conv || n.op == Op::ConvTranspose) {
    L.x_shape = p.shapes[n.inputs[0]];
    const Tensor& w = constant_input(p, n, 1);
    const bool transpose = n.op == Op::ConvTranspose;
    const ConvParams cp = transpose ? resolve_conv_transpose(n, L.x_shape, w.shape, where)
                                    : resolve_conv(n, L.x_shape, w.shape, where);
    use_weight(L, p, w.f, "w" + std::to_string(n.inputs[1]));
    L.y_shape = p.shapes[n.outputs[0]];
    L.form = transpose ? LinearLayer::Form::ConvTranspose : LinearLayer::Form::Conv;
    L.conv = cp;
    if (has_bias(2)) {
      if (!p.is_constant(n.inputs[2])) fail(ErrorKind::Unsupported, where + ": relevance needs a constant bias");
      L.bias = constant_input(p, n, 2).f;   // one per output channel (axis 1)
      L.bias_inner = shape_numel(L.y_shape) / std::max<int64_t>(1, L.y_shape[0] * L.y_shape[1]);
    }
    if (transpose) {
      L.forward = [cp](const float* x, const float* w, float* y) { kernels::conv_backward_data(cp, x, w, y); };
      L.backward = [cp](const float* dy, const float* w, float* dx) { kernels::conv_forward(cp, dy, w, nullptr, dx); };
    } else {
      L.forward = [cp](const float* x, const float* w, float* y) { kernels::conv_forward(cp, x, w, nullptr, y); };
      L.backward = [cp](const float* dy, const float* w, float* dx) { kernels::conv_backward_data(cp, dy, w, dx); };
      L.backward_ones = [cp](const float* dy, float* dx) { kernels::conv_backward_data_ones(cp, dy, dx); };
    }
    return L;
  }
  if (n.op == Op::Gemm) {
    const Shape& a = p.shapes[n.inputs[0]];
    const Tensor& b = constant_input(p, n, 1);
    const Shape* c = has_bias(2) ? &p.shapes[n.inputs[2]] : nullptr;
    const GemmParams gp = resolve_gemm(n, a, b.shape, c, where);
    L.x_shape = a;
    L.y_shape = {gp.M, gp.N};
    // Effective weight W (K x N) = alpha * op(B): modifiers act on what multiplies x. With alpha = 1 (every
    // exporter's Linear) that is B itself, read in place (transposed when transB): a copy would hold a second
    // set of the layer's weights for as long as the plan lives (VGG-16's classifier: 471 MiB). Otherwise
    // alpha * op(B) is made once per plan.
    if (gp.alpha == 1.0f) {
      use_weight(L, p, b.f, "w" + std::to_string(n.inputs[1]));
      L.trans_w = gp.transB;
    } else {
      const std::string key = "gemm" + std::to_string(n.outputs[0]);
      const std::vector<float>& weight = memoised(p, key, [&] {
        std::vector<float> w(static_cast<size_t>(gp.K * gp.N));
        for (int64_t k = 0; k < gp.K; ++k)
          for (int64_t j = 0; j < gp.N; ++j)
            w[k * gp.N + j] = gp.alpha * (gp.transB ? b.f[j * gp.K + k] : b.f[k * gp.N + j]);
        return w;
      });
      use_weight(L, p, weight, key);
    }
    if (gp.has_c && gp.beta != 0.0f) {
      if (!p.is_constant(n.inputs[2])) fail(ErrorKind::Unsupported, where + ": relevance needs a constant C (bias)");
      const Tensor& ct = constant_input(p, n, 2);
      L.bias.assign(static_cast<size_t>(gp.M * gp.N), 0.0f);   // y-shaped (bias_inner 1)
      const Shape cs = ct.shape;   // unidirectional broadcast to (M, N)
      const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
      for (int64_t i = 0; i < gp.M; ++i)
        for (int64_t j = 0; j < gp.N; ++j)
          L.bias[i * gp.N + j] = gp.beta * ct.f[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
    }
    L.channel_axis = gp.transA ? 0 : 1;
    L.form = LinearLayer::Form::Gemm;
    L.M = gp.M, L.N = gp.N, L.K = gp.K, L.trans_x = gp.transA;
    const bool tA = gp.transA, tW = L.trans_w;
    const int64_t M = gp.M, N = gp.N, K = gp.K, ldw = L.weight_ld();
    L.forward = [=](const float* x, const float* w, float* y) {
      kernels::gemm(tA, tW, M, N, K, 1.0f, x, tA ? M : K, w, ldw, 0.0f, y, N);
    };
    L.backward = [=](const float* dy, const float* w, float* dx) {   // W^T is w as stored when tW
      if (tA)
        kernels::gemm(tW, true, K, M, N, 1.0f, w, ldw, dy, N, 0.0f, dx, M);
      else
        kernels::gemm(false, !tW, M, K, N, 1.0f, dy, N, w, ldw, 0.0f, dx, K);
    };
    return L;
  }
  if (n.op == Op::MatMul) {
    const bool b_const = p.is_constant(n.inputs[1]);
    L.input_slot = b_const ? 0 : 1;
    L.x_shape = p.shapes[n.inputs[L.input_slot]];
    L.y_shape = p.shapes[n.outputs[0]];
    const Tensor& w = constant_input(p, n, b_const ? 1 : 0);
    if (w.rank() > 2 || L.x_shape.empty())
      fail(ErrorKind::Unsupported, where + ": relevance through MatMul with a batched constant " + shape_str(w.shape) +
                                       " is not supported");
    use_weight(L, p, w.f, "w" + std::to_string(n.inputs[b_const ? 1 : 0]));
    if (b_const) {   // y[..., N] = x[..., K] @ W[K, N]  (1-D W: N = 1, dropped)
      const int64_t K = w.shape[0], N = w.rank() == 2 ? w.shape[1] : 1, rows = shape_numel(L.x_shape) / K;
      L.channel_axis = static_cast<int>(L.x_shape.size()) - 1;
      L.form = LinearLayer::Form::MatMulRight;
      L.M = rows, L.N = N, L.K = K;
      L.forward = [=](const float* x, const float* wp, float* y) { kernels::gemm(false, false, rows, N, K, 1, x, K, wp, N, 0, y, N); };
      L.backward = [=](const float* dy, const float* wp, float* dx) { kernels::gemm(false, true, rows, K, N, 1, dy, N, wp, N, 0, dx, K); };
    } else {         // y[b] = W[M, K] @ x[b][K, N]
      if (w.rank() != 2 || L.x_shape.size() < 2)
        fail(ErrorKind::Unsupported, where + ": relevance through MatMul with a constant left operand " + shape_str(w.shape) +
                                         " is supported for 2-D weights only");
      const int64_t M = w.shape[0], K = w.shape[1], N = L.x_shape.back();
      const int64_t batches = shape_numel(L.x_shape) / (K * N);
      L.channel_axis = static_cast<int>(L.x_shape.size()) - 2;
      L.form = LinearLayer::Form::MatMulLeft;
      L.M = M, L.N = N, L.K = K, L.batches = batches;
      L.forward = [=](const float* x, const float* wp, float* y) {
        for (int64_t b = 0; b < batches; ++b) kernels::gemm(false, false, M, N, K, 1, wp, K, x + b * K * N, N, 0, y + b * M * N, N);
      };
      L.backward = [=](const float* dy, const float* wp, float* dx) {
        for (int64_t b = 0; b < batches; ++b) kernels::gemm(true, false, K, N, M, 1, wp, K, dy + b * M * N, N, 0, dx + b * K * N, N);
      };
    }
    return L;
  }
  fail(ErrorKind::Internal, where + ": not a linear layer");
}

// ---- apply -----------------------------------------------------------------------------------------------------
namespace {

// Work buffers of apply_linear_rule, reused across the layers of a sweep (and across sweeps): activation-sized
// vectors would otherwise be allocated, zeroed and page-faulted several times per layer.
struct RuleScratch {
  std::vector<std::vector<float>> xs, denom, ratio;
  std::vector<float> z, grad;
};

RuleScratch& rule_scratch() {
  thread_local RuleScratch s;
  return s;
}

bool all_zero(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return f == 0.0f; });
}

// The sign pattern of x, in one pass: after a ReLU (x >= 0) x+ is x itself and x- is zero, so neither
// needs a copy or a check of its own.
struct InputSigns {
  bool nonnegative = true, nonpositive = true;
};
// Flags, not a min/max: a float min/max reduction does not vectorise without fast-math (NaN and -0 order), an
// or of comparisons does, and gives the same answer (NaN and -0 count as neither sign either way). Into
// unsigned accumulators: GCC 12 leaves a bool or-reduction scalar, which was 4% of a native ResNet-18
// explanation (clang, for wasm, vectorises both).
InputSigns input_signs(const Tensor& x) {
  unsigned negative = 0, positive = 0;
  for (float v : x.f) {
    negative |= v < 0.0f;
    positive |= v > 0.0f;
  }
  return {negative == 0, positive == 0};
}

// Term input t as a pointer: x itself where the modifier leaves it unchanged, null where it is all zero,
// else a modified copy in `buf` (null again when that copy is all zero).
const float* term_input(const Tensor& x, InputMod m, const InputSigns& signs, const Rule& r, int axis,
                        const std::string& where, const float* keep, std::vector<float>& buf) {
  if (!keep) {
    const bool same = m == InputMod::Identity || (m == InputMod::Positive && signs.nonnegative) ||
                      (m == InputMod::Negative && signs.nonpositive);
    const bool zero = (m == InputMod::Positive && signs.nonpositive) || (m == InputMod::Negative && signs.nonnegative);
    if (zero || (same && signs.nonnegative && signs.nonpositive)) return nullptr;   // x == 0 counts as zero
    if (same) return x.f.data();
  }
  modify_input(x, m, r, axis, where, buf);
  if (keep)
    for (size_t i = 0; i < buf.size(); ++i) buf[i] *= keep[i];
  return all_zero(buf) ? nullptr : buf.data();
}

// A term that re-runs the layer exactly as the forward pass did (Epsilon's (x, w, b)): its z is the recorded y.
bool reruns_layer(const Term& t, const LinearLayer& L, const float* keep) {
  return !keep && t.input == InputMod::Identity && t.weight == ParamMod::Identity &&
         (t.bias == ParamMod::Identity || L.bias.empty());
}

void append_bits(std::string& key, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  key += std::to_string(bits) + ",";
}

// Everything the group denominators depend on besides the pass: the layer and the rule's terms (modifiers,
// groups, signs), gamma and the ZBox bounds. Not epsilon: stabilising comes after.
std::string denominators_key(const LinearLayer& L, const Rule& r) {
  std::string key = "lrp-denominators/" + std::to_string(L.output_value) + "/";
  for (const Term& t : r.terms) {
    key += std::to_string(static_cast<int>(t.input)) + "." + std::to_string(static_cast<int>(t.weight)) + "." +
           std::to_string(static_cast<int>(t.bias)) + "." + std::to_string(t.group) + ".";
    append_bits(key, t.denom_sign);
  }
  key += "g";
  append_bits(key, r.gamma);
  key += "l";
  for (float v : r.low) append_bits(key, v);
  key += "h";
  for (float v : r.high) append_bits(key, v);
  return key;
}

}  // namespace

// Terms whose modified input is all zero (zplus' (x-, w-) after a ReLU, alphabeta's negative terms) cost
// nothing: their forward is 0 (bias aside) and their share x * grad is 0, so neither GEMM runs. A term on
// an input of ones (Flat, WSquare) has a z that depends only on the shape: memoised in the plan.
Tensor apply_linear_rule(const LinearLayer& L, const Rule& r, const Tensor& x, const Tensor& y, const Tensor& R,
                         const std::string& where, const float* keep, PassMemo* memo) {
  const size_t nx = x.f.size(), ny = R.f.size();
  const size_t nterms = r.terms.size(), ngroups = r.groups.size();
  RuleScratch& s = rule_scratch();
  if (s.xs.size() < nterms) s.xs.resize(nterms);
  if (s.denom.size() < ngroups) s.denom.resize(ngroups);
  if (s.ratio.size() < ngroups) s.ratio.resize(ngroups);
  // Denominators a sweep over this pass already computed, one entry per group; a masked input (keep)
  // changes them.
  if (keep) memo = nullptr;
  const std::string key = memo ? denominators_key(L, r) : std::string();
  std::vector<const std::vector<float>*> kept(ngroups, nullptr);
  bool known = memo != nullptr;
  for (size_t gi = 0; gi < ngroups && known; ++gi) {
    kept[gi] = memo->find(key + "|" + std::to_string(gi));
    known = kept[gi] != nullptr;
    if (known && kept[gi]->size() != ny) fail(ErrorKind::Internal, where + ": memoised denominators of another size");
  }
  for (size_t gi = 0; gi < ngroups && !known; ++gi) s.denom[gi].assign(ny, 0.0f);
  s.z.resize(ny);
  std::vector<const float*> ws(nterms, nullptr);   // null: the term's input is all zero
  std::vector<const float*> xs(nterms, nullptr);   // each term's modified input (x itself where unchanged)
  const InputSigns signs = input_signs(x);
  for (size_t t = 0; t < nterms; ++t) {
    const Term& term = r.terms[t];
    const float* xt = xs[t] = term_input(x, term.input, signs, r, L.channel_axis, where, keep, s.xs[t]);
    auto& d = s.denom[term.group];
    const float sign = term.denom_sign;
    const bool active = xt != nullptr;
    if (active) ws[t] = modified_weight(L, term.weight, r.gamma);
    if (known) continue;   // the backward part below still needs x_t and w_t
    if (active && reruns_layer(term, L, keep)) {   // z = y, bias included
      for (size_t j = 0; j < ny; ++j) d[j] += sign * y.f[j];
      continue;
    }
    if (active) {
      const float* z = s.z.data();
      if (term.input == InputMod::Ones && !keep) {
        z = memoised(*L.plan, "ones-z" + std::to_string(L.output_value) + "/" + modifier_key(term.weight, r.gamma), [&] {
                       std::vector<float> out(ny);
                       L.forward(xt, ws[t], out.data());
                       return out;
                     }).data();
      } else {
        L.forward(xt, ws[t], s.z.data());
      }
      for (size_t j = 0; j < ny; ++j) d[j] += sign * z[j];
    }
    if (!L.bias.empty() && term.bias != ParamMod::Zero) {
      std::vector<float> b(L.bias.size());
      for (size_t c = 0; c < b.size(); ++c) b[c] = sign * modify_param(L.bias[c], term.bias, r.gamma);
      // By rows of one channel: an index division per element made this loop 1/3 of the rule's own time.
      const size_t inner = static_cast<size_t>(L.bias_inner), nb = b.size();
      for (size_t j0 = 0, row = 0; j0 < ny; j0 += inner, ++row) {
        const float bc = b[row % nb];
        float* dj = d.data() + j0;
        const size_t len = std::min(inner, ny - j0);
        for (size_t i = 0; i < len; ++i) dj[i] += bc;
      }
    }
  }
  // Moved, not copied, into the memo (the scratch vector grows back for the next layer); all groups or none.
  if (memo && !known && memo->fits(ngroups * ny * sizeof(float))) {
    for (size_t gi = 0; gi < ngroups; ++gi)
      kept[gi] = memo->put(key + "|" + std::to_string(gi), std::move(s.denom[gi]));
    known = true;
  }
  // Each group's ratio R / stab(sum), restricted to the outputs its mask selects.
  for (size_t gi = 0; gi < ngroups; ++gi) {
    const OutputMask mask = r.groups[gi].mask;
    std::vector<float>& ratio = s.ratio[gi];
    ratio.resize(ny);
    const float* denom = known ? kept[gi]->data() : s.denom[gi].data();
    if (mask == OutputMask::All) {   // the common case, as its own loop so that it vectorises
      for (size_t j = 0; j < ny; ++j) ratio[j] = R.f[j] / stabilize(denom[j], r.epsilon);
      continue;
    }
    for (size_t j = 0; j < ny; ++j) {
      const bool on = mask == OutputMask::ZPositive ? y.f[j] > 0.0f : y.f[j] < 0.0f;
      ratio[j] = on ? R.f[j] / stabilize(denom[j], r.epsilon) : 0.0f;
    }
  }
  Tensor out = Tensor::zeros(x.shape);
  s.grad.resize(nx);
  for (size_t t = 0; t < nterms; ++t) {
    if (!ws[t]) continue;   // x * grad with x == 0
    const Term& term = r.terms[t];
    if (term.weight == ParamMod::Ones && L.backward_ones)   // Flat: ResNet-18's stem adjoint 2.7 -> 0.36 ms
      L.backward_ones(s.ratio[term.group].data(), s.grad.data());
    else
      L.backward(s.ratio[term.group].data(), ws[t], s.grad.data());
    const float* xt = xs[t];
    const float* grad = s.grad.data();
    for (size_t i = 0; i < nx; ++i) out.f[i] += term.coef * xt[i] * grad[i];
  }
  return out;
}

}  // namespace relscope::relevance
