// The GPU program on attention blocks and shape-moving ops, run by the CPU interpreter, equals
// Explainer::explain: Softmax (AttnLRP's rule and its gradient), LayerNormalization, products of two
// activations (MatMul, Mul), numpy broadcasting in Add/Sub/Mul/Div, and routing ops by index maps
// (Transpose, Slice with a negative step, Gather, Concat with a constant, Split, Pad constant/reflect), LogSoftmax. The WGSL
// Gather and Rows kernels are checked against the same interpreter in Chromium (webgpu_kernels.test.mjs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/session.h"
#include "expect_error.h"
#include "io/npy.h"
#include "kernels/webgpu/program.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "gpu_program_test_util.h"
#include "relevance/composite.h"
#include "relevance/gpu_explain.h"

namespace relscope::relevance {
namespace {

using kernels::gpu::run_on_cpu;
using testing::attr_float;
using testing::expect_gpu_matches;
using testing::attr_int;
using testing::attr_ints;
using testing::ModelBuilder;
using testing::random_tensor;

const std::string kRoot = std::string(RELSCOPE_SOURCE_DIR) + "/";

ExplainRequest request(const std::string& method, const std::string& composite = "epsilon") {
  return testing::gpu_request(method, composite);
}

// A block of every op the GPU path moves by index maps or runs by rows, on x [N, 4, 6]:
//   Transpose -> [N,6,4]; Slice (step -1 on the last axis); Gather rows {0,2,5} -> [N,3,4]; Concat after a
//   constant token -> [N,4,4]; LayerNormalization over the last two dims (scale [4] broadcast, shift [4,4]);
//   q, k by constant MatMuls; q k^T (a product of activations) * 0.5 (a broadcast constant); Softmax on axis 1
//   (inner > 1); a @ ln; v * Sigmoid(v) (the product rule on Mul); + bias [4]; / [4,1]; minus its own first row
//   (a broadcast activation: the norm rule's sum back); residual Add of ln split in two and swapped; Pad with
//   0.5, Pad reflect; Gemm; LogSoftmax.
onnx::ModelProto block_model(int64_t batch) {
  ModelBuilder b(17);
  b.input("x", {4, 6});
  b.init("starts", Tensor::from_ints({1}, {-1})).init("ends", Tensor::from_ints({1}, {-100})).init("axes", Tensor::from_ints({1}, {2}))
      .init("steps", Tensor::from_ints({1}, {-1}));
  b.init("rows", Tensor::from_ints({3}, {0, 2, 5}));
  b.init("token", random_tensor({batch, 1, 4}, 21));
  b.init("scale", random_tensor({4}, 22, 0.5f, 1.5f)).init("shift", random_tensor({4, 4}, 23));
  b.init("Wq", random_tensor({4, 4}, 24)).init("Wk", random_tensor({4, 4}, 25));
  b.init("half", Tensor::from_floats({1}, {0.5f})).init("bias", random_tensor({4}, 26)).init("two", Tensor::from_floats({4, 1}, {2, 3, 4, 5}));
  b.init("pads", Tensor::from_ints({6}, {0, 1, 0, 0, 1, 0})).init("padv", Tensor::from_floats({}, {0.5f}));
  b.init("first", Tensor::from_ints({1}, {0}));
  b.init("Wo", random_tensor({32, 3}, 27));
  b.node("Transpose", {"x"}, {"t"}, {attr_ints("perm", {0, 2, 1})})
      .node("Slice", {"t", "starts", "ends", "axes", "steps"}, {"sl"})
      .node("Gather", {"sl", "rows"}, {"g"}, {attr_int("axis", 1)})
      .node("Concat", {"token", "g"}, {"c"}, {attr_int("axis", 1)})
      .node("LayerNormalization", {"c", "scale", "shift"}, {"ln"}, {attr_int("axis", -2), attr_float("epsilon", 1e-3f)}, "ln")
      .node("MatMul", {"ln", "Wq"}, {"q"}, {}, "q")
      .node("MatMul", {"ln", "Wk"}, {"k"}, {}, "k")
      .node("Transpose", {"k"}, {"kt"}, {attr_ints("perm", {0, 2, 1})})
      .node("MatMul", {"q", "kt"}, {"s"}, {}, "qk")
      .node("Mul", {"s", "half"}, {"sh"})
      .node("Softmax", {"sh"}, {"a"}, {attr_int("axis", 1)}, "softmax")
      .node("MatMul", {"a", "ln"}, {"v"}, {}, "av")
      .node("Sigmoid", {"v"}, {"gate"})
      .node("Mul", {"v", "gate"}, {"m"}, {}, "gated")
      .node("Add", {"m", "bias"}, {"mb"})
      .node("Div", {"mb", "two"}, {"d"})
      .node("Gather", {"d", "first"}, {"row0"}, {attr_int("axis", 1)})
      .node("Sub", {"d", "row0"}, {"centred"})
      .node("Split", {"ln"}, {"lo", "hi"}, {attr_int("axis", 2)})
      .node("Concat", {"hi", "lo"}, {"swapped"}, {attr_int("axis", 2)})
      .node("Add", {"centred", "swapped"}, {"res"})
      .node("Pad", {"res", "pads", "padv"}, {"p"}, {}, "pad")
      .node("Pad", {"p", "pads"}, {"p2"}, {testing::attr_string("mode", "reflect")}, "reflect")
      .node("Slice", {"p2", "starts", "ends", "axes", "steps"}, {"p3"})
      .node("Flatten", {"p3"}, {"f"})
      .node("Gemm", {"f", "Wo"}, {"logits"}, {}, "out")
      .node("LogSoftmax", {"logits"}, {"y"}, {attr_int("axis", 1)})
      .output("y");
  return b.build();
}

// The trained attention lesson model on each of its samples (one-hot tokens), at zennit's stabilisers; the two
// untrained fixtures (random weights; opset 14 exports LayerNorm as ReduceMean/Pow/Sqrt/Div, opset 17 as
// LayerNormalization, both have GELU's Erf) on random inputs with stabilisers of 1e-2: at 1e-6 their
// epsilon-rule relevance moves by 1e-4 of max|R| when the input moves by one float step (denominators near
// 0), and the test would compare float rounding rather than the ops.
TEST(GpuProgramOps, AttentionModelsEveryCompositeAndGradient) {
  const char* composites[] = {"epsilon", "epsilon-plus-flat", "epsilon-alpha2-beta1"};
  Session att = Session::load_file(kRoot + "assets/attention/model.onnx");
  for (const char* sample : {"0_FCEDCCaGAGE", "1_CAeADCBCAHA", "2_CDBHDCcBHFE", "3_EHGBGhFCDGD", "4_ECCEDDAAHeA", "5_bGHEGECFHAB"}) {
    const std::vector<Tensor> x = {read_npy_file(kRoot + "assets/attention/samples/" + sample + ".npy", Limits{})};
    for (const char* c : composites) expect_gpu_matches(att, x, request("lrp", c), sample);
    expect_gpu_matches(att, x, request("gradient"), sample);
  }
  for (const char* file : {"tests/data/models/attention_opset17.onnx", "tests/data/models/attention_opset14.onnx"}) {
    Session s = Session::load_file(kRoot + file);
    std::vector<Tensor> x = example_inputs(s.graph());
    for (auto& t : x) t = random_tensor(t.shape, 5, -1.0f, 1.0f);
    for (const char* c : composites) {
      ExplainRequest r = request("lrp", c);
      r.params.epsilon = r.params.stabilizer = 1e-2f;
      expect_gpu_matches(s, x, r, file);
    }
    expect_gpu_matches(s, x, request("gradient"), file);
    expect_gpu_matches(s, x, request("gradient-x-input"), file);
  }
}

TEST(GpuProgramOps, BlockOfRoutingBroadcastingAndAttentionOps) {
  for (int64_t batch : {1, 2}) {
    Session s = Session::from_model(block_model(batch), "block.onnx");
    const std::vector<Tensor> x = {random_tensor({batch, 4, 6}, 11, -1.0f, 1.0f)};
    // Stabilisers of 1e-2: with random weights some denominators pass near 0, where 1e-6 makes the relevance
    // hang on float rounding (1e-5 of max|R| moves with a 1-ulp input change) and the test would compare
    // summation orders rather than the ops.
    for (const char* c : {"epsilon", "epsilon-plus-flat"}) {
      ExplainRequest r = request("lrp", c);
      r.params.epsilon = r.params.stabilizer = 1e-2f;
      expect_gpu_matches(s, x, r, "block");
    }
    expect_gpu_matches(s, x, request("gradient"), "block");
    expect_gpu_matches(s, x, request("gradient-x-input"), "block");
  }
}

// Transposed convolutions of stride-1 layers run on the forward kernel with the flipped, channel-swapped
// kernel (gpu_program_builder.cpp); strided ones, and padding past the kernel's reach, on the direct gather.
// 1-D with asymmetric padding and dilation, 3-D, a stride-1 ConvTranspose with groups (its forward is the
// transposed one), and a stride-2 conv.
TEST(GpuProgramOps, StrideOneTransposedConvolutionsRunOnTheForwardKernel) {
  auto count = [](const GpuExplanation& gx, kernels::gpu::Kernel k) {
    return std::count_if(gx.program.steps.begin(), gx.program.steps.end(), [&](const auto& st) { return st.kernel == k; });
  };
  using kernels::gpu::Kernel;
  {
    ModelBuilder b;
    b.input("x", {2, 11});
    b.init("W1", random_tensor({4, 2, 5}, 41)).init("Wt", random_tensor({4, 2, 3}, 42)).init("W2", random_tensor({3, 4, 3}, 43));
    b.node("Conv", {"x", "W1"}, {"c1"}, {attr_ints("dilations", {2}), attr_ints("pads", {3, 1})}, "conv1d")
        .node("Relu", {"c1"}, {"r1"})
        .node("ConvTranspose", {"r1", "Wt"}, {"t"}, {attr_int("group", 2), attr_ints("pads", {1, 0})}, "deconv")
        .node("Conv", {"t", "W2"}, {"c2"}, {attr_ints("strides", {2})}, "strided")
        .node("Flatten", {"c2"}, {"y"})
        .output("y");
    Session s = Session::from_model(b.build(), "conv1d.onnx");
    const std::vector<Tensor> x = {random_tensor({2, 2, 11}, 44)};
    for (const char* c : {"epsilon", "epsilon-plus-flat", "epsilon-alpha2-beta1"}) expect_gpu_matches(s, x, request("lrp", c), "conv1d");
    expect_gpu_matches(s, x, request("gradient"), "conv1d");
    Explainer ex(s);
    const GpuExplanation gx = compile_gpu_explanation(ex, x, request("gradient"));
    // forward: conv1d, deconv (as forward), strided; backward: strided (direct), deconv (forward), conv1d (as forward)
    EXPECT_EQ(count(gx, Kernel::ConvBackwardData), 1);
    EXPECT_EQ(count(gx, Kernel::ConvForward), 5);
  }
  {
    ModelBuilder b;
    b.input("x", {2, 4, 5, 6});
    b.init("W", random_tensor({3, 2, 3, 2, 3}, 45)).init("Wf", random_tensor({3 * 4 * 5 * 6, 2}, 46));
    b.node("Conv", {"x", "W"}, {"c"}, {attr_ints("pads", {1, 0, 2, 1, 1, 0})}, "conv3d")
        .node("Relu", {"c"}, {"r"})
        .node("Flatten", {"r"}, {"f"})
        .node("Gemm", {"f", "Wf"}, {"y"}, {}, "fc")
        .output("y");
    Session s = Session::from_model(b.build(), "conv3d.onnx");
    const std::vector<Tensor> x = {random_tensor({1, 2, 4, 5, 6}, 47)};
    expect_gpu_matches(s, x, request("lrp", "epsilon-gamma-box"), "conv3d");
    expect_gpu_matches(s, x, request("gradient-x-input"), "conv3d");
  }
  {   // padding past the kernel's reach (pad 3 > dilation * (k - 1) = 2): the direct gather
    ModelBuilder b;
    b.input("x", {1, 6});
    b.init("W", random_tensor({2, 1, 3}, 48));
    b.node("Conv", {"x", "W"}, {"c"}, {attr_ints("pads", {3, 3})}, "wide").node("Flatten", {"c"}, {"y"}).output("y");
    Session s = Session::from_model(b.build(), "wide.onnx");
    const std::vector<Tensor> x = {random_tensor({1, 1, 6}, 49)};
    expect_gpu_matches(s, x, request("gradient"), "wide");
    Explainer ex(s);
    EXPECT_EQ(count(compile_gpu_explanation(ex, x, request("gradient")), Kernel::ConvBackwardData), 1);
  }
}

// CRP: the sweep above the concept layer runs once, the rest per concept on copies of the relevance in flight.
// The op zoo's conv2 sits inside a residual block (relevance also passes it by the skip path), the ResNet's
// layers likewise; every layer kind (Conv axis 1, Gemm/MatMul last axis), one map per channel and joint.
TEST(GpuProgramOps, ConceptMapsPerChannelAndJoint) {
  struct Case {
    const char* file;
    std::vector<int64_t> channels;
  };
  const Case cases[] = {{"tests/data/models/resnet_tiny_opset13.onnx", {0, 2, 3}},
                        {"assets/fashion_resnet/model.onnx", {1, 4}},
                        {"assets/attention/model.onnx", {0, 5}},
                        {"tests/data/models/cnn_opset13.onnx", {0, 1}}};
  for (const Case& k : cases) {
    Session s = Session::load_file(kRoot + k.file);
    std::vector<Tensor> x = example_inputs(s.graph());
    for (auto& t : x) {   // a batch of 2 (concept maps per sample), unless the export is batch-1
      Shape shape = t.shape;
      shape[0] = 2;
      t = random_tensor(shape, 8, -1.0f, 1.0f);
    }
    if (s.needs_batch_split(x)) x = {random_tensor(example_inputs(s.graph())[0].shape, 8, -1.0f, 1.0f)};
    // Every linear layer of the canonized graph, as `relscope rules` names them.
    Explainer ex(s);
    const Graph& g = ex.session_for("crp").graph();
    const Plan& plan = ex.session_for("crp").plan_for(x);
    int tried = 0;
    for (int step : plan.steps) {
      const Node& n = g.nodes[step];
      // (the output layer's other channels get no relevance at all: their maps are zero on both sides)
      if (node_role(g, plan, n) != NodeRole::Linear || n.outputs[0] == g.outputs[0]) continue;
      ExplainRequest r = request("crp", "epsilon-plus-flat");
      r.crp.layer = n.name;
      r.crp.channels = k.channels;
      expect_gpu_matches(s, x, r, std::string(k.file) + " " + n.name);
      r.crp.joint = true;
      expect_gpu_matches(s, x, r, std::string(k.file) + " " + n.name + " joint");
      ++tried;
    }
    EXPECT_GE(tried, 2) << k.file;
  }
}

TEST(GpuProgramOps, ConceptRequestsAreCheckedAsOnTheCpu) {
  Session s = Session::load_file(kRoot + "tests/data/models/cnn_opset13.onnx");
  Explainer ex(s);
  const std::vector<Tensor> x = {random_tensor(example_inputs(s.graph())[0].shape, 3)};
  ExplainRequest r = request("crp");
  r.crp.layer = "nope";
  r.crp.channels = {0};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, r); }, ErrorKind::BadInput, "--layer nope: no node has this name");
  r.crp.layer = ex.session_for("crp").graph().nodes[ex.session_for("crp").plan_for(x).steps[0]].name;
  r.crp.channels = {999};
  testing::expect_error([&] { compile_gpu_explanation(ex, x, r); }, ErrorKind::BadInput, "channel 999 is out of range");
}

}  // namespace
}  // namespace relscope::relevance
