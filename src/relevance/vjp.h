// relscope/relevance/vjp.h — vector-Jacobian products: the gradient of every op, one node at a time.
//
// Sections: vjp() | helpers shared with the GPU program builder (broadcast maps, routing sources)
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

// For each element of a tensor of shape `out`, the flat index of the element of `in` it reads when `in` is
// broadcast to `out` (numpy rules).
std::vector<int64_t> broadcast_map(const Shape& out, const Shape& in);

// Where each element of a routing op's outputs (Reshape, Transpose, Slice, Gather, Concat, Split, Pad, ...)
// comes from: the op's own forward kernel run once on int64 source ids, so its semantics (negative steps,
// clamped ends, opset-dependent inputs) are reused, never re-implemented. Per output, one int64 tensor of
// ids: input slot k's element i is (k << kRoutingSlotShift) + i + 1; 0 means no source (Pad's fill value).
// Every float input is tracked, constants too (a kernel needs its data inputs in one dtype: a Concat of a
// learned token and an activation); other inputs (indices, shapes) keep their constant values.
constexpr int64_t kRoutingSlotShift = 40;
std::vector<Tensor> routing_sources(const Graph& g, const Plan& p, const Node& n);
inline size_t routing_slot(int64_t id) { return static_cast<size_t>(id >> kRoutingSlotShift); }
inline int64_t routing_index(int64_t id) { return (id & ((int64_t{1} << kRoutingSlotShift) - 1)) - 1; }

}  // namespace relscope::relevance
