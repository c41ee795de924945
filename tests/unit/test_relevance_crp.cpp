// Concept Relevance Propagation: channel masks and sums by hand, conditional maps add up to the plain map,
// a channel without relevance gives a zero map, concept ranking against the conditional maps, and errors.
//
// Sections: keep_channels / channel_sums | conditional maps | concept ranking | errors
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "engine/session.h"
#include "expect_error.h"
#include "io/npy.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/attribution.h"
#include "relevance/crp.h"
#include "relevance/explain.h"
#include "relevance/composite.h"
#include "relevance/sweep.h"

namespace relscope::relevance {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::ModelBuilder;
using testing::random_tensor;

const std::string kModels = std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/";

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// ---- keep_channels / channel_sums -----------------------------------------------------------------------
TEST(CrpChannels, KeepAndSumByHand) {
  // (N=2, C=3, 2 positions): value = 100 n + 10 c + position.
  Tensor r = Tensor::zeros({2, 3, 2});
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 2; ++p) r.f[(n * 3 + c) * 2 + p] = static_cast<float>(100 * n + 10 * c + p);
  const Tensor sums = channel_sums(r, 1);
  ASSERT_EQ(sums.shape, (Shape{2, 3}));
  EXPECT_EQ(sums.f, (std::vector<float>{1, 21, 41, 201, 221, 241}));
  keep_channels(r, 1, {2, 0});
  EXPECT_EQ(r.f, (std::vector<float>{0, 1, 0, 0, 20, 21, 100, 101, 0, 0, 120, 121}));
  // Last axis as the channel axis (a Gemm output): (N=2, F=3).
  Tensor d = Tensor::from_floats({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(channel_sums(d, 1).f, d.f);
  keep_channels(d, 1, {1});
  EXPECT_EQ(d.f, (std::vector<float>{0, 2, 0, 0, 5, 0}));
  testing::expect_error([&] { keep_channels(d, 1, {3}); }, ErrorKind::BadInput, "channel 3 is out of range: the layer has 3 channels");
}

// ---- conditional maps -----------------------------------------------------------------------------------
onnx::ModelProto cnn() {
  ModelBuilder b;
  b.input("x", {2, 8, 8}).init("W1", random_tensor({4, 2, 3, 3}, 1)).init("b1", random_tensor({4}, 4));
  b.init("W2", random_tensor({5, 4, 3, 3}, 2)).init("W3", random_tensor({3, 5}, 3));
  b.node("Conv", {"x", "W1", "b1"}, {"c1"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("MaxPool", {"r1"}, {"p1"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})})
      .node("Conv", {"p1", "W2"}, {"c2"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv2")
      .node("Relu", {"c2"}, {"r2"})
      .node("GlobalAveragePool", {"r2"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("Gemm", {"f", "W3"}, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  return b.build();
}

TEST(Crp, ConditionalMapsOfAllChannelsAddUpToTheHeatmap) {
  Session s = Session::from_model(cnn(), "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({2, 2, 8, 8}, 31);
  for (const std::string composite : {"epsilon-plus-flat", "epsilon-alpha2-beta1", "epsilon"}) {
    for (const std::string layer : {"conv1", "conv2", "fc"}) {
      ExplainRequest plain;
      plain.composite = composite;
      ExplainRequest crp = plain;
      crp.method = "crp";
      crp.crp.layer = layer;
      const int64_t channels = layer == "conv1" ? 4 : layer == "conv2" ? 5 : 3;
      for (int64_t c = 0; c < channels; ++c) crp.crp.channels.push_back(c);
      const auto heat = ex.explain({x}, plain);
      const auto maps = ex.explain({x}, crp);
      ASSERT_EQ(maps.relevance.shape, (Shape{2, channels, 2, 8, 8}));
      const int64_t per = 2 * 8 * 8;
      const float tol = 1e-5f * max_abs(heat.relevance.f);
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < per; ++i) {
          double total = 0;
          for (int64_t c = 0; c < channels; ++c) total += maps.relevance.f[(b * channels + c) * per + i];
          ASSERT_NEAR(total, heat.relevance.f[b * per + i], tol) << composite << " " << layer << " sample " << b;
        }
      // joint over every channel = the plain heatmap too.
      crp.crp.joint = true;
      const auto joint = ex.explain({x}, crp);
      ASSERT_EQ(joint.relevance.shape, x.shape);
      for (size_t i = 0; i < joint.relevance.f.size(); ++i) ASSERT_NEAR(joint.relevance.f[i], heat.relevance.f[i], tol);
    }
  }
}

TEST(Crp, AChannelWithoutRelevanceGivesAZeroMap) {
  // conv2's channel 0 has all-zero weights and no bias: its ReLU output is 0, so LRP sends it nothing.
  onnx::ModelProto m = cnn();
  for (auto& init : m.graph.initializers)
    if (init.name == "W2")
      for (int64_t k = 0; k < 4 * 3 * 3; ++k) init.tensor.f[k] = 0.0f;
  Session s = Session::from_model(m, "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({1, 2, 8, 8}, 32);
  ExplainRequest r;
  r.crp.layer = "conv2";
  const auto rank = ex.concepts({x}, r);
  EXPECT_EQ(rank.relevance.f[0], 0.0f);
  const int64_t top = std::max_element(rank.relevance.f.begin(), rank.relevance.f.end(),
                                       [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - rank.relevance.f.begin();
  ASSERT_NE(top, 0);
  r.method = "crp";
  r.crp.channels = {0, top};
  const auto maps = ex.explain({x}, r);
  const int64_t per = 2 * 8 * 8;
  for (int64_t i = 0; i < per; ++i) ASSERT_EQ(maps.relevance.f[i], 0.0f);
  EXPECT_GT(max_abs(std::vector<float>(maps.relevance.f.begin() + per, maps.relevance.f.end())), 0.0f);
}

// ---- concept ranking ------------------------------------------------------------------------------------
// On a bias-free ReLU net LRP-epsilon (eps -> 0) conserves relevance layer by layer, so a channel's concept
// relevance (its relevance at the layer) equals the total of its conditional map at the input, and the
// channels' concept relevances add up to the explained output.
TEST(Crp, ConceptRelevanceEqualsTheTotalOfItsConditionalMap) {
  onnx::ModelProto m = cnn();
  m.graph.nodes[0].inputs.pop_back();   // conv1 without its bias
  Session s = Session::from_model(m, "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({2, 2, 8, 8}, 34);
  ExplainRequest r;
  r.composite = "epsilon";
  r.params.epsilon = 1e-9f;
  r.crp.layer = "conv2";
  const auto rank = ex.concepts({x}, r);
  ASSERT_EQ(rank.relevance.shape, (Shape{2, 5}));
  r.method = "crp";
  r.crp.channels = {0, 1, 2, 3, 4};
  const auto maps = ex.explain({x}, r);
  const int64_t per = 2 * 8 * 8;
  for (int64_t b = 0; b < 2; ++b) {
    double total = 0, ratio = 0;
    const double out = rank.output.f[b * 3 + rank.targets[b]];
    for (int64_t c = 0; c < 5; ++c) {
      const float rc = rank.relevance.f[b * 5 + c];
      double map_total = 0;
      for (int64_t i = 0; i < per; ++i) map_total += maps.relevance.f[(b * 5 + c) * per + i];
      EXPECT_NEAR(map_total, rc, 1e-4 * std::fabs(out) + 1e-6) << "sample " << b << " channel " << c;
      total += rc;
      // normalized = relevance / (sample's sum of |R| at the layer): one common factor per sample.
      if (rc != 0.0f) {
        const double q = rank.normalized.f[b * 5 + c] / rc;
        if (ratio == 0) ratio = q;
        EXPECT_NEAR(q, ratio, 1e-5 * ratio) << c;
      }
    }
    EXPECT_NEAR(total, out, 1e-4 * std::fabs(out)) << "sample " << b;
    EXPECT_GT(ratio, 0.0);
  }
}

// ---- attribution graph ----------------------------------------------------------------------------------
// Bias-free ReLU net, LRP-epsilon with eps -> 0: conserving, so a concept's children over all channels of
// the layer below add up to it, at every level of the graph.
TEST(CrpAttributionGraph, ChildrenAddUpToTheirParentAndTheTopAreTheLargest) {
  onnx::ModelProto m = cnn();
  m.graph.nodes[0].inputs.pop_back();   // conv1 without its bias
  Session s = Session::from_model(m, "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({1, 2, 8, 8}, 35);
  ExplainRequest r;
  r.composite = "epsilon";
  r.params.epsilon = 1e-9f;
  EXPECT_EQ(ex.concept_layers({x}), (std::vector<std::string>{"conv1", "conv2", "fc"}));
  const auto probe = ex.conditional_concepts({x}, r, {{}}, "fc");
  const int64_t t = probe.target;
  EXPECT_FLOAT_EQ(probe.relevance.f[t], probe.output);   // the seed: onehot(target) * output

  const auto all = attribution_graph(ex, {x}, r, "fc", t, 2, 5);   // every conv2 and conv1 channel
  ASSERT_EQ(all.nodes.size(), 1u + 5 + 5 * 4);
  EXPECT_EQ(all.nodes[0].layer, "fc");
  EXPECT_FLOAT_EQ(all.nodes[0].relevance, probe.output);
  std::vector<double> child_sum(all.nodes.size(), 0.0);
  for (size_t k = 1; k < all.nodes.size(); ++k) {
    const auto& n = all.nodes[k];
    EXPECT_EQ(n.layer, n.depth == 1 ? "conv2" : "conv1");
    EXPECT_EQ(all.nodes[n.parent].depth, n.depth - 1);
    child_sum[n.parent] += n.relevance;
  }
  for (size_t k = 0; k < all.nodes.size(); ++k)
    if (all.nodes[k].depth < 2) {
      EXPECT_NEAR(child_sum[k], all.nodes[k].relevance, 1e-4 * std::fabs(probe.output) + 1e-7) << "node " << k;
    }

  // top 2: the two largest of the full list, best first.
  const auto two = attribution_graph(ex, {x}, r, "fc", t, 1, 2);
  ASSERT_EQ(two.nodes.size(), 3u);
  std::vector<float> level1;
  for (size_t k = 1; k <= 5; ++k) level1.push_back(all.nodes[k].relevance);
  EXPECT_EQ(two.nodes[1].relevance, level1[0]);
  EXPECT_EQ(two.nodes[2].relevance, level1[1]);
  EXPECT_GE(two.nodes[1].relevance, two.nodes[2].relevance);

  testing::expect_error([&] { attribution_graph(ex, {x}, r, "fc", 7, 1, 2); }, ErrorKind::BadInput, "channel 7 is out of range: fc has 3 channels");
  testing::expect_error([&] { attribution_graph(ex, {x}, r, "r1", 0, 1, 2); }, ErrorKind::BadInput, "--layer r1: a Relu node");
}

// ---- errors ---------------------------------------------------------------------------------------------
// CRP and unit maps sweep the part above their layer once (backward_sweep_branches): each branch must equal a
// whole sweep with the same edit as a hook, bit for bit - here at every linear layer of a residual network,
// where relevance is still in flight on the skip path when the branches split. Rankings and layer maps sweep
// only down to their layer (backward_sweep_to): the relevance there is the whole sweep's.
TEST(Crp, BranchedAndShortenedSweepsEqualWholeSweeps) {
  Session model = Session::load_file(kModels + "resnet_tiny_opset13.onnx");
  Explainer explainer(model);
  Session& s = explainer.session_for("crp");
  const Graph& g = s.graph();
  const Tensor x = read_npy_file(kModels + "resnet_tiny_opset13_input.npy", Limits{});
  const Activations act = s.forward_recorded({x});
  const Plan& plan = *act.plan;
  const auto rules = assign_rules(g, plan, "epsilon-plus-flat", {}, {});
  const int out = g.outputs[0];
  const Tensor& y = act.get(out);
  Tensor seed = Tensor::zeros(y.shape);
  for (int64_t b = 0; b < y.shape[0]; ++b) seed.f[b * y.shape[1] + 1] = y.f[b * y.shape[1] + 1];
  const std::vector<std::function<void(Tensor&)>> edits = {
      [](Tensor& r) { keep_channels(r, 1, {0}); },
      [](Tensor& r) { keep_channels(r, 1, {1, 2}); },
      [](Tensor& r) { std::fill(r.f.begin(), r.f.end(), 0.0f); },
      [](Tensor& r) { for (float& v : r.f) v *= -2.0f; },
  };
  int layers = 0;
  for (const std::string& name : explainer.concept_layers({x})) {
    const ConceptLayer layer = find_concept_layer(g, plan, name);
    SweepOptions keep_all;
    keep_all.keep_all = true;
    const auto branches = backward_sweep_branches(g, plan, act, rules, out, seed, layer.value, edits, keep_all);
    ASSERT_EQ(branches.size(), edits.size());
    for (size_t k = 0; k < edits.size(); ++k) {
      SweepOptions hooked = keep_all;
      hooked.at_node_output = [&](const Node&, int value, Tensor& r) {
        if (value == layer.value) edits[k](r);
      };
      const SweepResult whole = backward_sweep(g, plan, act, rules, out, seed, hooked);
      ASSERT_EQ(whole.values.size(), branches[k].values.size());
      for (size_t v = 0; v < whole.values.size(); ++v)
        EXPECT_EQ(whole.values[v].f, branches[k].values[v].f) << name << " edit " << k << " value " << g.values[v].name;
      EXPECT_EQ(whole.input_relevance[0].f, branches[k].input_relevance[0].f) << name << " edit " << k;
    }
    // Sweeping only down to the layer gives the relevance a whole sweep has there.
    Tensor captured;
    SweepOptions capture;
    capture.at_node_output = [&](const Node&, int value, Tensor& r) {
      if (value == layer.value) captured = r;
    };
    backward_sweep(g, plan, act, rules, out, seed, capture);
    ASSERT_FALSE(captured.f.empty()) << name;
    EXPECT_EQ(backward_sweep_to(g, plan, act, rules, out, seed, layer.value).f, captured.f) << name;
    ++layers;
  }
  EXPECT_GE(layers, 5);
  // A value the sweep never reaches: no edit applies, every branch is the plain sweep.
  const auto none = backward_sweep_branches(g, plan, act, rules, out, seed, g.inputs[0], edits);
  const SweepResult plain = backward_sweep(g, plan, act, rules, out, seed);
  for (const auto& b : none) EXPECT_EQ(b.input_relevance[0].f, plain.input_relevance[0].f);
}

TEST(Crp, LayerAndChannelErrorsNameTheProblem) {
  Session s = Session::from_model(cnn(), "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({1, 2, 8, 8}, 33);
  ExplainRequest r;
  r.method = "crp";
  r.crp = {"nope", {0}, false};
  testing::expect_error([&] { ex.explain({x}, r); }, ErrorKind::BadInput, "--layer nope: no node has this name; linear layers: conv1, conv2, fc");
  r.crp.layer = "r1";
  testing::expect_error([&] { ex.explain({x}, r); }, ErrorKind::BadInput, "--layer r1: a Relu node");
  r.crp = {"conv2", {}, false};
  testing::expect_error([&] { ex.explain({x}, r); }, ErrorKind::BadInput, "--channels: give at least one channel of conv2 (it has 5)");
  r.crp.channels = {5};
  testing::expect_error([&] { ex.explain({x}, r); }, ErrorKind::BadInput, "channel 5 is out of range");
}

}  // namespace
}  // namespace relscope::relevance
