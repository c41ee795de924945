// The GPU program of an explanation (relevance/gpu_explain.h), run by the CPU interpreter of
// kernels/webgpu/program.h, equals Explainer::explain: every composite, every linear-layer rule, the gradient
// methods (integrated gradients, SmoothGrad and occlusion too), pruned LRP in both modes (with its report),
// targets per sample, on the fixtures, the bundled models
// and a model of every convolutional op the GPU path runs (strides, dilations, groups, padding, ceil mode, a
// transposed conv, a standalone BatchNorm, residual Add, Sub); attention and routing ops in
// test_gpu_program_ops.cpp. The WGSL kernels are checked against the same interpreter in Chromium
// (tests/browser/webgpu_kernels.test.mjs).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/session.h"
#include "expect_error.h"
#include "io/npy.h"
#include "kernels/webgpu/program.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "gpu_program_test_util.h"
#include "relevance/gpu_explain.h"

namespace relscope::relevance {
namespace {

using kernels::gpu::Program;
using kernels::gpu::run_on_cpu;
using testing::attr_float;
using testing::expect_gpu_matches;
using testing::attr_int;
using testing::attr_ints;
using testing::ModelBuilder;
using testing::random_tensor;

const std::string kRoot = std::string(RELSCOPE_SOURCE_DIR) + "/";

std::vector<Tensor> random_inputs(const Session& s, uint32_t seed) {
  std::vector<Tensor> in = example_inputs(s.graph());
  for (auto& t : in) t = random_tensor(t.shape, seed++, -1.0f, 1.0f);
  return in;
}

ExplainRequest request(const std::string& method, const std::string& composite = "epsilon-plus-flat") {
  return testing::gpu_request(method, composite);
}

// Every op of the GPU path: Conv (stride 2; groups 2 with dilation 2), Relu, residual Add, standalone
// BatchNormalization, AveragePool (ceil mode, padding), MaxPool (asymmetric padding), ConvTranspose, Sub of two
// activations, GlobalAveragePool, Flatten, MatMul and Gemm with constant weights.
onnx::ModelProto zoo_model() {
  ModelBuilder b;
  b.input("x", {3, 9, 9});
  b.init("W1", random_tensor({4, 3, 3, 3}, 1)).init("b1", random_tensor({4}, 2));
  b.init("W2", random_tensor({4, 2, 3, 3}, 3)).init("b2", random_tensor({4}, 4));
  b.init("scale", random_tensor({4}, 5, 0.5f, 1.5f)).init("shift", random_tensor({4}, 6));
  b.init("mean", random_tensor({4}, 7)).init("var", random_tensor({4}, 8, 0.5f, 2.0f));
  b.init("Wt", random_tensor({4, 3, 2, 2}, 9)).init("bt", random_tensor({3}, 10));
  b.init("Wm", random_tensor({3, 5}, 11)).init("Wg", random_tensor({4, 5}, 12)).init("bg", random_tensor({4}, 13));
  b.node("Conv", {"x", "W1", "b1"}, {"c1"}, {attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("Conv", {"r1", "W2", "b2"}, {"c2"},
            {attr_int("group", 2), attr_ints("dilations", {2, 2}), attr_ints("pads", {2, 2, 2, 2})}, "conv2")
      .node("Relu", {"c2"}, {"r2"})
      .node("Add", {"r1", "r2"}, {"s"})
      .node("BatchNormalization", {"s", "scale", "shift", "mean", "var"}, {"bn"}, {attr_float("epsilon", 1e-3f)})
      .node("AveragePool", {"bn"}, {"ap"},
            {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1}), attr_int("ceil_mode", 1)})
      .node("MaxPool", {"ap"}, {"mp"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("pads", {0, 0, 1, 1})})
      .node("ConvTranspose", {"mp", "Wt", "bt"}, {"ct"}, {attr_ints("strides", {2, 2})}, "deconv")
      .node("Relu", {"ct"}, {"r3"})
      .node("Sub", {"r3", "ct"}, {"d"})
      .node("GlobalAveragePool", {"d"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("MatMul", {"f", "Wm"}, {"m"}, {}, "matmul")
      .node("Gemm", {"m", "Wg", "bg"}, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  return b.build();
}

TEST(GpuProgram, EveryCompositeAndGradientOnTheOpZoo) {
  Session s = Session::from_model(zoo_model(), "zoo.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 99)};
  for (const auto& c : composite_names()) expect_gpu_matches(s, x, request("lrp", c), "zoo");
  expect_gpu_matches(s, x, request("gradient"), "zoo");
  expect_gpu_matches(s, x, request("gradient-x-input"), "zoo");
}

TEST(GpuProgram, EveryLinearRuleOnTheOpZoo) {
  Session s = Session::from_model(zoo_model(), "zoo.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 7)};
  for (const char* spec : {"epsilon:0.01", "zplus", "alphabeta:2,1", "alphabeta:1,0", "gamma:0.5", "zbox:-1,1", "flat", "wsquare"}) {
    ExplainRequest r = request("lrp", "epsilon");
    for (const char* layer : {"conv1", "conv2", "deconv", "matmul", "fc"}) r.overrides[layer] = parse_rule(spec, "test");
    expect_gpu_matches(s, x, r, spec);
  }
  ExplainRequest one = request("lrp");
  one.targets = {2};
  expect_gpu_matches(s, x, one, "target 2");
  for (const char* method : {"lrp", "gradient"}) {   // a target per sample: read by the seed, not found
    ExplainRequest each = request(method);
    each.targets = {3, 1};
    expect_gpu_matches(s, x, each, "targets 3, 1");
  }
}

// Integrated gradients and SmoothGrad: a forward pass and a gradient sweep per point or noisy copy in one
// program, seeded with the unperturbed input's targets; the same noise as the CPU (one seeded stream).
TEST(GpuProgram, IntegratedGradientsAndSmoothGradOnTheOpZooAndModels) {
  Session s = Session::from_model(zoo_model(), "zoo.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 17)};
  ExplainRequest ig = request("integrated-gradients");
  ig.steps = 5;
  expect_gpu_matches(s, x, ig, "zoo");
  ExplainRequest sg = request("smoothgrad");
  sg.samples = 4;
  sg.noise = 0.2f;
  sg.seed = 7;
  expect_gpu_matches(s, x, sg, "zoo");
  sg.targets = {1, 0};
  expect_gpu_matches(s, x, sg, "zoo, a target per sample");
  for (const char* file : {"assets/fashion_resnet/model.onnx", "assets/attention/model.onnx"}) {
    Session m = Session::load_file(kRoot + file);
    const std::vector<Tensor> xm = random_inputs(m, 5);
    expect_gpu_matches(m, xm, ig, file);
    sg.targets = {};
    expect_gpu_matches(m, xm, sg, file);
  }
}

// Occlusion: a forward pass per window in one program, the target's drop added to the window's elements, the
// mean per element; windows over 2 spatial dims (the zoo, batch 2, clipped at the edges, with a gap between
// windows: stride > window), 1 (the attention model's trailing dim) and features (an MLP's (N, F)).
TEST(GpuProgram, OcclusionOnTheOpZooAndModels) {
  Session s = Session::from_model(zoo_model(), "zoo.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 23)};
  ExplainRequest oc = request("occlusion");
  oc.window = 3, oc.stride = 2, oc.baseline = 0.5f;
  expect_gpu_matches(s, x, oc, "zoo");
  oc.window = 2, oc.stride = 4;   // elements no window covers get 0, as on the CPU
  oc.targets = {2, 0};
  expect_gpu_matches(s, x, oc, "zoo, gaps, a target per sample");
  for (const char* file : {"assets/attention/model.onnx", "assets/variance/gaussian_mlp.onnx", "assets/demo/fashion_cnn.onnx"}) {
    Session m = Session::load_file(kRoot + file);
    ExplainRequest r = request("occlusion");
    r.window = 4, r.stride = 3;
    expect_gpu_matches(m, random_inputs(m, 9), r, file);
  }
  ExplainRequest fine = request("occlusion");   // 81 windows x the zoo's steps: within the limit; 1x1 windows
  fine.window = fine.stride = 1;                // of a 300x300 input are not
  expect_gpu_matches(s, x, fine, "zoo, 1x1 windows");
  ModelBuilder wb;
  wb.input("x", {1, 300, 300});
  wb.node("GlobalAveragePool", {"x"}, {"g"}).node("Flatten", {"g"}, {"y"}).output("y");
  Session big = Session::from_model(wb.build(), "wide.onnx");
  Explainer ex(big);
  const std::vector<Tensor> wide = {random_tensor({1, 1, 300, 300}, 3)};
  testing::expect_error([&] { compile_gpu_explanation(ex, wide, fine); }, ErrorKind::Unsupported, "occlusion with 90000 windows");
  ExplainRequest bad = request("occlusion");
  bad.stride = 0;
  testing::expect_error([&] { compile_gpu_explanation(ex, wide, bad); }, ErrorKind::BadInput, "--window and --stride must be at least 1");
}

TEST(GpuProgram, FixturesAndBundledModels) {
  for (const char* file : {"tests/data/models/cnn_opset13.onnx", "tests/data/models/conv_bn_opset13.onnx",
                           "tests/data/models/two_heads_opset13.onnx",
                           "tests/data/models/resnet_tiny_opset13.onnx", "assets/demo/fashion_cnn.onnx",
                           "assets/fashion_resnet/model.onnx", "assets/clever_hans/model.onnx", "assets/dna_motif/model.onnx",
                           "assets/variance/gaussian_mlp.onnx"}) {
    Session s = Session::load_file(kRoot + file);
    const std::vector<Tensor> x = random_inputs(s, 3);
    expect_gpu_matches(s, x, request("lrp"), file);
    expect_gpu_matches(s, x, request("lrp", "epsilon-gamma-box"), file);
    expect_gpu_matches(s, x, request("gradient"), file);
  }
}

// Fewer dispatches, the same result: a group's first contribution writes its denominator (ZPlus': the conv step
// itself, with the bias), a convolution's transposed step reads R / stab(z) in its prologue and multiplies by the
// term's input in its epilogue (writing the relevance it gives, or adding it onto the input's relevance so far
// when the layer has one active term), a residual Add's products write or add likewise, and Flat's ones are a
// constant. So a residual network's sweep under epsilon-plus-flat fills no buffer, adds no finished buffer onto
// another, adds no bias, and has no ratio step right before a convolution nor a product step right after one.
TEST(GpuProgram, ResidualSweepWritesFirstContributionsInsteadOfAddingThemToZeros) {
  using kernels::gpu::Ew;
  using kernels::gpu::Kernel;
  Session s = Session::load_file(kRoot + "tests/data/models/resnet_tiny_opset13.onnx");
  const std::vector<Tensor> x = random_inputs(s, 5);
  expect_gpu_matches(s, x, request("lrp"), "resnet_tiny");
  Explainer ex(s);
  const GpuExplanation gx = compile_gpu_explanation(ex, x, request("lrp"));
  ASSERT_FALSE(gx.program.kept.empty());
  const auto& steps = gx.program.steps;
  auto is_conv = [](const kernels::gpu::Step& st) { return st.kernel == Kernel::ConvForward || st.kernel == Kernel::ConvBackwardData; };
  auto writes = [](const kernels::gpu::Step& st, int id) {   // whether the step writes buffer id
    const unsigned w = kernels::gpu::written_bindings(st);
    for (int i = 0; i < kernels::gpu::max_bindings; ++i)
      if ((w >> i & 1u) && st.bind[i] == id) return true;
    return false;
  };
  std::map<Ew, int> sweep;
  int fills = 0, epilogues = 0, adding = 0, prologues = 0;
  for (size_t k = 0; k < steps.size(); ++k) {
    const auto& st = steps[k];
    if (is_conv(st) && st.words[25] != 0) ++epilogues, adding += st.words[25] == 2;
    if (is_conv(st) && k >= gx.program.kept[0].to) {   // a transposed convolution: its input is no StabDivide's
      prologues += st.words[27] != 0;
      size_t w = k;
      while (w-- > 0 && !writes(steps[w], st.bind[0])) {
      }
      EXPECT_FALSE(w < k && steps[w].kernel == Kernel::Elementwise && static_cast<Ew>(steps[w].words[1]) == Ew::StabDivide)
          << "step " << k << " reads the ratio step " << w << " writes";
    }
    if (st.kernel != Kernel::Elementwise) continue;
    const auto op = static_cast<Ew>(st.words[1]);
    fills += op == Ew::Fill;
    if (k >= gx.program.kept[0].to) ++sweep[op];
    if (op == Ew::Product || op == Ew::AccumulateProduct) {   // its factor is no convolution's output
      size_t w = k;
      while (w-- > 0 && !writes(steps[w], st.bind[1])) {
      }
      EXPECT_FALSE(w < k && is_conv(steps[w])) << "step " << k << " multiplies what convolution step " << w << " wrote";
    }
  }
  EXPECT_EQ(fills, 0);
  EXPECT_EQ(sweep[Ew::Accumulate], 0);
  EXPECT_EQ(sweep[Ew::AccumulateBias], 0);
  EXPECT_GT(epilogues, 0);
  EXPECT_EQ(prologues, epilogues) << "every transposed convolution reads its ratio";
  EXPECT_GT(adding, 0) << "a residual merge, in place";
}

// Split-K: a convolution of one 64x64 output tile and K = 64 x 9 (the shape of a ResNet's last stages, small)
// is dealt out in K ranges whose partial sums a SliceSum adds; explanations through it equal the CPU's.
TEST(GpuProgram, SplitKConvolutionsEqualTheCpu) {
  ModelBuilder b;
  b.input("x", {64, 5, 5});
  b.init("W1", random_tensor({8, 64, 3, 3}, 31)).init("b1", random_tensor({8}, 32));
  b.init("W2", random_tensor({4, 8, 1, 1}, 33)).init("Wg", random_tensor({3, 4}, 34)).init("bg", random_tensor({3}, 35));
  b.node("Conv", {"x", "W1", "b1"}, {"c1"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv1")
      .node("Relu", {"c1"}, {"r1"})
      .node("Conv", {"r1", "W2"}, {"c2"}, {}, "conv2")
      .node("Relu", {"c2"}, {"r2"})
      .node("GlobalAveragePool", {"r2"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("Gemm", {"f", "Wg", "bg"}, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  Session s = Session::from_model(b.build(), "split_k.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 64, 5, 5}, 36, 0.0f, 1.0f)};
  for (const char* composite : {"epsilon-plus-flat", "epsilon", "epsilon-alpha2-beta1"})
    expect_gpu_matches(s, x, request("lrp", composite), "split-K");
  expect_gpu_matches(s, x, request("gradient"), "split-K");
  Explainer ex(s);
  const GpuExplanation gx = compile_gpu_explanation(ex, x, request("lrp", "epsilon-alpha2-beta1"));
  int split = 0;
  for (const auto& st : gx.program.steps) split += st.kernel == kernels::gpu::Kernel::ConvForward && st.words[24] > 1;
  EXPECT_GE(split, 3) << "the forward pass and the rule's forward terms of conv1 are split";
}

// A strided layer's transposed convolution, tiled per stride phase (32 input channels a group), with split-K: a
// stride-2 3x3 conv to 512 channels on 5x5 inputs has 8 tiles of 64x64 (2 images x 4 phases) and K = 512 x 1-4
// taps, dealt out in K ranges whose slices a SliceSum adds. Explanations through it equal the CPU's.
TEST(GpuProgram, SplitKTransposedConvolutionsOfStridedLayersEqualTheCpu) {
  ModelBuilder b;
  b.input("x", {8, 5, 5});
  b.init("W0", random_tensor({32, 8, 1, 1}, 41)).init("W1", random_tensor({512, 32, 3, 3}, 42));
  b.init("Wg", random_tensor({3, 512}, 43)).init("bg", random_tensor({3}, 44));
  b.node("Conv", {"x", "W0"}, {"c0"}, {}, "stem")
      .node("Relu", {"c0"}, {"r0"})
      .node("Conv", {"r0", "W1"}, {"c1"}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("strides", {2, 2})}, "strided")
      .node("Relu", {"c1"}, {"r1"})
      .node("GlobalAveragePool", {"r1"}, {"g"})
      .node("Flatten", {"g"}, {"f"})
      .node("Gemm", {"f", "Wg", "bg"}, {"y"}, {attr_int("transB", 1)}, "fc")
      .output("y");
  Session s = Session::from_model(b.build(), "split_k_strided.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 8, 5, 5}, 45, 0.0f, 1.0f)};
  for (const char* composite : {"epsilon-plus-flat", "epsilon", "epsilon-alpha2-beta1"})
    expect_gpu_matches(s, x, request("lrp", composite), "strided split-K");
  expect_gpu_matches(s, x, request("gradient"), "strided split-K");
  Explainer ex(s);
  const GpuExplanation gx = compile_gpu_explanation(ex, x, request("lrp", "epsilon-plus-flat"));
  int split = 0;
  for (const auto& st : gx.program.steps)
    split += st.kernel == kernels::gpu::Kernel::ConvBackwardData && st.words[24] > 1 && st.words[29] == 1;
  EXPECT_GE(split, 1) << "the strided layer's transposed convolution runs tiled and split";
}

// Flat's transposed convolution through weights of ones runs as kernels::conv_backward_data_ones does: R / stab(z)
// summed over each group's output channels (a 1x1 convolution with the ratio in its prologue), then transposed
// through ones with one output channel a group. Every Flat layer here: a stem-like strided 3-channel layer (the
// gather), a grouped stride-1 dilated one (the forward kernel with the flipped ones), a strided one with 16
// input channels a group (tiled per phase), in 1-D, 2-D and 3-D. Explanations equal the CPU's, also when the
// layer adds onto its input's relevance so far (a residual) and with epsilon-plus-flat's ZPlus above.
TEST(GpuProgram, FlatLayersTransposeTheChannelSumThroughOnes) {
  for (int dims = 1; dims <= 3; ++dims) {
    SCOPED_TRACE(std::to_string(dims) + "-D");
    auto spatial = [&](int64_t k) { return Shape(static_cast<size_t>(dims), k); };
    auto pads = [&](int64_t p) { return std::vector<int64_t>(static_cast<size_t>(2 * dims), p); };
    auto each = [&](int64_t v) { return std::vector<int64_t>(static_cast<size_t>(dims), v); };
    auto shape = [&](std::initializer_list<int64_t> lead, int64_t k) {
      Shape sh(lead);
      for (int64_t v : spatial(k)) sh.push_back(v);
      return sh;
    };
    const int64_t side = dims == 3 ? 7 : dims == 2 ? 11 : 23;
    ModelBuilder b;
    b.input("x", shape({3}, side));
    b.init("W1", random_tensor(shape({16, 3}, 5), 51)).init("b1", random_tensor({16}, 52));
    b.init("W2", random_tensor(shape({16, 8}, 3), 53));
    b.init("W3", random_tensor(shape({32, 16}, 3), 54)).init("b3", random_tensor({32}, 55));
    b.init("Wg", random_tensor({4, 32}, 56));
    b.node("Conv", {"x", "W1", "b1"}, {"c1"}, {attr_ints("strides", each(2)), attr_ints("pads", pads(2))}, "stem")
        .node("Relu", {"c1"}, {"r1"})
        .node("Conv", {"r1", "W2"}, {"c2"}, {attr_int("group", 2), attr_ints("dilations", each(2)), attr_ints("pads", pads(2))}, "grouped")
        .node("Add", {"c2", "r1"}, {"a2"})
        .node("Relu", {"a2"}, {"r2"})
        .node("Conv", {"r2", "W3", "b3"}, {"c3"}, {attr_ints("strides", each(2)), attr_ints("pads", pads(1))}, "strided")
        .node("Relu", {"c3"}, {"r3"})
        .node("GlobalAveragePool", {"r3"}, {"g"})
        .node("Flatten", {"g"}, {"f"})
        .node("Gemm", {"f", "Wg"}, {"y"}, {attr_int("transB", 1)}, "fc")
        .output("y");
    Session s = Session::from_model(b.build(), "flat_layers.onnx");
    const std::vector<Tensor> x = {random_tensor(shape({2, 3}, side), 57, -1.0f, 1.0f)};
    ExplainRequest all_flat = request("lrp", "epsilon");
    for (const char* layer : {"stem", "grouped", "strided"}) all_flat.overrides[layer] = parse_rule("flat", layer);
    expect_gpu_matches(s, x, all_flat, "every conv flat");
    expect_gpu_matches(s, x, request("lrp", "epsilon-plus-flat"), "the stem flat");
    // The program: each Flat layer's channel sum (a 1x1 convolution to one channel a group, with a prologue),
    // and no transposed convolution that reads more than one channel a group.
    Explainer ex(s);
    const GpuExplanation gx = compile_gpu_explanation(ex, x, all_flat);
    int sums = 0;
    for (const auto& st : gx.program.steps) {
      const bool one_by_one = st.words[11] == 1 && st.words[12] == 1 && st.words[13] == 1;
      if (st.kernel == kernels::gpu::Kernel::ConvForward && one_by_one && st.words[3] == st.words[4] && st.words[27] == 1) ++sums;
      if (st.kernel == kernels::gpu::Kernel::ConvBackwardData) {
        EXPECT_EQ(st.words[3], st.words[4]) << "one output channel a group";
        const int64_t cg = st.words[2] / st.words[4];
        const bool tiled = cg >= kernels::gpu::kConvBackwardTiledMinChannels;
        EXPECT_EQ(st.words[29], tiled ? 1u : 0u) << "tiled from kConvBackwardTiledMinChannels channels a group";
        EXPECT_EQ(st.words[30], tiled ? 0 : std::min(cg, kernels::gpu::kConvBackwardGatherChannels)) << "the gather's blocks";
      }
    }
    EXPECT_EQ(sums, 3);
  }
}

// Pruned LRP: the GPU program prunes where the CPU's sweep hooks do (PLRP-lambda at a value's complete
// relevance, PLRP-M re-running the layer on masked inputs), each sample on its own, with the same report.
TEST(GpuProgram, PrunedLrpInBothModesOnTheOpZooAndModels) {
  auto pruned = [](PruneMode mode, PruneProportion all) {
    ExplainRequest r = request("pruned-lrp");
    r.prune.mode = mode;
    r.prune.all = all;
    return r;
  };
  Session zoo = Session::from_model(zoo_model(), "zoo.onnx");
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 21)};
  for (PruneMode mode : {PruneMode::Lambda, PruneMode::Mask}) {
    for (PruneProportion p : {PruneProportion{0.5f, 0.5f}, PruneProportion{0.3f, 0.8f}, PruneProportion{1.0f, 0.0f}}) {
      ExplainRequest r = pruned(mode, p);
      r.targets = {1, 3};
      expect_gpu_matches(zoo, x, r, "zoo p " + std::to_string(p.pos) + "/" + std::to_string(p.neg));
    }
    ExplainRequest per_layer = pruned(mode, {0.2f, 0.2f});
    per_layer.prune.at_node["fc"] = {0.9f, 0.1f};
    per_layer.composite = "epsilon-gamma-box";
    expect_gpu_matches(zoo, x, per_layer, "zoo per layer");
  }
  // resnet_tiny on its own input: on uniform noise, pruning at the fc leaves one of its samples features
  // whose relevance dies in the ZPlus convolutions below (all zero on the CPU too).
  for (const char* file : {"tests/data/models/cnn_opset13.onnx", "tests/data/models/resnet_tiny_opset13.onnx",
                           "assets/demo/fashion_cnn.onnx", "assets/dna_motif/model.onnx"}) {
    Session s = Session::load_file(kRoot + file);
    std::string input = kRoot + file;
    input.replace(input.size() - 5, 5, "_input.npy");
    const std::vector<Tensor> xs = std::string(file).find("resnet_tiny") != std::string::npos
                                       ? std::vector<Tensor>{read_npy_file(input, s.limits())}
                                       : random_inputs(s, 3);
    expect_gpu_matches(s, xs, pruned(PruneMode::Lambda, {0.5f, 0.5f}), file);
    expect_gpu_matches(s, xs, pruned(PruneMode::Mask, {0.5f, 0.5f}), file);
  }
  // A report is what the test compares; one that is empty would compare nothing.
  Explainer ex(zoo);
  EXPECT_GE(ex.explain(x, pruned(PruneMode::Lambda, {0.5f, 0.5f})).pruning.size(), 3u);
}

TEST(GpuProgram, WhatTheGpuPathDoesNotRunIsNamed) {
  ModelBuilder pb;
  pb.input("x", {3});
  pb.node("Pow", {"x", "x"}, {"y"}, {}, "pow").output("y");
  Session pow = Session::from_model(pb.build(), "pow.onnx");
  Explainer ep(pow);
  const std::vector<Tensor> xp = {random_tensor({1, 3}, 1, 0.5f, 1.0f)};
  testing::expect_error([&] { compile_gpu_explanation(ep, xp, request("gradient")); }, ErrorKind::Unsupported,
                        "node 'pow' (Pow): Pow with an exponent that is not one constant (the GPU path runs on the CPU instead)");

  Session s = Session::from_model(zoo_model(), "zoo.onnx");
  Explainer ex(s);
  const std::vector<Tensor> x = {random_tensor({2, 3, 9, 9}, 1)};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, request("cov-lrp")); }, ErrorKind::Unsupported,
                        "method cov-lrp: the GPU path explains with lrp, pruned-lrp");
  ExplainRequest prune_far = request("pruned-lrp");
  prune_far.prune.all = {1.5f, 0.0f};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, prune_far); }, ErrorKind::BadInput,
                        "prune proportion (positive) must be in [0, 1], got 1.5");
  ExplainRequest prune_first = request("pruned-lrp");
  prune_first.prune.at_node["conv1"] = {0.5f, 0.5f};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, prune_first); }, ErrorKind::BadInput,
                        "--prune-at conv1: not a linear layer after the first one");
  // An output sliced down to nothing: refused as the CPU refuses it (the explain fuzzer found the GPU
  // program's seed indexing it).
  Session empty = Session::load_file(kRoot + "tests/hostile/files/empty_output.onnx");
  Explainer ee(empty);
  testing::expect_error([&] { compile_gpu_explanation(ee, {Tensor::from_floats({1, 4}, {1, 2, 3, 4})}, request("lrp")); },
                        ErrorKind::BadInput, "output 'y' has shape [1,0]: no values for a batch of 1");
  ExplainRequest three = request("lrp");
  three.targets = {0, 1, 2};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, three); }, ErrorKind::BadInput, "3 targets for a batch of 2");
  ExplainRequest none = request("integrated-gradients");
  none.steps = 0;
  testing::expect_error([&] { compile_gpu_explanation(ex, x, none); }, ErrorKind::BadInput, "--steps must be at least 1");
  ExplainRequest far = request("lrp");
  far.targets = {4};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, far); }, ErrorKind::BadInput, "--target 4 is out of range");
}

TEST(GpuProgram, InterpreterRefusesWhatWebGpuWouldRefuse) {
  Program p;
  const int a = p.add_buffer(4), out = p.add_buffer(4);
  kernels::gpu::Step s;
  s.kernel = kernels::gpu::Kernel::Elementwise;
  s.words[0] = 4;
  s.words[1] = static_cast<uint32_t>(kernels::gpu::Ew::Accumulate);
  s.bind = {out, -1, -1, out, -1};   // reads the buffer it writes through a second binding
  p.steps.push_back(s);
  testing::expect_error([&] { run_on_cpu(p); }, ErrorKind::Internal, "written and bound twice");
  p.steps[0].bind = {a, -1, -1, out, -1};
  p.steps[0].words[0] = 5;   // more invocations than the buffers hold
  testing::expect_error([&] { run_on_cpu(p); }, ErrorKind::Internal, "out needs 5 words");
  p.steps[0].words[0] = 4;
  p.readback = {out};
  EXPECT_EQ(run_on_cpu(p).at(0), std::vector<float>(4, 0.0f));
}

}  // namespace
}  // namespace relscope::relevance
