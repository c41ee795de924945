// relscope/relevance/canonize.cpp — BatchNorm merging (see canonize.h).
#include "relevance/canonize.h"

#include <cmath>

namespace relscope::relevance {

namespace {

// The initializer behind v, looking through Identity nodes: PyTorch's exporter deduplicates equal
// initializers into `b = Identity(a)`, e.g. the biases of two BatchNorms feeding one residual Add, which get
// the same gradient from the same zero start and stay equal. -1 when v is not a constant of that kind.
int initializer_of(const Graph& g, int v) {
  for (int hops = 0; v >= 0 && hops < 64; ++hops) {
    if (g.values[v].is_initializer) return v;
    const int p = g.values[v].producer;
    if (p < 0 || g.nodes[p].op != Op::Identity || g.nodes[p].inputs.size() != 1) return -1;
    v = g.nodes[p].inputs[0];
  }
  return -1;
}

bool is_initializer(const Graph& g, int v) { return initializer_of(g, v) >= 0; }

int consumers(const Graph& g, int v) {
  int k = 0;
  for (const auto& n : g.nodes)
    for (int in : n.inputs) k += in == v;
  for (int out : g.outputs) k += out == v;
  return k;
}

int add_initializer(Graph& g, const std::string& name, Tensor t) {
  Value v;
  v.name = name;
  v.is_initializer = true;
  v.initializer = std::make_shared<const Tensor>(std::move(t));
  g.values.push_back(std::move(v));
  const int id = static_cast<int>(g.values.size()) - 1;
  g.value_index[name] = id;
  return id;
}

}  // namespace

Graph canonize(const Graph& original, CanonizeReport* report) {
  Graph g = original;
  for (Node& bn : g.nodes) {
    if (bn.op != Op::BatchNormalization || bn.inputs.size() != 5 || bn.outputs.size() != 1) continue;
    bool constant_stats = true;
    for (int k = 1; k < 5; ++k) constant_stats &= is_initializer(g, bn.inputs[k]);
    const int x = bn.inputs[0];
    if (!constant_stats || g.values[x].producer < 0 || consumers(g, x) != 1) continue;
    Node& layer = g.nodes[g.values[x].producer];
    if (layer.op != Op::Conv && layer.op != Op::ConvTranspose && layer.op != Op::Gemm) continue;
    if (!is_initializer(g, layer.inputs[1])) continue;
    const bool has_bias = layer.inputs.size() > 2 && layer.inputs[2] >= 0;
    if (has_bias && !is_initializer(g, layer.inputs[2])) continue;

    const auto param = [&](int v) -> const Tensor& { return *g.values[initializer_of(g, v)].initializer; };
    const Tensor &gamma = param(bn.inputs[1]), &beta = param(bn.inputs[2]);
    const Tensor &mean = param(bn.inputs[3]), &var = param(bn.inputs[4]);
    const float eps = bn.attrs.get_float("epsilon", 1e-5f);
    const int64_t C = gamma.numel();
    Tensor w = param(layer.inputs[1]);

    // Where output channel j sits in the weight tensor, and the layer's own bias scale.
    int64_t outer = 0, per_channel = 0, inner = 0;   // w viewed as (outer, channels, inner)
    float bias_scale = 1.0f;
    if (layer.op == Op::Conv) {
      outer = 1, per_channel = w.shape[0], inner = w.numel() / w.shape[0];
    } else if (layer.op == Op::ConvTranspose) {
      if (layer.attrs.get_int("group", 1) != 1) continue;   // grouped transposed weights interleave channels
      outer = w.shape[0], per_channel = w.shape[1], inner = w.numel() / (w.shape[0] * w.shape[1]);
    } else {   // Gemm: Y = alpha op(A) op(B) + beta C, output features along op(B)'s columns
      if (layer.attrs.get_int("transA", 0) || w.rank() != 2) continue;
      bias_scale = layer.attrs.get_float("beta", 1.0f);
      if (bias_scale == 0.0f) continue;
      const bool transB = layer.attrs.get_int("transB", 0) != 0;
      outer = transB ? 1 : w.shape[0], per_channel = transB ? w.shape[0] : w.shape[1], inner = transB ? w.shape[1] : 1;
      // The output bias must be per feature: a C of any other shape (e.g. (M, N)) is left alone.
      if (has_bias && param(layer.inputs[2]).numel() != per_channel) continue;
    }
    if (per_channel != C) continue;

    std::vector<float> s(C);
    for (int64_t c = 0; c < C; ++c) s[c] = gamma.f[c] / std::sqrt(var.f[c] + eps);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < inner; ++i) w.f[(o * C + c) * inner + i] *= s[c];
    Tensor b = Tensor::zeros({C});
    for (int64_t c = 0; c < C; ++c) {
      const float old = has_bias ? param(layer.inputs[2]).f[c] * bias_scale : 0.0f;
      b.f[c] = ((old - mean.f[c]) * s[c] + beta.f[c]) / bias_scale;
    }
    layer.inputs[1] = add_initializer(g, g.values[layer.inputs[1]].name + "#bn_merged", std::move(w));
    const int bias_id = add_initializer(g, layer.name + "#bn_merged_bias", std::move(b));
    if (has_bias)
      layer.inputs[2] = bias_id;
    else
      layer.inputs.push_back(bias_id);
    if (report) report->merged.push_back(bn.name + " -> " + layer.name);
    bn.op = Op::Identity;
    bn.op_type = "Identity";
    bn.inputs = {x};
    bn.attrs = Attrs({}, g.node_label(bn));
  }
  return g;
}

}  // namespace relscope::relevance
