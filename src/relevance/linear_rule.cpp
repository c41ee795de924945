// relscope/relevance/linear_rule.cpp — the generic rule engine for linear layers.
//
// Sections: modifiers | layer construction (Conv, ConvTranspose, Gemm, MatMul) | apply_linear_rule
#include "relevance/linear_rule.h"

#include <algorithm>

#include "core/error.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"
#include "relevance/sweep.h"

namespace relscope::relevance {

namespace {

// ---- modifiers --------------------------------------------------------------------------------------------
float modify_param(float v, ParamMod m, float gamma) {
  switch (m) {
    case ParamMod::Identity: return v;
    case ParamMod::Positive: return std::max(v, 0.0f);
    case ParamMod::Negative: return std::min(v, 0.0f);
    case ParamMod::Zero: return 0.0f;
    case ParamMod::Ones: return 1.0f;
    case ParamMod::Square: return v * v;
    case ParamMod::GammaPositive: return v + gamma * std::max(v, 0.0f);
    case ParamMod::GammaNegative: return v + gamma * std::min(v, 0.0f);
  }
  return v;
}

std::vector<float> modified(const std::vector<float>& v, ParamMod m, float gamma) {
  std::vector<float> out(v.size());
  for (size_t k = 0; k < v.size(); ++k) out[k] = modify_param(v[k], m, gamma);
  return out;
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
  for (int64_t k = 0; k < n; ++k) out[k] = bounds[(k / inner) % shape[axis]];
  return out;
}

std::vector<float> modify_input(const Tensor& x, InputMod m, const Rule& r, int axis, const std::string& where) {
  switch (m) {
    case InputMod::Identity: return x.f;
    case InputMod::Positive: return modified(x.f, ParamMod::Positive, 0);
    case InputMod::Negative: return modified(x.f, ParamMod::Negative, 0);
    case InputMod::Ones: return std::vector<float>(x.f.size(), 1.0f);
    case InputMod::Low: return bound_tensor(r.low, x.shape, axis, where);
    case InputMod::High: return bound_tensor(r.high, x.shape, axis, where);
  }
  return x.f;
}

// Full y-shaped bias from a per-channel vector along axis 1.
Tensor channel_bias(const Tensor& b, const Shape& y_shape) {
  Tensor out = Tensor::zeros(y_shape);
  const int64_t C = y_shape[1], inner = shape_numel(y_shape) / (y_shape[0] * C);
  kernels::add_channel_bias(y_shape[0], C, inner, b.f.data(), out.f.data());
  return out;
}

const Tensor& constant_input(const Plan& p, const Node& n, int slot) { return *p.constants[n.inputs[slot]]; }

}  // namespace

// ---- layer construction -------------------------------------------------------------------------------------
LinearLayer linear_layer(const Graph& g, const Plan& p, const Node& n) {
  const std::string where = g.node_label(n);
  LinearLayer L;
  auto has_bias = [&](size_t slot) { return n.inputs.size() > slot && n.inputs[slot] >= 0; };
  if (n.op == Op::Conv || n.op == Op::ConvTranspose) {
    L.x_shape = p.shapes[n.inputs[0]];
    L.weight = constant_input(p, n, 1);
    const bool transpose = n.op == Op::ConvTranspose;
    const ConvParams cp = transpose ? resolve_conv_transpose(n, L.x_shape, L.weight.shape, where)
                                    : resolve_conv(n, L.x_shape, L.weight.shape, where);
    L.y_shape = p.shapes[n.outputs[0]];
    if (has_bias(2)) {
      if (!p.is_constant(n.inputs[2])) fail(ErrorKind::Unsupported, where + ": relevance needs a constant bias");
      L.bias = channel_bias(constant_input(p, n, 2), L.y_shape);
    }
    if (transpose) {
      L.forward = [cp](const float* x, const float* w, float* y) { kernels::conv_backward_data(cp, x, w, y); };
      L.backward = [cp](const float* dy, const float* w, float* dx) { kernels::conv_forward(cp, dy, w, nullptr, dx); };
    } else {
      L.forward = [cp](const float* x, const float* w, float* y) { kernels::conv_forward(cp, x, w, nullptr, y); };
      L.backward = [cp](const float* dy, const float* w, float* dx) { kernels::conv_backward_data(cp, dy, w, dx); };
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
    // Effective weight W (K x N) = alpha * op(B): modifiers act on what multiplies x.
    L.weight = Tensor::zeros({gp.K, gp.N});
    for (int64_t k = 0; k < gp.K; ++k)
      for (int64_t j = 0; j < gp.N; ++j)
        L.weight.f[k * gp.N + j] = gp.alpha * (gp.transB ? b.f[j * gp.K + k] : b.f[k * gp.N + j]);
    if (gp.has_c && gp.beta != 0.0f) {
      if (!p.is_constant(n.inputs[2])) fail(ErrorKind::Unsupported, where + ": relevance needs a constant C (bias)");
      const Tensor& ct = constant_input(p, n, 2);
      L.bias = Tensor::zeros(L.y_shape);
      const Shape cs = ct.shape;   // unidirectional broadcast to (M, N)
      const int64_t cm = cs.size() == 2 ? cs[0] : 1, cn = cs.empty() ? 1 : cs.back();
      for (int64_t i = 0; i < gp.M; ++i)
        for (int64_t j = 0; j < gp.N; ++j)
          L.bias.f[i * gp.N + j] = gp.beta * ct.f[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
    }
    L.channel_axis = gp.transA ? 0 : 1;
    const bool tA = gp.transA;
    const int64_t M = gp.M, N = gp.N, K = gp.K;
    L.forward = [=](const float* x, const float* w, float* y) {
      kernels::gemm(tA, false, M, N, K, 1.0f, x, tA ? M : K, w, N, 0.0f, y, N);
    };
    L.backward = [=](const float* dy, const float* w, float* dx) {
      if (tA)
        kernels::gemm(false, true, K, M, N, 1.0f, w, N, dy, N, 0.0f, dx, M);
      else
        kernels::gemm(false, true, M, K, N, 1.0f, dy, N, w, N, 0.0f, dx, K);
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
    L.weight = w;
    if (b_const) {   // y[..., N] = x[..., K] @ W[K, N]  (1-D W: N = 1, dropped)
      const int64_t K = w.shape[0], N = w.rank() == 2 ? w.shape[1] : 1, rows = shape_numel(L.x_shape) / K;
      L.channel_axis = static_cast<int>(L.x_shape.size()) - 1;
      L.forward = [=](const float* x, const float* wp, float* y) { kernels::gemm(false, false, rows, N, K, 1, x, K, wp, N, 0, y, N); };
      L.backward = [=](const float* dy, const float* wp, float* dx) { kernels::gemm(false, true, rows, K, N, 1, dy, N, wp, N, 0, dx, K); };
    } else {         // y[b] = W[M, K] @ x[b][K, N]
      if (w.rank() != 2 || L.x_shape.size() < 2)
        fail(ErrorKind::Unsupported, where + ": relevance through MatMul with a constant left operand " + shape_str(w.shape) +
                                         " is supported for 2-D weights only");
      const int64_t M = w.shape[0], K = w.shape[1], N = L.x_shape.back();
      const int64_t batches = shape_numel(L.x_shape) / (K * N);
      L.channel_axis = static_cast<int>(L.x_shape.size()) - 2;
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
Tensor apply_linear_rule(const LinearLayer& L, const Rule& r, const Tensor& x, const Tensor& y, const Tensor& R,
                         const std::string& where) {
  const size_t nx = x.f.size(), ny = R.f.size();
  const size_t nterms = r.terms.size(), ngroups = r.groups.size();
  std::vector<std::vector<float>> xs(nterms), ws(nterms);
  std::vector<std::vector<float>> denom(ngroups, std::vector<float>(ny, 0.0f));
  std::vector<float> z(ny);
  for (size_t t = 0; t < nterms; ++t) {
    const Term& term = r.terms[t];
    xs[t] = modify_input(x, term.input, r, L.channel_axis, where);
    ws[t] = modified(L.weight.f, term.weight, r.gamma);
    L.forward(xs[t].data(), ws[t].data(), z.data());
    if (!L.bias.f.empty() && term.bias != ParamMod::Zero)
      for (size_t j = 0; j < ny; ++j) z[j] += modify_param(L.bias.f[j], term.bias, r.gamma);
    auto& d = denom[term.group];
    for (size_t j = 0; j < ny; ++j) d[j] += term.denom_sign * z[j];
  }
  // Each group's ratio R / stab(sum), restricted to the outputs its mask selects.
  std::vector<std::vector<float>> ratio(ngroups, std::vector<float>(ny));
  for (size_t gi = 0; gi < ngroups; ++gi) {
    const OutputMask mask = r.groups[gi].mask;
    for (size_t j = 0; j < ny; ++j) {
      const bool on = mask == OutputMask::All || (mask == OutputMask::ZPositive ? y.f[j] > 0.0f : y.f[j] < 0.0f);
      ratio[gi][j] = on ? R.f[j] / stabilize(denom[gi][j], r.epsilon) : 0.0f;
    }
  }
  Tensor out = Tensor::zeros(x.shape);
  std::vector<float> grad(nx);
  for (size_t t = 0; t < nterms; ++t) {
    const Term& term = r.terms[t];
    L.backward(ratio[term.group].data(), ws[t].data(), grad.data());
    for (size_t i = 0; i < nx; ++i) out.f[i] += term.coef * xs[t][i] * grad[i];
  }
  return out;
}

}  // namespace relscope::relevance
