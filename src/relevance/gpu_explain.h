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
// What runs on the GPU: methods lrp, gradient and gradient-x-input; ops Conv, ConvTranspose, Gemm and MatMul
// with constant weights, Relu, Add/Sub/Mul of same-shaped operands, BatchNormalization, MaxPool (no
// Indices output), AveragePool, GlobalAveragePool, and the ops that only reshape (Flatten, Reshape, Squeeze,
// Unsqueeze, Identity, Dropout); rules: every linear-layer rule, Pass, Norm (Add, Sub, the average pools) and
// Gradient. Anything else throws Unsupported naming the method, node or rule: callers fall back to the CPU
// and say why.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kernels/webgpu/program.h"
#include "relevance/explain.h"

namespace relscope::relevance {

struct GpuExplanation {
  kernels::gpu::Program program;   // readback: input relevance, explained output, targets (uint32 per sample)
  Shape relevance_shape, output_shape;
  std::vector<std::string> notes;
  // Data the program's buffers point at besides the plan's constants and memo (inputs, biases, bounds).
  std::vector<std::shared_ptr<const std::vector<float>>> owned;
  uint64_t bytes = 0;              // all buffers of the program together (GPU memory it needs)
};

// Constant buffers carry keys `key_prefix` + what they hold, so a runner that keeps constants between runs
// (the JS bridge) must get a prefix unique to the model and explainer they came from.
GpuExplanation compile_gpu_explanation(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                       const std::string& key_prefix = "");

// The Explanation from the program's readback (as run_on_cpu or the JS bridge return it). Checks the output
// and relevance are finite, as the CPU path does.
Explanation finish_gpu_explanation(const Explainer& explainer, const GpuExplanation& gx, const std::vector<std::vector<float>>& readback);

}  // namespace relscope::relevance
