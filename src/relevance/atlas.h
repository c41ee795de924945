// relscope/relevance/atlas.h — CRP reference samples (Achtibat et al. 2023): per channel of a layer, the
// samples of a data set with the largest concept relevance (RelMax) and the largest activation (ActMax).
//
// Sections: AtlasEntry | ConceptAtlas | one sample at the layer | parallel streaming | footprints
//
// Why streaming: a data set may not fit in memory, so samples are fed one at a time and only the top K
// per channel are kept (K * C entries in all). The arg-max position inside the channel is kept with each
// entry so that a front end can cut the receptive field of that unit out of the sample afterwards.
// Why the ranking is a total order (value, then sample id): partial atlases of disjoint shares of a data
// set merge into exactly the atlas of the whole, whatever the shares and the order they were fed in.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
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
  // Adds another atlas' entries (same channels and k; disjoint sample ids): the result equals one atlas fed
  // with both atlases' samples.
  void merge(const ConceptAtlas& other);
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
// The same from concept maps computed elsewhere (the canvas' worker, through the JS API's conceptMaps):
// batch 1; BadInput when the maps do not have that shape.
LayerSample layer_sample_from(const ConceptMaps& maps);

// ---- parallel streaming ----
// A data set as numbered items (files), each holding counts[i] samples. Sample ids run through the items
// in order (the first sample of item i has id counts[0] + ... + counts[i-1]), so the ids, and with them
// every tie-break, do not depend on which worker ran which item.
struct AtlasSource {
  std::vector<int64_t> counts;
  // Item i's samples as one batch (N = counts[i]). Called from worker threads concurrently: thread-safe.
  std::function<Tensor(size_t item)> load;
};

struct AtlasRun {
  std::unique_ptr<ConceptAtlas> atlas;
  std::vector<int64_t> targets;   // per sample id: the target it was explained on
};

// `threads` workers claim items one at a time; each has its own Session (make_session) and Explainer and its
// own top-K, merged at the end: the result equals the one-thread result exactly. threads <= 1, and every
// wasm build without pthreads, run in the calling thread (no std::thread). Memory: one item and one atlas per worker.
// progress(done, total) is called under a lock after each sample. A failure stops every worker; the error of
// the earliest failing item among those that ran is rethrown.
AtlasRun stream_atlas(const std::function<Session()>& make_session, const AtlasSource& source,
                      const ExplainRequest& request, int64_t k, int threads,
                      const std::function<void(int64_t done, int64_t total)>& progress = {});

// ---- footprints ----
// Bounding box (half-open rows [top, bottom), columns [left, right)) of the non-zero entries of one sample's
// input map over its two spatial dims: x is (1, C, H, W), or (1, H, W, C) when channels_last.
struct Box {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  bool empty() const { return bottom <= top || right <= left; }
};
Box footprint_box(const Tensor& map, bool channels_last);

}  // namespace relscope::relevance
