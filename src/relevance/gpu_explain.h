// relscope/relevance/gpu_explain.h — an explanation compiled into one GPU program (kernels/webgpu/program.h).
//
// Sections: GpuExplanation | compile_gpu_explanation() | finish_gpu_explanation()
//
// The forward pass, the seed (arg-max target or a given one) and the whole backward sweep become one list of
// dispatches over buffers that stay on the GPU; only the input relevance, the output and the targets are read
// back. The program mirrors Explainer::explain step by step (same canonized graph, same rules from the
// composite, same rule terms, same skipped all-zero terms), so its result equals the CPU explanation up to
// float summation order; run_on_cpu of the program is checked against Explainer::explain natively.
//
// What runs on the GPU: methods lrp, pruned-lrp (kernels/webgpu/prune.wgsl prunes each sample where the CPU's
// sweep hooks do; PLRP-M re-runs the layer's rule on masked inputs), crp (the sweep above the concept layer
// once, the rest per concept),
// gradient, gradient-x-input, integrated-gradients and smoothgrad (a forward pass and gradient sweep per point
// or noisy copy, seeded with the unperturbed input's targets; the noise is the CPU's, uploaded), occlusion (a
// forward pass per window, up to a program of 250k steps); one target per sample or per batch; the ops of
// gpu_forward.cpp (linear layers with constant weights and MatMul of two activations, activations,
// elementwise ops with broadcasting, batch/layer norm, (log-)softmax, pools, reductions, routing ops and
// reshapes) and every rule. Anything else (batch-1 exports given a batch, say) throws Unsupported
// naming the method, node or rule: callers fall back to the CPU and say why.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kernels/webgpu/program.h"
#include "relevance/explain.h"

namespace relscope::relevance {

struct GpuExplanation {
  kernels::gpu::Program program;   // readback: explained output, targets (uint32 per sample), then `maps` input
                                   // relevance maps (crp: one per concept unless joint; else one)
  Shape relevance_shape, output_shape;   // relevance_shape: the Explanation's (crp: (N, K, input dims...))
  int maps = 1;
  bool joint = true;               // false: crp with one map per concept
  std::vector<std::string> notes;
  // Data the program's buffers point at besides the plan's constants and memo (inputs, biases, bounds).
  std::vector<std::shared_ptr<const std::vector<float>>> owned;
  uint64_t bytes = 0;              // all buffers of the program together (GPU memory it needs)
  // pruned-lrp: per pruned layer (in the order the sweep reaches them), the readback positions of its
  // relevance before and after pruning and (PLRP-M) of the keep mask, from which finish_gpu_explanation
  // writes the Explanation's LayerPruneReports as the CPU does.
  struct PrunedLayer {
    std::string layer;
    int before = -1, after = -1, keep = -1;
  };
  std::vector<PrunedLayer> pruned;
};

// Constant buffers carry keys `key_prefix` + what they hold, so a runner that keeps constants between runs
// (the JS bridge) must get a prefix unique to the model and explainer they came from.
GpuExplanation compile_gpu_explanation(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                       const std::string& key_prefix = "");

// The Explanation from the program's readback (as run_on_cpu or the JS bridge return it). Checks the output
// and relevance are finite, as the CPU path does.
Explanation finish_gpu_explanation(const Explainer& explainer, const GpuExplanation& gx, std::vector<std::vector<float>> readback);

}  // namespace relscope::relevance
