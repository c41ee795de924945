// relscope/relevance/atlas.h — CRP reference samples (Achtibat et al. 2023): per channel of a layer, the
// samples of a data set with the largest concept relevance (RelMax) and the largest activation (ActMax).
//
// Sections: AtlasEntry | ConceptAtlas | one sample at the layer | footprints
//
// Why streaming: a data set may not fit in memory, so samples are fed one at a time and only the top K
// per channel are kept (K * C entries in all). The arg-max position inside the channel is kept with each
// entry so that a front end can cut the receptive field of that unit out of the sample afterwards.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "relevance/explain.h"

namespace relscope::relevance {

// ---- AtlasEntry ----
struct AtlasEntry {
  int64_t sample = 0;     // the caller's sample id
  float value = 0;        // RelMax: the channel's relevance sum; ActMax: the channel's max activation
  int64_t position = 0;   // row-major index over the channel's positions: its max relevance / max activation
};

// ---- ConceptAtlas ----
// Ranking: larger value first; equal values by smaller sample id (so, fed in order, the earlier sample);
// within a channel the arg-max position is the first one holding the maximum. NaN values are never kept.
class ConceptAtlas {
 public:
  ConceptAtlas(int64_t channels, int64_t k);
  // relevance and activation of one sample, channel first: (C, ...) with the same shape; the trailing dims
  // are the positions (none for a Gemm output).
  void add(int64_t sample, const Tensor& relevance, const Tensor& activation);
  const std::vector<AtlasEntry>& relmax(int64_t channel) const { return relmax_[static_cast<size_t>(channel)]; }
  const std::vector<AtlasEntry>& actmax(int64_t channel) const { return actmax_[static_cast<size_t>(channel)]; }
  int64_t channels() const { return channels_; }
  int64_t k() const { return k_; }
  int64_t samples() const { return samples_; }

 private:
  void offer(std::vector<AtlasEntry>& top, const AtlasEntry& e) const;
  int64_t channels_, k_, samples_ = 0;
  std::vector<std::vector<AtlasEntry>> relmax_, actmax_;
};

// ---- one sample at the layer ----
struct LayerSample {
  Tensor relevance;    // (C, positions...): the layer's output of this sample with the channel axis moved first
  Tensor activation;   // same shape
  int64_t target = 0;
  float output = 0;    // the explained output at the target
};

// Runs one sample (batch 1) through Explainer::concept_maps at request.crp.layer.
LayerSample layer_sample(Explainer& explainer, const Tensor& x, const ExplainRequest& request);

// ---- footprints ----
// Bounding box (half-open rows [top, bottom), columns [left, right)) of the non-zero entries of one sample's
// input map over its two spatial dims: x is (1, C, H, W), or (1, H, W, C) when channels_last.
struct Box {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  bool empty() const { return bottom <= top || right <= left; }
};
Box footprint_box(const Tensor& map, bool channels_last);

}  // namespace relscope::relevance
