// The GPU program on attention blocks and shape-moving ops, run by the CPU interpreter, equals
// Explainer::explain: Softmax (AttnLRP's rule and its gradient), LayerNormalization, products of two
// activations (MatMul, Mul), numpy broadcasting in Add/Sub/Mul/Div, and routing ops by index maps
// (Transpose, Slice with a negative step, Gather, Concat with a constant, Split, Pad constant/reflect), LogSoftmax. The WGSL
// Gather and Rows kernels are checked against the same interpreter in Chromium (webgpu_kernels.test.mjs).
#include <gtest/gtest.h>

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
  ExplainRequest r;
  r.method = method;
  r.composite = composite;
  r.params.low = {-3.0f};
  r.params.high = {3.0f};
  return r;
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

TEST(GpuProgramOps, AttentionFixturesEveryCompositeAndGradient) {
  for (const char* file : {"tests/data/models/attention_opset17.onnx", "tests/data/models/attention_opset14.onnx",
                           "assets/attention/model.onnx"}) {
    Session s = Session::load_file(kRoot + file);
    std::vector<Tensor> x = example_inputs(s.graph());
    for (auto& t : x) t = random_tensor(t.shape, 5, -1.0f, 1.0f);
    for (const char* c : {"epsilon", "epsilon-plus-flat", "epsilon-alpha2-beta1"}) expect_gpu_matches(s, x, request("lrp", c), file);
    expect_gpu_matches(s, x, request("gradient"), file);
    expect_gpu_matches(s, x, request("gradient-x-input"), file);
  }
}

TEST(GpuProgramOps, BlockOfRoutingBroadcastingAndAttentionOps) {
  for (int64_t batch : {1, 2}) {
    Session s = Session::from_model(block_model(batch), "block.onnx");
    const std::vector<Tensor> x = {random_tensor({batch, 4, 6}, 11, -1.0f, 1.0f)};
    for (const char* c : {"epsilon", "epsilon-plus-flat"}) expect_gpu_matches(s, x, request("lrp", c), "block");
    expect_gpu_matches(s, x, request("gradient"), "block");
    expect_gpu_matches(s, x, request("gradient-x-input"), "block");
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
