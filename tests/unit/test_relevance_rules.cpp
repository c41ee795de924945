// LRP rules on tiny layers: values derived by hand from METHODS.md (numpy from the formulas, digits
// pasted here), and a conv layer checked against the same rule on its explicit (Toeplitz) matrix.
#include <gtest/gtest.h>

#include "core/error.h"
#include "engine/session.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/composite.h"
#include "relevance/rule.h"
#include "relevance/sweep.h"

namespace relscope::relevance {
namespace {

using testing::attr_int;
using testing::ModelBuilder;

// The same dense layer as ONNX may write it: W = alpha * op(B), x or x^T. The rules read B in place when
// alpha is 1 (transposed when transB) and a made copy of alpha * op(B) otherwise.
enum class Layout { Plain, TransB, Alpha, TransA };

// x (1x3) -> Gemm(B 3x2, C 2) -> y; relevance R = [1, 2] at y, one rule at the Gemm.
std::vector<float> dense_rule(const Rule& rule, Layout layout = Layout::Plain) {
  const std::vector<float> w = {1, 2, -1, 3, 0.5f, -2};   // W (3x2), row-major
  Tensor B = Tensor::from_floats({3, 2}, w);
  std::vector<onnx::Attribute> attrs;
  if (layout == Layout::TransB) {
    B = Tensor::from_floats({2, 3}, {w[0], w[2], w[4], w[1], w[3], w[5]});
    attrs.push_back(attr_int("transB", 1));
  } else if (layout == Layout::Alpha) {
    for (float& v : B.f) v *= 2;
    attrs.push_back(testing::attr_float("alpha", 0.5f));
  } else if (layout == Layout::TransA) {
    attrs.push_back(attr_int("transA", 1));
  }
  const bool ta = layout == Layout::TransA;
  ModelBuilder b;
  b.input("x", {ta ? 1 : 3})   // (N, 1) with N = 3 for x^T
      .init("B", B)
      .init("C", Tensor::from_floats({2}, {0.5f, -1}))
      .node("Gemm", {"x", "B", "C"}, {"y"}, attrs, "fc")
      .output("y");
  Session s = Session::from_model(b.build(), "dense.onnx");
  const Tensor x = Tensor::from_floats(ta ? Shape{3, 1} : Shape{1, 3}, {1, -2, 0.5f});
  Activations act = s.forward_recorded({x});
  EXPECT_EQ(act.get(s.graph().outputs[0]).f, (std::vector<float>{3.75f, -6.0f}));   // z = xW + b, by hand
  const auto r = backward_sweep(s.graph(), *act.plan, act, {rule}, s.graph().outputs[0], Tensor::from_floats({1, 2}, {1, 2}));
  return r.input_relevance[0].f;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 2e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got[k], want[k], tol) << "element " << k;
}

TEST(RelevanceRules, EpsilonByHand) { expect_near(dense_rule(rule_epsilon()), {-0.39999996f, 2.533332858f, 0.399999927f}); }
TEST(RelevanceRules, ZPlusByHand) { expect_near(dense_rule(rule_zplus()), {2.266665596f, 0.533333191f, 0.066666649f}); }
TEST(RelevanceRules, AlphaBetaByHand) { expect_near(dense_rule(rule_alpha_beta(2, 1)), {4.533331191f, -0.43333343f, -0.116666671f}); }
TEST(RelevanceRules, GammaByHand) { expect_near(dense_rule(rule_gamma(0.25f)), {-0.233333328f, 2.408332985f, 0.379166613f}); }
TEST(RelevanceRules, ZBoxByHand) { expect_near(dense_rule(rule_zbox({-1}, {2})), {2.296295752f, -0.90740712f, 1.61111072f}); }
TEST(RelevanceRules, FlatByHand) { expect_near(dense_rule(rule_flat()), {0.999999667f, 0.999999667f, 0.999999667f}); }
TEST(RelevanceRules, WSquareByHand) { expect_near(dense_rule(rule_wsquare()), {0.84444426f, 1.399999784f, 0.54444438f}); }

// Every rule gives the hand-computed values above whichever way the Gemm's weight is written.
TEST(RelevanceRules, GemmLayoutsGiveTheSameRelevance) {
  for (const Rule& rule : {rule_epsilon(), rule_zplus(), rule_alpha_beta(2, 1), rule_gamma(0.25f), rule_zbox({-1}, {2}),
                           rule_flat(), rule_wsquare()}) {
    const std::vector<float> plain = dense_rule(rule);
    for (const Layout layout : {Layout::TransB, Layout::Alpha, Layout::TransA}) {
      SCOPED_TRACE(rule.describe() + ", layout " + std::to_string(static_cast<int>(layout)));
      expect_near(dense_rule(rule, layout), plain);
    }
  }
}

TEST(RelevanceRules, ParseAndDescribe) {
  EXPECT_EQ(parse_rule("alphabeta:3,2", "t").describe(), "alphabeta(alpha=3, beta=2)");
  EXPECT_EQ(parse_rule("zbox:-1/-2/-3,1/2/3", "t").describe(), "zbox(low=-1/-2/-3, high=1/2/3)");
  EXPECT_EQ(parse_rule("epsilon:0.25", "t").epsilon, 0.25f);
  auto message = [](const std::string& spec) {
    try {
      parse_rule(spec, "--rule fc=" + spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message("alphabeta:2,2"), "--rule fc=alphabeta:2,2: alphabeta needs alpha - beta = 1, got alpha=2 beta=2");
  EXPECT_EQ(message("zplus:1"), "--rule fc=zplus:1: rule 'zplus' takes 0 parameter(s), got 1");
  EXPECT_NE(message("magic").find("unknown rule 'magic'"), std::string::npos);
  EXPECT_NE(message("zbox:2,1").find("low 2 is above high 1"), std::string::npos);
}

// A 1-channel 3x3 -> 2x2 conv (2x2 kernel, bias) equals a dense layer with its explicit matrix, for
// every rule that keeps zero weights zero: the conv path (conv_forward / conv_backward_data) must
// match the plain GEMM path. (Flat is not among them: it turns the matrix's zeros into ones.)
TEST(RelevanceRules, ConvEqualsItsToeplitzMatrixForEveryRule) {
  const std::vector<float> k = {0.5f, -1.0f, 2.0f, 0.25f};
  const Tensor x = Tensor::from_floats({1, 1, 3, 3}, {1, -2, 0.5f, 3, -1, 2, -0.5f, 1.5f, 1});
  ModelBuilder cb;
  cb.input("x", {1, 3, 3})
      .init("W", Tensor::from_floats({1, 1, 2, 2}, k))
      .init("b", Tensor::from_floats({1}, {-0.3f}))
      .node("Conv", {"x", "W", "b"}, {"y"}, {}, "conv")
      .output("y");
  Session conv = Session::from_model(cb.build(), "conv.onnx");
  // Dense twin: y[o] = sum_i x[i] T[i][o] + b, T from the kernel positions.
  std::vector<float> T(9 * 4, 0.0f);
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox)
      for (int ky = 0; ky < 2; ++ky)
        for (int kx = 0; kx < 2; ++kx) T[((oy + ky) * 3 + ox + kx) * 4 + oy * 2 + ox] = k[ky * 2 + kx];
  ModelBuilder db;
  db.input("x", {9})
      .init("T", Tensor::from_floats({9, 4}, T))
      .init("c", Tensor::from_floats({4}, {-0.3f, -0.3f, -0.3f, -0.3f}))
      .node("Gemm", {"x", "T", "c"}, {"y"}, {}, "fc")
      .output("y");
  Session dense = Session::from_model(db.build(), "dense.onnx");
  const Tensor xd = Tensor::from_floats({1, 9}, x.f);
  const Tensor R = Tensor::from_floats({1, 1, 2, 2}, {1, -0.5f, 2, 0.75f});
  for (const Rule& rule : {rule_epsilon(), rule_zplus(), rule_alpha_beta(2, 1), rule_gamma(0.25f), rule_zbox({-2}, {3}),
                           rule_wsquare()}) {
    Activations ac = conv.forward_recorded({x}), ad = dense.forward_recorded({xd});
    const auto rc = backward_sweep(conv.graph(), *ac.plan, ac, {rule}, conv.graph().outputs[0], R).input_relevance[0];
    const auto rd = backward_sweep(dense.graph(), *ad.plan, ad, {rule}, dense.graph().outputs[0],
                                   Tensor::from_floats({1, 4}, R.f)).input_relevance[0];
    SCOPED_TRACE(rule.name);
    expect_near(rc.f, rd.f, 1e-5f);
  }
}

// Flat on a conv spreads each output's relevance evenly over its receptive field (2x2 here), by hand.
TEST(RelevanceRules, FlatConvSpreadsOverTheReceptiveField) {
  ModelBuilder b;
  b.input("x", {1, 3, 3})
      .init("W", Tensor::from_floats({1, 1, 2, 2}, {0.5f, -1.0f, 2.0f, 0.25f}))
      .init("b", Tensor::from_floats({1}, {-0.3f}))
      .node("Conv", {"x", "W", "b"}, {"y"}, {}, "conv")
      .output("y");
  Session s = Session::from_model(b.build(), "conv.onnx");
  Activations a = s.forward_recorded({Tensor::from_floats({1, 1, 3, 3}, {1, -2, 0.5f, 3, -1, 2, -0.5f, 1.5f, 1})});
  const auto r = backward_sweep(s.graph(), *a.plan, a, {rule_flat()}, s.graph().outputs[0],
                                Tensor::from_floats({1, 1, 2, 2}, {1, -0.5f, 2, 0.75f})).input_relevance[0];
  // Pixel (1,1) is seen by all four outputs: (1 - 0.5 + 2 + 0.75) / 4; corners by one output each.
  expect_near(r.f, {0.25f, 0.125f, -0.125f, 0.75f, 0.8125f, 0.0625f, 0.5f, 0.6875f, 0.1875f}, 1e-6f);
}

TEST(RelevanceRules, ZBoxPerChannelBoundsAndErrors) {
  ModelBuilder b;
  b.input("x", {2, 1, 1})
      .init("W", Tensor::from_floats({1, 2, 1, 1}, {1, -1}))
      .node("Conv", {"x", "W"}, {"y"}, {}, "conv")
      .output("y");
  Session s = Session::from_model(b.build(), "m.onnx");
  const Tensor x = Tensor::from_floats({1, 2, 1, 1}, {0.5f, 0.25f});
  Activations a = s.forward_recorded({x});
  // z = 0.5 - 0.25 - (low0*1 + 0) - (0 + high1*(-1)) with low = [-1, -2], high = [1, 2]: 0.25 + 1 + 2 = 3.25
  // R_0 = x0*c*1 - low0*c*1 = (0.5 + 1)/3.25, R_1 = x1*c*(-1) - high1*c*(-1) = (-0.25 + 2)/3.25 (R = 1).
  const auto r = backward_sweep(s.graph(), *a.plan, a, {rule_zbox({-1, -2}, {1, 2})}, s.graph().outputs[0],
                                Tensor::from_floats({1, 1, 1, 1}, {1})).input_relevance[0];
  expect_near(r.f, {1.5f / 3.25f, 1.75f / 3.25f}, 1e-6f);
  EXPECT_THROW(backward_sweep(s.graph(), *a.plan, a, {rule_zbox({-1, -2, -3}, {1, 2, 3})}, s.graph().outputs[0],
                              Tensor::from_floats({1, 1, 1, 1}, {1})),
               Error);
}

}  // namespace
}  // namespace relscope::relevance
