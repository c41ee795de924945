// tests/fuzz/fuzz_explain.cpp — libFuzzer target: the whole path of a dropped model on tiny models: load,
// plan for the declared shapes (open dims = 1), predict, and an explanation (LRP with three composites, pruned
// LRP or gradient x input, chosen by the input's length), on the CPU and as a GPU program run by its CPU
// interpreter; the same input asked again (another target) must equal a fresh explainer's answer; the map is
// flipped (faithfulness.h) and clustered with two altered copies (spray.h); and on the GPU program a runner
// that kept the forward pass and denominators must answer as the whole program. Seeds: the small models of
// tests/data/models and tests/hostile/files. The limits (fuzz_common.h) keep every run small, so a mutated
// kernel size or shape is refused before it costs time.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/session.h"
#include "fuzz_common.h"
#include "kernels/webgpu/program.h"
#include "relevance/explain.h"
#include "relevance/faithfulness.h"
#include "relevance/gpu_explain.h"
#include "relevance/spray.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relscope::fuzz::guard([&] {
    relscope::Session s = relscope::Session::load(data, size, "fuzz.onnx", relscope::fuzz::fuzz_limits());
    std::vector<relscope::Tensor> inputs = relscope::example_inputs(s.graph());
    for (auto& t : inputs) {
      for (size_t k = 0; k < t.f.size(); ++k) t.f[k] = std::sin(static_cast<float>(k));   // not all zero
      for (size_t k = 0; k < t.i.size(); ++k) t.i[k] = static_cast<int64_t>(k % 3);
    }
    (void)s.predict(inputs);
    if (inputs.empty() || inputs[0].dtype != relscope::DType::Float32 || inputs[0].numel() == 0) return;
    relscope::relevance::Explainer ex(s);
    // The input's length picks the explanation (a mutation that grows or shrinks the file changes it): the
    // default composite, pruned LRP (the sort-and-rescale step), gradient x input (the plain VJPs) and the
    // composite with ZBox bounds and alpha-beta on the first layers.
    relscope::relevance::ExplainRequest req;
    switch (size % 4) {
      case 0: req.method = "lrp"; break;
      case 1:
        req.method = "pruned-lrp";
        req.prune.all = {0.5f, 0.25f};
        break;
      case 2: req.method = "gradient-x-input"; break;
      case 3:
        req.method = "lrp";
        req.composite = (size / 4) % 2 ? "epsilon-gamma-box" : "epsilon-alpha2-beta1-flat";
        break;
    }
    bool explained = false;
    relscope::fuzz::guard([&] {
      (void)ex.explain(inputs, req);
      explained = true;
    });
    // Asked again about the same input (another target), the explainer serves its kept pass and the rules'
    // kept denominators (Session::recorded, PassMemo): the answer must be a fresh explainer's, bit for bit.
    if (explained)
      relscope::fuzz::guard([&] {
        relscope::relevance::ExplainRequest again = req;
        again.targets = {0};
        const relscope::Tensor kept = ex.explain(inputs, again).relevance;
        relscope::Session s2 = relscope::Session::load(data, size, "fuzz.onnx", relscope::fuzz::fuzz_limits());
        relscope::relevance::Explainer fresh(s2);
        if (!relscope::same_bits(kept, fresh.explain(inputs, again).relevance)) std::abort();
      });
    // Faithfulness and SpRAy on whatever shape the model has: flipping the map (windows of 1-3, a random
    // order) and clustering it with two altered copies must refuse by name or succeed, never misbehave.
    if (explained)
      relscope::fuzz::guard([&] {
        const relscope::relevance::Explanation e = ex.explain(inputs, req);
        relscope::relevance::FlipOptions flip;
        flip.steps = 3;
        flip.random_orders = 1;
        flip.window = 1 + static_cast<int>(size % 3);
        flip.seed = size;
        (void)relscope::relevance::pixel_flipping(s, inputs, e.relevance, e.targets, flip);
        const relscope::Tensor one = relscope::slice_batch(e.relevance, 0, 1);
        relscope::Tensor three = relscope::concat_batch({one, one, one});
        const size_t per = one.f.size();
        for (size_t k = 0; k < per; ++k) three.f[per + k] *= -1.0f, three.f[2 * per + k] += static_cast<float>(k % 2);
        relscope::relevance::SprayOptions spray;
        spray.size = 1 + static_cast<int>(size % 5);
        (void)relscope::relevance::spray(three, spray);
      });
    // The same request compiled into a GPU program (what the browser's 'auto' back-end does with any dropped
    // model) and run by the program's CPU interpreter: the compiler must refuse by name, never misbuild (the
    // interpreter calls a malformed program an internal error).
    namespace gpu = relscope::kernels::gpu;
    const relscope::relevance::GpuExplanation gx = relscope::relevance::compile_gpu_explanation(ex, inputs, req);
    gpu::KeptBuffers runner;   // what the browser's bridge keeps between runs
    (void)relscope::relevance::finish_gpu_explanation(ex, gx, gpu::run_on_cpu(gx.program, &runner));
    // Asked again (another target), a runner that kept the forward pass and the denominators skips those
    // steps: its readback must be the whole program's, bit for bit.
    relscope::relevance::ExplainRequest again = req;
    again.targets = {0};
    const relscope::relevance::GpuExplanation gy = relscope::relevance::compile_gpu_explanation(ex, inputs, again);
    const auto kept = gpu::run_on_cpu(gy.program, &runner), whole = gpu::run_on_cpu(gy.program);
    if (kept.size() != whole.size()) std::abort();
    for (size_t k = 0; k < kept.size(); ++k)
      if (kept[k].size() != whole[k].size() ||
          std::memcmp(kept[k].data(), whole[k].data(), kept[k].size() * sizeof(float)) != 0)
        std::abort();
  });
  return 0;
}
