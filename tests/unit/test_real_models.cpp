// End to end: PyTorch exports (scripts/make_test_models.py) load, plan and reproduce PyTorch's outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/session.h"
#include "io/npy.h"

namespace relscope {
namespace {

const std::string kDir = std::string(RELSCOPE_SOURCE_DIR) + "/tests/data/models/";

class RealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModel, MatchesPyTorch) {
  const std::string name = GetParam();
  Session s = Session::load_file(kDir + name + ".onnx");
  const Tensor x = read_npy_file(kDir + name + "_input.npy", Limits{});
  const auto out = s.predict({x});
  ASSERT_EQ(out.size(), s.graph().outputs.size());
  for (size_t o = 0; o < out.size(); ++o) {   // _output.npy, then _output1.npy, ... for further heads
    const std::string file = kDir + name + (o == 0 ? "_output.npy" : "_output" + std::to_string(o) + ".npy");
    const Tensor want = read_npy_file(file, Limits{});
    ASSERT_EQ(out[o].shape, want.shape) << name << " output " << o;
    float scale = 0;
    for (float v : want.f) scale = std::max(scale, std::fabs(v));
    for (size_t k = 0; k < want.f.size(); ++k)
      ASSERT_NEAR(out[o].f[k], want.f[k], 1e-5f + 1e-4f * scale) << name << " output " << o << " element " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorchExports, RealModel,
                         ::testing::Values("mlp_opset13", "cnn_opset11", "cnn_opset13", "resnet_tiny_opset13",
                                           "dna_cnn_opset13", "attention_opset14", "attention_opset17", "decoder_opset13", "two_heads_opset13",
                                           "conv_bn_opset13"));

TEST(RealModelBatch, FixedBatchOneModelTakesBatchOfFour) {
  // Exported with batch 1 hard-coded: the session splits the batch; each sample equals its solo run.
  Session s = Session::load_file(kDir + "resnet_tiny_batch1_opset13.onnx");
  const Tensor x1 = read_npy_file(kDir + "resnet_tiny_batch1_opset13_input.npy", Limits{});
  const Tensor want = read_npy_file(kDir + "resnet_tiny_batch1_opset13_output.npy", Limits{});
  std::vector<Tensor> parts(4, x1);
  for (float& v : parts[2].f) v = -v;
  const Tensor x4 = concat_batch(parts);
  const auto y = s.predict({x4});
  ASSERT_EQ(y[0].shape, (Shape{4, 5}));
  for (int64_t b : {0, 1, 3})
    for (int64_t c = 0; c < 5; ++c) EXPECT_NEAR(y[0].f[b * 5 + c], want.f[c], 1e-4f);
  const auto solo = s.predict({parts[2]});
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(y[0].f[2 * 5 + c], solo[0].f[c]);
}

}  // namespace
}  // namespace relscope
