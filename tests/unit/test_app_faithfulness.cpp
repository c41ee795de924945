// The canvas's faithfulness check (app/core/faithfulness_view.h) on the bundled demo: the main and compare
// maps flipped in steps equal relevance::pixel_flipping on the same results, progress rises to 1, and an
// outcome is dropped as soon as the results it describes change.
#include <gtest/gtest.h>

#include <cmath>

#include "app/core/app_state.h"
#include "app/core/faithfulness_view.h"
#include "io/file.h"

namespace relscope::app {
namespace {

const std::string kDemo = std::string(RELSCOPE_SOURCE_DIR) + "/assets/demo/";
std::vector<uint8_t> asset(const std::string& name) { return read_file_bytes(kDemo + name, 1u << 30); }

void load_demo(AppState& s) {
  s.open("fashion_cnn.onnx", asset("fashion_cnn.onnx"));
  const auto pre = asset("preprocess.json");
  s.open("preprocess.json", pre);
  s.open("0_ankle_boot.png", asset("samples/0_ankle_boot.png"));
}

TEST(AppFaithfulness, StepsFlipTheMainAndCompareMapsAsTheEngineDoes) {
  AppState s;
  load_demo(s);
  s.compare = true;
  s.compare_settings.method = "gradient";
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  FaithfulnessView v;
  v.options.steps = 10;
  v.options.window = 2;
  v.options.random_orders = 2;
  EXPECT_FALSE(v.step(s));   // idle: nothing to do
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  EXPECT_TRUE(v.running());
  double last = 0;
  int steps = 0;
  while (v.running()) {
    ASSERT_TRUE(v.step(s));
    EXPECT_GE(v.progress(), last);
    last = v.progress();
    ++steps;
  }
  // 11 points + 2 orders x 9 inner points = 29 copies for the main map, at most 8 per pass: at least 4 passes;
  // the compare map (same target) shares the random orders: 11 copies, at least 2 passes.
  EXPECT_GE(steps, 6);
  const auto& out = v.outcomes(s);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].label, "lrp (epsilon-plus-flat)");
  EXPECT_EQ(out[1].label, "compare: gradient");
  relevance::FlipOptions o = v.options;
  const Results& r = s.results();
  const auto main = relevance::pixel_flipping(*s.session(), {r.input}, r.main.relevance, {r.main.target}, o)[0];
  const auto compare = relevance::pixel_flipping(*s.session(), {r.input}, r.compare.relevance, {r.compare.target}, o)[0];
  // Equal up to the batch's summation order (the view sizes its passes by the model's speed).
  auto near = [](const std::vector<double>& a, const std::vector<double>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-4 * (1 + std::fabs(b[k]))) << "point " << k;
  };
  near(out[0].curve.relevance_first, main.relevance_first);
  near(out[0].curve.random, main.random);
  near(out[1].curve.relevance_first, compare.relevance_first);
  near(out[1].curve.random, compare.random);   // shared from the main run: the orders ignore the map
  EXPECT_EQ(out[1].curve.aopc_random, out[0].curve.aopc_random);
  EXPECT_EQ(out[0].curve.units, 196);   // 28x28 in windows of 2
  EXPECT_GT(out[0].curve.aopc, out[1].curve.aopc);   // LRP beats the gradient here (test_demo_models.cpp)
  EXPECT_NE(v.snapshot_json(s).find("\"label\":\"compare: gradient\""), std::string::npos);

  // Another target: the outcome describes other maps, so it is gone; a run in progress is dropped too.
  s.settings.target = 3;
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_TRUE(v.outcomes(s).empty());
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  ASSERT_TRUE(v.step(s));
  s.settings.target = 5;
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  EXPECT_FALSE(v.step(s));
  EXPECT_FALSE(v.running());
  EXPECT_TRUE(v.outcomes(s).empty());
}

TEST(AppFaithfulness, RefusesWithoutResultsAndKeepsTheRunOnBadOptions) {
  AppState s;
  FaithfulnessView v;
  EXPECT_FALSE(s.guard([&] { v.start(s); }));
  EXPECT_NE(s.last_error.find("faithfulness: explain an input first"), std::string::npos) << s.last_error;
  load_demo(s);
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  v.options.steps = 0;
  EXPECT_FALSE(s.guard([&] { v.start(s); }));
  EXPECT_NE(s.last_error.find("steps must be 1..1000"), std::string::npos) << s.last_error;
  EXPECT_TRUE(v.running());   // the earlier run goes on
  v.cancel();
  EXPECT_FALSE(v.running());
}

}  // namespace
}  // namespace relscope::app
