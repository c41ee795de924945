// relscope/relevance/attribution.h — CRP attribution graphs: a concept decomposed into the concepts of the
// layers below it, recursively (Achtibat et al. 2023).
//
// A concept is (layer, channel). Its children live in the next linear layer below (the previous one in
// topological order): the child's value is its conditional relevance given the whole path above it, i.e.
// the relevance that reaches the child's channel when every ancestor's layer lets only the ancestor's
// channel pass. The `top` children by value are kept and expanded in turn, `depth` layers deep. With a
// conserving rule chain the children's values over all channels add up to the parent's value.
#pragma once
#include <string>
#include <vector>

#include "relevance/explain.h"

namespace relscope::relevance {

struct AttributionNode {
  std::string layer;
  int64_t channel = 0;
  float relevance = 0;   // conditional on the path from the root (the root: its plain concept relevance)
  int parent = -1;       // index into AttributionGraph::nodes; -1 for the root
  int depth = 0;
};

struct AttributionGraph {
  std::vector<AttributionNode> nodes;   // breadth first: the root, then each level's children (best first per parent)
  int64_t target = 0;
  float output = 0;
};

// One sample (batch 1). Throws BadInput for an unknown/non-linear layer, a channel out of range, depth < 0
// or top < 1; `p` prefixes the option names in those messages ("--" for the CLI's --graph/--depth/--top).
AttributionGraph attribution_graph(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                   const std::string& layer, int64_t channel, int depth, int top, const std::string& p = "");

}  // namespace relscope::relevance
