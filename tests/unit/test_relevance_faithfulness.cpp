// Faithfulness (pixel flipping / region perturbation): units by hand, curves by hand on linear models,
// the random reference, the baseline, batches, refusals, and explanations of a trained model beating chance.
//
// Sections: flip_units | curves by hand | random orders | batches and refusals | a trained model
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "engine/session.h"
#include "expect_error.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/explain.h"
#include "relevance/faithfulness.h"

namespace relscope::relevance {
namespace {

using relscope::testing::expect_error;
using testing::attr_int;
using testing::ModelBuilder;

// y = x . w for x of shape (N, features...) flattened: one output per sample.
Session linear_model(const Shape& sample, const std::vector<float>& w) {
  ModelBuilder b;
  b.input("x", sample);
  b.init("w", Tensor::from_floats({static_cast<int64_t>(w.size()), 1}, w));
  if (sample.size() > 1) {
    b.node("Flatten", {"x"}, {"flat"}, {attr_int("axis", 1)});
    b.node("MatMul", {"flat", "w"}, {"y"});
  } else {
    b.node("MatMul", {"x", "w"}, {"y"});
  }
  b.output("y");
  return Session::from_model(b.build(), "linear.onnx");
}

std::vector<int64_t> unit_entries(const FlipUnits& u, int64_t k) {
  return {u.entries.begin() + u.begin[k], u.entries.begin() + u.begin[k + 1]};
}

// ---- flip_units -----------------------------------------------------------------------------------------

TEST(FlipUnits, WindowsTileTheSpatialDimsWithAllChannels) {
  // (C=2, 3x5), windows of 2: blocks 2 x 3, the right column and bottom row clipped.
  const FlipUnits u = flip_units({2, 3, 5}, 2, false);
  ASSERT_EQ(u.count(), 6);
  EXPECT_EQ(unit_entries(u, 0), (std::vector<int64_t>{0, 1, 5, 6, 15, 16, 20, 21}));   // y 0-1, x 0-1, both channels
  EXPECT_EQ(unit_entries(u, 2), (std::vector<int64_t>{4, 9, 19, 24}));                 // x = 4 only
  EXPECT_EQ(unit_entries(u, 5), (std::vector<int64_t>{14, 29}));                       // y = 2, x = 4
  std::vector<int64_t> all = u.entries;
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(30);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);   // every entry once

  // Channels last: (3x5, C=2), entry = position * 2 + channel.
  const FlipUnits last = flip_units({3, 5, 2}, 2, true);
  ASSERT_EQ(last.count(), 6);
  EXPECT_EQ(unit_entries(last, 0), (std::vector<int64_t>{0, 1, 2, 3, 10, 11, 12, 13}));

  // Features (rank 1): windows along the one axis. Rank 0: one unit.
  const FlipUnits f = flip_units({7}, 3, false);
  ASSERT_EQ(f.count(), 3);
  EXPECT_EQ(unit_entries(f, 2), (std::vector<int64_t>{6}));
  EXPECT_EQ(flip_units({}, 1, false).count(), 1);
  expect_error([] { flip_units({4}, 0, false); }, ErrorKind::BadInput, "faithfulness: the window must be at least 1");
}

// ---- curves by hand -------------------------------------------------------------------------------------

TEST(PixelFlipping, MostRelevantFirstOnALinearModelByHand) {
  // y = x1 + 2 x2 - x3 + 3 x4 at x = 1: y = 5, R = w * x = (1, 2, -1, 3). Removing in the order x4, x2, x1,
  // x3 gives 5, 2, 0, -1, 0; AOPC = (0 + 3 + 5 + 6 + 5) / 5 = 3.8.
  Session s = linear_model({4}, {1, 2, -1, 3});
  const Tensor x = Tensor::from_floats({1, 4}, {1, 1, 1, 1}), r = Tensor::from_floats({1, 4}, {1, 2, -1, 3});
  FlipOptions o;
  o.steps = 4;
  o.random_orders = 0;
  const auto c = pixel_flipping(s, {x}, r, {0}, o);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].removed, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(c[0].relevance_first, (std::vector<double>{5, 2, 0, -1, 0}));
  EXPECT_NEAR(c[0].aopc, 3.8, 1e-12);
  EXPECT_TRUE(c[0].random.empty());
  EXPECT_EQ(c[0].units, 4);

  // Half the units in 20 steps: only 2 units to remove, so 2 steps of one unit.
  o.steps = 20;
  o.fraction = 0.5;
  const auto half = pixel_flipping(s, {x}, r, {0}, o);
  EXPECT_EQ(half[0].removed, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(half[0].relevance_first, (std::vector<double>{5, 2, 0}));
}

TEST(PixelFlipping, RegionsOfAnImageAndTheBaselineByHand) {
  // A 1x4x4 image at 1, y = sum w x with w (row-major) holding block sums TL 4, TR 0, BL 0, BR 5: windows of
  // 2 remove BR, TL, then TR and BL (equal: unit order). Baseline 0: 9, 4, 0, 0, 0. Baseline 0.5: a removed
  // block keeps half its sum: 9, 6.5, 4.5, 4.5, 4.5.
  const std::vector<float> w = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 2, 2, 0, 0, 2, -1};
  Session s = linear_model({1, 4, 4}, w);
  const Tensor x = Tensor::from_floats({1, 1, 4, 4}, std::vector<float>(16, 1.0f)), r = Tensor::from_floats({1, 1, 4, 4}, w);
  FlipOptions o;
  o.steps = 4;
  o.window = 2;
  o.random_orders = 0;
  auto c = pixel_flipping(s, {x}, r, {0}, o);
  EXPECT_EQ(c[0].units, 4);
  EXPECT_EQ(c[0].relevance_first, (std::vector<double>{9, 4, 0, 0, 0}));
  EXPECT_NEAR(c[0].aopc, (0 + 5 + 9 + 9 + 9) / 5.0, 1e-12);
  o.baseline = 0.5f;
  c = pixel_flipping(s, {x}, r, {0}, o);
  EXPECT_EQ(c[0].relevance_first, (std::vector<double>{9, 6.5, 4.5, 4.5, 4.5}));
  // The Gini reported is prune.h's, of the map given (R = w here).
  EXPECT_DOUBLE_EQ(c[0].gini, gini(w.data(), 16));
}

// ---- random orders --------------------------------------------------------------------------------------

TEST(PixelFlipping, RandomOrdersAreTheReference) {
  // Equal contributions: every order gives the same curve, so the random reference equals it exactly.
  Session same = linear_model({4}, {1, 1, 1, 1});
  const Tensor x = Tensor::from_floats({1, 4}, {1, 1, 1, 1});
  FlipOptions o;
  o.steps = 4;
  o.random_orders = 7;
  auto c = pixel_flipping(same, {x}, Tensor::from_floats({1, 4}, {1, 1, 1, 1}), {0}, o);
  EXPECT_EQ(c[0].random, (std::vector<double>{4, 3, 2, 1, 0}));
  EXPECT_DOUBLE_EQ(c[0].aopc_random, c[0].aopc);

  // Unequal: after k removals a random order's mean drop is k/4 of the total, 5 (the unit removed first is
  // any of 4 with equal chance); 100 orders, sd of the mean at k = 1 about 0.15. None and all are exact.
  Session s = linear_model({4}, {1, 2, -1, 3});
  o.random_orders = 100;
  c = pixel_flipping(s, {x}, Tensor::from_floats({1, 4}, {1, 2, -1, 3}), {0}, o);
  ASSERT_EQ(c[0].random.size(), 5u);
  EXPECT_EQ(c[0].random.front(), 5);
  EXPECT_EQ(c[0].random.back(), 0);
  for (int k = 1; k < 4; ++k) EXPECT_NEAR(c[0].random[k], 5 - 1.25 * k, 0.5) << "point " << k;
  EXPECT_GT(c[0].aopc, c[0].aopc_random);   // the true contributions beat chance

  // Seeded: the same seed, the same curve; another seed, another.
  const auto again = pixel_flipping(s, {x}, Tensor::from_floats({1, 4}, {1, 2, -1, 3}), {0}, o);
  EXPECT_EQ(again[0].random, c[0].random);
  o.seed = 99;
  o.random_orders = 3;
  const auto other = pixel_flipping(s, {x}, Tensor::from_floats({1, 4}, {1, 2, -1, 3}), {0}, o);
  o.seed = 0;
  const auto first = pixel_flipping(s, {x}, Tensor::from_floats({1, 4}, {1, 2, -1, 3}), {0}, o);
  EXPECT_NE(other[0].random, first[0].random);
}

TEST(FlipRun, OnePassPerStepGivesPixelFlippingsCurves) {
  // 2 samples x (5 points + 2 random orders x 3 inner points) = 22 copies, 8 per pass: 11 + 11 copies, so
  // 2 passes per sample, 4 in all. A canvas runs these between frames.
  Session s = linear_model({4}, {1, 2, -1, 3});
  const Tensor x = Tensor::from_floats({2, 4}, {1, 1, 1, 1, 2, 0, 1, -1}), r = Tensor::from_floats({2, 4}, {1, 2, -1, 3, 2, 0, -1, -3});
  FlipOptions o;
  o.steps = 4;
  o.random_orders = 2;
  FlipRun run(s, {x}, r, {0, 0}, o);
  EXPECT_EQ(run.copies_total(), 22);
  expect_error([&] { run.curves(); }, ErrorKind::Internal, "before the run is done");
  std::vector<double> progress;
  while (!run.done()) {
    run.step();
    progress.push_back(run.progress());
  }
  EXPECT_EQ(progress, (std::vector<double>{8 / 22.0, 11 / 22.0, 19 / 22.0, 1.0}));
  EXPECT_EQ(s.predict_runs(), 4u);
  const auto stepped = run.curves(), whole = pixel_flipping(s, {x}, r, {0, 0}, o);
  ASSERT_EQ(stepped.size(), 2u);
  for (size_t b = 0; b < 2; ++b) {
    EXPECT_EQ(stepped[b].relevance_first, whole[b].relevance_first);
    EXPECT_EQ(stepped[b].random, whole[b].random);
  }
  // Sample 1: x (2, 0, 1, -1), y = 2 - 1 - 3 = -2; R (2, 0, -1, -3) removes x1, x2, x3, x4: -4, -4, -3, 0.
  EXPECT_EQ(stepped[1].relevance_first, (std::vector<double>{-2, -4, -4, -3, 0}));
  run.step();   // done: nothing more runs
  EXPECT_EQ(s.predict_runs(), 8u);
}

// ---- batches and refusals -------------------------------------------------------------------------------

TEST(PixelFlipping, EachSampleOnItsOwnTargetAndMap) {
  // Two outputs: y0 = x1 + x2, y1 = x1 - x2. Sample 0 (1, 1) explained at y0 with R (1, 1): 2, 1, 0.
  // Sample 1 (2, 3) at y1 with R (2, -3): remove x1 first: -1, -3, 0.
  ModelBuilder b;
  b.input("x", {2});
  b.init("w", Tensor::from_floats({2, 2}, {1, 1, 1, -1}));
  b.node("MatMul", {"x", "w"}, {"y"});
  b.output("y");
  Session s = Session::from_model(b.build(), "two.onnx");
  FlipOptions o;
  o.random_orders = 0;
  const auto c = pixel_flipping(s, {Tensor::from_floats({2, 2}, {1, 1, 2, 3})}, Tensor::from_floats({2, 2}, {1, 1, 2, -3}),
                                {0, 1}, o);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].relevance_first, (std::vector<double>{2, 1, 0}));
  EXPECT_EQ(c[1].target, 1);
  EXPECT_EQ(c[1].relevance_first, (std::vector<double>{-1, -3, 0}));
}

TEST(PixelFlipping, BadOptionsMapsAndOutputsAreRefusedByName) {
  Session s = linear_model({4}, {1, 2, -1, 3});
  const Tensor x = Tensor::from_floats({1, 4}, {1, 1, 1, 1}), r = Tensor::from_floats({1, 4}, {1, 2, -1, 3});
  auto run = [&](FlipOptions o, const Tensor& map, std::vector<int64_t> targets = {0}) {
    return [&s, &x, o, map, targets] { pixel_flipping(s, {x}, map, targets, o); };
  };
  FlipOptions o;
  o.steps = 0;
  expect_error(run(o, r), ErrorKind::BadInput, "faithfulness: steps must be 1..1000, not 0");
  o = {};
  o.fraction = 0;
  expect_error(run(o, r), ErrorKind::BadInput, "faithfulness: the fraction removed must be in (0, 1]");
  o = {};
  o.random_orders = 101;
  expect_error(run(o, r), ErrorKind::BadInput, "faithfulness: random orders must be 0..100, not 101");
  o = {};
  o.baseline = NAN;
  expect_error(run(o, r), ErrorKind::BadInput, "faithfulness: the baseline must be finite");
  expect_error(run({}, Tensor::from_floats({1, 3}, {1, 2, 3})), ErrorKind::BadInput,
               "faithfulness: the relevance map is [1,3], the input [1,4]");
  expect_error(run({}, Tensor::from_floats({1, 4}, {1, NAN, 0, 0})), ErrorKind::BadInput,
               "faithfulness: the relevance map holds NaN or Inf");
  expect_error(run({}, r, {0, 0}), ErrorKind::BadInput, "faithfulness: 2 targets for a batch of 1");
  expect_error(run({}, r, {1}), ErrorKind::BadInput, "faithfulness: output 0 has no value 1 per sample");
  // An input without values (a zero-sized dim) has no units to remove.
  const Tensor empty = Tensor::zeros({1, 0, 3});
  expect_error([&] { pixel_flipping(s, {empty}, empty, {0}, FlipOptions{}); }, ErrorKind::BadInput,
               "faithfulness: the input [1,0,3] has no values to remove");

  // A baseline the model cannot take: sqrt(-1) is NaN, named with the point. R sends x2 first (no effect on
  // the target y1 = sqrt(x1)), then x1.
  ModelBuilder b;
  b.input("x", {2});
  b.node("Sqrt", {"x"}, {"y"});
  b.output("y");
  Session root = Session::from_model(b.build(), "sqrt.onnx");
  FlipOptions neg;
  neg.baseline = -1;
  expect_error([&] { pixel_flipping(root, {Tensor::from_floats({1, 2}, {4, 9})}, Tensor::from_floats({1, 2}, {2, 3}), {0}, neg); },
               ErrorKind::BadInput, "faithfulness: the output became NaN with 2 of 2 units set to the baseline -1");

  // Too much work: 2000 points x 101 orders is refused before any pass.
  Session wide = linear_model({3000}, std::vector<float>(3000, 1.0f));
  FlipOptions many;
  many.steps = 1000;
  many.random_orders = 100;
  const Tensor wx = Tensor::zeros({2, 3000});
  expect_error([&] { pixel_flipping(wide, {wx}, wx, {0, 0}, many); }, ErrorKind::BadInput,
               "faithfulness: 202202 perturbed copies (2 samples x 1001 points x 101 orders), over 200000");
  EXPECT_EQ(wide.predict_runs(), 0u);
}

}  // namespace
}  // namespace relscope::relevance
