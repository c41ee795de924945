// The canvas's variance view (app/core/variance_view.h) on the committed benchmark models (assets/variance):
// the two maps and the predicted mean +- sd of a Gaussian head, CovLRP over MC-dropout samples and over
// ensemble members added like the page adds them, and what it says for a model without a head.
#include <gtest/gtest.h>

#include <cmath>

#include "app/core/app_state.h"
#include "app/core/variance_view.h"
#include "io/file.h"
#include "io/npy.h"
#include "relevance/gaussian_head.h"
#include "relevance/request.h"

namespace relscope::app {
namespace {

const std::string kDir = std::string(RELSCOPE_SOURCE_DIR) + "/assets/variance/";
std::vector<uint8_t> asset(const std::string& name) { return read_file_bytes(kDir + name, 1u << 30); }

// The share of |R| of a (1, F) map on `features`.
double share(const Tensor& r, std::initializer_list<int> features) {
  double on = 0, all = 0;
  for (float v : r.f) all += std::fabs(v);
  for (int f : features) on += std::fabs(r.f[f]);
  return on / all;
}

TEST(AppVariance, GaussianHeadMapsAndPrediction) {
  AppState s;
  s.open("gaussian_mlp.onnx", asset("gaussian_mlp.onnx"));
  s.open("samples.csv", asset("samples.csv"));
  s.settings.composite = "epsilon";   // a flat first layer would spread relevance evenly over the features
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  VarianceView v;
  ASSERT_TRUE(s.guard([&] { v.compute(s); })) << s.last_error;
  const VarianceResult& r = v.result();
  ASSERT_TRUE(r.gaussian) << r.head_problem;
  EXPECT_EQ(r.mean_text, "mean of output 'mean_logvar' unit 0");
  EXPECT_EQ(r.var_text, "log-variance of output 'mean_logvar' unit 1");
  EXPECT_EQ(r.mean_map.shape, (Shape{1, 8}));
  EXPECT_FALSE(r.has_cov);
  // mean +- sd of row 0 from torch's outputs: sd = exp(logvar / 2).
  const Tensor expected = read_npy_file(kDir + "samples_expected.npy", s.limits());
  EXPECT_NEAR(r.mean, expected.f[0], 1e-4);
  EXPECT_NEAR(r.sd, std::exp(0.5 * expected.f[1]), 1e-4);
  // The maps are the engine's own explanations of the head's units under the main panel's composite.
  for (const char* which : {"mean", "variance"}) {
    relevance::RequestText t;
    t.values = {{"composite", "epsilon"}, {"explain", which}};
    auto req = relevance::parse_request(t, s.session()->graph(), "");
    relevance::apply_explain_choice(*s.session(), {s.results().input}, req, "");
    relevance::Explainer ex(*s.session());
    const Tensor want = ex.explain({s.results().input}, req).relevance;
    const Tensor& got = which[0] == 'm' ? r.mean_map : r.var_map;
    ASSERT_EQ(got.shape, want.shape);
    for (size_t k = 0; k < want.f.size(); ++k) EXPECT_NEAR(got.f[k], want.f[k], 1e-6f) << which << " " << k;
  }
  // Over the 8 rows of samples.csv the mean map lands on {0,1,2} and the variance map on {3,4}.
  double mean_share = 0, var_share = 0;
  for (int row = 0; row < 8; ++row) {
    s.select_row(row);
    ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
    ASSERT_TRUE(s.guard([&] { v.compute(s); })) << s.last_error;
    mean_share += share(v.result().mean_map, {0, 1, 2}) / 8;
    var_share += share(v.result().var_map, {3, 4}) / 8;
  }
  EXPECT_GT(mean_share, 0.8);
  EXPECT_GT(var_share, 0.7);
}

TEST(AppVariance, CovLrpOverMcDropoutAndEnsembleMembers) {
  AppState s;
  s.open("mc_dropout_mlp.onnx", asset("mc_dropout_mlp.onnx"));
  s.open("samples.csv", asset("samples.csv"));
  s.settings.composite = "epsilon";
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  VarianceView v;
  v.settings.mc_dropout = 5;
  v.settings.seed = 2;
  ASSERT_TRUE(s.guard([&] { v.compute(s); })) << s.last_error;
  EXPECT_TRUE(v.result().has_cov);
  EXPECT_EQ(v.result().member_outputs.size(), 5u);
  EXPECT_GT(v.result().output_variance, 0.0);   // dropout masks make the samples disagree
  EXPECT_NE(v.result().cov_text.find("5 MC-dropout samples of 2 Dropout node(s), seed 2"), std::string::npos) << v.result().cov_text;

  AppState e;
  e.open("ensemble_0.onnx", asset("ensemble_0.onnx"));
  e.open("samples.csv", asset("samples.csv"));
  e.settings.composite = "epsilon";
  ASSERT_TRUE(e.guard([&] { e.compute(); })) << e.last_error;
  VarianceView w;
  w.add_member("ensemble_1.onnx", asset("ensemble_1.onnx"), e.limits());
  w.add_member("ensemble_2.onnx", asset("ensemble_2.onnx"), e.limits());
  w.add_member("ensemble_1.onnx", asset("ensemble_1.onnx"), e.limits());   // same name: replaced, not added
  EXPECT_EQ(w.member_names(), (std::vector<std::string>{"ensemble_1.onnx", "ensemble_2.onnx"}));
  ASSERT_TRUE(e.guard([&] { w.compute(e); })) << e.last_error;
  const VarianceResult& r = w.result();
  EXPECT_TRUE(r.gaussian);
  ASSERT_TRUE(r.has_cov);
  EXPECT_EQ(r.member_outputs.size(), 3u);
  EXPECT_NE(r.aleatoric_total, 0.0);   // the members' sigma^2 maps, added to the map (biases: not conserving)
  EXPECT_TRUE(std::isfinite(r.aleatoric_total));
  EXPECT_NE(r.cov_text.find("explained: mean of output 'mean' unit 0"), std::string::npos) << r.cov_text;
}

TEST(AppVariance, ModelWithoutHeadSaysWhy) {
  AppState s;
  s.open("mlp.onnx", read_file_bytes(std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/mlp_opset13.onnx", 1u << 30));
  const Tensor x = read_npy_file(std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/mlp_opset13_input.npy", s.limits());
  s.open("x.npy", write_npy(x));
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  VarianceView v;
  ASSERT_TRUE(s.guard([&] { v.compute(s); })) << s.last_error;
  EXPECT_FALSE(v.result().gaussian);
  EXPECT_NE(v.result().head_problem.find("no Gaussian head"), std::string::npos) << v.result().head_problem;
  EXPECT_FALSE(v.result().has_cov);
}

}  // namespace
}  // namespace relscope::app
