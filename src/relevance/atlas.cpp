// relscope/relevance/atlas.cpp — streaming top-K per channel, one sample at a layer, footprint boxes.
#include "relevance/atlas.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace relscope::relevance {

ConceptAtlas::ConceptAtlas(int64_t channels, int64_t k)
    : channels_(channels), k_(k), relmax_(static_cast<size_t>(channels)), actmax_(static_cast<size_t>(channels)) {
  if (channels < 1 || k < 1) fail(ErrorKind::Internal, "ConceptAtlas: needs channels >= 1 and k >= 1");
}

void ConceptAtlas::offer(std::vector<AtlasEntry>& top, const AtlasEntry& e) const {
  if (std::isnan(e.value)) return;
  auto ahead = [](const AtlasEntry& a, const AtlasEntry& b) {   // a ranks before b
    return a.value > b.value || (a.value == b.value && a.sample < b.sample);
  };
  size_t at = top.size();
  while (at > 0 && ahead(e, top[at - 1])) --at;
  if (at >= static_cast<size_t>(k_)) return;
  top.insert(top.begin() + static_cast<std::ptrdiff_t>(at), e);
  if (top.size() > static_cast<size_t>(k_)) top.pop_back();
}

void ConceptAtlas::add(int64_t sample, const Tensor& relevance, const Tensor& activation) {
  if (relevance.shape.empty() || relevance.shape[0] != channels_ || activation.shape != relevance.shape)
    fail(ErrorKind::Internal, "ConceptAtlas::add: expected (" + std::to_string(channels_) + ", ...) twice, got " +
                                  shape_str(relevance.shape) + " and " + shape_str(activation.shape));
  const int64_t positions = relevance.numel() / channels_;
  for (int64_t c = 0; c < channels_; ++c) {
    const float* r = relevance.f.data() + c * positions;
    const float* a = activation.f.data() + c * positions;
    double sum = 0;
    int64_t r_arg = 0, a_arg = 0;
    for (int64_t p = 0; p < positions; ++p) {
      sum += r[p];
      if (r[p] > r[r_arg]) r_arg = p;
      if (a[p] > a[a_arg]) a_arg = p;
    }
    offer(relmax_[static_cast<size_t>(c)], {sample, static_cast<float>(sum), r_arg});
    if (positions > 0) offer(actmax_[static_cast<size_t>(c)], {sample, a[a_arg], a_arg});
  }
  ++samples_;
}

void ConceptAtlas::merge(const ConceptAtlas& other) {
  if (other.channels_ != channels_ || other.k_ != k_)
    fail(ErrorKind::Internal, "ConceptAtlas::merge: atlases of different channels or k");
  for (size_t c = 0; c < relmax_.size(); ++c) {
    for (const AtlasEntry& e : other.relmax_[c]) offer(relmax_[c], e);
    for (const AtlasEntry& e : other.actmax_[c]) offer(actmax_[c], e);
  }
  samples_ += other.samples_;
}

namespace {

// (1, d1.., C, dk..) with the channel at `axis` -> (C, d1.., dk..).
Tensor channel_first(const Tensor& t, int axis) {
  int64_t outer = 1, inner = 1;
  Shape shape = {t.shape[static_cast<size_t>(axis)]};
  for (int d = 1; d < static_cast<int>(t.shape.size()); ++d) {
    if (d == axis) continue;
    shape.push_back(t.shape[static_cast<size_t>(d)]);
    (d < axis ? outer : inner) *= t.shape[static_cast<size_t>(d)];
  }
  const int64_t channels = shape[0];
  Tensor out = Tensor::zeros(shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) out.f[(c * outer + o) * inner + i] = t.f[(o * channels + c) * inner + i];
  return out;
}

}  // namespace

LayerSample layer_sample(Explainer& explainer, const Tensor& x, const ExplainRequest& request) {
  if (x.shape.empty() || x.shape[0] != 1) fail(ErrorKind::Internal, "layer_sample: one sample expected, got " + shape_str(x.shape));
  if (request.targets.size() > 1) fail_input("--target: give one class (or pred) for every sample");
  return layer_sample_from(explainer.concept_maps({x}, request));
}

LayerSample layer_sample_from(const ConceptMaps& m) {
  const Shape& shape = m.relevance.shape;
  if (shape.size() < 2 || shape[0] != 1 || m.activation.shape != shape || m.axis < 1 || m.axis >= static_cast<int>(shape.size()) ||
      m.targets.size() != 1 || m.targets[0] < 0 || m.targets[0] >= m.output.numel())
    fail_input("concept maps: one sample's relevance and activation of one shape, a channel axis and a target expected");
  LayerSample s;
  s.relevance = channel_first(m.relevance, m.axis);
  s.activation = channel_first(m.activation, m.axis);
  s.target = m.targets[0];
  s.output = m.output.f[static_cast<size_t>(s.target)];
  return s;
}

Box footprint_box(const Tensor& map, bool channels_last) {
  if (map.shape.size() != 4 || map.shape[0] != 1) fail(ErrorKind::Internal, "footprint_box: (1, C, H, W) expected, got " + shape_str(map.shape));
  const int64_t c_count = channels_last ? map.shape[3] : map.shape[1];
  const int64_t h = channels_last ? map.shape[1] : map.shape[2], w = channels_last ? map.shape[2] : map.shape[3];
  Box b{h, w, 0, 0};
  for (int64_t c = 0; c < c_count; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx) {
        const int64_t at = channels_last ? (y * w + xx) * c_count + c : (c * h + y) * w + xx;
        if (map.f[static_cast<size_t>(at)] == 0.0f) continue;
        b.top = std::min(b.top, y);
        b.left = std::min(b.left, xx);
        b.bottom = std::max(b.bottom, y + 1);
        b.right = std::max(b.right, xx + 1);
      }
  if (b.empty()) b = Box{};
  return b;
}

}  // namespace relscope::relevance
