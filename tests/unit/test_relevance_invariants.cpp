// Invariants of the relevance engine: conservation, LRP-0 = gradient x input on ReLU nets, gradients
// against central finite differences, batch independence, BatchNorm merging preserves the forward pass.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "engine/session.h"
#include "io/npy.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/canonize.h"
#include "relevance/explain.h"

namespace relscope::relevance {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::ModelBuilder;
using testing::random_tensor;

const std::string kModels = std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/";

// Conv -> Relu -> MaxPool -> Conv -> Relu -> AveragePool -> GlobalAveragePool -> Flatten -> Gemm, biases optional.
onnx::ModelProto relu_cnn(bool with_bias) {
  ModelBuilder b;
  b.input("x", {2, 8, 8}).init("W1", random_tensor({4, 2, 3, 3}, 1)).init("W2", random_tensor({4, 4, 3, 3}, 2));
  b.init("W3", random_tensor({3, 4}, 3));
  std::vector<std::string> c1 = {"x", "W1"}, c2 = {"p1", "W2"}, fc = {"f", "W3"};
  if (with_bias) {
    b.init("b1", random_tensor({4}, 4)).init("b2", random_tensor({4}, 5)).init("b3", random_tensor({3}, 6));
    c1.push_back("b1");
    c2.push_back("b2");
    fc.push_back("b3");
  }
  b.node("Conv", c1, {"c1"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("MaxPool", {"r1"}, {"p1"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})})
      .node("Conv", c2, {"c2"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv2")
      .node("Relu", {"c2"}, {"r2"})
      .node("AveragePool", {"r2"}, {"a2"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {1, 1})})
      .node("GlobalAveragePool", {"a2"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("Gemm", fc, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  return b.build();
}

double sum(const Tensor& t) {
  double s = 0;
  for (float v : t.f) s += v;
  return s;
}

TEST(RelevanceInvariants, BiasFreeReluNetsConserveRelevance) {
  Session s = Session::from_model(relu_cnn(false), "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({1, 2, 8, 8}, 11);
  for (const std::string composite : {"epsilon", "epsilon-plus", "epsilon-plus-flat"}) {
    ExplainRequest r;
    r.composite = composite;
    const auto e = ex.explain({x}, r);
    const double out = e.output.f[e.targets[0]];
    EXPECT_NEAR(sum(e.relevance), out, 1e-5 * std::fabs(out) + 1e-7) << composite;
  }
}

TEST(RelevanceInvariants, EpsilonEqualsGradientTimesInputOnReluNets) {
  Session s = Session::from_model(relu_cnn(true), "cnn.onnx");
  Explainer ex(s);
  const Tensor x = random_tensor({1, 2, 8, 8}, 12);
  ExplainRequest lrp;
  lrp.composite = "epsilon";
  lrp.params.epsilon = 1e-9f;
  ExplainRequest gxi;
  gxi.method = "gradient-x-input";
  const auto a = ex.explain({x}, lrp), b = ex.explain({x}, gxi);
  float scale = 0;
  for (float v : b.relevance.f) scale = std::max(scale, std::fabs(v));
  for (size_t k = 0; k < a.relevance.f.size(); ++k) EXPECT_NEAR(a.relevance.f[k], b.relevance.f[k], 1e-4f * scale) << k;
}

// d output[target] / d x at a few coordinates, by central differences, against the gradient method.
void check_finite_differences(Session& s, const Tensor& x, float h, float tol) {
  Explainer ex(s);
  ExplainRequest r;
  r.method = "gradient";
  const auto e = ex.explain({x}, r);
  const int64_t per = e.output.numel() / e.targets.size();
  float scale = 0;
  for (float v : e.relevance.f) scale = std::max(scale, std::fabs(v));
  for (size_t k = 0; k < x.f.size(); k += std::max<size_t>(1, x.f.size() / 23)) {
    Tensor up = x, down = x;
    up.f[k] += h;
    down.f[k] -= h;
    const float fu = s.predict({up})[0].f[e.targets[0] + 0 * per], fd = s.predict({down})[0].f[e.targets[0]];
    EXPECT_NEAR(e.relevance.f[k], (fu - fd) / (2 * h), tol * scale) << "coordinate " << k;
  }
}

TEST(RelevanceInvariants, GradientMatchesFiniteDifferencesOnAttention) {
  Session s = Session::load_file(kModels + "attention_opset17.onnx");   // LayerNorm, Softmax, Erf, MatMul, Gather
  const Tensor x = slice_batch(read_npy_file(kModels + "attention_opset17_input.npy", Limits{}), 0, 1);
  check_finite_differences(s, x, 1e-2f, 5e-3f);
}

TEST(RelevanceInvariants, GradientMatchesFiniteDifferencesOnDecomposedLayerNorm) {
  Session s = Session::load_file(kModels + "attention_opset14.onnx");   // ReduceMean, Pow, Sqrt, Div, Slice
  const Tensor x = slice_batch(read_npy_file(kModels + "attention_opset14_input.npy", Limits{}), 0, 1);
  check_finite_differences(s, x, 1e-2f, 5e-3f);
}

TEST(RelevanceInvariants, GradientMatchesFiniteDifferencesOnDecoder) {
  Session s = Session::load_file(kModels + "decoder_opset13.onnx");   // ConvTranspose, Pad, Concat, Slice, Sigmoid
  const Tensor x = slice_batch(read_npy_file(kModels + "decoder_opset13_input.npy", Limits{}), 0, 1);
  check_finite_differences(s, x, 1e-2f, 5e-3f);
}

// A routing op with a float constant among its data inputs (a learned class token concatenated to the
// tokens): its gradient used to hand the kernel int64 ids next to float data (a crash), now every float input
// is tracked and the constant gets no gradient.
TEST(RelevanceInvariants, GradientMatchesFiniteDifferencesThroughConcatWithAConstant) {
  ModelBuilder b;
  b.input("x", {3, 4});
  b.init("token", random_tensor({1, 1, 4}, 31)).init("W", random_tensor({4, 2}, 32));
  b.node("Concat", {"token", "x"}, {"c"}, {testing::attr_int("axis", 1)})
      .node("Tanh", {"c"}, {"t"})
      .node("MatMul", {"t", "W"}, {"m"})
      .node("Flatten", {"m"}, {"y"})
      .output("y");
  Session s = Session::from_model(b.build(), "token.onnx");
  check_finite_differences(s, random_tensor({1, 3, 4}, 33), 1e-2f, 5e-3f);
}

TEST(RelevanceInvariants, EverySampleIsExplainedOnItsOwn) {
  Session s = Session::load_file(kModels + "cnn_opset13.onnx");
  Explainer ex(s);
  const Tensor x2 = read_npy_file(kModels + "cnn_opset13_input.npy", Limits{});
  for (const std::string method : {"lrp", "gradient", "integrated-gradients", "occlusion"}) {
    ExplainRequest r;
    r.method = method;
    r.steps = 4;
    const auto both = ex.explain({x2}, r);
    for (int64_t b = 0; b < 2; ++b) {
      const auto one = ex.explain({slice_batch(x2, b, 1)}, r);
      const int64_t per = one.relevance.numel();
      EXPECT_EQ(one.targets[0], both.targets[b]);
      for (int64_t i = 0; i < per; ++i)
        ASSERT_NEAR(one.relevance.f[i], both.relevance.f[b * per + i], 1e-5f * (1 + std::fabs(one.relevance.f[i]))) << method;
    }
  }
}

TEST(RelevanceInvariants, BatchNormMergeKeepsTheForwardPass) {
  for (const std::string layer : {"Conv", "GemmTransB", "Gemm"}) {
    ModelBuilder b;
    const bool conv = layer == "Conv";
    b.input("x", conv ? std::vector<int64_t>{3, 5, 5} : std::vector<int64_t>{6});
    if (conv)
      b.init("W", random_tensor({4, 3, 3, 3}, 21)).node("Conv", {"x", "W"}, {"h"}, {}, "layer");
    else if (layer == "GemmTransB")
      b.init("W", random_tensor({4, 6}, 22)).init("c", random_tensor({4}, 23))
          .node("Gemm", {"x", "W", "c"}, {"h"}, {attr_int("transB", 1), testing::attr_float("beta", 0.5f)}, "layer");
    else
      b.init("W", random_tensor({6, 4}, 24)).node("Gemm", {"x", "W"}, {"h"}, {}, "layer");
    b.init("g", random_tensor({4}, 25, 0.5f, 1.5f)).init("be", random_tensor({4}, 26))
        .init("m", random_tensor({4}, 27)).init("v", random_tensor({4}, 28, 0.5f, 2.0f))
        .node("BatchNormalization", {"h", "g", "be", "m", "v"}, {"y"}, {}, "bn")
        .output("y");
    Session s = Session::from_model(b.build(), "bn.onnx");
    CanonizeReport report;
    Session merged = Session::from_graph(canonize(s.graph(), &report));
    ASSERT_EQ(report.merged, (std::vector<std::string>{"bn -> layer"})) << layer;
    const Tensor x = random_tensor(conv ? Shape{2, 3, 5, 5} : Shape{2, 6}, 29);
    const auto y0 = s.predict({x})[0], y1 = merged.predict({x})[0];
    for (size_t k = 0; k < y0.f.size(); ++k) ASSERT_NEAR(y0.f[k], y1.f[k], 1e-5f) << layer;
  }
}

TEST(RelevanceInvariants, CanonizerSeesThroughIdentityOfInitializers) {
  // PyTorch deduplicates equal initializers into Identity nodes (the biases of two BatchNorms feeding one
  // residual Add stay equal in training): such a BN and such a weight are still constants and still merge.
  ModelBuilder b;
  b.input("x", {3, 5, 5});
  b.init("W0", random_tensor({4, 3, 3, 3}, 31)).node("Identity", {"W0"}, {"W"}, {}, "dedup_w")
      .node("Conv", {"x", "W"}, {"h"}, {}, "layer");
  b.init("g", random_tensor({4}, 32, 0.5f, 1.5f)).init("be0", random_tensor({4}, 33))
      .node("Identity", {"be0"}, {"be1"}, {}, "dedup_a").node("Identity", {"be1"}, {"be"}, {}, "dedup_b")
      .init("m", random_tensor({4}, 34)).init("v", random_tensor({4}, 35, 0.5f, 2.0f))
      .node("BatchNormalization", {"h", "g", "be", "m", "v"}, {"y"}, {}, "bn")
      .output("y");
  Session s = Session::from_model(b.build(), "bn.onnx");
  CanonizeReport report;
  Session merged = Session::from_graph(canonize(s.graph(), &report));
  ASSERT_EQ(report.merged, (std::vector<std::string>{"bn -> layer"}));
  const Tensor x = random_tensor({2, 3, 5, 5}, 36);
  const auto y0 = s.predict({x})[0], y1 = merged.predict({x})[0];
  for (size_t k = 0; k < y0.f.size(); ++k) ASSERT_NEAR(y0.f[k], y1.f[k], 1e-5f);
}

TEST(RelevanceInvariants, CanonizerMergesExportedBatchNormsWithoutChangingTheModel) {
  Session s = Session::load_file(kModels + "conv_bn_opset13.onnx");   // Conv -> BatchNormalization, twice
  CanonizeReport report;
  Session merged = Session::from_graph(canonize(s.graph(), &report));
  ASSERT_EQ(report.merged.size(), 2u);
  const Tensor x = read_npy_file(kModels + "conv_bn_opset13_input.npy", Limits{});
  const auto y0 = s.predict({x})[0], y1 = merged.predict({x})[0];
  for (size_t k = 0; k < y0.f.size(); ++k) EXPECT_NEAR(y0.f[k], y1.f[k], 1e-5f);
  // The composite then sees plain Conv layers: the BN nodes are Identity and route relevance.
  Explainer ex(s);
  ExplainRequest r;
  const auto e = ex.explain({x}, r);
  EXPECT_EQ(e.notes.size(), 2u);
  EXPECT_EQ(e.relevance.shape, x.shape);
}

// A canonizer rewrites a copy of the graph's structure; the weights it does not rewrite are the original's,
// shared, not copied (a copy of VGG-16's would be 528 MiB), and the original stays as it was.
TEST(RelevanceInvariants, CanonizerSharesTheWeightsItDoesNotRewrite) {
  Session s = Session::load_file(kModels + "conv_bn_opset13.onnx");
  const Graph& g = s.graph();
  std::vector<Tensor> before;
  for (const Value& v : g.values) before.push_back(v.is_initializer ? *v.initializer : Tensor{});
  CanonizeReport report;
  const Graph c = canonize(g, &report);
  ASSERT_EQ(report.merged.size(), 2u);
  size_t shared = 0, made = 0;
  for (size_t v = 0; v < c.values.size(); ++v) {
    if (!c.values[v].is_initializer) continue;
    if (v < g.values.size()) {
      EXPECT_EQ(c.values[v].initializer.get(), g.values[v].initializer.get()) << c.values[v].name;
      EXPECT_TRUE(same_bits(*g.values[v].initializer, before[v])) << g.values[v].name;
      ++shared;
    } else {   // the merged weights and biases are new values
      for (const Value& o : g.values) EXPECT_NE(c.values[v].initializer.get(), o.initializer.get()) << c.values[v].name;
      ++made;
    }
  }
  EXPECT_GT(shared, 0u);
  EXPECT_EQ(made, 4u);   // a weight and a bias per merged BatchNorm
}

TEST(RelevanceInvariants, OutputChoosesTheExplainedHead) {
  Session s = Session::load_file(kModels + "two_heads_opset13.onnx");
  Explainer ex(s);
  const Tensor x = read_npy_file(kModels + "two_heads_opset13_input.npy", Limits{});
  ExplainRequest r;
  r.composite = "epsilon";
  r.output = 1;        // the regression head
  r.targets = {1};     // its second unit
  const auto e = ex.explain({x}, r);
  const Tensor want = read_npy_file(kModels + "two_heads_opset13_output1.npy", Limits{});
  ASSERT_EQ(e.output.shape, want.shape);
  for (size_t k = 0; k < want.f.size(); ++k) EXPECT_NEAR(e.output.f[k], want.f[k], 1e-5f);
  EXPECT_EQ(e.targets, (std::vector<int64_t>{1, 1, 1}));
  r.targets = {2};     // out of range for a 2-unit head
  try {
    ex.explain({x}, r);
    FAIL() << "target 2 accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("--target 2 is out of range: output 'regression' has 2 values per sample"), std::string::npos)
        << err.what();
  }
}

TEST(RelevanceInvariants, ResidualAddSplitsInProportion) {
  // y = relu(x W1) + x W2 (two branches), R at y split by each branch's share of z = a + b.
  ModelBuilder b;
  b.input("x", {2})
      .init("W1", Tensor::from_floats({2, 2}, {1, 0, 0, 1}))
      .init("W2", Tensor::from_floats({2, 2}, {2, 0, 0, 3}))
      .node("MatMul", {"x", "W1"}, {"a"}, {}, "left")
      .node("MatMul", {"x", "W2"}, {"c"}, {}, "right")
      .node("Add", {"a", "c"}, {"y"}, {}, "add")
      .output("y");
  Session s = Session::from_model(b.build(), "res.onnx");
  Explainer ex(s);
  ExplainRequest r;
  r.composite = "epsilon";
  r.targets = {1};
  const auto e = ex.explain({Tensor::from_floats({1, 2}, {1, 1})}, r);
  // y1 = 1 + 3 = 4; R = 4 split 1:3 between branches, each routes to x1 (diagonal weights): R_x1 = 4.
  EXPECT_NEAR(e.relevance.f[0], 0.0f, 1e-6f);
  EXPECT_NEAR(e.relevance.f[1], 4.0f, 1e-5f);
}

}  // namespace
}  // namespace relscope::relevance
