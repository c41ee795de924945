// relscope/relevance/gpu_explain.cpp — compiling an explanation into one GPU program, and reading its result.
//
// Sections: compile (ProgramCompiler: forward pass, seed, sweeps; CRP's per concept; integrated gradients' and
//           SmoothGrad's passes; the kept forward pass) | finish
//
// The program is built by gpu_program_builder.cpp (linear layers), gpu_forward.cpp (forward pass) and
// gpu_sweep.cpp (rules), over the Builder and Compiler of gpu_explain_detail.h.
#include "relevance/gpu_explain.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/hash.h"
#include "relevance/composite.h"
#include "relevance/crp.h"
#include "relevance/explain_detail.h"
#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance {

// ---- compile ---------------------------------------------------------------------------------------------------------
namespace {

using namespace detail;
using namespace gpu_detail;

// One explanation being compiled: the forward pass, the seed and sweeps, over gpu_detail's Compiler.
struct ProgramCompiler {
  Compiler& c;
  const ExplainRequest& req;
  const std::vector<Rule>& rules;
  int x0 = -1, out_value = -1;
  int64_t n = 1, per = 1;   // samples; output values per sample

  Builder& B() { return c.B; }
  const std::vector<int>& steps() const { return c.p.steps; }

  void forward(int x_buffer) {
    c.buf[x0] = x_buffer;
    for (int step : steps()) forward_node(c, c.g.nodes[step]);
  }
  // The forward pass's buffers back to the free list (a multi-pass program's next pass reuses them).
  void release_pass() {
    for (int b : c.pass) B().release(b);
    c.pass.clear();
  }

  // onehot(target) (* output when `times_output`) from the output buffer; targets per sample are written by
  // the first seed (arg-max, or one given target) or read (given per sample, or found by an earlier seed).
  int seed(int y, int targets, bool times_output, bool from_targets, uint32_t target) {
    const int sb = B().temp(n * per);
    Step& s = B().step(Kernel::Seed, n, {y, sb, targets});
    s.words[1] = static_cast<uint32_t>(per), s.words[2] = target, s.words[3] = times_output ? 1 : 0;
    s.words[4] = from_targets ? 1 : 0;
    return sb;
  }

  // The sweep, in reverse plan order (backward_sweep's walk): one node's rule at a time.
  void sweep_node(int step) {
    const Node& node = c.g.nodes[step];
    bool any = false;   // relevance at some output (Split's may reach only its later ones)
    for (int v : node.outputs) any = any || (v >= 0 && c.rel[v] >= 0);
    if (!any) return;
    if (c.prune && c.prune_mode == PruneMode::Lambda)
      for (int v : node.outputs)
        if (v >= 0 && c.rel[v] >= 0) prune_value(v);
    const int out0 = node.outputs[0];
    NodeSweep ns{c, node, rules[step], c.g.node_label(node), c.rel[out0]};
    if (ns.R < 0) {
      if (!is_routing(node.op)) fail(ErrorKind::Internal, "GPU program: relevance only at a later output of " + ns.where);
      ns.R = B().zeros(c.numel(out0));
    }
    apply_rule(ns);
    if (!ns.r_moved) B().release(ns.R);
    for (int v : node.outputs)
      if (v >= 0 && v != out0 && c.rel[v] >= 0) B().release(c.rel[v]);
    for (int v : node.outputs)
      if (v >= 0) c.rel[v] = -1;
  }
  // PLRP-lambda: a value's complete relevance pruned in place once the sweep reaches its producer, when a
  // prunable layer reads it (as the CPU's at_node_output hook).
  void prune_value(int v) {
    auto it = c.prune->at_value.find(v);
    if (it == c.prune->at_value.end() || it->second.p.pos + it->second.p.neg == 0.0f) return;
    const int64_t n = c.numel(v);
    GpuExplanation::PrunedLayer layer{it->second.layer};
    layer.before = B().kept_copy(c.rel[v], n);
    B().prune(c.rel[v], -1, c.batch, n / c.batch, it->second.p);
    layer.after = B().kept_copy(c.rel[v], n);
    B().gx.pruned.push_back(std::move(layer));
  }
  // Steps [from, to) of the plan, swept from the last to the first.
  void sweep(size_t from, size_t to) {
    for (size_t k = to; k-- > from;) sweep_node(steps()[k]);
  }

  // The input relevance of a finished sweep (zeros if none arrived); relevance at other graph inputs is
  // dropped.
  int input_relevance() {
    const int64_t nx = c.numel(x0);
    int r = c.rel[x0] >= 0 ? c.rel[x0] : B().zeros(nx);
    c.rel[x0] = -1;
    if (req.method == "gradient-x-input") {
      const int t = B().temp(nx);
      B().ew(Ew::Mul, nx, r, c.value(x0), -1, t);
      B().release(r);
      r = t;
    }
    for (int& live : c.rel)
      if (live >= 0) B().release(live), live = -1;
    return r;
  }

  // CRP: the sweep above the concept layer is the same for every concept, so it runs once; then per concept
  // the relevance in flight (the layer's output, and any skip path past it) is copied, the layer's output
  // masked to the concept's channels, and the rest of the sweep runs on the copies. One map per concept
  // (or one, joint).
  std::vector<int> concept_maps() {
    const ConceptLayer layer = find_concept_layer(c.g, c.p, req.crp.layer);
    if (req.crp.channels.empty())
      fail_input("--channels: give at least one channel of " + req.crp.layer + " (it has " + std::to_string(layer.channels) + ")");
    const size_t at = static_cast<size_t>(std::find(steps().begin(), steps().end(), static_cast<int>(layer.node)) - steps().begin());
    if (at == steps().size()) fail(ErrorKind::Internal, "GPU program: the concept layer is not a planned step");
    sweep(at + 1, steps().size());
    const std::vector<int> in_flight = c.rel;
    std::vector<std::vector<int64_t>> concepts;
    if (req.crp.joint) concepts.push_back(req.crp.channels);
    else
      for (int64_t ch : req.crp.channels) concepts.push_back({ch});
    const Shape& ls = c.p.shapes[layer.value];
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(layer.axis) + 1; d < ls.size(); ++d) inner *= ls[d];
    const int64_t nl = c.numel(layer.value);
    const int zero = B().zeros(layer.channels);
    std::vector<int> maps;
    for (const auto& keep : concepts) {
      const int mask = B().owned(channel_mask(layer.channels, keep));
      for (size_t v = 0; v < in_flight.size(); ++v)
        c.rel[v] = in_flight[v] >= 0 ? B().copy_of(in_flight[v], c.numel(static_cast<int>(v))) : -1;
      if (const int r = c.rel[layer.value]; r >= 0) {
        const int masked = B().temp(nl);
        B().ew(Ew::ChannelAffine, nl, r, mask, zero, masked, 0.0f, inner, layer.channels);
        B().release(r);
        c.rel[layer.value] = masked;
      }
      sweep(0, at + 1);
      maps.push_back(input_relevance());
    }
    for (int b : in_flight) B().release(b);
    B().release(zero);
    return maps;
  }

  // Integrated gradients and SmoothGrad: one forward pass and gradient sweep per point (alpha * x) or noisy
  // copy, each seeded with the targets of the unperturbed input, the gradients added up as the CPU adds them.
  int averaged_gradients(int x, int targets, const Tensor& x_cpu) {
    const bool ig = req.method == "integrated-gradients";
    const int points = ig ? req.steps : req.samples;
    const int64_t nx = c.numel(x0);
    const int total = B().zeros(nx), count = B().temp(nx);
    B().ew(Ew::Fill, nx, -1, -1, -1, count, static_cast<float>(points));
    std::unique_ptr<SmoothGradNoise> noise;
    Tensor noisy = x_cpu;
    if (!ig) noise = std::make_unique<SmoothGradNoise>(x_cpu, req);
    for (int k = 1; k <= points; ++k) {
      int at;
      if (ig) {
        at = B().temp(nx);
        B().ew(Ew::Expand, nx, x, -1, -1, at, integrated_gradients_alpha(k, req.steps));
      } else {
        noise->next(noisy);
        at = B().owned(noisy.f);
      }
      forward(at);
      c.rel[out_value] = seed(c.value(out_value), targets, false, true, kernels::gpu::no_target);
      sweep(0, steps().size());
      const int g = input_relevance();
      if (ig) {
        B().ew(Ew::Accumulate, nx, g, -1, -1, total, 1.0f);
      } else {   // += g / samples, as the CPU
        const int share = B().temp(nx);
        B().ew(Ew::Divide, nx, g, count, -1, share);
        B().ew(Ew::Accumulate, nx, share, -1, -1, total, 1.0f);
        B().release(share);
      }
      B().release(g);
      release_pass();
      if (ig) B().release(at);
    }
    c.buf[x0] = x;
    if (!ig) {
      B().release(count);
      return total;
    }
    const int scale = B().temp(nx), out = B().temp(nx);   // total * (x / steps), as the CPU
    B().ew(Ew::Divide, nx, x, count, -1, scale);
    B().ew(Ew::Mul, nx, total, scale, -1, out);
    for (int b : {scale, count, total}) B().release(b);
    return out;
  }

  // Occlusion: a forward pass per window position (an odometer over the per-dim origins, in the CPU's order),
  // each adding the target's drop to the window's elements; the mean drop per element at the end (elements no
  // window covers: 0). The windows slide over the trailing spatial dims (all channels at once); over features
  // for (N, F).
  int occlusion(int x, int y0, int targets) {
    const Shape& xs = c.p.shapes[x0];
    const int first = xs.size() >= 3 ? 2 : 1;
    const Shape span(xs.begin() + first, xs.end());
    if (span.size() > 3) unsupported("occlusion over " + std::to_string(span.size()) + " spatial dims");
    const int64_t nx = c.numel(x0), spatial = shape_numel(span), per = nx / n;
    Dims3 span3{1, 1, 1};
    std::vector<std::vector<int64_t>> starts(3, std::vector<int64_t>{0});
    for (size_t d = 0; d < span.size(); ++d) {
      const size_t at = 3 - span.size() + d;
      span3[at] = span[d];
      starts[at].clear();
      for (int64_t o = 0; o < span[d]; o += req.stride) starts[at].push_back(o);
    }
    const int64_t windows = static_cast<int64_t>(starts[0].size() * starts[1].size() * starts[2].size());
    const int64_t program_steps = windows * static_cast<int64_t>(steps().size() + 3);
    if (program_steps > kMaxOcclusionSteps)
      unsupported("occlusion with " + std::to_string(windows) + " windows (a program of " + std::to_string(program_steps) +
                  " steps; the GPU path takes up to " + std::to_string(kMaxOcclusionSteps) + ")");
    // Windows covering each element: per dim, the origins whose window holds the coordinate; their product.
    std::vector<std::vector<int64_t>> cover(3);
    for (int d = 0; d < 3; ++d) {
      cover[d].assign(static_cast<size_t>(span3[d]), 0);
      const int64_t reach = d < 3 - static_cast<int>(span.size()) ? 1 : req.window;
      for (int64_t o : starts[d])
        for (int64_t i = o; i < std::min(span3[d], o + reach); ++i) ++cover[d][static_cast<size_t>(i)];
    }
    const int total = B().zeros(nx);
    for (int64_t od : starts[0])
      for (int64_t oh : starts[1])
        for (int64_t ow : starts[2]) {
          const Dims3 origin{od, oh, ow};
          Dims3 extent{1, 1, 1};
          for (int d = 0; d < 3; ++d) extent[d] = std::min<int64_t>(span3[d] - origin[d], d < 3 - static_cast<int>(span.size()) ? 1 : req.window);
          const int at = B().temp(nx);
          window_step(0, nx, per, spatial, span3, origin, extent, x, -1, -1, at);
          forward(at);
          window_step(1, nx, per, spatial, span3, origin, extent, y0, c.value(out_value), targets, total);
          release_pass();
          B().release(at);
        }
    c.buf[x0] = x;
    std::vector<float> divisor(static_cast<size_t>(nx));
    for (int64_t j = 0; j < nx; ++j) {   // 1 where no window reaches: total is 0 there, as is the CPU's answer
      const int64_t sp = j % spatial;
      const int64_t windows_here = cover[0][static_cast<size_t>(sp / (span3[1] * span3[2]))] *
                                   cover[1][static_cast<size_t>((sp / span3[2]) % span3[1])] * cover[2][static_cast<size_t>(sp % span3[2])];
      divisor[static_cast<size_t>(j)] = static_cast<float>(std::max<int64_t>(1, windows_here));
    }
    const int mean = B().temp(nx);
    B().ew(Ew::Divide, nx, total, B().owned(std::move(divisor)), -1, mean);
    B().release(total);
    return mean;
  }

  void window_step(uint32_t mode, int64_t count, int64_t per, int64_t spatial, const Dims3& span, const Dims3& origin,
                   const Dims3& extent, int a, int b, int cc, int out) {
    Step& s = B().step(Kernel::Window, count, {a, b, cc, out});
    s.words[1] = static_cast<uint32_t>(per), s.words[2] = static_cast<uint32_t>(spatial);
    put3(s, 3, span), put3(s, 6, origin), put3(s, 9, extent);
    s.words[12] = mode, s.words[13] = float_word(req.baseline), s.words[14] = static_cast<uint32_t>(this->per);
  }
  static constexpr int64_t kMaxOcclusionSteps = 250000;   // ~37 MB of step words for the bridge
};

// ---- the kept forward pass -----------------------------------------------------------------------------------------
// The ranges of steps the Builder's kept ranges span (0: the forward pass, 1: the denominators) become
// Program::kept when skipping them later is safe: a range's steps write only its own buffers, no other step
// writes one. A key hashes what the range reads and does (kernels, words, and each binding: a range's buffer by
// range and ordinal, a constant by key, data by content; the forward pass's key the inputs too), so an equal
// key means the same results; the denominators' key extends the forward pass's. The input buffers, which no
// step may write, are keyed under the forward pass too: a runner that kept the pass keeps them, and does not
// upload the same input again (ResNet-18: 0.6 MB per question).
void keep_ranges(kernels::gpu::Program& prog, const Builder& B, const std::vector<std::pair<size_t, size_t>>& spans,
                 const std::string& prefix, const std::vector<Tensor>& inputs, const std::vector<int>& input_buffers) {
  if (spans.empty() || B.range_buffers.empty() || B.range_buffers[0].empty()) return;
  auto range_at = [&](size_t si) {
    for (size_t r = 0; r < spans.size(); ++r)
      if (si >= spans[r].first && si < spans[r].second) return static_cast<int>(r);
    return -1;
  };
  for (size_t si = 0; si < prog.steps.size(); ++si) {
    const kernels::gpu::Step& s = prog.steps[si];
    const unsigned w = kernels::gpu::written_bindings(s);
    for (int i = 0; i < kernels::gpu::max_bindings; ++i)
      if ((w >> i & 1u) && s.bind[i] >= 0 && B.range_of_buffer(s.bind[i]) != range_at(si)) return;
  }
  std::vector<int64_t> ordinal(prog.buffers.size(), -1);
  for (const auto& ids : B.range_buffers)
    for (size_t k = 0; k < ids.size(); ++k) ordinal[static_cast<size_t>(ids[k])] = static_cast<int64_t>(k);
  std::string key;
  for (size_t r = 0; r < spans.size() && r < B.range_buffers.size(); ++r) {
    KeyHash h;
    h.add(key);   // the denominators extend the forward pass's key
    if (r == 0)
      for (const Tensor& t : inputs) {
        h.add(static_cast<uint64_t>(t.dtype));
        h.add(t.shape.size());
        for (int64_t d : t.shape) h.add(static_cast<uint64_t>(d));
        h.add(t.f.data(), t.f.size() * sizeof(float));
        h.add(t.i.data(), t.i.size() * sizeof(int64_t));
      }
    for (size_t si = spans[r].first; si < spans[r].second; ++si) {
      const kernels::gpu::Step& s = prog.steps[si];
      h.add(static_cast<uint64_t>(s.kernel));
      h.add(s.words.data(), sizeof s.words);
      for (int id : s.bind) {
        if (id < 0) {
          h.add(~uint64_t{0});
          continue;
        }
        const kernels::gpu::Buffer& b = prog.buffers[static_cast<size_t>(id)];
        h.add(static_cast<uint64_t>(b.words));
        if (B.range_of_buffer(id) >= 0) {
          h.add(static_cast<uint64_t>(B.range_of_buffer(id)));
          h.add(static_cast<uint64_t>(ordinal[static_cast<size_t>(id)]));
        } else if (!b.key.empty()) {
          h.add(b.key);
        } else if (const auto in = std::find(input_buffers.begin(), input_buffers.end(), id); in != input_buffers.end()) {
          h.add(static_cast<uint64_t>(in - input_buffers.begin()));   // hashed with the inputs above
        } else if (b.data) {
          h.add(b.data, static_cast<size_t>(b.words) * sizeof(float));
        }
      }
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.h));
    key = r == 0 ? prefix + "pass:" + hex : prog.kept[0].key + "/d" + hex;
    prog.kept.push_back({key, spans[r].first, spans[r].second});
    for (size_t k = 0; k < B.range_buffers[r].size(); ++k)
      prog.buffers[static_cast<size_t>(B.range_buffers[r][k])].key = key + "/" + std::to_string(k);
  }
  for (const kernels::gpu::Step& s : prog.steps) {
    const unsigned w = kernels::gpu::written_bindings(s);
    for (int i = 0; i < kernels::gpu::max_bindings; ++i)
      if ((w >> i & 1u) && std::find(input_buffers.begin(), input_buffers.end(), s.bind[i]) != input_buffers.end()) return;
  }
  for (size_t k = 0; k < input_buffers.size(); ++k)
    prog.buffers[static_cast<size_t>(input_buffers[k])].key = prog.kept[0].key + "/in" + std::to_string(k);
}

}  // namespace

GpuExplanation compile_gpu_explanation(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& req,
                                       const std::string& key_prefix) {
  const bool crp = req.method == "crp", pruned = req.method == "pruned-lrp", lrp = req.method == "lrp" || crp || pruned;
  const bool averaged = req.method == "integrated-gradients" || req.method == "smoothgrad", occlusion = req.method == "occlusion";
  if (!lrp && !averaged && !occlusion && req.method != "gradient" && req.method != "gradient-x-input")
    unsupported("method " + req.method + ": the GPU path explains with lrp, pruned-lrp, crp, gradient, gradient-x-input, integrated-gradients, "
                "smoothgrad and occlusion");
  if (occlusion && (req.window < 1 || req.stride < 1)) fail_input("--window and --stride must be at least 1");
  if (req.method == "integrated-gradients" && req.steps < 1) fail_input("--steps must be at least 1");
  if (req.method == "smoothgrad" && req.samples < 1) fail_input("--samples must be at least 1");
  Session& session = explainer.session_for(req.method);
  check_request(session.graph(), inputs, req);
  if (session.needs_batch_split(inputs)) unsupported("a batch of " + std::to_string(batch_of(inputs[0])) + " for a batch-1 export");
  const Plan& plan = session.plan_for(inputs);
  const Graph& g = session.graph();
  const std::vector<Rule> rules = lrp ? explainer.rules_for(inputs, req) : std::vector<Rule>(g.nodes.size(), rule_gradient());

  GpuExplanation gx;
  if (lrp)
    for (const auto& m : explainer.canonize_report().merged) gx.notes.push_back("canonizer: merged BatchNorm " + m);
  Compiler c{Builder{gx, key_prefix + (lrp ? "lrp:" : "model:")}, g, plan};
  c.buf.assign(g.values.size(), -1);
  c.nonneg.assign(g.values.size(), false);
  c.rel.assign(g.values.size(), -1);
  Builder& B = c.B;
  ProgramCompiler pc{c, req, rules};
  pc.x0 = g.inputs[0];
  pc.out_value = g.outputs[req.output];
  detail::PruneSites prune_sites;
  if (pruned) {
    prune_sites = detail::prune_sites(g, plan, req.prune);
    c.prune = &prune_sites;
    c.prune_mode = req.prune.mode;
  }
  c.batch = std::max<int64_t>(batch_of(inputs[0]), 1);

  // The output and its targets: the given ones (checked as on the CPU), else the arg-max per sample.
  const Shape& ys = plan.shapes[pc.out_value];
  pc.n = batch_of(inputs[0]);
  if (plan.dtypes[pc.out_value] != DType::Float32)
    fail_input("output '" + g.values[pc.out_value].name + "' is not float32; choose another with --output");
  pc.per = detail::values_per_sample(ys, pc.n, g.values[pc.out_value].name);
  if (!req.targets.empty() && req.targets.size() != 1 && static_cast<int64_t>(req.targets.size()) != pc.n)
    fail_input("--target: " + std::to_string(req.targets.size()) + " targets for a batch of " + std::to_string(pc.n) + " (give one, or one per sample)");
  std::vector<uint32_t> given;
  for (int64_t t : req.targets) {
    if (t < 0 || t >= pc.per)
      fail_input("--target " + std::to_string(t) + " is out of range: output '" + g.values[pc.out_value].name + "' has " +
                 std::to_string(pc.per) + " values per sample");
    given.push_back(static_cast<uint32_t>(t));
  }
  const bool per_sample = given.size() > 1;
  int targets;
  if (per_sample) {
    std::vector<float> words(given.size());
    std::memcpy(words.data(), given.data(), given.size() * sizeof(uint32_t));
    targets = B.owned(std::move(words));
  } else {
    targets = B.fresh(pc.n);
  }

  // Inputs: copied (the program outlives the caller's tensors); int64 inputs are plan constants.
  std::vector<int> input_buffers;
  for (size_t k = 1; k < g.inputs.size() && k < inputs.size(); ++k)
    if (inputs[k].dtype == DType::Float32) input_buffers.push_back(c.buf[g.inputs[k]] = B.owned(inputs[k].f));
  const int x = B.owned(inputs[0].f);
  input_buffers.push_back(x);
  // One forward pass (not integrated gradients', SmoothGrad's or occlusion's several), and the rules'
  // denominators on it, which do not depend on the target: the runner may keep both.
  const bool single_pass = !averaged && !occlusion;
  std::vector<std::pair<size_t, size_t>> kept_spans;
  const size_t forward_from = gx.program.steps.size();
  if (single_pass) B.begin_range(0);
  pc.forward(x);
  B.end_range();
  if (single_pass) kept_spans.push_back({forward_from, gx.program.steps.size()});
  if (single_pass && lrp) {
    B.begin_range(1);
    precompute_denominators(c, rules, pc.out_value);
    B.end_range();
    if (!c.denoms.empty()) kept_spans.push_back({kept_spans[0].second, gx.program.steps.size()});
  }
  int y = c.value(pc.out_value);   // a single-pass program never hands forward buffers back: read it there
  if (averaged || occlusion) {      // later passes reuse this pass's buffers: the output is kept apart
    y = B.fresh(shape_numel(ys));
    B.ew(Ew::Copy, shape_numel(ys), c.value(pc.out_value), -1, -1, y);
  }
  const int seed = pc.seed(y, targets, lrp, per_sample, given.empty() ? kernels::gpu::no_target : given[0]);

  std::vector<int> maps;
  if (averaged || occlusion) {
    B.release(seed);
    pc.release_pass();
    maps.push_back(occlusion ? pc.occlusion(x, y, targets) : pc.averaged_gradients(x, targets, inputs[0]));
  } else {
    c.rel[pc.out_value] = seed;
    if (crp) {
      maps = pc.concept_maps();
    } else {
      pc.sweep(0, plan.steps.size());
      maps.push_back(pc.input_relevance());
    }
  }
  gx.program.readback = {y, targets};
  gx.program.readback.insert(gx.program.readback.end(), maps.begin(), maps.end());
  gx.maps = static_cast<int>(maps.size());
  auto read_back = [&gx](int& buffer) {   // buffer id -> its readback position
    if (buffer < 0) return;
    gx.program.readback.push_back(buffer);
    buffer = static_cast<int>(gx.program.readback.size()) - 1;
  };
  for (auto& layer : gx.pruned) read_back(layer.before), read_back(layer.after), read_back(layer.keep);
  gx.joint = !crp || req.crp.joint;
  gx.relevance_shape = plan.shapes[pc.x0];
  if (!gx.joint) gx.relevance_shape.insert(gx.relevance_shape.begin() + 1, gx.maps);
  gx.output_shape = ys;
  if (gx.bytes > session.limits().max_total_bytes)
    fail(ErrorKind::Limit, "the GPU program needs " + std::to_string(gx.bytes) + " bytes of buffers, more than the limit of " +
                               std::to_string(session.limits().max_total_bytes));
  if (single_pass) keep_ranges(gx.program, B, kept_spans, B.key_prefix, inputs, input_buffers);
  return gx;
}

// ---- finish ------------------------------------------------------------------------------------------------------------
namespace {

// What each pruned layer lost, from its relevance before and after (and PLRP-M's mask) as the GPU left them:
// the numbers explain.cpp's install_pruner reports.
std::vector<LayerPruneReport> pruning_report(const GpuExplanation& gx, const std::vector<std::vector<float>>& readback) {
  std::vector<LayerPruneReport> report;
  const int64_t batch = gx.relevance_shape.empty() ? 1 : std::max<int64_t>(1, gx.relevance_shape[0]);   // the input's
  for (const auto& layer : gx.pruned) {
    const std::vector<float>& before = readback.at(static_cast<size_t>(layer.before));
    const std::vector<float>& after = readback.at(static_cast<size_t>(layer.after));
    if (before.size() != after.size()) fail(ErrorKind::Internal, "GPU explanation: pruned layer " + layer.layer + " read back in two sizes");
    const int64_t n = static_cast<int64_t>(before.size());
    LayerPruneReport r{layer.layer};
    int64_t zeroed = 0;
    if (layer.keep >= 0) {
      for (float k : readback.at(static_cast<size_t>(layer.keep))) zeroed += k == 0.0f;
      double sum_before = 0, sum_after = 0;
      for (int64_t k = 0; k < n; ++k) sum_before += before[k], sum_after += after[k];
      if (zeroed > 0 && sum_before != 0) r.kept = sum_after / sum_before;
    } else {
      for (int64_t k = 0; k < n; ++k) zeroed += before[k] != 0.0f && after[k] == 0.0f;
    }
    r.zeroed_fraction = n ? static_cast<double>(zeroed) / static_cast<double>(n) : 0.0;
    r.gini_before = detail::mean_sample_gini(before.data(), n, batch);
    r.gini_after = detail::mean_sample_gini(zeroed > 0 ? after.data() : before.data(), n, batch);
    report.push_back(std::move(r));
  }
  return report;
}

}  // namespace

Explanation finish_gpu_explanation(const Explainer&, const GpuExplanation& gx, std::vector<std::vector<float>> readback) {
  const int64_t per_map = shape_numel(gx.relevance_shape) / (gx.joint ? 1 : gx.maps);
  bool fits = static_cast<int>(readback.size()) == static_cast<int>(gx.program.readback.size()) &&
              static_cast<int>(readback.size()) >= 2 + gx.maps && static_cast<int64_t>(readback[0].size()) >= shape_numel(gx.output_shape);
  for (int k = 0; fits && k < gx.maps; ++k) fits = static_cast<int64_t>(readback[2 + k].size()) >= per_map;
  if (!fits) fail(ErrorKind::Internal, "GPU explanation: the readback does not match the program");
  Explanation e;
  e.notes = gx.notes;
  // The output and a joint map become the result's tensors as they are (moved, not copied: a batch of 8
  // ResNet-18 maps is 4.8 MB); the pruning report below reads only the readbacks after the maps.
  readback[0].resize(static_cast<size_t>(shape_numel(gx.output_shape)));
  e.output = Tensor::from_floats(gx.output_shape, std::move(readback[0]));
  detail::require_finite(e.output, "the explained output");
  if (gx.joint) {
    readback[2].resize(static_cast<size_t>(per_map));
    e.relevance = Tensor::from_floats(gx.relevance_shape, std::move(readback[2]));
  } else {   // crp: map k of sample b at (b, k): the CPU's (N, K, input dims...) layout
    e.relevance = Tensor::zeros(gx.relevance_shape);
    const int64_t n = gx.relevance_shape[0], per = per_map / std::max<int64_t>(n, 1);
    for (int k = 0; k < gx.maps; ++k)
      for (int64_t b = 0; b < n; ++b)
        std::copy(readback[2 + k].begin() + b * per, readback[2 + k].begin() + (b + 1) * per, e.relevance.f.begin() + (b * gx.maps + k) * per);
  }
  detail::require_finite(e.relevance, "the relevance computed on the GPU");
  e.pruning = pruning_report(gx, readback);
  for (float w : readback[1]) {
    uint32_t t;
    std::memcpy(&t, &w, sizeof t);
    e.targets.push_back(t);
  }
  return e;
}

}  // namespace relscope::relevance
