// SpRAy (relevance/spray.h): feature vectors by hand, strategies found in synthetic maps (the eigengap counts
// them, k-means finds them), the numbering of clusters, refusals, and the Clever Hans model's watermark
// strategy found among its Shirt heatmaps.
//
// Sections: spray_features | synthetic strategies | refusals | the Clever Hans model
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "engine/session.h"
#include "expect_error.h"
#include "io/file.h"
#include "io/image.h"
#include "relevance/explain.h"
#include "relevance/spray.h"

namespace relscope::relevance {
namespace {

using relscope::testing::expect_error;

// ---- spray_features -------------------------------------------------------------------------------------

TEST(SprayFeatures, ChannelsSummedBoxAveragedAndScaled) {
  // (C=2, 4x4) -> size 2: each 2x2 block's mean of the channel sum, then divided by the largest |mean|.
  // Channel 0 is k (0..15), channel 1 is 1 everywhere: sums k + 1; block means 3.5, 5.5, 11.5, 13.5.
  std::vector<float> map(32, 1.0f);
  for (int k = 0; k < 16; ++k) map[k] = static_cast<float>(k);
  SprayOptions o;
  o.size = 2;
  Shape shape;
  const auto f = spray_features(map.data(), {2, 4, 4}, o, &shape);
  EXPECT_EQ(shape, (Shape{2, 2}));
  ASSERT_EQ(f.size(), 4u);
  const float want[] = {3.5f / 13.5f, 5.5f / 13.5f, 11.5f / 13.5f, 1.0f};
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(f[k], want[k]) << k;

  // Channels last, and uneven cells: 5 positions -> 2 cells of 3 + 2.
  std::vector<float> last = {1, -1, 2, 0, 3, 1, 4, 0, 5, 5};   // (5, C=2): sums 0, 2, 4, 4, 10
  o.channels_last = true;
  const auto g = spray_features(last.data(), {5, 2}, o, &shape);
  EXPECT_EQ(shape, (Shape{2}));
  EXPECT_FLOAT_EQ(g[0], 2.0f / 7.0f);   // (0 + 2 + 4) / 3 = 2, (4 + 10) / 2 = 7
  EXPECT_FLOAT_EQ(g[1], 1.0f);
  // A size larger than the map keeps it; an all-zero map stays zero (no division by 0).
  o.size = 32;
  const auto zero = spray_features(std::vector<float>(6, 0.0f).data(), {6}, o, &shape);
  EXPECT_EQ(shape, (Shape{6}));
  EXPECT_EQ(zero, std::vector<float>(6, 0.0f));
}

// ---- synthetic strategies -------------------------------------------------------------------------------

// Maps of length 24 with a bump at `centre` and a little deterministic texture: one strategy per centre.
Tensor strategy_maps(const std::vector<std::pair<int, int>>& groups) {
  std::vector<float> data;
  int64_t n = 0;
  for (const auto& [centre, count] : groups)
    for (int m = 0; m < count; ++m, ++n)
      for (int i = 0; i < 24; ++i)
        data.push_back(std::exp(-0.5f * static_cast<float>((i - centre) * (i - centre))) * (2.0f + 0.3f * static_cast<float>(m % 3)) +
                       0.02f * static_cast<float>((i * 7 + m * 13) % 5));
  return Tensor::from_floats({n, 24}, data);
}

TEST(Spray, TheEigengapCountsTheStrategiesAndKMeansFindsThem) {
  // Three strategies of 12, 9 and 6 maps: the kNN graph (k = 5) falls apart into three components, so
  // exactly three eigenvalues are 0 and the gap after them is the largest.
  const Tensor maps = strategy_maps({{4, 12}, {12, 9}, {20, 6}});
  SprayOptions o;
  o.neighbours = 5;
  const SprayResult r = spray(maps, o);
  ASSERT_EQ(r.clusters, 3);
  ASSERT_EQ(r.eigenvalues.size(), 9u);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(r.eigenvalues[j], 0.0, 1e-9) << j;
  EXPECT_GT(r.eigenvalues[3], 0.05);
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{12, 9, 6}));   // numbered by decreasing size
  for (int i = 0; i < 27; ++i) EXPECT_EQ(r.label[i], i < 12 ? 0 : i < 21 ? 1 : 2) << "map " << i;
  // Centroids are the mean downsized maps: the first strategy's peaks at position 4.
  const auto& c0 = r.centroids[0];
  EXPECT_EQ(std::max_element(c0.begin(), c0.end()) - c0.begin(), 4);
  EXPECT_EQ(r.embedding.size(), 27u);

  // Asked for 2 clusters: two of the strategies share one; the same seed gives the same answer.
  o.clusters = 2;
  const SprayResult two = spray(maps, o), again = spray(maps, o);
  EXPECT_EQ(two.clusters, 2);
  EXPECT_EQ(two.label, again.label);
  EXPECT_EQ(std::set<int>(two.label.begin(), two.label.begin() + 12).size(), 1u);   // a strategy is never split

  // One strategy only: one cluster.
  o.clusters = 0;
  EXPECT_EQ(spray(strategy_maps({{10, 8}}), o).clusters, 1);
}

// ---- refusals -------------------------------------------------------------------------------------------

TEST(Spray, TooFewMapsBadOptionsAndNaNAreRefused) {
  SprayOptions o;
  expect_error([&] { spray(strategy_maps({{4, 2}}), o); }, ErrorKind::BadInput, "spray: 2 maps; clustering needs at least 3");
  Tensor bad = strategy_maps({{4, 4}});
  bad.f[24 * 2 + 5] = NAN;
  expect_error([&] { spray(bad, o); }, ErrorKind::BadInput, "spray: map 2 holds NaN or Inf");
  o.size = 0;
  expect_error([&] { spray(strategy_maps({{4, 4}}), o); }, ErrorKind::BadInput, "spray: size must be 1..1024, not 0");
  o = {};
  o.max_clusters = 0;
  expect_error([&] { spray(strategy_maps({{4, 4}}), o); }, ErrorKind::BadInput, "spray: max clusters must be 1..64");
  o = {};
  expect_error([&] { spray(Tensor::zeros({2001, 2}), o); }, ErrorKind::BadInput, "spray: 2001 maps, over 2000");
}

// ---- the Clever Hans model ------------------------------------------------------------------------------

TEST(Spray, FindsTheCleverHansWatermarkAmongShirtHeatmaps) {
  // assets/clever_hans: 90% of its training Shirts carried a 4x4 checkerboard at (1, 1) (expected.json). Its
  // three clean samples, shifted by up to one pixel (5 positions each), once as they are and once with the
  // mark stamped on: 30 heatmaps of class Shirt. SpRAy must find two strategies and put every marked input
  // in one cluster and every clean one in the other.
  const std::string dir = std::string(RELSCOPE_SOURCE_DIR) + "/assets/clever_hans/";
  Session s = Session::load_file(dir + "model.onnx");
  Explainer ex(s);
  ExplainRequest req;
  req.targets = {6};   // Shirt
  ImagePreprocess p;
  p.height = p.width = 28;
  p.channels = 1;
  p.scale = 1.0f / 255.0f;
  p.mean = {0.286f};
  p.std = {0.353f};
  std::vector<Tensor> maps;
  std::vector<bool> marked;
  for (const char* name : {"4_shirt.png", "19_t_shirt_top.png", "6_coat.png"}) {
    const auto bytes = read_file_bytes(dir + "samples/" + name, 1u << 20);
    const Image clean = decode_image(bytes.data(), bytes.size(), name, {});
    ASSERT_EQ(clean.channels, 1);
    for (const auto& [dy, dx] : std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}})
      for (bool mark : {false, true}) {
        Image im = clean;
        for (int y = 0; y < 28; ++y)
          for (int x = 0; x < 28; ++x) {
            const int sy = y - dy, sx = x - dx;
            im.pixels[y * 28 + x] = sy >= 0 && sy < 28 && sx >= 0 && sx < 28 ? clean.pixels[sy * 28 + sx] : 0;
          }
        if (mark)
          for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) im.pixels[(1 + y) * 28 + 1 + x] = (x + y) % 2 == 0 ? 255 : 0;
        maps.push_back(ex.explain({image_to_tensor(im, p)}, req).relevance);
        marked.push_back(mark);
      }
  }
  const SprayResult r = spray(concat_batch(maps), {});
  ASSERT_EQ(r.clusters, 2) << "eigenvalues " << r.eigenvalues[0] << " " << r.eigenvalues[1] << " " << r.eigenvalues[2];
  const int marked_cluster = r.label[1];
  for (size_t i = 0; i < maps.size(); ++i) EXPECT_EQ(r.label[i] == marked_cluster, marked[i]) << "input " << i;
  // The marked cluster's mean map (downsized to 28x28: the map itself) is brightest inside the mark.
  const auto& c = r.centroids[static_cast<size_t>(marked_cluster)];
  const auto peak = std::max_element(c.begin(), c.end()) - c.begin();
  EXPECT_TRUE(peak / 28 >= 1 && peak / 28 <= 4 && peak % 28 >= 1 && peak % 28 <= 4) << "peak at " << peak;
}

}  // namespace
}  // namespace relscope::relevance
