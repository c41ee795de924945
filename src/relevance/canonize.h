// relscope/relevance/canonize.h — reversible graph rewrites applied to a copy before a composite.
//
// Sections: canonize()
//
// BatchNormalization directly after a Conv/ConvTranspose/Gemm (whose output nothing else reads) is merged
// into the layer's weights and bias (METHODS.md): s = gamma / sqrt(var + eps), W' = W * s per output
// channel, b' = (b - mean) * s + beta; the BN node becomes an Identity. The original graph is never
// touched, so the forward pass the user sees is the model's own. Other BNs stay (composites give them Pass).
// Parameters count as constant when they are initializers or Identity chains of one (PyTorch's export
// deduplicates equal initializers that way).
#pragma once
#include <string>
#include <vector>

#include "graph/graph.h"

namespace relscope::relevance {

struct CanonizeReport {
  std::vector<std::string> merged;   // "bn1 -> conv1"
};

Graph canonize(const Graph& g, CanonizeReport* report = nullptr);

}  // namespace relscope::relevance
