// relscope/relevance/vjp.cpp — the gradient of every op relscope runs.
//
// Sections: helpers (broadcast maps, index tracking) | linear layers | elementwise | softmax |
//           pools | normalisation | reductions | routing ops (by index tracking) | dispatch
//
// Routing ops (Reshape, Transpose, Slice, Gather, Concat, Split, Pad, ...) are not differentiated by
// hand: their own forward kernel runs once on an int64 tensor holding each element's source index,
// and the gradient scatters back along that map. The forward semantics (negative steps, clamped ends,
// opset-dependent inputs) are thereby reused, never re-implemented.
#include "relevance/vjp.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "engine/op_registry.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"

namespace relscope::relevance {

namespace {

// ---- helpers ------------------------------------------------------------------------------------------------
bool varying(const Plan& p, int v) { return v >= 0 && !p.is_constant(v) && p.dtypes[v] == DType::Float32; }

// Sum of `values` (out-shaped) into a tensor of shape `in` along the broadcast map.
Tensor reduce_to(const std::vector<float>& values, const Shape& out, const Shape& in) {
  Tensor t = Tensor::zeros(in);
  if (out == in) {
    t.f = values;
    return t;
  }
  const auto map = broadcast_map(out, in);
  for (size_t k = 0; k < map.size(); ++k) t.f[map[k]] += values[k];
  return t;
}

// The value of input `slot` at every output position.
std::vector<float> broadcast_values(const Tensor& t, const Shape& out) {
  if (t.shape == out) return t.f;
  const auto map = broadcast_map(out, t.shape);
  std::vector<float> v(map.size());
  for (size_t k = 0; k < map.size(); ++k) v[k] = t.f[map[k]];
  return v;
}

const std::vector<float>& grad_values(const std::vector<const Tensor*>& go, size_t k, std::vector<float>& zeros, int64_t n) {
  if (k < go.size() && go[k]) return go[k]->f;
  zeros.assign(static_cast<size_t>(n), 0.0f);
  return zeros;
}

// ---- routing ops by index tracking ----------------------------------------------------------------------------
void vjp_routing(const Graph& g, const Plan& p, const Node& n, const std::vector<const Tensor*>& go, std::vector<Tensor>& gi) {
  const std::vector<Tensor> outs = routing_sources(g, p, n);
  for (size_t k = 0; k < n.inputs.size(); ++k)
    if (varying(p, n.inputs[k])) gi[k] = Tensor::zeros(p.shapes[n.inputs[k]]);
  for (size_t o = 0; o < outs.size(); ++o) {
    if (o >= go.size() || !go[o] || outs[o].i.empty()) continue;
    for (size_t j = 0; j < outs[o].i.size(); ++j) {
      const int64_t id = outs[o].i[j];
      if (id <= 0) continue;
      const size_t k = routing_slot(id);
      const int64_t i = routing_index(id);
      if (k < gi.size() && !gi[k].f.empty() && i >= 0 && i < static_cast<int64_t>(gi[k].f.size())) gi[k].f[i] += go[o]->f[j];
    }
  }
}

}  // namespace

// ---- public helpers -------------------------------------------------------------------------------------------
// For each element of `out` (numpy broadcasting), the flat index of the element of `in` it reads.
std::vector<int64_t> broadcast_map(const Shape& out, const Shape& in) {
  const size_t r = out.size();
  Shape padded(r, 1);
  std::copy(in.begin(), in.end(), padded.begin() + (r - in.size()));
  const auto in_strides = shape_strides(padded);
  const int64_t n = shape_numel(out);
  std::vector<int64_t> map(static_cast<size_t>(n));
  std::vector<int64_t> idx(r, 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t src = 0;
    for (size_t d = 0; d < r; ++d) src += (padded[d] == 1 ? 0 : idx[d]) * in_strides[d];
    map[k] = src;
    for (int d = static_cast<int>(r) - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return map;
}

std::vector<Tensor> routing_sources(const Graph& g, const Plan& p, const Node& n) {
  RunCtx ctx{g, n, g.opset, {}, {}};
  std::vector<Tensor> ids(n.inputs.size());
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int v = n.inputs[k];
    const bool tracked = v >= 0 && p.dtypes[v] == DType::Float32;
    if (v < 0) {
      ctx.in.push_back(nullptr);
    } else if (n.op == Op::Pad && k == 2) {   // the fill value must be int64 for an int64 data input
      ids[k] = Tensor::from_ints({}, {0});
      ctx.in.push_back(&ids[k]);
    } else if (tracked) {
      ids[k] = Tensor::zeros(p.shapes[v], DType::Int64);
      for (size_t i = 0; i < ids[k].i.size(); ++i) ids[k].i[i] = (static_cast<int64_t>(k) << kRoutingSlotShift) + static_cast<int64_t>(i) + 1;
      ctx.in.push_back(&ids[k]);
    } else {
      ctx.in.push_back(p.constants[v]);
    }
  }
  std::vector<Tensor> outs(n.outputs.size());
  for (size_t o = 0; o < n.outputs.size(); ++o) {
    const int v = n.outputs[o];
    if (v < 0) {
      ctx.out.push_back(nullptr);
      continue;
    }
    outs[o] = Tensor::zeros(p.shapes[v], DType::Int64);
    ctx.out.push_back(&outs[o]);
  }
  op_impl(n.op).run(ctx);
  return outs;
}

void vjp(const Graph& g, const Plan& p, const Activations& act, const Node& n, const std::vector<const Tensor*>& go,
         std::vector<Tensor>& gi) {
  gi.assign(n.inputs.size(), Tensor{});
  const std::string where = g.node_label(n);
  const int out0 = n.outputs[0];
  const Shape& ys = p.shapes[out0];
  std::vector<float> zeros;
  const std::vector<float>& dy = grad_values(go, 0, zeros, shape_numel(ys));
  auto in = [&](size_t k) -> const Tensor& { return act.get(n.inputs[k]); };
  auto want = [&](size_t k) { return k < n.inputs.size() && varying(p, n.inputs[k]); };
  auto same_as = [&](size_t k) { return Tensor::zeros(p.shapes[n.inputs[k]]); };

  switch (n.op) {
    // ---- linear layers -------------------------------------------------------------------------------------
    case Op::Conv:
    case Op::ConvTranspose: {
      if (want(1)) fail(ErrorKind::Unsupported, where + ": gradients with respect to varying weights are not supported");
      if (!want(0)) return;
      const ConvParams cp = n.op == Op::Conv ? resolve_conv(n, in(0).shape, in(1).shape, where)
                                             : resolve_conv_transpose(n, in(0).shape, in(1).shape, where);
      gi[0] = same_as(0);
      if (n.op == Op::Conv)
        kernels::conv_backward_data(cp, dy.data(), in(1).f.data(), gi[0].f.data());
      else
        kernels::conv_forward(cp, dy.data(), in(1).f.data(), nullptr, gi[0].f.data());
      return;
    }
    case Op::Gemm: {
      const Tensor &A = in(0), &B = in(1);
      const GemmParams gp = resolve_gemm(n, A.shape, B.shape, n.inputs.size() > 2 && n.inputs[2] >= 0 ? &p.shapes[n.inputs[2]] : nullptr, where);
      const int64_t M = gp.M, N = gp.N, K = gp.K;
      const int64_t lda = gp.transA ? M : K, ldb = gp.transB ? K : N;
      if (want(0)) {
        gi[0] = same_as(0);
        if (!gp.transA)
          kernels::gemm(false, !gp.transB, M, K, N, gp.alpha, dy.data(), N, B.f.data(), ldb, 0, gi[0].f.data(), K);
        else
          kernels::gemm(gp.transB, true, K, M, N, gp.alpha, B.f.data(), ldb, dy.data(), N, 0, gi[0].f.data(), M);
      }
      if (want(1)) {
        gi[1] = same_as(1);
        if (!gp.transB)
          kernels::gemm(!gp.transA, false, K, N, M, gp.alpha, A.f.data(), lda, dy.data(), N, 0, gi[1].f.data(), N);
        else
          kernels::gemm(true, gp.transA, N, K, M, gp.alpha, dy.data(), N, A.f.data(), lda, 0, gi[1].f.data(), K);
      }
      if (want(2)) {
        std::vector<float> scaled(dy);
        for (float& v : scaled) v *= gp.beta;
        gi[2] = reduce_to(scaled, {M, N}, p.shapes[n.inputs[2]]);
      }
      return;
    }
    case Op::MatMul: {
      const Tensor &A = in(0), &B = in(1);
      const MatMulParams mp = resolve_matmul(A.shape, B.shape, where);
      const int64_t M = mp.M, N = mp.N, K = mp.K;
      if (want(0)) gi[0] = same_as(0);
      if (want(1)) gi[1] = same_as(1);
      for (size_t b = 0; b < mp.a_offset.size(); ++b) {
        const float* dyb = dy.data() + b * M * N;
        const float* a = A.f.data() + mp.a_offset[b] * M * K;
        const float* bb = B.f.data() + mp.b_offset[b] * K * N;
        if (want(0)) kernels::gemm(false, true, M, K, N, 1, dyb, N, bb, N, 1, gi[0].f.data() + mp.a_offset[b] * M * K, K);
        if (want(1)) kernels::gemm(true, false, K, N, M, 1, a, K, dyb, N, 1, gi[1].f.data() + mp.b_offset[b] * K * N, N);
      }
      return;
    }
    // ---- elementwise -----------------------------------------------------------------------------------------
    case Op::Add:
    case Op::Sub: {
      if (want(0)) gi[0] = reduce_to(dy, ys, p.shapes[n.inputs[0]]);
      if (want(1)) {
        std::vector<float> d(dy);
        if (n.op == Op::Sub)
          for (float& v : d) v = -v;
        gi[1] = reduce_to(d, ys, p.shapes[n.inputs[1]]);
      }
      return;
    }
    case Op::Mul:
    case Op::Div: {
      const auto a = broadcast_values(in(0), ys), b = broadcast_values(in(1), ys);
      std::vector<float> d(dy.size());
      if (want(0)) {
        for (size_t k = 0; k < d.size(); ++k) d[k] = n.op == Op::Mul ? dy[k] * b[k] : dy[k] / b[k];
        gi[0] = reduce_to(d, ys, p.shapes[n.inputs[0]]);
      }
      if (want(1)) {
        for (size_t k = 0; k < d.size(); ++k) d[k] = n.op == Op::Mul ? dy[k] * a[k] : -dy[k] * a[k] / (b[k] * b[k]);
        gi[1] = reduce_to(d, ys, p.shapes[n.inputs[1]]);
      }
      return;
    }
    case Op::Pow: {
      const auto a = broadcast_values(in(0), ys), e = broadcast_values(in(1).dtype == DType::Float32 ? in(1) : Tensor::from_floats(in(1).shape, in(1).as_floats()), ys);
      const Tensor& y = act.get(out0);
      std::vector<float> d(dy.size());
      if (want(0)) {
        for (size_t k = 0; k < d.size(); ++k) d[k] = dy[k] * e[k] * std::pow(a[k], e[k] - 1.0f);
        gi[0] = reduce_to(d, ys, p.shapes[n.inputs[0]]);
      }
      if (want(1)) {
        for (size_t k = 0; k < d.size(); ++k) d[k] = a[k] > 0 ? dy[k] * y.f[k] * std::log(a[k]) : 0.0f;
        gi[1] = reduce_to(d, ys, p.shapes[n.inputs[1]]);
      }
      return;
    }
    case Op::Sqrt:
    case Op::Erf:
    case Op::Relu:
    case Op::LeakyRelu:
    case Op::Sigmoid:
    case Op::Tanh:
    case Op::Clip: {
      if (!want(0)) return;
      const Tensor& x = in(0);
      const Tensor& y = act.get(out0);
      gi[0] = same_as(0);
      float lo = -INFINITY, hi = INFINITY, alpha = n.attrs.get_float("alpha", 0.01f);
      if (n.op == Op::Clip) {
        if (g.opset < 11) {
          lo = n.attrs.get_float("min", lo);
          hi = n.attrs.get_float("max", hi);
        } else {
          if (n.inputs.size() > 1 && n.inputs[1] >= 0) lo = act.get(n.inputs[1]).as_floats()[0];
          if (n.inputs.size() > 2 && n.inputs[2] >= 0) hi = act.get(n.inputs[2]).as_floats()[0];
        }
      }
      const float two_over_sqrt_pi = 1.1283791670955126f;
      for (size_t k = 0; k < dy.size(); ++k) {
        const float xv = x.f[k], yv = y.f[k];
        float d = 0;
        switch (n.op) {
          case Op::Sqrt: d = 0.5f / yv; break;
          case Op::Erf: d = two_over_sqrt_pi * std::exp(-xv * xv); break;
          case Op::Relu: d = xv > 0 ? 1.0f : 0.0f; break;
          case Op::LeakyRelu: d = xv > 0 ? 1.0f : alpha; break;
          case Op::Sigmoid: d = yv * (1 - yv); break;
          case Op::Tanh: d = 1 - yv * yv; break;
          default: d = (xv >= lo && xv <= hi) ? 1.0f : 0.0f; break;
        }
        gi[0].f[k] = dy[k] * d;
      }
      return;
    }
    // ---- softmax -----------------------------------------------------------------------------------------------
    case Op::Softmax:
    case Op::LogSoftmax: {
      if (!want(0)) return;
      const Tensor& y = act.get(out0);
      const int64_t rank = y.rank();
      const bool coerce_2d = g.opset < 13;
      const int64_t axis = normalize_axis(n.attrs.get_int("axis", coerce_2d ? 1 : -1), rank, "axis", where);
      int64_t outer = 1, len = 1, inner = 1;
      for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : (d == axis || coerce_2d ? len : inner)) *= y.shape[d];
      gi[0] = same_as(0);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t base = o * len * inner + i;
          double dot = 0;
          for (int64_t l = 0; l < len; ++l) dot += n.op == Op::Softmax ? dy[base + l * inner] * y.f[base + l * inner] : dy[base + l * inner];
          for (int64_t l = 0; l < len; ++l) {
            const int64_t k = base + l * inner;
            gi[0].f[k] = n.op == Op::Softmax ? y.f[k] * (dy[k] - static_cast<float>(dot))
                                            : dy[k] - std::exp(y.f[k]) * static_cast<float>(dot);
          }
        }
      return;
    }
    // ---- pools -------------------------------------------------------------------------------------------------
    case Op::MaxPool: {
      if (!want(0)) return;
      // Where each window's maximum sits depends on the pass only: kept on it for the next sweep (another
      // target, CRP's concepts), as the linear rules keep their denominators.
      const std::string key = "maxpool-argmax/" + std::to_string(out0);
      const std::vector<int64_t>* idx = act.memo.find<int64_t>(key);
      std::vector<int64_t> fresh;
      if (!idx) {
        PoolParams row_major = resolve_pool(n, in(0).shape, PoolKind::Max, where);
        row_major.storage_order = 0;
        std::vector<float> y(dy.size());
        fresh.resize(dy.size());
        kernels::max_pool(row_major, in(0).f.data(), y.data(), fresh.data());
        idx = act.memo.fits(fresh.size() * sizeof(int64_t)) ? act.memo.put(key, std::move(fresh)) : &fresh;
      }
      if (idx->size() != dy.size()) fail(ErrorKind::Internal, where + ": memoised max-pool indices of another size");
      gi[0] = same_as(0);
      for (size_t k = 0; k < dy.size(); ++k)
        if ((*idx)[k] >= 0 && (*idx)[k] < static_cast<int64_t>(gi[0].f.size())) gi[0].f[(*idx)[k]] += dy[k];
      return;
    }
    case Op::AveragePool: {
      if (!want(0)) return;
      // The pool is linear: its adjoint spreads dy / divisor over each window's real taps, with the forward
      // kernel's divisor (real taps, or with count_include_pad the taps inside the padded input; a ceil_mode
      // overhang past the end padding never counts).
      gi[0] = same_as(0);
      kernels::avg_pool_backward(resolve_pool(n, in(0).shape, PoolKind::Average, where), dy.data(), gi[0].f.data());
      return;
    }
    case Op::GlobalAveragePool:
    case Op::GlobalMaxPool: {
      if (!want(0)) return;
      const Tensor& x = in(0);
      const int64_t planes = x.shape[0] * x.shape[1], size = x.numel() / planes;
      gi[0] = same_as(0);
      for (int64_t pl = 0; pl < planes; ++pl) {
        const float* xp = x.f.data() + pl * size;
        float* gp = gi[0].f.data() + pl * size;
        if (n.op == Op::GlobalAveragePool) {
          for (int64_t i = 0; i < size; ++i) gp[i] = dy[pl] / static_cast<float>(size);
        } else {
          int64_t best = 0;
          for (int64_t i = 1; i < size; ++i)
            if (xp[i] > xp[best]) best = i;
          gp[best] = dy[pl];
        }
      }
      return;
    }
    // ---- normalisation -------------------------------------------------------------------------------------------
    case Op::BatchNormalization: {
      if (!want(0)) return;
      const Tensor &x = in(0), &scale = in(1), &var = in(4);
      const float eps = n.attrs.get_float("epsilon", 1e-5f);
      const int64_t C = x.shape[1], inner = x.numel() / (x.shape[0] * C);
      gi[0] = same_as(0);
      for (size_t k0 = 0, row = 0; k0 < dy.size(); k0 += static_cast<size_t>(inner), ++row) {   // one channel's row
        const size_t c = row % static_cast<size_t>(C), k1 = std::min(dy.size(), k0 + static_cast<size_t>(inner));
        const float sc = scale.f[c], sd = std::sqrt(var.f[c] + eps);
        for (size_t k = k0; k < k1; ++k) gi[0].f[k] = dy[k] * sc / sd;
      }
      return;
    }
    case Op::LayerNormalization: {
      if (!want(0)) return;
      const Tensor &x = in(0), &gamma = in(1);
      const int64_t axis = normalize_axis(n.attrs.get_int("axis", -1), x.rank(), "axis", where);
      const float eps = n.attrs.get_float("epsilon", 1e-5f);
      int64_t inner = 1;
      for (int64_t d = axis; d < x.rank(); ++d) inner *= x.shape[d];
      const int64_t rows = x.numel() / inner;
      const auto gam = broadcast_values(gamma, Shape(x.shape.begin() + axis, x.shape.end()));
      gi[0] = same_as(0);
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.f.data() + r * inner;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner; ++i) mean += xr[i];
        mean /= inner;
        for (int64_t i = 0; i < inner; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        const double inv = 1.0 / std::sqrt(var / inner + eps);
        double m1 = 0, m2 = 0;
        for (int64_t i = 0; i < inner; ++i) {
          const double dxh = dy[r * inner + i] * gam[i], xh = (xr[i] - mean) * inv;
          m1 += dxh;
          m2 += dxh * xh;
        }
        m1 /= inner;
        m2 /= inner;
        for (int64_t i = 0; i < inner; ++i) {
          const double dxh = dy[r * inner + i] * gam[i], xh = (xr[i] - mean) * inv;
          gi[0].f[r * inner + i] = static_cast<float>(inv * (dxh - m1 - xh * m2));
        }
      }
      return;
    }
    // ---- reductions ------------------------------------------------------------------------------------------------
    case Op::ReduceMean:
    case Op::ReduceSum:
    case Op::ReduceMax: {
      if (!want(0)) return;
      const Tensor& x = in(0);
      const Tensor* axes = n.inputs.size() > 1 && n.inputs[1] >= 0 ? p.constants[n.inputs[1]] : nullptr;
      const ReduceParams rp = resolve_reduce(n, g.opset, x.shape, axes, where);
      if (rp.noop) {
        gi[0] = Tensor::from_floats(x.shape, dy);
        return;
      }
      const auto& reduce = rp.mask;
      Shape kept = x.shape;   // the output with keepdims = 1
      int64_t count = 1;
      for (size_t d = 0; d < kept.size(); ++d)
        if (reduce[d]) {
          count *= kept[d];
          kept[d] = 1;
        }
      const auto map = broadcast_map(x.shape, kept);
      gi[0] = same_as(0);
      if (n.op != Op::ReduceMax) {
        const float scale = n.op == Op::ReduceMean ? 1.0f / static_cast<float>(count) : 1.0f;
        for (size_t k = 0; k < map.size(); ++k) gi[0].f[k] = dy[map[k]] * scale;
      } else {   // the first maximal element of each group receives the gradient
        std::vector<int64_t> best(dy.size(), -1);
        for (size_t k = 0; k < map.size(); ++k)
          if (best[map[k]] < 0 || x.f[k] > x.f[best[map[k]]]) best[map[k]] = static_cast<int64_t>(k);
        for (size_t j = 0; j < best.size(); ++j)
          if (best[j] >= 0) gi[0].f[best[j]] = dy[j];
      }
      return;
    }
    // ---- routing ----------------------------------------------------------------------------------------------------
    case Op::Flatten:
    case Op::Reshape:
    case Op::Squeeze:
    case Op::Unsqueeze:
    case Op::Identity:
    case Op::Dropout:
    case Op::Transpose:
    case Op::Concat:
    case Op::Split:
    case Op::Slice:
    case Op::Gather:
    case Op::Pad:
      vjp_routing(g, p, n, go, gi);
      return;
    case Op::Cast:
      if (want(0)) gi[0] = Tensor::from_floats(p.shapes[n.inputs[0]], dy);
      return;
    default:
      fail(ErrorKind::Unsupported, where + ": no gradient for this op");
  }
}

}  // namespace relscope::relevance
