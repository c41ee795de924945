// relscope/relevance/crp.cpp — finding the concept layer, masking its channels, summing them.
#include "relevance/crp.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "relevance/composite.h"

namespace relscope::relevance {

ConceptLayer find_concept_layer(const Graph& g, const Plan& p, const std::string& name) {
  std::string linear;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    const bool is_linear = node_role(g, p, n) == NodeRole::Linear;
    if (is_linear) linear += (linear.empty() ? "" : ", ") + n.name;
    if (n.name != name) continue;
    if (!is_linear)
      fail_input("--layer " + name + ": a " + n.op_type + " node; concepts are the channels of a linear layer (Conv, ConvTranspose, Gemm, MatMul with constant weights)");
    ConceptLayer c;
    c.node = k;
    c.value = n.outputs[0];
    const Shape& s = p.shapes[c.value];
    if (s.size() < 2) fail_input("--layer " + name + ": its output has rank " + std::to_string(s.size()) + "; it needs a batch and a channel axis");
    c.axis = (n.op == Op::Conv || n.op == Op::ConvTranspose) ? 1 : static_cast<int>(s.size()) - 1;
    c.channels = s[c.axis];
    return c;
  }
  fail_input("--layer " + name + ": no node has this name; linear layers: " + (linear.empty() ? "(none)" : linear));
}

namespace {

// Row-major view of `shape` as (outer, channels, inner) around `axis`.
struct AxisView {
  int64_t outer = 1, channels = 1, inner = 1;
};

AxisView view_around(const Shape& shape, int axis) {
  AxisView v;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d < axis) v.outer *= shape[d];
    else if (d == axis) v.channels = shape[d];
    else v.inner *= shape[d];
  }
  return v;
}

}  // namespace

std::vector<float> channel_mask(int64_t channels, const std::vector<int64_t>& keep) {
  std::vector<float> mask(static_cast<size_t>(channels), 0.0f);
  for (int64_t c : keep) {
    if (c < 0 || c >= channels)
      fail_input("--channels: channel " + std::to_string(c) + " is out of range: the layer has " + std::to_string(channels) + " channels");
    mask[c] = 1.0f;
  }
  return mask;
}

void keep_channels(Tensor& r, int axis, const std::vector<int64_t>& keep) {
  const AxisView v = view_around(r.shape, axis);
  const std::vector<float> kept = channel_mask(v.channels, keep);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t c = 0; c < v.channels; ++c)
      if (kept[c] == 0.0f)
        for (int64_t i = 0; i < v.inner; ++i) r.f[(o * v.channels + c) * v.inner + i] = 0.0f;
}

Tensor channel_sums(const Tensor& r, int axis) {
  const AxisView v = view_around(r.shape, axis);
  const int64_t n = r.shape[0], per_sample_outer = v.outer / n;
  Tensor out = Tensor::zeros({n, v.channels});
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t c = 0; c < v.channels; ++c) {
      double s = 0;
      for (int64_t i = 0; i < v.inner; ++i) s += r.f[(o * v.channels + c) * v.inner + i];
      out.f[(o / per_sample_outer) * v.channels + c] += static_cast<float>(s);
    }
  return out;
}

// ---- ranking ----------------------------------------------------------------------------------------------
std::vector<int64_t> rank_channels(const float* r, int64_t n) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [r](int64_t a, int64_t b) { return r[a] > r[b]; });
  return order;
}

}  // namespace relscope::relevance
