// relscope/relevance/gpu_forward.cpp — the forward pass of the plan as GPU steps, one node at a time.
//
// Sections: helpers (Clip bounds, Pow's exponent, trailing reductions, reshapes) | forward_node
#include <cmath>

#include "relevance/composite.h"
#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance::gpu_detail {

// ---- helpers -----------------------------------------------------------------------------------------------------
std::pair<float, float> clip_bounds(const Compiler& c, const Node& n) {
  float lo = -INFINITY, hi = INFINITY;
  if (c.g.opset < 11) return {n.attrs.get_float("min", lo), n.attrs.get_float("max", hi)};
  for (size_t k = 1; k < 3 && k < n.inputs.size(); ++k) {
    const int v = n.inputs[k];
    if (v < 0) continue;
    if (!c.p.is_constant(v)) unsupported(c.g.node_label(n) + ": Clip with computed bounds");
    (k == 1 ? lo : hi) = c.p.constants[v]->as_floats()[0];
  }
  return {lo, hi};
}

float pow_exponent(const Compiler& c, const Node& n) {
  const int v = n.inputs.size() > 1 ? n.inputs[1] : -1;
  if (v < 0 || !c.p.is_constant(v) || c.p.constants[v]->numel() != 1)
    unsupported(c.g.node_label(n) + ": Pow with an exponent that is not one constant");
  return c.p.constants[v]->as_floats()[0];
}

namespace {

// The number of elements a ReduceMax reduces: only trailing dims (a max pool over the plane), else Unsupported.
int64_t trailing_reduce_size(const Compiler& c, const Node& n) {
  const Shape& xs = c.p.shapes[n.inputs[0]];
  const Tensor* axes = n.inputs.size() > 1 && n.inputs[1] >= 0 ? c.p.constants[n.inputs[1]] : nullptr;
  const ReduceParams rp = resolve_reduce(n, c.g.opset, xs, axes, c.g.node_label(n));
  size_t first = rp.mask.size();
  for (size_t d = 0; d < rp.mask.size(); ++d)
    if (rp.mask[d] && first == rp.mask.size()) first = d;
  int64_t size = 1;
  for (size_t d = first; d < rp.mask.size(); ++d) {
    if (!rp.mask[d]) unsupported(c.g.node_label(n) + ": " + std::string(op_name(n.op)) + " over dims that are not the trailing ones");
    size *= xs[d];
  }
  return size;
}

}  // namespace

bool only_reshapes(Op op) {
  return op == Op::Flatten || op == Op::Reshape || op == Op::Squeeze || op == Op::Unsqueeze || op == Op::Identity ||
         op == Op::Dropout;
}


// ---- forward_node ----------------------------------------------------------------------------------------------------
void forward_node(Compiler& c, const Node& n) {
  Builder& B = c.B;
  const std::string where = c.g.node_label(n);
  const int out = n.outputs[0];
  const int64_t ny = c.numel(out);
  if (is_routing(n.op)) {   // Split's several outputs included
    routing_forward(c, n);
    return;
  }
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (n.outputs[k] >= 0) unsupported(where + ": a second output");
  auto alias = [&] {
    c.buf[out] = c.value(n.inputs[0]);
    c.nonneg[out] = c.nonneg[n.inputs[0]];
  };
  auto new_out = [&] { return c.new_value(out); };
  if (only_reshapes(n.op)) {
    alias();
    return;
  }
  switch (n.op) {
    case Op::Conv:
    case Op::ConvTranspose:
    case Op::Gemm:
    case Op::MatMul: {
      if (n.op == Op::MatMul && node_role(c.g, c.p, n) == NodeRole::Product) {
        matmul_forward(c, n);
        return;
      }
      if (node_role(c.g, c.p, n) != NodeRole::Linear) unsupported(where + ": only constant weights");
      const LinearLayer L = linear_layer(c.g, c.p, n);
      const int x = c.value(n.inputs[L.input_slot]);
      const Weight w = weight_buffer(B, L, ParamMod::Identity, 0.0f);
      const int y = new_out();
      const int bias = bias_buffer(B, L, ParamMod::Identity, 0.0f, 1.0f);
      if (L.form == LinearLayer::Form::Conv) {
        conv_step(B, Kernel::ConvForward, L.conv, x, w.buffer, bias, y);
        return;
      }
      linear_forward(B, L, x, w, y);
      if (bias >= 0) add_bias(B, L, bias, y);
      return;
    }
    case Op::Relu:
      B.ew(Ew::Relu, ny, c.value(n.inputs[0]), -1, -1, new_out());
      c.nonneg[out] = true;
      return;
    case Op::LeakyRelu:
      B.ew(Ew::LeakyRelu, ny, c.value(n.inputs[0]), -1, -1, new_out(), n.attrs.get_float("alpha", 0.01f));
      return;
    case Op::Sigmoid:
      B.ew(Ew::Sigmoid, ny, c.value(n.inputs[0]), -1, -1, new_out());
      c.nonneg[out] = true;
      return;
    case Op::Tanh:
      B.ew(Ew::Tanh, ny, c.value(n.inputs[0]), -1, -1, new_out());
      return;
    case Op::Clip: {
      const auto [lo, hi] = clip_bounds(c, n);
      B.ew(Ew::Clip, ny, c.value(n.inputs[0]), -1, -1, new_out(), lo, 1, 0, 0, hi);
      c.nonneg[out] = lo >= 0.0f;
      return;
    }
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div: {
      if (n.inputs.size() != 2) unsupported(where + ": " + std::string(op_name(n.op)) + " of " + std::to_string(n.inputs.size()) + " inputs");
      const Shape& ys = c.p.shapes[out];
      const Operand a = broadcast_value(c, n.inputs[0], ys), b = broadcast_value(c, n.inputs[1], ys);
      const int y = new_out();
      if (n.op == Op::Sub) {   // y = a - b: a copy of a, then y += -1 * b
        B.ew(Ew::Copy, ny, a.buffer, -1, -1, y);
        B.ew(Ew::Accumulate, ny, b.buffer, -1, -1, y, -1.0f);
      } else {
        B.ew(n.op == Op::Add ? Ew::Add : n.op == Op::Mul ? Ew::Mul : Ew::Divide, ny, a.buffer, b.buffer, -1, y);
        c.nonneg[out] = c.nonneg[n.inputs[0]] && c.nonneg[n.inputs[1]];
      }
      if (a.temp) B.release(a.buffer);
      if (b.temp) B.release(b.buffer);
      return;
    }
    case Op::Softmax:
    case Op::LogSoftmax:
      softmax_forward(c, n);
      return;
    case Op::LayerNormalization:
      layer_norm_forward(c, n);
      return;
    case Op::BatchNormalization: {
      for (size_t k = 1; k < 5; ++k)
        if (k >= n.inputs.size() || !c.p.is_constant(n.inputs[k])) unsupported(where + ": BatchNormalization with non-constant statistics");
      const Tensor &gam = *c.p.constants[n.inputs[1]], &beta = *c.p.constants[n.inputs[2]];
      const Tensor &mean = *c.p.constants[n.inputs[3]], &var = *c.p.constants[n.inputs[4]];
      const float eps = n.attrs.get_float("epsilon", 1e-5f);
      const Shape& xs = c.p.shapes[n.inputs[0]];
      const int64_t C = xs.size() > 1 ? xs[1] : 1, inner = ny / std::max<int64_t>(1, xs[0] * C);
      std::vector<float> scale(C), shift(C);
      for (int64_t k = 0; k < C; ++k) {
        scale[k] = gam.f[k] / std::sqrt(var.f[k] + eps);
        shift[k] = beta.f[k] - mean.f[k] * scale[k];
      }
      const int sb = B.owned(std::move(scale)), hb = B.owned(std::move(shift));
      c.bn_scale[out] = sb;
      B.ew(Ew::ChannelAffine, ny, c.value(n.inputs[0]), sb, hb, new_out(), 0.0f, inner, C);
      return;
    }
    case Op::MaxPool:
    case Op::AveragePool: {
      const bool is_max = n.op == Op::MaxPool;
      const PoolParams pp = resolve_pool(n, c.p.shapes[n.inputs[0]], is_max ? PoolKind::Max : PoolKind::Average, where);
      const int x = c.value(n.inputs[0]), y = new_out();
      const int64_t planes = pp.N * pp.C;
      Step& s = is_max ? B.step(Kernel::MaxPool, planes * pp.out_size(), {x, y, c.pass_buffer(ny)})
                       : B.step(Kernel::AvgPool, planes * pp.out_size(), {x, y});
      s.words[1] = static_cast<uint32_t>(planes);
      put3(s, 2, pp.in), put3(s, 5, pp.out), put3(s, 8, pp.kernel), put3(s, 11, pp.stride), put3(s, 14, pp.dilation);
      put3(s, 17, pp.pad_begin), put3(s, 20, pp.pad_end);
      s.words[23] = pp.count_include_pad ? 1 : 0;
      c.pools[out] = s;
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    case Op::Sqrt:
      B.ew(Ew::Sqrt, ny, c.value(n.inputs[0]), -1, -1, new_out());
      c.nonneg[out] = true;
      return;
    case Op::Erf:
      B.ew(Ew::Erf, ny, c.value(n.inputs[0]), -1, -1, new_out());
      return;
    case Op::Pow: {
      const float e = pow_exponent(c, n);
      B.ew(Ew::Pow, ny, c.value(n.inputs[0]), -1, -1, new_out(), e);
      c.nonneg[out] = c.nonneg[n.inputs[0]] || (e == std::floor(e) && std::fmod(e, 2.0f) == 0.0f);
      return;
    }
    case Op::ReduceMean:
    case Op::ReduceSum:
      reduce_forward(c, n);
      return;
    case Op::GlobalMaxPool:
    case Op::ReduceMax: {
      // The maximum over trailing dims is a max pool whose window is the whole plane (its index routes the
      // gradient, as the CPU's vjp does).
      const int64_t planes = ny, size = n.op == Op::ReduceMax ? trailing_reduce_size(c, n) : c.numel(n.inputs[0]) / std::max<int64_t>(ny, 1);
      Step& s = B.step(Kernel::MaxPool, planes, {c.value(n.inputs[0]), new_out(), c.pass_buffer(ny)});
      s.words[1] = static_cast<uint32_t>(planes);
      put3(s, 2, {1, 1, size}), put3(s, 5, {1, 1, 1}), put3(s, 8, {1, 1, size}), put3(s, 11, {1, 1, 1}), put3(s, 14, {1, 1, 1});
      put3(s, 17, {0, 0, 0}), put3(s, 20, {0, 0, 0});
      c.pools[out] = s;
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    case Op::GlobalAveragePool: {
      const Shape& xs = c.p.shapes[n.inputs[0]];
      const int64_t planes = xs[0] * xs[1];
      Step& s = B.step(Kernel::RowMean, planes, {c.value(n.inputs[0]), new_out()});
      s.words[1] = static_cast<uint32_t>(c.numel(n.inputs[0]) / std::max<int64_t>(planes, 1));
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    default:
      unsupported(where + ": op " + std::string(op_name(n.op)) + " has no GPU kernel yet");
  }
}

}  // namespace relscope::relevance::gpu_detail
