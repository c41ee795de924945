// relscope/relevance/vjp.h — vector-Jacobian products: the gradient of every op, one node at a time.
//
// Sections: vjp()
//
// The backward sweep is a gradient sweep in which some nodes apply a rule
// instead (zennit's design): routing ops (reshapes, MaxPool, Concat, ...) and the
// gradient baselines use vjp() directly, the Norm rule is x * vjp(R / stab(y)).
#pragma once
#include <vector>

#include "engine/executor.h"
#include "engine/plan.h"
#include "graph/graph.h"

namespace relscope::relevance {

// grad_in[k] = (d out / d in_k)^T grad_out for every input k that is not a constant (others left empty).
// grad_out[o] may be null for an output that received nothing (treated as zeros).
// Throws Unsupported naming the node when an op has no gradient.
void vjp(const Graph& g, const Plan& p, const Activations& act, const Node& n, const std::vector<const Tensor*>& grad_out,
         std::vector<Tensor>& grad_in);

}  // namespace relscope::relevance
