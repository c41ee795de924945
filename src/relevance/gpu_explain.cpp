// relscope/relevance/gpu_explain.cpp — compiling an explanation into one GPU program, and reading its result.
//
// Sections: compile (inputs, forward pass, seed, the sweep) | finish
//
// The program is built by gpu_program_builder.cpp (linear layers), gpu_forward.cpp (forward pass) and
// gpu_sweep.cpp (rules), over the Builder and Compiler of gpu_explain_detail.h.
#include "relevance/gpu_explain.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "relevance/composite.h"
#include "relevance/explain_detail.h"
#include "relevance/gpu_explain_detail.h"

namespace relscope::relevance {

// ---- compile ---------------------------------------------------------------------------------------------------------
GpuExplanation compile_gpu_explanation(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& req,
                                       const std::string& key_prefix) {
  using namespace detail;
  using namespace gpu_detail;
  const bool lrp = req.method == "lrp";
  if (!lrp && req.method != "gradient" && req.method != "gradient-x-input")
    unsupported("method " + req.method + ": the GPU path explains with lrp, gradient and gradient-x-input");
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

  // Inputs: copied (the program outlives the caller's tensors); int64 inputs are plan constants.
  for (size_t k = 0; k < g.inputs.size() && k < inputs.size(); ++k)
    if (inputs[k].dtype == DType::Float32) c.buf[g.inputs[k]] = B.owned(inputs[k].f);
  for (int step : plan.steps) forward_node(c, g.nodes[step]);

  // Seed: onehot(target) (* output for LRP), targets per sample.
  const int out_value = g.outputs[req.output];
  const Shape& ys = plan.shapes[out_value];
  const int64_t n = batch_of(inputs[0]), per = shape_numel(ys) / std::max<int64_t>(n, 1);
  if (plan.dtypes[out_value] != DType::Float32) fail_input("output '" + g.values[out_value].name + "' is not float32; choose another with --output");
  uint32_t target = kernels::gpu::no_target;
  if (!req.targets.empty()) {
    if (req.targets.size() != 1 && static_cast<int64_t>(req.targets.size()) != n)
      fail_input("--target: " + std::to_string(req.targets.size()) + " targets for a batch of " + std::to_string(n) + " (give one, or one per sample)");
    for (int64_t t : req.targets) {
      if (t < 0 || t >= per)
        fail_input("--target " + std::to_string(t) + " is out of range: output '" + g.values[out_value].name + "' has " +
                   std::to_string(per) + " values per sample");
      if (t != req.targets[0]) unsupported("a different target per sample");
    }
    target = static_cast<uint32_t>(req.targets[0]);
  }
  const int y = c.value(out_value), seed = B.fresh(shape_numel(ys)), targets = B.fresh(n);
  Step& s = B.step(Kernel::Seed, n, {y, seed, targets});
  s.words[1] = static_cast<uint32_t>(per), s.words[2] = target, s.words[3] = lrp ? 1 : 0;

  // The sweep, in reverse plan order (backward_sweep's walk).
  c.rel[out_value] = seed;
  for (auto it = plan.steps.rbegin(); it != plan.steps.rend(); ++it) {
    const Node& node = g.nodes[*it];
    bool any = false;   // relevance at some output (Split's may reach only its later ones)
    for (int v : node.outputs) any = any || (v >= 0 && c.rel[v] >= 0);
    if (!any) continue;
    const int out0 = node.outputs[0];
    NodeSweep ns{c, node, rules[*it], g.node_label(node), c.rel[out0]};
    if (ns.R < 0) {
      if (!is_routing(node.op)) fail(ErrorKind::Internal, "GPU program: relevance only at a later output of " + ns.where);
      ns.R = B.zeros(c.numel(out0));
    }
    apply_rule(ns);
    if (!ns.r_moved) B.release(ns.R);
    for (int v : node.outputs)
      if (v >= 0 && v != out0 && c.rel[v] >= 0) B.release(c.rel[v]);
    for (int v : node.outputs)
      if (v >= 0) c.rel[v] = -1;
  }
  const int x0 = g.inputs[0];
  int relevance = c.rel[x0] >= 0 ? c.rel[x0] : B.zeros(c.numel(x0));
  if (req.method == "gradient-x-input") {
    const int t = B.temp(c.numel(x0));
    B.ew(Ew::Mul, c.numel(x0), relevance, c.value(x0), -1, t);
    relevance = t;
  }
  gx.program.readback = {relevance, y, targets};
  gx.relevance_shape = plan.shapes[x0];
  gx.output_shape = ys;
  if (gx.bytes > session.limits().max_total_bytes)
    fail(ErrorKind::Limit, "the GPU program needs " + std::to_string(gx.bytes) + " bytes of buffers, more than the limit of " +
                               std::to_string(session.limits().max_total_bytes));
  return gx;
}

// ---- finish ------------------------------------------------------------------------------------------------------------
Explanation finish_gpu_explanation(const Explainer&, const GpuExplanation& gx, const std::vector<std::vector<float>>& readback) {
  if (readback.size() != 3 || static_cast<int64_t>(readback[0].size()) < shape_numel(gx.relevance_shape) ||
      static_cast<int64_t>(readback[1].size()) < shape_numel(gx.output_shape))
    fail(ErrorKind::Internal, "GPU explanation: the readback does not match the program");
  Explanation e;
  e.notes = gx.notes;
  e.output = Tensor::from_floats(gx.output_shape, std::vector<float>(readback[1].begin(), readback[1].begin() + shape_numel(gx.output_shape)));
  detail::require_finite(e.output, "the explained output");
  e.relevance = Tensor::from_floats(gx.relevance_shape, std::vector<float>(readback[0].begin(), readback[0].begin() + shape_numel(gx.relevance_shape)));
  detail::require_finite(e.relevance, "the relevance computed on the GPU");
  for (float w : readback[2]) {
    uint32_t t;
    std::memcpy(&t, &w, sizeof t);
    e.targets.push_back(t);
  }
  return e;
}

}  // namespace relscope::relevance
