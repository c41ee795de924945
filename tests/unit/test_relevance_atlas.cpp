// CRP reference samples (relevance/atlas.h): the accumulator's top-K, ties and arg-max positions on a
// hand-built data set; RelMax/ActMax order through the real model on samples scaled by known factors;
// footprints of single units (the receptive field of a 3x3 convolution); parallel streaming equals one
// thread exactly (ties included); errors.
//
// Sections: ConceptAtlas by hand | through a model | parallel streaming | footprints | errors
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "engine/session.h"
#include "expect_error.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/atlas.h"
#include "relevance/explain.h"

namespace relscope::relevance {
namespace {

using testing::attr_int;
using testing::ModelBuilder;
using testing::random_tensor;

std::vector<int64_t> samples_of(const std::vector<AtlasEntry>& list) {
  std::vector<int64_t> s;
  for (const auto& e : list) s.push_back(e.sample);
  return s;
}

// ---- ConceptAtlas by hand --------------------------------------------------------------------------------
TEST(ConceptAtlas, TopKTiesAndPositionsByHand) {
  ConceptAtlas atlas(2, 2);
  // (C=2, 3 positions) per sample: relevance, activation.
  atlas.add(0, Tensor::from_floats({2, 3}, {1, 0, 0, 0, 0, 5}), Tensor::from_floats({2, 3}, {0, 3, 0, 1, 1, 1}));
  atlas.add(1, Tensor::from_floats({2, 3}, {0, 2, 0, 5, 0, 0}), Tensor::from_floats({2, 3}, {3, 0, 0, 2, 0, 0}));
  atlas.add(2, Tensor::from_floats({2, 3}, {0, 0, 0.5f, 1, 1, 3}), Tensor::from_floats({2, 3}, {4, 0, 0, 1, 1, 1}));
  EXPECT_EQ(atlas.samples(), 3);
  // RelMax channel 0: sums 1, 2, 0.5 -> samples 1, 0; arg-max positions 1 and 0.
  ASSERT_EQ(samples_of(atlas.relmax(0)), (std::vector<int64_t>{1, 0}));
  EXPECT_FLOAT_EQ(atlas.relmax(0)[0].value, 2.0f);
  EXPECT_EQ(atlas.relmax(0)[0].position, 1);
  EXPECT_EQ(atlas.relmax(0)[1].position, 0);
  // Channel 1: all three sum to 5; the earlier samples win the tie.
  ASSERT_EQ(samples_of(atlas.relmax(1)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(atlas.relmax(1)[0].position, 2);
  EXPECT_EQ(atlas.relmax(1)[1].position, 0);
  // ActMax channel 0: maxima 3, 3, 4 -> sample 2, then sample 0 before 1 (tie).
  ASSERT_EQ(samples_of(atlas.actmax(0)), (std::vector<int64_t>{2, 0}));
  EXPECT_FLOAT_EQ(atlas.actmax(0)[1].value, 3.0f);
  EXPECT_EQ(atlas.actmax(0)[1].position, 1);
  // Channel 1: maxima 1, 2, 1 -> sample 1, then 0 (the first of the tie; its first maximum is position 0).
  ASSERT_EQ(samples_of(atlas.actmax(1)), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(atlas.actmax(1)[1].position, 0);
  // A tie with a smaller sample id, fed late, still ranks by id; a strictly larger value takes the lead.
  atlas.add(-1, Tensor::from_floats({2, 1 * 3}, {0, 0, 0, 5, 0, 0}), Tensor::from_floats({2, 3}, {9, 0, 0, 0, 0, 0}));
  EXPECT_EQ(samples_of(atlas.relmax(1)), (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(samples_of(atlas.actmax(0)), (std::vector<int64_t>{-1, 2}));
}

TEST(ConceptAtlas, KeepsFewerThanKAndSkipsNaN) {
  ConceptAtlas atlas(1, 3);
  atlas.add(0, Tensor::from_floats({1}, {2}), Tensor::from_floats({1}, {NAN}));
  atlas.add(1, Tensor::from_floats({1}, {NAN}), Tensor::from_floats({1}, {1}));
  EXPECT_EQ(samples_of(atlas.relmax(0)), (std::vector<int64_t>{0}));
  EXPECT_EQ(samples_of(atlas.actmax(0)), (std::vector<int64_t>{1}));
}

// ---- through a model -------------------------------------------------------------------------------------
// No biases and ReLU: scaling the input by s scales every activation by s, and (epsilon rules, fixed
// target) the relevance at the layer by s as well, so the RelMax and ActMax orders of samples k * x are known.
onnx::ModelProto cnn() {
  ModelBuilder b;
  b.input("x", {2, 6, 6}).init("W1", random_tensor({3, 2, 3, 3}, 11)).init("W2", random_tensor({4, 3}, 12));
  b.node("Conv", {"x", "W1"}, {"c1"}, {}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("GlobalAveragePool", {"r1"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("Gemm", {"f", "W2"}, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  return b.build();
}

TEST(ConceptAtlas, RelMaxAndActMaxOrderOfScaledSamples) {
  Session s = Session::from_model(cnn(), "cnn.onnx");
  Explainer ex(s);
  ExplainRequest req;
  req.composite = "epsilon";
  req.crp.layer = "conv1";
  req.targets = {1};
  const Tensor base = random_tensor({1, 2, 6, 6}, 21, 0.1f, 1.0f);
  const std::vector<float> scale = {2, 5, 1, 4, 3};   // sample id -> factor
  ConceptAtlas atlas(3, 5);
  for (size_t k = 0; k < scale.size(); ++k) {
    Tensor x = base;
    for (float& v : x.f) v *= scale[k];
    const LayerSample ls = layer_sample(ex, x, req);
    ASSERT_EQ(ls.relevance.shape, (Shape{3, 4, 4}));
    ASSERT_EQ(ls.activation.shape, (Shape{3, 4, 4}));
    EXPECT_EQ(ls.target, 1);
    // The channel sums are Explainer::concepts' ranking values.
    const ConceptRanking c = ex.concepts({x}, req);
    for (int64_t ch = 0; ch < 3; ++ch) {
      double sum = 0;
      for (int64_t p = 0; p < 16; ++p) sum += ls.relevance.f[ch * 16 + p];
      EXPECT_NEAR(sum, c.relevance.f[ch], 1e-4 * (1 + std::fabs(sum)));
    }
    atlas.add(static_cast<int64_t>(k), ls.relevance, ls.activation);
  }
  const std::vector<int64_t> up = {1, 3, 4, 0, 2}, down = {2, 0, 4, 3, 1};   // by factor: descending, ascending
  for (int64_t ch = 0; ch < 3; ++ch) {
    const auto& rel = atlas.relmax(ch);
    ASSERT_EQ(rel.size(), 5u);
    const std::vector<int64_t> in_order = {0, 1, 2, 3, 4};   // a channel without relevance: all tie at 0
    EXPECT_EQ(samples_of(rel), rel[0].value > 0 ? up : rel[0].value < 0 ? down : in_order) << "channel " << ch;
    for (const auto& e : rel) EXPECT_EQ(e.position, rel[0].position);   // the same unit at every scale
    const auto& act = atlas.actmax(ch);
    if (act[0].value > 0) {
      EXPECT_EQ(samples_of(act), up) << "channel " << ch;
    }
  }
}

// ---- parallel streaming ---------------------------------------------------------------------------------
void expect_same_lists(const std::vector<AtlasEntry>& a, const std::vector<AtlasEntry>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t r = 0; r < a.size(); ++r) {
    EXPECT_EQ(a[r].sample, b[r].sample) << what << " rank " << r;
    EXPECT_EQ(a[r].value, b[r].value) << what << " rank " << r;   // bit for bit: the same computation
    EXPECT_EQ(a[r].position, b[r].position) << what << " rank " << r;
  }
}

TEST(ConceptAtlas, ThreadsGiveExactlyTheOneThreadAtlasTiesIncluded) {
  // 9 items of 1-3 samples; items 4 and 7 repeat items 1 and 2, so many values tie exactly and only the
  // sample id (item order) can break them.
  std::vector<Tensor> items;
  for (int i = 0; i < 9; ++i) {
    const int64_t n = 1 + i % 3;
    items.push_back(i == 4 ? items[1] : i == 7 ? Tensor(items[2]) : random_tensor({n, 2, 6, 6}, 100 + i, 0.0f, 1.0f));
  }
  AtlasSource src;
  int64_t total = 0;
  for (const auto& t : items) {
    src.counts.push_back(t.shape[0]);
    total += t.shape[0];
  }
  src.load = [&](size_t i) { return items[i]; };
  ExplainRequest req;
  req.composite = "epsilon-plus";
  req.crp.layer = "conv1";
  auto make = [] { return Session::from_model(cnn(), "cnn.onnx"); };

  // The reference: one explainer, samples fed in order.
  Session s = make();
  Explainer ex(s);
  ConceptAtlas serial(3, 4);
  std::vector<int64_t> targets;
  for (const auto& t : items)
    for (int64_t b = 0; b < t.shape[0]; ++b) {
      const LayerSample ls = layer_sample(ex, slice_batch(t, b, 1), req);
      serial.add(static_cast<int64_t>(targets.size()), ls.relevance, ls.activation);
      targets.push_back(ls.target);
    }
  bool ties = false;
  for (int64_t c = 0; c < 3; ++c)
    for (size_t r = 1; r < serial.relmax(c).size(); ++r) ties |= serial.relmax(c)[r].value == serial.relmax(c)[r - 1].value;
  EXPECT_TRUE(ties) << "the data set should make RelMax ties";

  for (int threads : {1, 2, 3, 8}) {
    int64_t last = 0, calls = 0;
    const AtlasRun run = stream_atlas(make, src, req, 4, threads, [&](int64_t done, int64_t all) {
      EXPECT_EQ(done, last + 1);   // under the lock: one at a time, in order
      EXPECT_EQ(all, total);
      last = done;
      ++calls;
    });
    ASSERT_TRUE(run.atlas);
    EXPECT_EQ(calls, total);
    EXPECT_EQ(run.atlas->samples(), total);
    EXPECT_EQ(run.targets, targets) << threads << " threads";
    for (int64_t c = 0; c < 3; ++c) {
      expect_same_lists(run.atlas->relmax(c), serial.relmax(c), std::to_string(threads) + " threads, relmax " + std::to_string(c));
      expect_same_lists(run.atlas->actmax(c), serial.actmax(c), std::to_string(threads) + " threads, actmax " + std::to_string(c));
    }
  }
}

TEST(ConceptAtlas, StreamingRethrowsAWorkersError) {
  AtlasSource src;
  src.counts = {1, 1, 1, 1};
  src.load = [](size_t i) {
    if (i == 2) fail_input("item 2 is broken");
    return random_tensor({1, 2, 6, 6}, 300 + static_cast<int>(i));
  };
  ExplainRequest req;
  req.crp.layer = "conv1";
  for (int threads : {1, 3})
    testing::expect_error([&] { stream_atlas([] { return Session::from_model(cnn(), "cnn.onnx"); }, src, req, 2, threads); },
                          ErrorKind::BadInput, "item 2 is broken");
}

// ---- footprints ------------------------------------------------------------------------------------------
TEST(ConceptAtlas, FootprintBoxByHand) {
  Tensor m = Tensor::zeros({1, 2, 5, 6});
  m.f[(0 * 5 + 1) * 6 + 2] = 1;    // channel 0, y 1, x 2
  m.f[(1 * 5 + 3) * 6 + 4] = -2;   // channel 1, y 3, x 4
  const Box b = footprint_box(m, false);
  EXPECT_EQ(b.top, 1);
  EXPECT_EQ(b.left, 2);
  EXPECT_EQ(b.bottom, 4);
  EXPECT_EQ(b.right, 5);
  EXPECT_TRUE(footprint_box(Tensor::zeros({1, 5, 6, 3}), true).empty());
  Tensor nhwc = Tensor::zeros({1, 5, 6, 3});
  nhwc.f[(4 * 6 + 0) * 3 + 2] = 1;
  const Box c = footprint_box(nhwc, true);
  EXPECT_EQ(c.top, 4);
  EXPECT_EQ(c.left, 0);
  EXPECT_EQ(c.bottom, 5);
  EXPECT_EQ(c.right, 1);
}

TEST(ConceptAtlas, UnitFootprintIsTheReceptiveFieldOfA3x3Conv) {
  Session s = Session::from_model(cnn(), "cnn.onnx");
  Explainer ex(s);
  ExplainRequest req;
  req.composite = "epsilon";
  req.crp.layer = "conv1";
  const Tensor x = random_tensor({1, 2, 6, 6}, 22, 0.1f, 1.0f);   // no zero pixel
  const auto maps = ex.unit_maps({x}, req, {{0, 0}, {2, 2 * 4 + 3}});
  ASSERT_EQ(maps.size(), 2u);
  const Box a = footprint_box(maps[0], false), b = footprint_box(maps[1], false);
  EXPECT_EQ((std::vector<int64_t>{a.top, a.left, a.bottom, a.right}), (std::vector<int64_t>{0, 0, 3, 3}));
  EXPECT_EQ((std::vector<int64_t>{b.top, b.left, b.bottom, b.right}), (std::vector<int64_t>{2, 3, 5, 6}));
}

// ---- errors ----------------------------------------------------------------------------------------------
TEST(ConceptAtlas, ErrorsNameTheProblem) {
  Session s = Session::from_model(cnn(), "cnn.onnx");
  Explainer ex(s);
  ExplainRequest req;
  req.crp.layer = "r1";
  const Tensor x = random_tensor({1, 2, 6, 6}, 23);
  testing::expect_error([&] { layer_sample(ex, x, req); }, ErrorKind::BadInput, "--layer r1: a Relu node");
  req.crp.layer = "conv1";
  testing::expect_error([&] { ex.unit_maps({x}, req, {{3, 0}}); }, ErrorKind::BadInput, "unit (channel 3, position 0) is outside conv1");
  req.targets = {0, 1};
  testing::expect_error([&] { layer_sample(ex, x, req); }, ErrorKind::BadInput, "--target: give one class");
}

}  // namespace
}  // namespace relscope::relevance
