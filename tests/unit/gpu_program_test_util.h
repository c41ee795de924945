// Shared by the GPU program tests: the program of an explanation run by the CPU interpreter
// (kernels/webgpu/program.h) against Explainer::explain.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/session.h"
#include "kernels/webgpu/program.h"
#include "relevance/gpu_explain.h"

namespace relscope::testing {

using relevance::Explainer;
using relevance::Explanation;
using relevance::ExplainRequest;
using relevance::GpuExplanation;

// A request for `method` under `composite`, with input bounds for epsilon-gamma-box's ZBox.
inline ExplainRequest gpu_request(const std::string& method, const std::string& composite) {
  ExplainRequest r;
  r.method = method;
  r.composite = composite;
  r.params.low = {-3.0f};
  r.params.high = {3.0f};
  return r;
}

inline double normalised_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape, want.shape);
  double top = 1e-30, err = 0;
  for (size_t k = 0; k < want.f.size() && k < got.f.size(); ++k) {
    top = std::max(top, static_cast<double>(std::fabs(want.f[k])));
    err = std::max(err, static_cast<double>(std::fabs(got.f[k] - want.f[k])));
  }
  return err / top;
}

// How far the CPU's own relevance moves when every input value moves by one float step (either way): where
// epsilon-stabilised denominators pass near 0 (attention on random inputs), float rounding alone reaches 1e-5,
// and no other summation order can agree more closely than that.
inline double self_sensitivity(Explainer& ex, const std::vector<Tensor>& inputs, const ExplainRequest& req, const Tensor& want) {
  double worst = 0;
  for (float towards : {2.0f, -2.0f}) {
    std::vector<Tensor> nudged = inputs;
    for (float& v : nudged[0].f) v = std::nextafter(v, towards);
    worst = std::max(worst, normalised_error(ex.explain(nudged, req).relevance, want));
  }
  return worst;
}

// The program run on the CPU equals the explanation: relevance within 1e-5 of max|R| (or, only where the CPU
// result is itself that sensitive, within twice its 1-ulp sensitivity and never past 1e-4), the same output,
// targets and notes; and the relevance is not all zero (which would prove nothing).
inline void expect_gpu_matches(Session& s, const std::vector<Tensor>& inputs, const ExplainRequest& req, const std::string& what) {
  SCOPED_TRACE(what + " " + req.method + " " + req.composite);
  Explainer ex(s);
  const Explanation want = ex.explain(inputs, req);
  const GpuExplanation gx = relevance::compile_gpu_explanation(ex, inputs, req);
  const Explanation got = relevance::finish_gpu_explanation(ex, gx, kernels::gpu::run_on_cpu(gx.program));
  double top = 0;
  for (float v : want.relevance.f) top = std::max(top, static_cast<double>(std::fabs(v)));
  EXPECT_GT(top, 0.0) << "a test whose relevance is all zero proves nothing";
  const double err = normalised_error(got.relevance, want.relevance);
  if (std::getenv("RELSCOPE_TEST_VERBOSE")) std::printf("[gpu program] %s %s %s: %.2e\n", what.c_str(), req.method.c_str(), req.composite.c_str(), err);
  if (err > 1e-5) {
    const double sensitivity = self_sensitivity(ex, inputs, req, want.relevance);
    EXPECT_LE(err, std::min(1e-4, 2 * sensitivity)) << "the CPU's own 1-ulp sensitivity is " << sensitivity;
  }
  EXPECT_LE(normalised_error(got.output, want.output), 1e-6);
  EXPECT_EQ(got.targets, want.targets);
  EXPECT_EQ(got.notes, want.notes);
  ASSERT_EQ(got.pruning.size(), want.pruning.size());   // pruned-lrp: the same layers, losing the same
  for (size_t k = 0; k < want.pruning.size(); ++k) {
    SCOPED_TRACE("pruned layer " + want.pruning[k].node);
    EXPECT_EQ(got.pruning[k].node, want.pruning[k].node);
    EXPECT_NEAR(got.pruning[k].zeroed_fraction, want.pruning[k].zeroed_fraction, 1e-12);
    EXPECT_NEAR(got.pruning[k].gini_before, want.pruning[k].gini_before, 1e-5);
    EXPECT_NEAR(got.pruning[k].gini_after, want.pruning[k].gini_after, 1e-5);
    EXPECT_NEAR(got.pruning[k].kept, want.pruning[k].kept, 1e-5);
  }
}

}  // namespace relscope::testing
