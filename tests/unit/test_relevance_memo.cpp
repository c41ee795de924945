// Rules reuse per-plan memoised data (Plan::memo: modified weights, Flat's z) and skip terms whose input is
// all zero: repeated and interleaved explanations on one session must equal fresh ones, bit for bit, and
// the skip must not change any value.
//
// Sections: helpers | memo | zero-input terms
#include <gtest/gtest.h>

#include "engine/session.h"
#include "model_builder.h"
#include "relevance/linear_rule.h"
#include "relevance/rule.h"
#include "relevance/sweep.h"

namespace relscope::relevance {
namespace {

using testing::ModelBuilder;

// ---- helpers ------------------------------------------------------------------------------------------------------
// x (1x2x4x4) -> Conv(3 filters 2x2x2, bias) -> Gemm(B 27x2, C) -> y: two linear layers of two kinds.
Session two_layer_model() {
  std::vector<float> w(3 * 2 * 2 * 2), B(27 * 2);
  for (size_t k = 0; k < w.size(); ++k) w[k] = static_cast<float>((k * 7) % 11) / 5.0f - 1.0f;
  for (size_t k = 0; k < B.size(); ++k) B[k] = static_cast<float>((k * 5) % 13) / 6.0f - 1.0f;
  ModelBuilder b;
  b.input("x", {2, 4, 4})
      .init("W", Tensor::from_floats({3, 2, 2, 2}, w))
      .init("b", Tensor::from_floats({3}, {0.1f, -0.2f, 0.3f}))
      .init("shape", Tensor::from_ints({2}, {1, 27}))
      .init("B", Tensor::from_floats({27, 2}, B))
      .init("C", Tensor::from_floats({2}, {0.5f, -1}))
      .node("Conv", {"x", "W", "b"}, {"h"}, {}, "conv")
      .node("Reshape", {"h", "shape"}, {"f"}, {}, "flat")
      .node("Gemm", {"f", "B", "C"}, {"y"}, {}, "fc")
      .output("y");
  return Session::from_model(b.build(), "two_layer.onnx");
}

Tensor input(float shift) {
  std::vector<float> v(32);
  for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>((k * 3) % 8) / 4.0f - shift;
  return Tensor::from_floats({1, 2, 4, 4}, v);
}

std::vector<float> explain(Session& s, const Rule& rule, const Tensor& x) {
  Activations a = s.forward_recorded({x});
  std::vector<Rule> rules(s.graph().nodes.size(), rule_pass());
  for (size_t k = 0; k < rules.size(); ++k)
    if (s.graph().nodes[k].op == Op::Conv || s.graph().nodes[k].op == Op::Gemm) rules[k] = rule;
  return backward_sweep(s.graph(), *a.plan, a, rules, s.graph().outputs[0], Tensor::from_floats({1, 2}, {1, -0.5f}))
      .input_relevance[0]
      .f;
}

// ---- memo ---------------------------------------------------------------------------------------------------------------
TEST(RelevanceMemo, OneSessionManyRulesEqualsFreshSessions) {
  const std::vector<Rule> rules = {rule_gamma(0.25f), rule_gamma(1.0f), rule_zplus(),   rule_flat(),
                                   rule_wsquare(),    rule_alpha_beta(2, 1), rule_epsilon(), rule_zbox({-1}, {2})};
  const Tensor x = input(0.8f);
  std::vector<std::vector<float>> fresh;
  for (const Rule& r : rules) {
    Session s = two_layer_model();
    fresh.push_back(explain(s, r, x));
  }
  Session shared = two_layer_model();
  for (int pass = 0; pass < 2; ++pass)   // the second pass runs entirely on memoised weights
    for (size_t k = 0; k < rules.size(); ++k) {
      SCOPED_TRACE(rules[k].describe() + " pass " + std::to_string(pass));
      EXPECT_EQ(explain(shared, rules[k], x), fresh[k]);
    }
  // Gamma's memo is keyed by gamma: 0.25 and 1 differ.
  EXPECT_NE(fresh[0], fresh[1]);
}

// Unmodified weights are the model's own storage, never a per-plan copy: a Conv's, and a Gemm's B read in
// place (W = B here; VGG-16's classifier would otherwise hold a second 471 MiB). Modified weights are made
// once per plan and shared by every later call.
TEST(RelevanceMemo, IdentityWeightsAreTheModelsOwnAndModifiedOnesAreMadeOnce) {
  Session s = two_layer_model();
  const Plan& p = s.plan_for({input(0.8f)});
  const Graph& g = s.graph();
  for (const Node& n : g.nodes) {
    if (n.op != Op::Conv && n.op != Op::Gemm) continue;
    const LinearLayer L = linear_layer(g, p, n);
    EXPECT_EQ(L.weight, g.values[n.inputs[1]].initializer->f.data()) << n.name;
    EXPECT_EQ(modified_weight(L, ParamMod::Identity, 0), L.weight) << n.name;
    const float* plus = modified_weight(L, ParamMod::Positive, 0);
    EXPECT_NE(plus, L.weight) << n.name;
    EXPECT_EQ(modified_weight(linear_layer(g, p, n), ParamMod::Positive, 0), plus) << n.name;
  }
}

// ---- zero-input terms ----------------------------------------------------------------------------------------------------
// zplus on a non-negative input skips its (x-, w-) term; the result must equal the rule's definition.
TEST(RelevanceMemo, ZPlusOnNonNegativeInputMatchesTheDefinition) {
  // One Gemm: R_i = sum_j x_i w+_ij / (sum_i x_i w+_ij + b+_j + eps) R_j for x >= 0.
  ModelBuilder b;
  const std::vector<float> W = {1, -2, 0.5f, 3, -1, 0.25f};
  const std::vector<float> c = {0.5f, -1};
  b.input("x", {3})
      .init("B", Tensor::from_floats({3, 2}, W))
      .init("C", Tensor::from_floats({2}, c))
      .node("Gemm", {"x", "B", "C"}, {"y"}, {}, "fc")
      .output("y");
  Session s = Session::from_model(b.build(), "dense.onnx");
  const std::vector<float> x = {1, 0, 2.5f}, R = {1, 2};
  Activations a = s.forward_recorded({Tensor::from_floats({1, 3}, x)});
  const auto got = backward_sweep(s.graph(), *a.plan, a, {rule_zplus()}, s.graph().outputs[0], Tensor::from_floats({1, 2}, R))
                       .input_relevance[0]
                       .f;
  for (int i = 0; i < 3; ++i) {
    double want = 0;
    for (int j = 0; j < 2; ++j) {
      double z = std::max(c[j], 0.0f) + 1e-6;
      for (int k = 0; k < 3; ++k) z += x[k] * std::max(W[k * 2 + j], 0.0f);
      want += x[i] * std::max(W[i * 2 + j], 0.0f) / z * R[j];
    }
    EXPECT_NEAR(got[i], want, 1e-6) << "input " << i;
  }
}

}  // namespace
}  // namespace relscope::relevance
