// relscope/relevance/explain_detail.h — helpers the Explainer's two source files share (not a public API).
#pragma once
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "engine/session.h"
#include "relevance/explain.h"
#include "relevance/prune.h"

namespace relscope::relevance::detail {

int64_t batch_of(const Tensor& t);
// BadInput "<what> holds NaN (or Inf) at element K" when t has a non-finite value.
void require_finite(const Tensor& t, const std::string& what);
// The values per sample of an output of `shape` for a batch of n; BadInput naming the output when there are
// none or the size is not a multiple of n.
int64_t values_per_sample(const Shape& shape, int64_t n, const std::string& output_name);
// Per-sample targets: the arg-max, one given value for all, or one per sample; each checked against the
// sample's output size.
std::vector<int64_t> resolve_targets(const Tensor& y, int64_t n, const std::vector<int64_t>& given, const std::string& output_name);
// The request fits the model and the input: a float32 first input, an existing output. BadInput otherwise.
void check_request(const Graph& g, const std::vector<Tensor>& inputs, const ExplainRequest& request);
// The explained output `value` of a forward pass, checked: float32 and finite (BadInput naming it).
void check_output(const Graph& g, const Tensor& y, int value);
// onehot(target) (gradients) or onehot(target) * output (LRP).
Tensor make_seed(const Tensor& y, const std::vector<int64_t>& targets, bool times_output);

// Integrated gradients' k-th of `steps` points on the path from the zero baseline (right Riemann sum, as zennit).
float integrated_gradients_alpha(int k, int steps);

// SmoothGrad's noisy copies of x, in the order the samples are explained: x + noise * (max - min of the
// sample) * N(0, 1), one normal stream seeded by request.seed. Shared by the CPU and the GPU program so that
// both explain the same copies. Checks request.samples >= 1.
class SmoothGradNoise {
 public:
  SmoothGradNoise(const Tensor& x, const ExplainRequest& request);
  void next(Tensor& at);   // at (x's shape) = the next noisy copy

 private:
  float normal();
  const Tensor& x_;
  std::mt19937_64 rng_;
  int64_t per_ = 1;
  std::vector<float> sd_;
};

// Pruned LRP's sites (prune.h), shared by the CPU sweep's hooks and the GPU program: every linear layer but the
// first in topological order is prunable, with its --prune-at proportions or the common ones; `at_value`
// maps each value such a layer reads (not a constant) to the first prunable layer reading it (PLRP-lambda
// prunes there), `at_layer` each prunable layer to its proportions (PLRP-M). Validates the proportions and
// that every --prune-at name is a prunable layer (BadInput naming it).
struct PruneSite {
  std::string layer;
  PruneProportion p;
};
struct PruneSites {
  std::map<int, PruneSite> at_value;
  std::map<std::string, PruneProportion> at_layer;
};
PruneSites prune_sites(const Graph& g, const Plan& plan, const PruneOptions& options);
// Gini of |r| averaged over the `batch` samples of r.
double mean_sample_gini(const float* r, int64_t numel, int64_t batch);

// Batch-1 exports run sample by sample: one(b, sample_inputs, sample_request) for every sample b, each on
// its own target when one per sample was given (checked against the batch size first).
template <class F>
void for_each_sample(const std::vector<Tensor>& inputs, const ExplainRequest& request, F&& one) {
  const int64_t n = batch_of(inputs[0]);
  if (request.targets.size() > 1 && static_cast<int64_t>(request.targets.size()) != n)
    fail_input("--target: " + std::to_string(request.targets.size()) + " targets for a batch of " + std::to_string(n));
  for (int64_t b = 0; b < n; ++b) {
    std::vector<Tensor> sample;
    for (const auto& t : inputs) sample.push_back(slice_batch(t, b, 1));
    ExplainRequest r = request;
    if (request.targets.size() > 1) r.targets = {request.targets[b]};
    one(b, sample, r);
  }
}

}  // namespace relscope::relevance::detail
