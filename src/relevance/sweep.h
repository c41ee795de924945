// relscope/relevance/sweep.h — one backward sweep from an explained output to the input.
//
// Sections: SweepOptions | backward_sweep() | backward_sweep_to() | backward_sweep_branches()
//
// Relevance (or gradient) starts at one graph output and flows through the
// plan's steps in reverse; each node applies its rule (rules[k] for g.nodes[k]).
// Values read by several nodes sum what they receive. A hook sees the complete
// relevance at each node's output before the node passes it on: pruned LRP
// prunes there, CRP masks channels there; a second hook lets PLRP-M mask a
// linear layer's inputs and re-run its rule.
#pragma once
#include <functional>
#include <vector>

#include "engine/executor.h"
#include "relevance/rule.h"

namespace relscope::relevance {

struct SweepOptions {
  // Called with the node and the relevance at its output `value` (mutable) before the node's rule runs.
  std::function<void(const Node& node, int value, Tensor& relevance)> at_node_output;
  // Called after a linear layer's rule gave `r_in` to its input. The hook may replace r_in by
  // `rerun(keep)`: the rule run again with only the inputs where keep (0/1, r_in's shape) is 1 taking part
  // (PLRP-M's second pass).
  using Rerun = std::function<Tensor(const Tensor& keep)>;
  std::function<void(const Node& node, Tensor& r_in, const Rerun& rerun)> at_linear_input;
  bool keep_all = false;   // keep every value's relevance in the result (concept atlases, per-layer views)
};

struct SweepResult {
  std::vector<Tensor> input_relevance;   // per graph input (empty for int64 inputs)
  std::vector<Tensor> values;            // per value id, only with keep_all
};

SweepResult backward_sweep(const Graph& g, const Plan& p, const Activations& act, const std::vector<Rule>& rules,
                           int output_value, const Tensor& seed, const SweepOptions& options = {});

// The relevance complete at `value` (after the at_node_output hooks at its producer), sweeping no further:
// all that concept rankings, layer maps and attribution sums need. Empty when no relevance reaches `value`.
Tensor backward_sweep_to(const Graph& g, const Plan& p, const Activations& act, const std::vector<Rule>& rules,
                         int output_value, const Tensor& seed, int value, const SweepOptions& options = {});

// One sweep per edit, sharing the part above `value`: the sweep runs down to the node producing `value`
// once, then each edit changes a copy of the relevance complete at `value` (as an at_node_output hook
// would, before any other hook) and its sweep goes on from there. Each result equals backward_sweep with
// that edit as a hook at `value`, bit for bit (CRP's concepts, unit footprints).
std::vector<SweepResult> backward_sweep_branches(const Graph& g, const Plan& p, const Activations& act,
                                                 const std::vector<Rule>& rules, int output_value, const Tensor& seed,
                                                 int value, const std::vector<std::function<void(Tensor&)>>& edits,
                                                 const SweepOptions& options = {});

// Stabiliser: z + eps * sign(z), sign(0) = +1 (zennit's stabilize).
inline float stabilize(float z, float eps) { return z + (z >= 0.0f ? eps : -eps); }

}  // namespace relscope::relevance
