// Variance heatmaps: CovLRP against hand-computed Sigma, conservation (marg sums to the variance of the
// members' outputs), identical members, MC-dropout (p = 0 is plain LRP, seeds, the 1/(1-p) rescale,
// relevance through the mask), Gaussian-head detection and its errors, the aleatoric term, driver shares,
// and the committed benchmark model (assets/variance) meeting its >= 80% driver shares.
//
// Sections: models | cov_maps | conservation and identical members | MC-dropout | Gaussian heads | errors |
//           aleatoric term | driver shares | committed benchmark
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "engine/session.h"
#include "expect_error.h"
#include "io/npy.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/cov_lrp.h"
#include "relevance/gaussian_head.h"
#include "relevance/request.h"

namespace relscope::relevance {
namespace {

using testing::attr_float;
using testing::attr_int;
using testing::expect_error;
using testing::ModelBuilder;
using testing::random_tensor;

// ---- models -------------------------------------------------------------------------------------------
// x[N,4] -> Gemm(W1, no bias) -> Relu -> [Dropout(p)] -> Gemm(W2, no bias) -> `out` [N,units]. A positive
// head (W2 > 0) keeps the outputs positive, where ZPlus conserves (it passes no negative relevance).
onnx::ModelProto relu_mlp(uint32_t seed, int units, float dropout = -1.0f, const std::string& out = "y", bool positive_head = false) {
  ModelBuilder b;
  b.input("x", {4}).init("W1", random_tensor({6, 4}, seed));
  b.init("W2", positive_head ? random_tensor({units, 6}, seed + 7, 0.1f, 1.0f) : random_tensor({units, 6}, seed + 7));
  b.node("Gemm", {"x", "W1"}, {"h"}, {attr_int("transB", 1)}, "fc1").node("Relu", {"h"}, {"r"});
  std::string last = "r";
  if (dropout >= 0) {
    b.init("ratio", Tensor::scalar(dropout)).node("Dropout", {"r", "ratio"}, {"d"}, {}, "drop");
    last = "d";
  }
  b.node("Gemm", {last, "W2"}, {out}, {attr_int("transB", 1)}, "fc2").output(out);
  return b.build();
}

// Two single-unit outputs from one trunk: x -> Gemm -> Relu -> Gemm(W_a) -> a, Gemm(W_b) -> b.
onnx::ModelProto two_heads(uint32_t seed, const std::string& a, const std::string& b_name) {
  ModelBuilder b;
  b.input("x", {4}).init("W1", random_tensor({6, 4}, seed)).init("Wa", random_tensor({1, 6}, seed + 1));
  b.init("Wb", random_tensor({1, 6}, seed + 2, 0.1f, 1.0f));
  b.node("Gemm", {"x", "W1"}, {"h"}, {attr_int("transB", 1)}, "fc1").node("Relu", {"h"}, {"r"});
  b.node("Gemm", {"r", "Wa"}, {a}, {attr_int("transB", 1)}, "head_a").node("Gemm", {"r", "Wb"}, {b_name}, {attr_int("transB", 1)}, "head_b");
  return b.output(a).output(b_name).build();
}

double sum(const Tensor& t, int64_t b = 0) {
  const int64_t per = t.numel() / t.shape[0];
  double s = 0;
  for (int64_t i = 0; i < per; ++i) s += t.f[b * per + i];
  return s;
}

ExplainRequest epsilon_request() {
  ExplainRequest r;
  r.method = "cov-lrp";
  r.composite = "epsilon";
  r.params.epsilon = 1e-9f;
  return r;
}

// ---- cov_maps -----------------------------------------------------------------------------------------
TEST(CovLrp, ThreeMapsMatchHandComputedSigma) {
  // R1 = [1,0,2], R2 = [0,1,1], R3 = [2,2,0]; mean [1,1,1]; d1 = [0,-1,1], d2 = [-1,0,0], d3 = [1,1,-1].
  // 3 Sigma = [[2,1,-1],[1,2,-2],[-1,-2,2]]: diag 2/3 each, marg (row sums) [2/3, 1/3, -1/3].
  const float r1[] = {1, 0, 2}, r2[] = {0, 1, 1}, r3[] = {2, 2, 0};
  const CovMaps c = cov_maps({r1, r2, r3}, 3);
  const double sigma[3][3] = {{2 / 3.0, 1 / 3.0, -1 / 3.0}, {1 / 3.0, 2 / 3.0, -2 / 3.0}, {-1 / 3.0, -2 / 3.0, 2 / 3.0}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(c.mean[i], 1.0, 1e-12);
    EXPECT_NEAR(c.diag[i], sigma[i][i], 1e-12) << i;
    double marg = sigma[i][i];   // METHODS.md: Sigma_ii + sum_{j != i} (Sigma_ij + Sigma_ji) / 2
    for (int j = 0; j < 3; ++j)
      if (j != i) marg += (sigma[i][j] + sigma[j][i]) / 2;
    EXPECT_NEAR(c.marg[i], marg, 1e-12) << i;
  }
  EXPECT_NEAR(c.marg[0], 2 / 3.0, 1e-12);
  EXPECT_NEAR(c.marg[1], 1 / 3.0, 1e-12);
  EXPECT_NEAR(c.marg[2], -1 / 3.0, 1e-12);
  // Outputs 3, 2, 4: population variance 2/3 = sum of marg.
  EXPECT_NEAR(c.marg[0] + c.marg[1] + c.marg[2], 2 / 3.0, 1e-12);
}

TEST(CovLrp, EqualOutputsGiveZeroMargButNonZeroDiag) {
  // R1 = [1,2], R2 = [3,0]: both sum to 3, so the members agree on the output; Sigma = [[1,-1],[-1,1]].
  const float r1[] = {1, 2}, r2[] = {3, 0};
  const CovMaps c = cov_maps({r1, r2}, 2);
  EXPECT_NEAR(c.diag[0], 1.0, 1e-12);
  EXPECT_NEAR(c.diag[1], 1.0, 1e-12);
  EXPECT_NEAR(c.marg[0], 0.0, 1e-12);
  EXPECT_NEAR(c.marg[1], 0.0, 1e-12);
}

// ---- conservation and identical members ---------------------------------------------------------------
TEST(CovLrp, MargSumsToTheVarianceOfMemberOutputs) {
  const Tensor x = random_tensor({3, 4}, 40);
  for (const bool zplus : {false, true}) {
    Session a = Session::from_model(relu_mlp(1, 2, -1, "y", zplus), "a.onnx");
    Session b = Session::from_model(relu_mlp(2, 2, -1, "y", zplus), "b.onnx");
    Session c = Session::from_model(relu_mlp(3, 2, -1, "y", zplus), "c.onnx");
    ExplainRequest r = epsilon_request();
    r.targets = {1};
    r.variance.ensemble = {"b.onnx", "c.onnx"};
    if (zplus) r.overrides = {{"fc1", rule_zplus(1e-9f)}, {"fc2", rule_zplus(1e-9f)}};
    const CovExplanation e = explain_cov(a, {&b, &c}, {x}, r);
    ASSERT_EQ(e.members, 3);
    double worst = 0;
    for (int64_t s = 0; s < 3; ++s) worst = std::max(worst, std::fabs(sum(e.marg, s) - e.output_variance[s]) / e.output_variance[s]);
    std::printf("[ conserve ] %s: sum CovLRP-marg vs variance of outputs, worst relative error %.2g\n", zplus ? "zplus" : "epsilon", worst);
    for (int64_t s = 0; s < 3; ++s) {
      const double var = e.output_variance[s];
      ASSERT_GT(var, 1e-6) << "members must disagree for the test to mean something";
      EXPECT_NEAR(sum(e.marg, s), var, 1e-4 * var) << "zplus " << zplus << " sample " << s;
      // The variance of the members' outputs, recomputed here from member_outputs.
      double mean = 0, v = 0;
      for (int m = 0; m < 3; ++m) mean += e.member_outputs.f[m * 3 + s] / 3.0;
      for (int m = 0; m < 3; ++m) v += std::pow(e.member_outputs.f[m * 3 + s] - mean, 2) / 3.0;
      EXPECT_NEAR(v, var, 1e-9);
      EXPECT_GT(sum(e.diag, s), 0.0);
    }
  }
}

TEST(CovLrp, IdenticalMembersGiveZeroMaps) {
  Session a = Session::from_model(relu_mlp(1, 2), "a.onnx"), a2 = Session::from_model(relu_mlp(1, 2), "a2.onnx");
  ExplainRequest r = epsilon_request();
  r.variance.ensemble = {"a2.onnx", "a2.onnx"};
  const CovExplanation e = explain_cov(a, {&a2, &a2}, {random_tensor({2, 4}, 41)}, r);
  for (float v : e.diag.f) EXPECT_NEAR(v, 0.0f, 1e-12f);
  for (float v : e.marg.f) EXPECT_NEAR(v, 0.0f, 1e-12f);
  EXPECT_NEAR(e.output_variance[0], 0.0, 1e-12);
  double mean_abs = 0;
  for (float v : e.mean.f) mean_abs += std::fabs(v);
  EXPECT_GT(mean_abs, 1e-3);   // the first-order maps themselves are not zero
}

// ---- MC-dropout ---------------------------------------------------------------------------------------
TEST(CovLrp, McDropoutWithPZeroIsPlainLrp) {
  Session s = Session::from_model(relu_mlp(5, 3, 0.0f), "drop.onnx");
  const Tensor x = random_tensor({2, 4}, 42);
  ExplainRequest r = epsilon_request();
  r.variance.mc_dropout = 4;
  const CovExplanation e = explain_cov(s, {}, {x}, r);
  ExplainRequest plain = r;
  plain.method = "lrp";
  plain.variance = {};
  plain.targets = e.targets;
  Explainer ex(s);
  const Explanation p = ex.explain({x}, plain);
  ASSERT_EQ(p.relevance.f.size(), e.mean.f.size());
  for (size_t k = 0; k < p.relevance.f.size(); ++k) EXPECT_NEAR(e.mean.f[k], p.relevance.f[k], 1e-6f) << k;
  for (float v : e.marg.f) EXPECT_NEAR(v, 0.0f, 1e-12f);
  for (int m = 0; m < 4; ++m) EXPECT_EQ(e.member_outputs.f[m * 2], p.output.f[e.targets[0]]);
}

TEST(CovLrp, McDropoutMasksAreRescaledAndSeeded) {
  // x -> Dropout(0.5) -> y: a member's output at unit t is 0 or 2 x_t (PyTorch's 1/(1-p)); its relevance
  // passes through the mask unchanged (Pass), so the member's map at t is its output.
  ModelBuilder b;
  b.input("x", {4}).init("ratio", Tensor::scalar(0.5f)).node("Dropout", {"x", "ratio"}, {"y"}, {}, "drop").output("y");
  Session s = Session::from_model(b.build(), "drop_only.onnx");
  const Tensor x = Tensor::from_floats({1, 4}, {0.5f, -1.0f, 2.0f, 3.0f});
  ExplainRequest r = epsilon_request();
  r.variance.mc_dropout = 40;
  r.targets = {2};
  r.seed = 7;
  const CovExplanation e = explain_cov(s, {}, {x}, r);
  int dropped = 0, kept = 0;
  double mean = 0;
  for (int m = 0; m < 40; ++m) {
    const float f = e.member_outputs.f[m];
    EXPECT_TRUE(f == 0.0f || f == 4.0f) << f;
    (f == 0.0f ? dropped : kept) += 1;
    mean += f / 40.0;
  }
  EXPECT_GT(dropped, 5);
  EXPECT_GT(kept, 5);
  EXPECT_NEAR(e.mean.f[2], mean, 1e-6);
  EXPECT_NEAR(e.mean.f[0], 0.0, 1e-7);
  EXPECT_NEAR(e.marg.f[2], e.output_variance[0], 1e-5);
  // The same seed gives the same maps; another seed other masks.
  const CovExplanation again = explain_cov(s, {}, {x}, r);
  EXPECT_EQ(again.marg.f, e.marg.f);
  EXPECT_EQ(again.member_outputs.f, e.member_outputs.f);
  r.seed = 8;
  EXPECT_NE(explain_cov(s, {}, {x}, r).member_outputs.f, e.member_outputs.f);
}

TEST(CovLrp, McDropoutConservesThroughTheMask) {
  Session s = Session::from_model(relu_mlp(9, 2, 0.3f), "drop.onnx");
  const Tensor x = random_tensor({2, 4}, 43);
  ExplainRequest r = epsilon_request();
  r.variance.mc_dropout = 12;
  r.seed = 3;
  r.targets = {0};
  const CovExplanation e = explain_cov(s, {}, {x}, r);
  for (int64_t b = 0; b < 2; ++b) {
    ASSERT_GT(e.output_variance[b], 1e-6);
    EXPECT_NEAR(sum(e.marg, b), e.output_variance[b], 1e-4 * e.output_variance[b]) << b;
    std::printf("[ conserve ] MC-dropout sample %lld: relative error %.2g\n", static_cast<long long>(b),
                std::fabs(sum(e.marg, b) - e.output_variance[b]) / e.output_variance[b]);
  }
}

// ---- Gaussian heads -----------------------------------------------------------------------------------
GaussianHead head_of(Session& s, const VarianceOptions& o = {}) {
  return find_gaussian_head(s.graph(), output_units_per_sample(s, {random_tensor({1, 4}, 1)}), o);
}

TEST(GaussianHead, FoundByNames) {
  Session two = Session::from_model(two_heads(1, "mean", "logvar"), "two.onnx");
  GaussianHead h = head_of(two);
  EXPECT_EQ(h.mean.output, 0u);
  EXPECT_EQ(h.var.output, 1u);
  EXPECT_EQ(h.kind, VarKind::LogVariance);
  EXPECT_EQ(describe_unit(two.graph(), h, true), "log-variance of output 'logvar' unit 0");

  Session swapped = Session::from_model(two_heads(1, "sigma", "mu"), "swapped.onnx");
  h = head_of(swapped);
  EXPECT_EQ(h.mean.output, 1u);
  EXPECT_EQ(h.var.output, 0u);
  EXPECT_EQ(h.kind, VarKind::StdDev);

  Session one = Session::from_model(relu_mlp(1, 2, -1, "logvar_mean"), "one.onnx");
  h = head_of(one);
  EXPECT_EQ(h.var.unit, 0);
  EXPECT_EQ(h.mean.unit, 1);
  EXPECT_EQ(describe_unit(one.graph(), h, false), "mean of output 'logvar_mean' unit 1");
  Session log_var = Session::from_model(relu_mlp(1, 2, -1, "pred_mean_log_var"), "lv.onnx");
  EXPECT_EQ(head_of(log_var).kind, VarKind::LogVariance);
}

TEST(GaussianHead, UnitsGivenByTheUser) {
  Session s = Session::from_model(relu_mlp(1, 2, -1, "y"), "plain.onnx");
  expect_error([&] { head_of(s); }, ErrorKind::BadInput, "no Gaussian head (mean and variance) found among the outputs y (2 per sample)");
  VarianceOptions o;
  o.var_unit = "0";
  o.var_kind = "var";
  GaussianHead h = head_of(s, o);
  EXPECT_EQ(h.var.unit, 0);
  EXPECT_EQ(h.mean.unit, 1);   // the other unit of the two-unit output
  EXPECT_EQ(h.kind, VarKind::Variance);
  o.var_kind = "";
  expect_error([&] { head_of(s, o); }, ErrorKind::BadInput, "--var-kind: output 'y' unit 0 does not say");
  o = {};
  o.mean_unit = "y:0";
  o.var_unit = "y:5";
  o.var_kind = "logvar";
  expect_error([&] { head_of(s, o); }, ErrorKind::BadInput, "--var-unit y:5: output 'y' has 2 value(s) per sample, no unit 5");
  o.var_unit = "z:1";
  expect_error([&] { head_of(s, o); }, ErrorKind::BadInput, "--var-unit: 'z' is not an output of plain.onnx");
  o.var_unit = "y:0";
  expect_error([&] { head_of(s, o); }, ErrorKind::BadInput, "both name unit 0 of output 'y'");
  Session two = Session::from_model(two_heads(1, "a", "b"), "two.onnx");
  o = {};
  o.mean_unit = "1";
  expect_error([&] { head_of(two, o); }, ErrorKind::BadInput, "--mean-unit 1: two.onnx has outputs a (1 per sample), b (1 per sample); write OUTPUT:UNIT");
  o.mean_unit = "a";
  o.var_unit = "b";
  o.var_kind = "var";
  h = head_of(two, o);
  EXPECT_EQ(h.mean.output, 0u);
  EXPECT_EQ(h.var.output, 1u);
}

TEST(GaussianHead, ExplainChoiceSetsOutputAndTarget) {
  Session s = Session::from_model(two_heads(2, "mu", "var"), "h.onnx");
  RequestText t;
  t.values = {{"explain", "variance"}, {"composite", "epsilon"}};
  ExplainRequest r = parse_request(t, s.graph());
  const Tensor x = random_tensor({2, 4}, 44);
  EXPECT_EQ(apply_explain_choice(s, {x}, r), "variance of output 'var' unit 0");
  EXPECT_EQ(r.output, 1u);
  ASSERT_EQ(r.targets.size(), 1u);
  Explainer ex(s);
  const Explanation e = ex.explain({x}, r);
  const Tensor var = s.predict({x})[1];
  EXPECT_EQ(e.output.f, var.f);   // the variance output is the one explained
  t.values["target"] = "0";
  expect_error([&] { parse_request(t, s.graph()); }, ErrorKind::BadInput, "--explain variance: picks the explained output");
}

// ---- errors -------------------------------------------------------------------------------------------
TEST(CovLrp, BadInputsNameTheFileAndField) {
  Session plain = Session::from_model(relu_mlp(1, 2), "plain.onnx");
  RequestText t;
  t.values = {{"method", "cov-lrp"}};
  expect_error([&] { parse_request(t, plain.graph()); }, ErrorKind::BadInput, "method cov-lrp needs either --ensemble");
  t.values["mc-dropout"] = "1";
  expect_error([&] { parse_request(t, plain.graph()); }, ErrorKind::BadInput, "--mc-dropout: give a number of samples from 2 to 10000");
  t.values = {{"mc-dropout", "5"}};
  expect_error([&] { parse_request(t, plain.graph()); }, ErrorKind::BadInput, "--mc-dropout: only used with --method cov-lrp");
  t.values = {{"explain", "median"}};
  expect_error([&] { parse_request(t, plain.graph()); }, ErrorKind::BadInput, "--explain: 'median' is not one of mean|variance");

  ExplainRequest r = epsilon_request();
  r.variance.mc_dropout = 3;
  expect_error([&] { explain_cov(plain, {}, {random_tensor({1, 4}, 2)}, r); }, ErrorKind::BadInput,
               "plain.onnx: --mc-dropout: the model has no Dropout node to sample");
  ModelBuilder wide;
  wide.input("x", {5}).init("W", random_tensor({2, 5}, 3)).node("Gemm", {"x", "W"}, {"y"}, {attr_int("transB", 1)}).output("y");
  Session other = Session::from_model(wide.build(), "wide.onnx");
  r = epsilon_request();
  r.variance.ensemble = {"wide.onnx"};
  expect_error([&] { explain_cov(plain, {&other}, {random_tensor({1, 4}, 2)}, r); }, ErrorKind::BadInput,
               "wide.onnx: input 'x' is [N,5] float32, but plain.onnx's input 'x' is [N,4] float32; ensemble members must take the same input");
}

// ---- aleatoric term -----------------------------------------------------------------------------------
TEST(CovLrp, AleatoricTermSumsToTheMeanMemberVariance) {
  for (const std::string var_name : {"var", "logvar"}) {
    Session a = Session::from_model(two_heads(11, "mean", var_name), "a.onnx");
    Session b = Session::from_model(two_heads(12, "mean", var_name), "b.onnx");
    ExplainRequest r = epsilon_request();
    r.variance.ensemble = {"b.onnx"};
    const Tensor x = random_tensor({2, 4}, 45);
    const CovExplanation e = explain_cov(a, {&b}, {x}, r);
    ASSERT_FALSE(e.aleatoric.f.empty());
    EXPECT_EQ(e.explained, "mean of output 'mean' unit 0");
    for (int64_t s = 0; s < 2; ++s) {
      double mean_var = 0;
      for (Session* m : {&a, &b}) {
        const float v = m->predict({x})[1].f[s];
        mean_var += (var_name == "var" ? v : std::exp(v)) / 2.0;
      }
      EXPECT_NEAR(e.member_variances.f[s], var_name == "var" ? a.predict({x})[1].f[s] : std::exp(a.predict({x})[1].f[s]), 1e-5);
      EXPECT_NEAR(sum(e.aleatoric, s), mean_var, 1e-4 * mean_var) << var_name << " sample " << s;
      EXPECT_NEAR(sum(e.marg, s), e.output_variance[s], 1e-4 * e.output_variance[s] + 1e-9);
    }
  }
}

// ---- driver shares ------------------------------------------------------------------------------------
TEST(DriverShare, HandComputed) {
  // Sample 0: |R| = 1,1,2,0 -> share of {2} = 2/4; sample 1: |R| = 3,0,1,0 -> 1/4 (a repeat counts once).
  const Tensor r = Tensor::from_floats({2, 4}, {1, -1, 2, 0, -3, 0, 1, 0});
  EXPECT_DOUBLE_EQ(driver_share(r, {2, 2}, "--var-features"), (0.5 + 0.25) / 2);
  EXPECT_DOUBLE_EQ(driver_share(r, {0, 1, 2, 3}, "f"), 1.0);
  expect_error([&] { driver_share(r, {4}, "--mean-features"); }, ErrorKind::BadInput, "--mean-features: feature 4 is out of range (4 features)");
}

// ---- committed benchmark ------------------------------------------------------------------------------
TEST(VarianceBenchmark, CommittedModelFindsTheTrueDrivers) {
  const std::string dir = std::string(RELSCOPE_SOURCE_DIR) + "/assets/variance/";
  Session s = Session::load_file(dir + "gaussian_mlp.onnx");
  const Tensor x = read_npy_file(dir + "samples.npy", s.limits());
  const Tensor expected = read_npy_file(dir + "samples_expected.npy", s.limits());
  EXPECT_LT(testing::max_abs_diff(s.predict({x})[0], expected), 1e-4f);
  Explainer ex(s);
  for (const std::string method : {"lrp", "gradient-x-input", "integrated-gradients"}) {
    double share[2];
    for (int v = 0; v < 2; ++v) {
      RequestText t;
      t.values = {{"method", method}, {"composite", "epsilon"}, {"explain", v ? "variance" : "mean"}};
      ExplainRequest r = parse_request(t, s.graph());
      apply_explain_choice(s, {x}, r);
      share[v] = driver_share(ex.explain({x}, r).relevance, v ? std::vector<int64_t>{3, 4} : std::vector<int64_t>{0, 1, 2}, "drivers");
    }
    std::printf("[ shares   ] %s: mean -> {0,1,2} %.1f%%, variance -> {3,4} %.1f%%\n", method.c_str(), 100 * share[0], 100 * share[1]);
    EXPECT_GE(share[0], 0.8) << method;
    EXPECT_GE(share[1], 0.8) << method;
  }
}

}  // namespace
}  // namespace relscope::relevance
