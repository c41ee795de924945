// relscope/relevance/attribution.cpp — attribution graphs, one forward pass and one sweep per path per level.
#include "relevance/attribution.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace relscope::relevance {

namespace {

// The CRP conditions from the root down to `node`: each ancestor (and the node) passes only its channel.
std::vector<ConceptCondition> path_to(const std::vector<AttributionNode>& nodes, int node) {
  std::vector<ConceptCondition> path;
  for (int k = node; k >= 0; k = nodes[k].parent) path.push_back({nodes[k].layer, {nodes[k].channel}});
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace

AttributionGraph attribution_graph(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                   const std::string& layer, int64_t channel, int depth, int top, const std::string& p) {
  if (depth < 0) fail_input(p + "depth must be at least 0, got " + std::to_string(depth));
  if (top < 1) fail_input(p + "top must be at least 1, got " + std::to_string(top));
  const auto root = explainer.conditional_concepts(inputs, request, {{}}, layer);   // also checks the layer
  const int64_t channels = root.relevance.shape[1];
  if (channel < 0 || channel >= channels)
    fail_input((p.empty() ? "channel " : p + "graph: channel ") + std::to_string(channel) + " is out of range: " + layer + " has " + std::to_string(channels) + " channels");
  AttributionGraph g;
  g.target = root.target;
  g.output = root.output;
  g.nodes.push_back({layer, channel, root.relevance.f[channel], -1, 0});

  const auto layers = explainer.concept_layers(inputs);
  const auto at = std::find(layers.begin(), layers.end(), layer) - layers.begin();
  std::vector<int> frontier = {0};
  for (int d = 1; d <= depth && at - d >= 0 && !frontier.empty(); ++d) {
    const std::string& lower = layers[at - d];
    std::vector<std::vector<ConceptCondition>> paths;
    for (int node : frontier) paths.push_back(path_to(g.nodes, node));
    const auto sums = explainer.conditional_concepts(inputs, request, paths, lower);
    const int64_t c = sums.relevance.shape[1];
    std::vector<int> next;
    for (size_t p = 0; p < frontier.size(); ++p) {
      const float* r = sums.relevance.f.data() + static_cast<int64_t>(p) * c;
      const std::vector<int64_t> order = rank_channels(r, c);
      for (int64_t k = 0; k < std::min<int64_t>(top, c); ++k) {
        next.push_back(static_cast<int>(g.nodes.size()));
        g.nodes.push_back({lower, order[k], r[order[k]], frontier[p], d});
      }
    }
    frontier = std::move(next);
  }
  return g;
}

}  // namespace relscope::relevance
