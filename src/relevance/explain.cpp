// relscope/relevance/explain.cpp — methods, targets, seeds, batching (concept methods: explain_concepts.cpp).
//
// Sections: helpers (targets, seeds, rng) | Explainer | LRP and gradients | integrated gradients |
//           smoothgrad | occlusion
#include "relevance/explain.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "relevance/explain_detail.h"

namespace relscope::relevance {

// ---- helpers shared with explain_concepts.cpp (explain_detail.h) ----
namespace detail {

int64_t batch_of(const Tensor& t) { return t.shape.empty() ? 1 : t.shape[0]; }

void require_finite(const Tensor& t, const std::string& what) {
  if (const size_t k = first_non_finite(t.f); k < t.f.size())
    fail_input(what + " holds " + (std::isnan(t.f[k]) ? "NaN" : "Inf") + " at element " + std::to_string(k) +
               " (float32 overflowed); there is no meaningful explanation for it");
}

// Per-sample targets: the arg-max, one given value for all, or one per sample; each checked against the
// sample's output size.
int64_t values_per_sample(const Shape& shape, int64_t n, const std::string& output_name) {
  const int64_t numel = shape_numel(shape), per = n > 0 ? numel / n : 0;
  // An output sliced or reshaped down to nothing (found by the explain fuzzer) has no value to explain, and
  // one whose size is not a multiple of the batch has no per-sample values: refuse both before indexing.
  if (per == 0 || numel != per * n)
    fail_input("output '" + output_name + "' has shape " + shape_str(shape) + ": " +
               (per == 0 ? std::string("no values") : std::to_string(numel) + " values, not a multiple") +
               " for a batch of " + std::to_string(n) + "; relscope explains an output with at least one value per sample");
  return per;
}

std::vector<int64_t> resolve_targets(const Tensor& y, int64_t n, const std::vector<int64_t>& given, const std::string& output_name) {
  const int64_t per = values_per_sample(y.shape, n, output_name);
  std::vector<int64_t> t(static_cast<size_t>(n));
  if (given.empty()) {
    for (int64_t b = 0; b < n; ++b)
      t[b] = std::max_element(y.f.begin() + b * per, y.f.begin() + (b + 1) * per) - (y.f.begin() + b * per);
    return t;
  }
  if (given.size() != 1 && static_cast<int64_t>(given.size()) != n)
    fail_input("--target: " + std::to_string(given.size()) + " targets for a batch of " + std::to_string(n) + " (give one, or one per sample)");
  for (int64_t b = 0; b < n; ++b) {
    t[b] = given.size() == 1 ? given[0] : given[b];
    if (t[b] < 0 || t[b] >= per)
      fail_input("--target " + std::to_string(t[b]) + " is out of range: output '" + output_name + "' has " + std::to_string(per) +
                 " values per sample");
  }
  return t;
}

void check_request(const Graph& g, const std::vector<Tensor>& inputs, const ExplainRequest& request) {
  if (request.output >= g.outputs.size())
    fail_input("--output " + std::to_string(request.output) + ": the model has " + std::to_string(g.outputs.size()) + " output(s)");
  if (inputs.empty() || inputs[0].dtype != DType::Float32) fail_input("the explained input must be float32");
  // An empty batch has no sample to explain (and would divide by zero per sample); a NaN or Inf in the
  // input can be swallowed by ReLU or max-pooling into a finite, meaningless explanation.
  if (inputs[0].numel() == 0)
    fail_input("the explained input '" + g.values[g.inputs[0]].name + "' has no elements (shape " + shape_str(inputs[0].shape) + ")");
  for (size_t k = 0; k < inputs.size(); ++k)
    if (const size_t j = first_non_finite(inputs[k].f); j < inputs[k].f.size())
      fail_input("input '" + g.values[g.inputs[k]].name + "' holds " + (std::isnan(inputs[k].f[j]) ? "NaN" : "Inf") +
                 " at element " + std::to_string(j) + "; relscope explains finite inputs only");
}

void check_output(const Graph& g, const Tensor& y, int value) {
  const std::string what = "output '" + g.values[value].name + "'";
  if (y.dtype != DType::Float32) fail_input(what + " is not float32; choose another with --output");
  require_finite(y, what);
}

// onehot(target) (gradients) or onehot(target) * output (LRP).
Tensor make_seed(const Tensor& y, const std::vector<int64_t>& targets, bool times_output) {
  Tensor s = Tensor::zeros(y.shape);
  const int64_t n = static_cast<int64_t>(targets.size()), per = y.numel() / n;
  for (int64_t b = 0; b < n; ++b) s.f[b * per + targets[b]] = times_output ? y.f[b * per + targets[b]] : 1.0f;
  return s;
}

float integrated_gradients_alpha(int k, int steps) { return static_cast<float>(k) / static_cast<float>(steps); }

// A portable normal sampler: mt19937 is specified bit-exactly; std::normal_distribution is not (libstdc++
// and libc++ differ), and native and wasm results must agree. Box-Muller on two 53-bit uniforms.
float SmoothGradNoise::normal() {
  const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;   // (0, 1]
  const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

SmoothGradNoise::SmoothGradNoise(const Tensor& x, const ExplainRequest& req) : x_(x), rng_(req.seed) {
  if (req.samples < 1) fail_input("--samples must be at least 1");
  const int64_t n = batch_of(x);
  per_ = x.numel() / n;
  sd_.resize(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; ++b) {
    const auto [lo, hi] = std::minmax_element(x.f.begin() + b * per_, x.f.begin() + (b + 1) * per_);
    sd_[b] = req.noise * (*hi - *lo);
  }
}

void SmoothGradNoise::next(Tensor& at) {
  for (size_t i = 0; i < x_.f.size(); ++i) at.f[i] = x_.f[i] + sd_[i / per_] * normal();
}


PruneSites prune_sites(const Graph& g, const Plan& plan, const PruneOptions& opt) {
  prune_sample(nullptr, 0, opt.all);   // n = 0: only validates the proportions, before any work
  for (const auto& [name, p] : opt.at_node) prune_sample(nullptr, 0, p);
  PruneSites sites;
  bool first = true;
  for (const Node& node : g.nodes) {
    if (node_role(g, plan, node) != NodeRole::Linear) continue;
    if (!first) {
      auto it = opt.at_node.find(node.name);
      const PruneProportion p = it != opt.at_node.end() ? it->second : opt.all;
      sites.at_layer[node.name] = p;
      for (int v : node.inputs)
        if (v >= 0 && !plan.is_constant(v) && !sites.at_value.count(v)) sites.at_value[v] = {node.name, p};
    }
    first = false;
  }
  for (const auto& [name, p] : opt.at_node)
    if (!sites.at_layer.count(name)) {
      // (a copy: clang 14 cannot capture a structured binding)
      const bool exists = std::any_of(g.nodes.begin(), g.nodes.end(), [&, node_name = name](const Node& m) { return m.name == node_name; });
      fail_input("--prune-at " + name + ": " + (exists ? "not a linear layer after the first one (only their inputs are pruned)"
                                                       : "no node has this name (see `relscope rules`)"));
    }
  return sites;
}

double mean_sample_gini(const float* r, int64_t numel, int64_t batch) {
  const int64_t per = numel / batch;
  double sum = 0;
  for (int64_t b = 0; b < batch; ++b) sum += gini(r + b * per, per) / static_cast<double>(batch);
  return sum;
}

}  // namespace detail

namespace {

using namespace detail;

// Pruned LRP: sweep hooks that prune each sample's relevance at the input of every linear layer except
// the one nearest the input (the first Linear in topological order) — i.e. every hidden representation a
// linear layer reads, never the explained input itself — and record what they did. PLRP-lambda prunes a
// value's complete relevance, which the sweep has when it reaches the value's producer; PLRP-M masks the
// layer's pruned inputs and re-runs its rule (SweepOptions::at_linear_input).
void install_pruner(const Graph& g, const Plan& plan, const PruneOptions& opt, int64_t batch,
                    std::vector<LayerPruneReport>& report, SweepOptions& options) {
  PruneSites sites = prune_sites(g, plan, opt);
  auto per_sample_gini = [batch](const Tensor& r) { return mean_sample_gini(r.f.data(), r.numel(), batch); };
  if (opt.mode == PruneMode::Lambda) {
    options.at_node_output = [at_value = std::move(sites.at_value), batch, per_sample_gini, &report](const Node&, int value, Tensor& r) {
      auto it = at_value.find(value);
      if (it == at_value.end() || it->second.p.pos + it->second.p.neg == 0.0f) return;
      const int64_t per = r.numel() / batch;
      LayerPruneReport layer{it->second.layer};
      layer.gini_before = per_sample_gini(r);
      for (int64_t b = 0; b < batch; ++b)
        layer.zeroed_fraction += static_cast<double>(prune_sample(r.f.data() + b * per, per, it->second.p)) / static_cast<double>(per * batch);
      layer.gini_after = per_sample_gini(r);
      report.push_back(std::move(layer));
    };
    return;
  }
  // PLRP-M: choose the pruned set from the relevance this layer gives its input, then re-run its rule with
  // those inputs masked.
  options.at_linear_input = [at_layer = std::move(sites.at_layer), batch, per_sample_gini, &report](
                                const Node& node, Tensor& r_in, const SweepOptions::Rerun& rerun) {
    auto it = at_layer.find(node.name);
    if (it == at_layer.end() || it->second.pos + it->second.neg == 0.0f) return;
    const int64_t per = r_in.numel() / batch;
    Tensor keep = Tensor::zeros(r_in.shape);
    LayerPruneReport layer{node.name};
    layer.gini_before = per_sample_gini(r_in);
    int64_t masked = 0;
    for (int64_t b = 0; b < batch; ++b) masked += prune_mask(r_in.f.data() + b * per, per, it->second, keep.f.data() + b * per);
    layer.zeroed_fraction = static_cast<double>(masked) / static_cast<double>(per * batch);
    if (masked > 0) {
      double before = 0, after = 0;
      for (float v : r_in.f) before += v;
      r_in = rerun(keep);
      for (float v : r_in.f) after += v;
      layer.kept = before != 0 ? after / before : 1.0;
    }
    layer.gini_after = per_sample_gini(r_in);
    report.push_back(std::move(layer));
  };
}

// CRP: one sweep per concept (or one for all, joint), each zeroing the other channels where relevance
// reaches the layer. The forward pass and the sweep above the layer are shared; the result is
// (N, K, input dims...) or the input's shape.
Tensor conditional_maps(const Graph& g, const Plan& plan, const Activations& act, const std::vector<Rule>& rules,
                        int out_value, const Tensor& seed, const ConceptRequest& crp, const Tensor& x) {
  const ConceptLayer layer = find_concept_layer(g, plan, crp.layer);
  if (crp.channels.empty())
    fail_input("--channels: give at least one channel of " + crp.layer + " (it has " + std::to_string(layer.channels) + ")");
  // One sweep per concept (joint: one for all), the part above the layer shared by all of them.
  std::vector<std::vector<int64_t>> keeps;
  if (crp.joint)
    keeps.push_back(crp.channels);
  else
    for (int64_t c : crp.channels) keeps.push_back({c});
  std::vector<std::function<void(Tensor&)>> edits;
  for (const auto& keep : keeps) edits.push_back([&layer, &keep](Tensor& r) { keep_channels(r, layer.axis, keep); });
  const auto sweeps = backward_sweep_branches(g, plan, act, rules, out_value, seed, layer.value, edits);
  if (crp.joint) return sweeps[0].input_relevance[0];
  const int64_t n = batch_of(x), per = x.numel() / n, k_count = static_cast<int64_t>(crp.channels.size());
  Shape shape = x.shape;
  shape.insert(shape.begin() + 1, k_count);
  Tensor maps = Tensor::zeros(shape);
  for (int64_t k = 0; k < k_count; ++k) {
    const Tensor& m = sweeps[k].input_relevance[0];
    for (int64_t b = 0; b < n; ++b)
      std::copy(m.f.begin() + b * per, m.f.begin() + (b + 1) * per, maps.f.begin() + (b * k_count + k) * per);
  }
  return maps;
}

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"lrp", "pruned-lrp", "crp", "gradient", "gradient-x-input", "integrated-gradients", "smoothgrad", "occlusion"};
  return names;
}

std::string method_label(const std::string& method, const std::string& composite) {
  const bool with_composite = method == "lrp" || method == "pruned-lrp" || method == "crp";
  return with_composite ? method + " (" + composite + ")" : method;
}

Explainer::Explainer(Session& session)
    : model_(session), canonical_(Session::from_graph(canonize(session.graph(), &report_), session.limits())) {}

// One session's pass is kept at a time: an LRP explanation after a gradient one (or back) frees the other's.
std::shared_ptr<const Activations> Explainer::record(Session& s, const std::vector<Tensor>& inputs) {
  (&s == &canonical_ ? model_ : canonical_).drop_recorded();
  return s.recorded(inputs);
}

void Explainer::drop_recorded() {
  canonical_.drop_recorded();
  model_.drop_recorded();
}

Session& Explainer::session_for(const std::string& method) {
  return method == "lrp" || method == "pruned-lrp" || method == "crp" ? canonical_ : model_;
}

std::vector<Rule> Explainer::rules_for(const std::vector<Tensor>& inputs, const ExplainRequest& request) {
  const Plan& p = canonical_.plan_for(inputs);
  return assign_rules(canonical_.graph(), p, request.composite, request.params, request.overrides);
}

Explanation Explainer::explain(const std::vector<Tensor>& inputs, const ExplainRequest& request) {
  if (std::find(method_names().begin(), method_names().end(), request.method) == method_names().end()) {
    std::string list;
    for (const auto& m : method_names()) list += (list.empty() ? "" : ", ") + m;
    fail_input("unknown method '" + request.method + "' (" + list + ")");
  }
  check_request(model_.graph(), inputs, request);
  if (!model_.needs_batch_split(inputs)) return explain_batch(inputs, request);

  // Batch-1 export: explain sample by sample, each on its own target.
  const int64_t n = batch_of(inputs[0]);
  std::vector<Tensor> rel, out;
  Explanation all;
  for_each_sample(inputs, request, [&](int64_t b, const std::vector<Tensor>& one, const ExplainRequest& r) {
    Explanation e = explain_batch(one, r);
    rel.push_back(std::move(e.relevance));
    out.push_back(std::move(e.output));
    all.targets.push_back(e.targets[0]);
    all.notes = std::move(e.notes);
    if (b == 0) all.pruning = e.pruning;
    for (size_t k = 0; b > 0 && k < all.pruning.size() && k < e.pruning.size(); ++k) {
      all.pruning[k].zeroed_fraction += e.pruning[k].zeroed_fraction;
      all.pruning[k].gini_before += e.pruning[k].gini_before;
      all.pruning[k].gini_after += e.pruning[k].gini_after;
    }
  });
  for (auto& r : all.pruning) {   // sample averages, as explain_batch reports them
    r.zeroed_fraction /= static_cast<double>(n);
    r.gini_before /= static_cast<double>(n);
    r.gini_after /= static_cast<double>(n);
  }
  all.relevance = concat_batch(rel);
  all.output = concat_batch(out);
  return all;
}

Explanation Explainer::explain_batch(const std::vector<Tensor>& inputs, const ExplainRequest& req) {
  const Tensor& x = inputs[0];
  const int64_t n = batch_of(x);
  const bool lrp = req.method == "lrp" || req.method == "pruned-lrp" || req.method == "crp";
  Session& s = lrp ? canonical_ : model_;
  const Graph& g = s.graph();
  const int out_value = g.outputs[req.output];
  const std::string out_name = g.values[out_value].name;

  Explanation e;
  for (const auto& m : report_.merged)
    if (lrp) e.notes.push_back("canonizer: merged BatchNorm " + m);
  const auto kept = record(s, inputs);
  const Activations& act = *kept;
  const Plan& plan = *act.plan;
  e.output = act.get(out_value);
  check_output(g, e.output, out_value);
  e.targets = resolve_targets(e.output, n, req.targets, out_name);

  auto gradient_of = [&](const Activations& a) {
    const std::vector<Rule> rules(g.nodes.size(), rule_gradient());
    return backward_sweep(g, *a.plan, a, rules, out_value, make_seed(a.get(out_value), e.targets, false)).input_relevance[0];
  };
  // Points other than the input (integrated gradients, smoothgrad) are recorded once each, not kept.
  auto gradient_at = [&](const std::vector<Tensor>& at) { return gradient_of(s.forward_recorded(at)); };

  if (lrp) {
    const auto rules = assign_rules(g, plan, req.composite, req.params, req.overrides);
    const Tensor seed = make_seed(e.output, e.targets, true);
    if (req.method == "crp") {
      e.relevance = conditional_maps(g, plan, act, rules, out_value, seed, req.crp, x);
    } else {
      SweepOptions options;
      if (req.method == "pruned-lrp") install_pruner(g, plan, req.prune, n, e.pruning, options);
      e.relevance = backward_sweep(g, plan, act, rules, out_value, seed, options).input_relevance[0];
    }
  } else if (req.method == "gradient" || req.method == "gradient-x-input") {
    e.relevance = gradient_of(act);
    if (req.method == "gradient-x-input")
      for (size_t k = 0; k < e.relevance.f.size(); ++k) e.relevance.f[k] *= x.f[k];
  } else if (req.method == "integrated-gradients") {
    // Zero baseline, alphas k/steps for k = 1..steps (right Riemann sum), as zennit.
    if (req.steps < 1) fail_input("--steps must be at least 1");
    e.relevance = Tensor::zeros(x.shape);
    std::vector<Tensor> at = inputs;
    for (int k = 1; k <= req.steps; ++k) {
      const float alpha = integrated_gradients_alpha(k, req.steps);
      for (size_t i = 0; i < x.f.size(); ++i) at[0].f[i] = alpha * x.f[i];
      const Tensor gk = gradient_at(at);
      for (size_t i = 0; i < x.f.size(); ++i) e.relevance.f[i] += gk.f[i];
    }
    for (size_t i = 0; i < x.f.size(); ++i) e.relevance.f[i] *= x.f[i] / static_cast<float>(req.steps);
  } else if (req.method == "smoothgrad") {
    SmoothGradNoise noisy(x, req);
    e.relevance = Tensor::zeros(x.shape);
    std::vector<Tensor> at = inputs;
    for (int k = 0; k < req.samples; ++k) {
      noisy.next(at[0]);
      const Tensor gk = gradient_at(at);
      for (size_t i = 0; i < x.f.size(); ++i) e.relevance.f[i] += gk.f[i] / static_cast<float>(req.samples);
    }
  } else {   // occlusion
    if (req.window < 1 || req.stride < 1) fail_input("--window and --stride must be at least 1");
    // Windows slide over the trailing spatial dims (all channels at once); over features for (N, F).
    const int r = x.rank();
    const int first = r >= 3 ? 2 : 1;
    const Shape span(x.shape.begin() + first, x.shape.end());
    const int64_t spatial = shape_numel(span);
    const int64_t per = x.numel() / n, channels = per / std::max<int64_t>(spatial, 1);
    std::vector<float> total(x.f.size(), 0.0f), count(x.f.size(), 0.0f);
    std::vector<std::vector<int64_t>> starts(span.size());   // window origins per spatial dim
    for (size_t d = 0; d < span.size(); ++d)
      for (int64_t o = 0; o < span[d]; o += req.stride) starts[d].push_back(o);
    const auto strides = shape_strides(span);
    const int64_t outs_per = e.output.numel() / n;
    std::vector<size_t> pick(span.size(), 0);
    for (bool more = true; more;) {
      std::vector<int64_t> inside;   // spatial offsets this window covers (clipped at the edges)
      for (int64_t sp = 0; sp < spatial; ++sp) {
        bool in = true;
        for (size_t d = 0; d < span.size(); ++d) {
          const int64_t c = (sp / strides[d]) % span[d], o = starts[d][pick[d]];
          in &= c >= o && c < o + req.window;
        }
        if (in) inside.push_back(sp);
      }
      std::vector<Tensor> at = inputs;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t sp : inside) at[0].f[b * per + c * spatial + sp] = req.baseline;
      const Tensor y = s.predict(at)[req.output];
      for (int64_t b = 0; b < n; ++b) {
        const float drop = e.output.f[b * outs_per + e.targets[b]] - y.f[b * outs_per + e.targets[b]];
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t sp : inside) {
            total[b * per + c * spatial + sp] += drop;
            count[b * per + c * spatial + sp] += 1;
          }
      }
      more = false;   // next window: an odometer over the per-dim origins
      for (size_t d = span.size(); d-- > 0;) {
        if (++pick[d] < starts[d].size()) {
          more = true;
          break;
        }
        pick[d] = 0;
      }
    }
    e.relevance = Tensor::zeros(x.shape);
    for (size_t i = 0; i < total.size(); ++i) e.relevance.f[i] = count[i] > 0 ? total[i] / count[i] : 0.0f;
  }
  require_finite(e.relevance, "the relevance of " + req.method);
  return e;
}

}  // namespace relscope::relevance
