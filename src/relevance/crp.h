// relscope/relevance/crp.h — Concept Relevance Propagation (Achtibat et al. 2023): channels of a layer as
// concepts.
//
// Sections: ConceptRequest | ConceptLayer | channel masks and sums | ranking
//
// A concept is one channel of a linear layer's output (Conv/ConvTranspose: axis 1; Gemm/MatMul: the last
// axis). Conditional relevance R(x | theta): the LRP sweep runs as usual, and where it reaches the layer's
// output every channel outside theta is zeroed before the layer passes relevance on. Every rule is linear
// in the relevance it receives (the forward activations are fixed), so the conditional maps of all
// channels add up to the unconditioned map. Concept relevance of channel c: the relevance at the layer's
// output summed over c's positions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/plan.h"
#include "graph/graph.h"

namespace relscope::relevance {

struct ConceptRequest {
  std::string layer;               // node name, as `relscope rules` prints it (the canonized graph's)
  std::vector<int64_t> channels;   // crp: the concepts, each its own map unless `joint`
  bool joint = false;              // crp: one map conditioned on all `channels` together
};

struct ConceptLayer {
  size_t node = 0;        // index in g.nodes
  int value = -1;         // the node's output value
  int axis = 1;           // channel axis of that value
  int64_t channels = 0;   // its size
};

// The layer named `name` in the planned graph; BadInput when there is none or it is not a linear layer
// (the message lists the linear layers).
ConceptLayer find_concept_layer(const Graph& g, const Plan& p, const std::string& name);

// Channels outside `keep` (per sample: the same set) set to zero. Channels are checked against the layer.
void keep_channels(Tensor& r, int axis, const std::vector<int64_t>& keep);
// The same as a mask of 1s (kept) and 0s over `channels` (the GPU program multiplies by it); checked alike.
std::vector<float> channel_mask(int64_t channels, const std::vector<int64_t>& keep);

// (N, C): relevance summed over every position of each channel, per sample.
Tensor channel_sums(const Tensor& r, int axis);

// Channels 0..n-1 by decreasing relevance r[c] (ties: lower channel first): the order of every concept
// ranking (CLI, canvas, JS API, attribution graphs).
std::vector<int64_t> rank_channels(const float* r, int64_t n);

}  // namespace relscope::relevance
