// The kept recorded pass (Session::recorded): asking again about the same input runs only the backward part,
// and every answer equals the one a fresh session gives, bit for bit. The keeping itself: bit-exact inputs
// only, one pass at a time, dropped by a pass on other inputs and with its plan, alive while a caller holds it.
//
// Sections: helpers | Session::recorded | PassMemo | Explainer: answers equal fresh ones | Explainer: what is run
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>

#include "engine/session.h"
#include "io/npy.h"
#include "relevance/explain.h"
#include "relevance/request.h"
#include "relevance/rule.h"

namespace relscope::relevance {
namespace {

// ---- helpers ------------------------------------------------------------------------------------------------------
// resnet_tiny: Conv + BatchNorm (the canonizer merges it, so LRP and gradient methods run different graphs),
// a residual add, pooling and a Gemm.
const std::string kModel = std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/resnet_tiny_opset13";

Session load(const Limits& limits = {}) { return Session::load_file(kModel + ".onnx", limits); }
Tensor sample() { return read_npy_file(kModel + "_input.npy", Limits{}); }

Tensor other_sample() {
  Tensor x = sample();
  for (size_t k = 0; k < x.f.size(); ++k) x.f[k] = 0.5f * x.f[k] + 0.01f * static_cast<float>(k % 7);
  return x;
}

ExplainRequest request(const std::map<std::string, std::string>& values, const Graph& g) {
  RequestText text;
  text.values = values;
  return parse_request(text, g, "");
}

// ---- Session::recorded ----------------------------------------------------------------------------------------------
TEST(KeptPass, SameInputIsServedFromTheKeptPass) {
  Session s = load();
  const Tensor x = sample();
  const auto a = s.recorded({x});
  const auto b = s.recorded({x});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(s.recorded_runs(), 1u);
  // What it serves is the pass forward_recorded runs.
  Session other = load();
  const Activations fresh = other.forward_recorded({x});   // points into `other`'s plan: keep it alive
  const int y = s.graph().outputs[0];
  EXPECT_TRUE(same_bits(a->get(y), fresh.get(y)));
}

TEST(KeptPass, AnyBitOfTheInputCounts) {
  Session s = load();
  Tensor x = sample();
  x.f[5] = 0.0f;
  const auto a = s.recorded({x});
  Tensor minus_zero = x;
  minus_zero.f[5] = -0.0f;   // == 0.0f, yet another input to the model
  const auto b = s.recorded({minus_zero});
  EXPECT_NE(a.get(), b.get());
  Tensor next_float = x;
  next_float.f[17] = std::nextafter(x.f[17], 10.0f);
  const auto c = s.recorded({next_float});
  EXPECT_NE(b.get(), c.get());
  EXPECT_EQ(s.recorded_runs(), 3u);
  // The caller's copies stay valid after the session moved on.
  const int y = s.graph().outputs[0];
  EXPECT_TRUE(same_bits(a->get(y), load().forward_recorded({x}).get(y)));
}

TEST(KeptPass, OnePassAtATime) {
  Session s = load();
  std::weak_ptr<const Activations> first = s.recorded({sample()});
  EXPECT_FALSE(first.expired());   // kept by the session
  s.recorded({other_sample()});
  EXPECT_TRUE(first.expired());    // freed: the session never holds two
  EXPECT_TRUE(s.has_recorded());
}

TEST(KeptPass, ForwardPassOnOtherInputsDropsIt) {
  Session s = load();
  const Tensor x = sample();
  s.recorded({x});
  s.predict({x});   // the same input: kept
  EXPECT_TRUE(s.has_recorded());
  s.predict({other_sample()});
  EXPECT_FALSE(s.has_recorded());
  s.recorded({x});
  s.forward_recorded({other_sample()});
  EXPECT_FALSE(s.has_recorded());
  s.recorded({x});
  s.drop_recorded();
  EXPECT_FALSE(s.has_recorded());
}

TEST(KeptPass, DroppedWithItsPlanButValidWhileHeld) {
  Session s = load();
  const Tensor x = sample();
  const auto held = s.recorded({x});
  // Four more input shapes (batches) push the kept pass's plan out of the plan cache (4 plans).
  for (int64_t batch : {5, 6, 7, 8}) {
    Tensor other = Tensor::zeros({batch, x.shape[1], x.shape[2], x.shape[3]});
    s.plan_for({other});
  }
  EXPECT_FALSE(s.has_recorded());
  const int y = s.graph().outputs[0];
  EXPECT_EQ(held->plan->input_shapes[0], x.shape);   // the plan lives on with the pass
  EXPECT_TRUE(same_bits(held->get(y), load().forward_recorded({x}).get(y)));
}

// ---- PassMemo -----------------------------------------------------------------------------------------------------
TEST(KeptPass, PassMemoKeepsWithinItsBudgetOldestLeavingFirst) {
  PassMemo m;
  m.set_budget(10 * sizeof(float));
  EXPECT_EQ(m.put("a", std::vector<float>(4, 1.0f))->size(), 4u);
  EXPECT_NE(m.put("b", std::vector<float>(4, 2.0f)), nullptr);
  EXPECT_EQ(m.put("big", std::vector<float>(11, 3.0f)), nullptr);   // alone over the budget: not kept
  EXPECT_EQ(m.size(), 2u);
  const auto* c = m.put("c", std::vector<float>(5, 4.0f));            // 13 floats: "a" leaves
  ASSERT_NE(c, nullptr);
  EXPECT_EQ((*c)[4], 4.0f);
  EXPECT_EQ(m.find("a"), nullptr);
  ASSERT_NE(m.find("b"), nullptr);
  EXPECT_EQ((*m.find("b"))[0], 2.0f);
  EXPECT_EQ(m.bytes(), 9 * sizeof(float));
  EXPECT_EQ(m.put("b", std::vector<float>(1, 9.0f))->size(), 4u);     // a key is never replaced
  const auto* ids = m.put("i", std::vector<int64_t>{1LL << 40, -1});   // 4 floats' worth: "b" leaves
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ((*ids)[0], 1LL << 40);
  EXPECT_EQ(m.find("i"), nullptr);                                     // not floats
  EXPECT_EQ(m.find("b"), nullptr);
  EXPECT_EQ(m.bytes(), 9 * sizeof(float));
  EXPECT_TRUE(m.fits(10 * sizeof(float)));
  EXPECT_FALSE(m.fits(11 * sizeof(float)));
}

// Sweeps over a kept pass keep each linear layer's denominators (one entry per layer and rule, shared by
// every target, more for another composite's rules) and each max-pool's arg-max, never more than the pass's
// memory limit leaves.
TEST(KeptPass, SweepsKeepTheirDenominatorsOnThePass) {
  Session s = load();
  Explainer e(s);
  const Tensor x = sample();
  const ExplainRequest plus = request({{"target", "0"}}, s.graph());
  size_t linear = 0, max_pools = 0;
  for (const Rule& r : e.rules_for({x}, plus)) linear += r.kind == RuleKind::Linear;
  for (const Node& n : e.canonical_graph().nodes) max_pools += n.op == Op::MaxPool;
  ASSERT_GT(linear, 3u);
  ASSERT_EQ(max_pools, 1u);   // its arg-max indices are kept too
  Session& lrp = e.session_for("lrp");
  e.explain({x}, plus);
  EXPECT_EQ(lrp.recorded({x})->memo.size(), linear + max_pools);
  e.explain({x}, request({{"target", "4"}}, s.graph()));
  e.concepts({x}, request({{"layer", e.concept_layers({x}).at(1)}}, s.graph()));
  EXPECT_EQ(lrp.recorded({x})->memo.size(), linear + max_pools);
  e.explain({x}, request({{"composite", "epsilon-alpha2-beta1-flat"}}, s.graph()));
  EXPECT_GT(lrp.recorded({x})->memo.size(), linear + max_pools);   // alpha-beta's convolutions: new denominators
  EXPECT_EQ(lrp.recorded_runs(), 1u);

  // A limit that leaves room for a few layers only: the memo stays within it, the answers stay exact.
  const Plan& plan = lrp.plan_for({x});
  Limits tight;
  tight.max_total_bytes = 2 * (plan.activation_bytes + x.byte_size()) + plan.activation_bytes / 8;
  Session small = load(tight);
  Explainer te(small);
  for (const char* target : {"0", "4", "0"}) {
    const ExplainRequest r = request({{"target", target}}, s.graph());
    EXPECT_TRUE(same_bits(te.explain({x}, r).relevance, e.explain({x}, r).relevance)) << target;
    const auto pass = te.session_for("lrp").recorded({x});
    EXPECT_LE(pass->memo.bytes(), plan.activation_bytes / 8);
    EXPECT_GT(pass->memo.size(), 0u);
  }
}

// ---- Explainer: answers equal fresh ones -----------------------------------------------------------------------------
// A sequence of requests on one input, each answered by one Explainer (kept pass) and by a fresh one.
TEST(KeptPass, EveryMethodAnswersAsAFreshExplainer) {
  Session s = load();
  Explainer shared(s);
  const Tensor x = sample();
  const std::string layer = shared.concept_layers({x}).at(2);
  const std::vector<std::map<std::string, std::string>> sequence = {
      {{"target", "0"}},
      {{"target", "3"}},
      {{"composite", "epsilon-alpha2-beta1-flat"}},
      {{"composite", "epsilon-gamma-box"}, {"low", "-3"}, {"high", "3"}},
      {{"method", "pruned-lrp"}, {"prune", "0.4"}},
      {{"method", "pruned-lrp"}, {"prune", "0.4"}, {"prune-mode", "mask"}},
      {{"method", "crp"}, {"layer", layer}, {"channels", "0,1"}},
      {{"method", "gradient"}},
      {{"method", "gradient-x-input"}, {"target", "1"}},
      {{"method", "integrated-gradients"}, {"steps", "3"}},
      {{"method", "smoothgrad"}, {"samples", "3"}},
      {{"method", "occlusion"}, {"window", "4"}, {"stride", "4"}},
      {{"target", "0"}},
  };
  for (int round = 0; round < 2; ++round)
    for (const auto& values : sequence) {
      std::string what;
      for (const auto& [k, v] : values) what += k + "=" + v + " ";
      SCOPED_TRACE(what + "round " + std::to_string(round));
      const ExplainRequest r = request(values, s.graph());
      const Explanation got = shared.explain({x}, r);
      Session fresh_session = load();
      Explainer fresh(fresh_session);
      const Explanation want = fresh.explain({x}, r);
      EXPECT_TRUE(same_bits(got.relevance, want.relevance));
      EXPECT_TRUE(same_bits(got.output, want.output));
      EXPECT_EQ(got.targets, want.targets);
    }
}

TEST(KeptPass, ConceptMethodsAnswerAsAFreshExplainer) {
  Session s = load();
  Explainer shared(s);
  const Tensor x = slice_batch(sample(), 0, 1);   // unit maps and attribution graphs take one sample
  const auto layers = shared.concept_layers({x});
  ExplainRequest r = request({{"layer", layers.at(2)}}, s.graph());
  for (int round = 0; round < 2; ++round) {
    Session fs = load();
    Explainer fresh(fs);
    EXPECT_TRUE(same_bits(shared.concepts({x}, r).relevance, fresh.concepts({x}, r).relevance));
    const ConceptMaps got = shared.concept_maps({x}, r), want = fresh.concept_maps({x}, r);
    EXPECT_TRUE(same_bits(got.relevance, want.relevance));
    EXPECT_TRUE(same_bits(got.activation, want.activation));
    EXPECT_TRUE(same_bits(shared.unit_maps({x}, r, {{1, 2}})[0], fresh.unit_maps({x}, r, {{1, 2}})[0]));
    const std::vector<std::vector<ConceptCondition>> paths = {{}, {{layers.at(2), {0}}}};
    EXPECT_TRUE(same_bits(shared.conditional_concepts({x}, r, paths, layers.at(1)).relevance,
                          fresh.conditional_concepts({x}, r, paths, layers.at(1)).relevance));
    r.targets = {2};   // the second round asks about another class
  }
}

// ---- Explainer: what is run -------------------------------------------------------------------------------------------
TEST(KeptPass, ReExplainingRunsNoForwardPass) {
  Session s = load();
  Explainer e(s);
  const Tensor x = sample();
  Session& lrp = e.session_for("lrp");
  Session& plain = e.session_for("gradient");
  ASSERT_NE(&lrp, &plain);
  e.explain({x}, request({{"target", "0"}}, s.graph()));
  e.explain({x}, request({{"target", "4"}}, s.graph()));
  e.explain({x}, request({{"composite", "epsilon-alpha2-beta1"}}, s.graph()));
  e.concepts({x}, request({{"layer", e.concept_layers({x}).at(1)}}, s.graph()));
  EXPECT_EQ(lrp.recorded_runs(), 1u);
  // A gradient method records on the model as it is, and frees the canonized graph's pass.
  e.explain({x}, request({{"method", "gradient"}}, s.graph()));
  e.explain({x}, request({{"method", "gradient-x-input"}}, s.graph()));
  EXPECT_EQ(plain.recorded_runs(), 1u);
  EXPECT_FALSE(lrp.has_recorded());
  e.explain({x}, request({}, s.graph()));
  EXPECT_EQ(lrp.recorded_runs(), 2u);
  EXPECT_FALSE(plain.has_recorded());
  // Another input, and a dropped pass, run it again.
  e.explain({other_sample()}, request({}, s.graph()));
  EXPECT_EQ(lrp.recorded_runs(), 3u);
  e.drop_recorded();
  e.explain({other_sample()}, request({}, s.graph()));
  EXPECT_EQ(lrp.recorded_runs(), 4u);
}

}  // namespace
}  // namespace relscope::relevance
