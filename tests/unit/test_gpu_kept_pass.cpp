// What a GPU program lets its runner keep (kernels/webgpu/program.h: KeptRange, KeptBuffers): the forward pass
// and the rules' denominators on it. A runner that still holds them for the same input (and rules) from an
// earlier run skips those steps and answers exactly what the whole program answers; a new input replaces the
// kept pass; the two most recently used sets of denominators stay; programs of several passes keep none. The
// inputs are kept with the pass they belong to. The CPU interpreter with a KeptBuffers store does what the JS
// bridge does with GPU buffers.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/session.h"
#include "gpu_program_test_util.h"
#include "kernels/webgpu/program.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "relevance/gpu_explain.h"

namespace relscope::relevance {
namespace {

using kernels::gpu::KeptBuffers;
using kernels::gpu::Program;
using kernels::gpu::run_on_cpu;
using testing::random_tensor;

const std::string kRoot = std::string(RELSCOPE_SOURCE_DIR) + "/";

std::vector<Tensor> random_inputs(const Session& s, uint32_t seed) {
  std::vector<Tensor> in = example_inputs(s.graph());
  for (auto& t : in)
    if (t.dtype == DType::Float32) t = random_tensor(t.shape, seed++, -1.0f, 1.0f);
  return in;
}

ExplainRequest request(const std::string& method, const std::string& composite = "epsilon-plus-flat") {
  return testing::gpu_request(method, composite);
}

bool same_bits(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].size() != b[k].size() || std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(float)) != 0) return false;
  return true;
}

size_t keys_under(const KeptBuffers& kept, const std::string& key) {
  size_t n = 0;
  for (const auto& [k, data] : kept.by_key) n += k.rfind(key + "/", 0) == 0;
  return n;
}

// The kept range a buffer key belongs to (key = range key + "/" + ordinal), -1 none.
int range_of(const Program& p, const std::string& key) {
  for (size_t r = p.kept.size(); r-- > 0;) {
    const std::string head = p.kept[r].key + "/";
    if (key.rfind(head, 0) == 0 && key.size() > head.size() &&
        key.find_first_not_of("0123456789", head.size()) == std::string::npos)
      return static_cast<int>(r);
  }
  return -1;
}

// Runs the request's program on the store and checks it against the whole program run afresh: the same
// readback bit for bit; `skipped[r]` says whether kept range r (0 the forward pass, 1 the denominators) was
// skipped. Returns the program's number of kept ranges.
size_t expect_run(Explainer& ex, const std::vector<Tensor>& in, const ExplainRequest& req, KeptBuffers& kept,
                  std::vector<bool> skipped, const std::string& what) {
  SCOPED_TRACE(what + ": " + req.method + " " + req.composite);
  const GpuExplanation gx = compile_gpu_explanation(ex, in, req);
  const Program& p = gx.program;
  EXPECT_FALSE(p.kept.empty()) << "one forward pass: the runner may keep it";
  if (p.kept.empty()) return 0;
  size_t want = 0;
  for (size_t r = 0; r < p.kept.size(); ++r) {
    EXPECT_LT(p.kept[r].from, p.kept[r].to);
    if (r < skipped.size() && skipped[r]) want += p.kept[r].to - p.kept[r].from;
  }
  const auto got = run_on_cpu(p, &kept);
  EXPECT_EQ(kept.last_skipped, want);
  EXPECT_TRUE(same_bits(got, run_on_cpu(p))) << "the kept ranges answer as the whole program";
  EXPECT_EQ(kept.pass, p.kept[0].key);
  for (const auto& r : p.kept) EXPECT_TRUE(kept.complete.count(r.key)) << r.key;
  // A kept range's buffers are written by its own steps and by no other step.
  for (size_t si = 0; si < p.steps.size(); ++si) {
    const unsigned w = kernels::gpu::written_bindings(p.steps[si]);
    int at = -1;
    for (size_t r = 0; r < p.kept.size(); ++r)
      if (si >= p.kept[r].from && si < p.kept[r].to) at = static_cast<int>(r);
    for (int i = 0; i < 4; ++i) {
      const int id = p.steps[si].bind[i];
      if ((w >> i & 1u) && id >= 0) {
        EXPECT_EQ(range_of(p, p.buffers[static_cast<size_t>(id)].key), at) << "step " << si;
        EXPECT_EQ(p.buffers[static_cast<size_t>(id)].key.find("/in"), std::string::npos) << "step " << si << " writes an input";
      }
    }
  }
  // The inputs are keyed under the forward pass (kept with it, not uploaded again); the last is the model's
  // first input, holding its values.
  std::vector<const kernels::gpu::Buffer*> inputs;
  for (const auto& b : p.buffers)
    if (b.key.rfind(p.kept[0].key + "/in", 0) == 0) inputs.push_back(&b);
  EXPECT_FALSE(inputs.empty());
  if (!inputs.empty()) {
    const kernels::gpu::Buffer& x = *inputs.back();
    EXPECT_EQ(x.key, p.kept[0].key + "/in" + std::to_string(inputs.size() - 1));
    EXPECT_TRUE(x.data && x.words == static_cast<int64_t>(in[0].f.size()) &&
                std::memcmp(x.data, in[0].f.data(), in[0].f.size() * sizeof(float)) == 0);
  }
  return p.kept.size();
}

// The key of a request's kept range 1 (its denominators), empty if it has none.
std::string denominators_key(Explainer& ex, const std::vector<Tensor>& in, const ExplainRequest& req) {
  const GpuExplanation gx = compile_gpu_explanation(ex, in, req);
  return gx.program.kept.size() > 1 ? gx.program.kept[1].key : std::string();
}

// Asking again about the same input skips the forward pass (and, for the same rules, their denominators);
// another input computes and keeps its own, the old one's buffers freed first.
TEST(GpuKeptPass, AskingAgainSkipsWhatWasKeptAndAnswersTheSame) {
  for (const char* file : {"tests/data/models/resnet_tiny_opset13.onnx", "tests/data/models/cnn_opset13.onnx",
                           "tests/data/models/conv_bn_opset13.onnx", "tests/data/models/attention_opset17.onnx",
                           "tests/data/models/dna_cnn_opset13.onnx", "assets/fashion_resnet/model.onnx"}) {
    SCOPED_TRACE(file);
    Session s = Session::load_file(kRoot + file);
    Explainer ex(s);
    const std::vector<Tensor> x = random_inputs(s, 3), y = random_inputs(s, 40);
    KeptBuffers kept;
    const size_t ranges = expect_run(ex, x, request("lrp"), kept, {false, false}, "first");
    EXPECT_EQ(ranges, 2u) << "the forward pass and the denominators";
    const std::string first = kept.pass;
    ExplainRequest other_target = request("lrp");
    other_target.targets = {1};
    expect_run(ex, x, other_target, kept, {true, true}, "another target: only the backward part runs");
    expect_run(ex, x, request("lrp", "epsilon-gamma-box"), kept, {true, false}, "another composite: its own denominators");
    expect_run(ex, x, request("lrp"), kept, {true, true}, "back to the first composite: both sets are kept");
    ExplainRequest pruned = request("pruned-lrp");
    pruned.prune.all.pos = pruned.prune.all.neg = 0.5f;
    // Pruning changes the denominators' steps where it masks a layer's input (not on the attention model).
    const bool as_lrp = denominators_key(ex, x, pruned) == denominators_key(ex, x, request("lrp"));
    expect_run(ex, x, pruned, kept, {true, as_lrp}, "pruned");
    expect_run(ex, x, pruned, kept, {true, true}, "pruned again");
    // gradient runs on the uncanonized model: a forward pass of its own, which replaces the kept one
    expect_run(ex, x, request("gradient"), kept, {false}, "gradient, first");
    expect_run(ex, x, request("gradient-x-input"), kept, {true}, "gradient-x-input");
    expect_run(ex, y, request("gradient"), kept, {false}, "another input");
    EXPECT_EQ(keys_under(kept, first), 0u) << "the old pass's buffers are freed";
    EXPECT_GT(keys_under(kept, kept.pass), 0u);
    expect_run(ex, x, request("lrp"), kept, {false, false}, "the first input again: one pass is kept at a time");
  }
}

// The runner keeps the kKeptDenominatorSets (2) most recently used sets of denominators on the pass: switching
// back to a composite skips its forward GEMMs; a third composite frees the least recently used set first.
TEST(GpuKeptPass, TheTwoMostRecentlyUsedSetsOfDenominatorsAreKept) {
  ASSERT_EQ(kernels::gpu::kKeptDenominatorSets, 2u);
  Session s = Session::load_file(kRoot + "tests/data/models/resnet_tiny_opset13.onnx");
  Explainer ex(s);
  const std::vector<Tensor> x = random_inputs(s, 9);
  const ExplainRequest a = request("lrp"), b = request("lrp", "epsilon-gamma-box"),
                       c = request("lrp", "epsilon-alpha2-beta1-flat");
  const std::string ka = denominators_key(ex, x, a), kb = denominators_key(ex, x, b), kc = denominators_key(ex, x, c);
  ASSERT_TRUE(ka != kb && kb != kc && ka != kc) << "three composites with denominators of their own";
  KeptBuffers kept;
  expect_run(ex, x, a, kept, {false, false}, "a");
  expect_run(ex, x, b, kept, {true, false}, "b");
  expect_run(ex, x, a, kept, {true, true}, "a again");
  expect_run(ex, x, c, kept, {true, false}, "c: b, the least recently used, leaves");
  EXPECT_EQ(keys_under(kept, kb), 0u);
  EXPECT_GT(keys_under(kept, ka), 0u);
  EXPECT_EQ(kept.recent, (std::vector<std::string>{ka, kc}));
  expect_run(ex, x, b, kept, {true, false}, "b again: computed anew, a leaves");
  expect_run(ex, x, c, kept, {true, true}, "c again");
  EXPECT_EQ(keys_under(kept, ka), 0u);
}

TEST(GpuKeptPass, ConceptsShareTheKeptPassAndDenominators) {
  Session s = Session::load_file(kRoot + "tests/data/models/resnet_tiny_opset13.onnx");
  Explainer ex(s);
  const std::vector<Tensor> x = random_inputs(s, 5);
  KeptBuffers kept;
  ExplainRequest crp = request("crp");
  crp.crp.layer = "/l1/c2/Conv";
  crp.crp.channels = {0, 1, 2};
  expect_run(ex, x, crp, kept, {false, false}, "concepts 0-2");
  crp.crp.channels = {3};
  expect_run(ex, x, crp, kept, {true, true}, "concept 3");
  expect_run(ex, x, request("lrp"), kept, {true, true}, "lrp");
}

// Integrated gradients, SmoothGrad and occlusion run several forward passes in one program: nothing is kept.
TEST(GpuKeptPass, ProgramsOfSeveralPassesKeepNone) {
  Session s = Session::load_file(kRoot + "tests/data/models/cnn_opset13.onnx");
  Explainer ex(s);
  const std::vector<Tensor> x = random_inputs(s, 7);
  for (const char* method : {"integrated-gradients", "smoothgrad", "occlusion"}) {
    SCOPED_TRACE(method);
    ExplainRequest r = request(method);
    r.steps = 4;
    r.samples = 3;
    r.window = 4;
    r.stride = 4;
    const GpuExplanation gx = compile_gpu_explanation(ex, x, r);
    EXPECT_TRUE(gx.program.kept.empty());
    for (const auto& b : gx.program.buffers) EXPECT_EQ(b.key.find("pass:"), std::string::npos) << b.key;
    KeptBuffers kept;
    EXPECT_TRUE(same_bits(run_on_cpu(gx.program, &kept), run_on_cpu(gx.program)));
    EXPECT_EQ(kept.last_skipped, 0u);
  }
}

}  // namespace
}  // namespace relscope::relevance
