// The canvas's Strategies view (app/core/spray_view.h) on the Clever Hans lesson model: its six bundled
// samples explained at Shirt in steps and clustered as relevance::spray does, the marked ones apart from the
// clean ones; a new model drops the run.
#include <gtest/gtest.h>

#include "app/core/app_state.h"
#include "app/core/spray_view.h"
#include "io/file.h"

namespace relscope::app {
namespace {

const std::string kDir = std::string(RELSCOPE_SOURCE_DIR) + "/assets/clever_hans/";
std::vector<uint8_t> asset(const std::string& name) { return read_file_bytes(kDir + name, 1u << 30); }

void load_clever_hans(AppState& s) {
  s.open("model.onnx", asset("model.onnx"));
  s.open("preprocess.json", asset("preprocess.json"));
  for (const char* f : {"4_shirt_marked.png", "4_shirt.png", "19_t_shirt_top_marked.png", "19_t_shirt_top.png",
                        "6_coat_marked.png", "6_coat.png"})
    s.add_sample(f, asset(std::string("samples/") + f));
  s.select_sample(0);
}

TEST(AppSpray, ClustersTheDataSetAtTheShownClassInSteps) {
  AppState s;
  load_clever_hans(s);
  ASSERT_TRUE(s.guard([&] { s.compute(); })) << s.last_error;
  ASSERT_EQ(s.results().main.target, 6);   // the marked shirt is predicted Shirt
  SprayView v;
  v.options.neighbours = 2;
  v.options.size = 7;
  EXPECT_FALSE(v.step(s));   // idle
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  int steps = 0;
  while (v.running()) {
    ASSERT_TRUE(s.guard([&] { v.step(s); })) << s.last_error;
    ++steps;
  }
  EXPECT_EQ(steps, 7);   // six inputs, then the clustering
  ASSERT_TRUE(v.has_result());
  const auto& r = v.result();
  ASSERT_EQ(r.clusters, 2);
  ASSERT_EQ(v.entries().size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const bool marked = v.entries()[i].name.find("marked") != std::string::npos;
    EXPECT_EQ(r.label[i] == r.label[0], marked) << v.entries()[i].name;   // entry 0 is 4_shirt_marked.png
  }
  EXPECT_EQ(v.target(), 6);
  EXPECT_EQ(v.method(), "lrp (epsilon-plus-flat)");
  EXPECT_NE(v.snapshot_json().find("\"clusters\":2"), std::string::npos) << v.snapshot_json();

  // Only the inputs predicted as Shirt: the three marked ones.
  v.predicted_only = true;
  v.options.clusters = 1;
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  while (v.running()) ASSERT_TRUE(s.guard([&] { v.step(s); })) << s.last_error;
  EXPECT_EQ(v.entries().size(), 3u);
  EXPECT_EQ(v.skipped(), 3);

  // Another model under a run: dropped.
  v.predicted_only = false;
  ASSERT_TRUE(s.guard([&] { v.start(s); })) << s.last_error;
  ASSERT_TRUE(s.guard([&] { v.step(s); })) << s.last_error;
  s.open("fashion_cnn.onnx", read_file_bytes(std::string(RELSCOPE_SOURCE_DIR) + "/assets/demo/fashion_cnn.onnx", 1u << 30));
  EXPECT_FALSE(v.step(s));
  EXPECT_FALSE(v.running());
  EXPECT_FALSE(v.has_result());
}

TEST(AppSpray, RefusesWithoutResults) {
  AppState s;
  SprayView v;
  EXPECT_FALSE(s.guard([&] { v.start(s); }));
  EXPECT_NE(s.last_error.find("strategies: explain an input first"), std::string::npos) << s.last_error;
}

}  // namespace
}  // namespace relscope::app
