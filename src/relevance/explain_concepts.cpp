// relscope/relevance/explain_concepts.cpp — the Explainer's concept methods (CRP): concept ranking,
// conditional concept relevance for attribution graphs, layer maps and unit footprints for atlases.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "relevance/explain.h"
#include "relevance/explain_detail.h"

namespace relscope::relevance {

using namespace detail;

ConceptRanking Explainer::concepts(const std::vector<Tensor>& inputs, const ExplainRequest& request) {
  check_request(model_.graph(), inputs, request);
  if (!model_.needs_batch_split(inputs)) return concepts_batch(inputs, request);
  std::vector<Tensor> rel, norm, out;
  ConceptRanking all;
  for_each_sample(inputs, request, [&](int64_t, const std::vector<Tensor>& one, const ExplainRequest& r) {
    ConceptRanking c = concepts_batch(one, r);
    rel.push_back(std::move(c.relevance));
    norm.push_back(std::move(c.normalized));
    out.push_back(std::move(c.output));
    all.targets.push_back(c.targets[0]);
  });
  all.relevance = concat_batch(rel);
  all.normalized = concat_batch(norm);
  all.output = concat_batch(out);
  return all;
}

ConceptRanking Explainer::concepts_batch(const std::vector<Tensor>& inputs, const ExplainRequest& req) {
  const Graph& g = canonical_.graph();
  const int out_value = g.outputs[req.output];
  const auto kept = record(canonical_, inputs);
  const Activations& act = *kept;
  const Plan& plan = *act.plan;
  const ConceptLayer layer = find_concept_layer(g, plan, req.crp.layer);
  ConceptRanking c;
  c.output = act.get(out_value);
  check_output(g, c.output, out_value);
  const int64_t n = batch_of(inputs[0]);
  c.targets = resolve_targets(c.output, n, req.targets, g.values[out_value].name);
  const auto rules = assign_rules(g, plan, req.composite, req.params, req.overrides);
  const Tensor r = backward_sweep_to(g, plan, act, rules, out_value, make_seed(c.output, c.targets, true), layer.value);
  if (r.f.empty()) {   // no relevance reaches the layer from this output
    c.relevance = Tensor::zeros({n, layer.channels});
    c.normalized = c.relevance;
    return c;
  }
  c.relevance = channel_sums(r, layer.axis);
  Tensor magnitude = r;
  for (float& v : magnitude.f) v = std::fabs(v);
  const Tensor mass = channel_sums(magnitude, layer.axis);
  c.normalized = c.relevance;
  for (int64_t b = 0; b < n; ++b) {
    double total = 0;
    for (int64_t k = 0; k < layer.channels; ++k) total += mass.f[b * layer.channels + k];
    for (int64_t k = 0; k < layer.channels; ++k)
      c.normalized.f[b * layer.channels + k] = total > 0 ? static_cast<float>(c.relevance.f[b * layer.channels + k] / total) : 0.0f;
  }
  return c;
}

ConditionalConcepts Explainer::conditional_concepts(const std::vector<Tensor>& inputs, const ExplainRequest& req,
                                                    const std::vector<std::vector<ConceptCondition>>& paths,
                                                    const std::string& capture_layer) {
  const Graph& g = canonical_.graph();
  check_request(g, inputs, req);
  if (batch_of(inputs[0]) != 1) fail_input("attribution graphs explain one sample at a time; the input has a batch of " + std::to_string(batch_of(inputs[0])));
  const int out_value = g.outputs[req.output];
  const auto kept = record(canonical_, inputs);
  const Activations& act = *kept;
  const Plan& plan = *act.plan;
  const ConceptLayer capture = find_concept_layer(g, plan, capture_layer);
  std::vector<std::vector<std::pair<ConceptLayer, std::vector<int64_t>>>> masks;
  for (const auto& path : paths) {
    masks.emplace_back();
    for (const auto& c : path) masks.back().emplace_back(find_concept_layer(g, plan, c.layer), c.channels);
  }
  const Tensor y = act.get(out_value);
  check_output(g, y, out_value);
  ConditionalConcepts c;
  const auto targets = resolve_targets(y, 1, req.targets, g.values[out_value].name);
  c.target = targets[0];
  c.output = y.f[c.target];
  const auto rules = assign_rules(g, plan, req.composite, req.params, req.overrides);
  const Tensor seed = make_seed(y, targets, true);
  c.relevance = Tensor::zeros({static_cast<int64_t>(paths.size()), capture.channels});
  for (size_t k = 0; k < masks.size(); ++k) {
    SweepOptions o;
    o.at_node_output = [&](const Node&, int value, Tensor& r) {
      for (const auto& [layer, keep] : masks[k])   // a layer may be both conditioned and captured: mask first
        if (value == layer.value) keep_channels(r, layer.axis, keep);
    };
    const Tensor r = backward_sweep_to(g, plan, act, rules, out_value, seed, capture.value, o);
    if (r.f.empty()) continue;   // nothing reaches the captured layer on this path: its sums stay 0
    const Tensor sums = channel_sums(r, capture.axis);
    std::copy(sums.f.begin(), sums.f.end(), c.relevance.f.begin() + static_cast<int64_t>(k) * capture.channels);
  }
  return c;
}

std::vector<std::string> Explainer::concept_layers(const std::vector<Tensor>& inputs) {
  const Plan& p = canonical_.plan_for(inputs);
  const Graph& g = canonical_.graph();
  std::vector<std::string> names;
  for (const Node& n : g.nodes)
    if (node_role(g, p, n) == NodeRole::Linear) names.push_back(n.name);
  return names;
}

ConceptMaps Explainer::concept_maps(const std::vector<Tensor>& inputs, const ExplainRequest& request) {
  check_request(model_.graph(), inputs, request);
  if (!model_.needs_batch_split(inputs)) return concept_maps_batch(inputs, request);
  std::vector<Tensor> rel, act, out;
  ConceptMaps all;
  for_each_sample(inputs, request, [&](int64_t, const std::vector<Tensor>& one, const ExplainRequest& r) {
    ConceptMaps c = concept_maps_batch(one, r);
    rel.push_back(std::move(c.relevance));
    act.push_back(std::move(c.activation));
    out.push_back(std::move(c.output));
    all.targets.push_back(c.targets[0]);
    all.axis = c.axis;
  });
  all.relevance = concat_batch(rel);
  all.activation = concat_batch(act);
  all.output = concat_batch(out);
  return all;
}

ConceptMaps Explainer::concept_maps_batch(const std::vector<Tensor>& inputs, const ExplainRequest& req) {
  const Graph& g = canonical_.graph();
  const int out_value = g.outputs[req.output];
  const auto kept = record(canonical_, inputs);
  const Activations& act = *kept;
  const Plan& plan = *act.plan;
  const ConceptLayer layer = find_concept_layer(g, plan, req.crp.layer);
  ConceptMaps c;
  c.axis = layer.axis;
  c.output = act.get(out_value);
  check_output(g, c.output, out_value);
  c.targets = resolve_targets(c.output, batch_of(inputs[0]), req.targets, g.values[out_value].name);
  c.activation = act.get(layer.value);
  const auto rules = assign_rules(g, plan, req.composite, req.params, req.overrides);
  c.relevance = backward_sweep_to(g, plan, act, rules, out_value, make_seed(c.output, c.targets, true), layer.value);
  if (c.relevance.f.empty()) c.relevance = Tensor::zeros(c.activation.shape);   // no relevance reaches the layer
  return c;
}

std::vector<Tensor> Explainer::unit_maps(const std::vector<Tensor>& inputs, const ExplainRequest& req,
                                         const std::vector<ConceptUnit>& units) {
  if (inputs.empty() || inputs[0].dtype != DType::Float32 || batch_of(inputs[0]) != 1)
    fail_input("unit maps need one float32 sample");
  if (req.output >= model_.graph().outputs.size())
    fail_input("--output " + std::to_string(req.output) + ": the model has " + std::to_string(model_.graph().outputs.size()) + " output(s)");
  const Graph& g = canonical_.graph();
  const int out_value = g.outputs[req.output];
  const auto kept = record(canonical_, inputs);
  const Activations& act = *kept;
  const Plan& plan = *act.plan;
  const ConceptLayer layer = find_concept_layer(g, plan, req.crp.layer);
  const Tensor y = act.get(out_value);
  check_output(g, y, out_value);
  // The seed only has to reach the layer; the hook then replaces whatever arrived by the unit.
  const Tensor seed = make_seed(y, resolve_targets(y, 1, req.targets, g.values[out_value].name), false);
  const auto rules = assign_rules(g, plan, req.composite, req.params, req.overrides);
  const Shape& shape = plan.shapes[layer.value];
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(layer.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t positions = layer.channels > 0 ? shape_numel(shape) / layer.channels : 0;
  std::vector<std::function<void(Tensor&)>> edits;   // one sweep per unit; the part above the layer is shared
  for (const ConceptUnit& u : units) {
    if (u.channel < 0 || u.channel >= layer.channels || u.position < 0 || u.position >= positions)
      fail_input("unit (channel " + std::to_string(u.channel) + ", position " + std::to_string(u.position) + ") is outside " +
                 req.crp.layer + " (" + std::to_string(layer.channels) + " channels x " + std::to_string(positions) + " positions)");
    const size_t index = static_cast<size_t>(((u.position / inner) * layer.channels + u.channel) * inner + u.position % inner);
    edits.push_back([index](Tensor& r) {
      std::fill(r.f.begin(), r.f.end(), 0.0f);
      r.f[index] = 1.0f;
    });
  }
  std::vector<Tensor> maps;
  for (auto& sweep : backward_sweep_branches(g, plan, act, rules, out_value, seed, layer.value, edits))
    maps.push_back(std::move(sweep.input_relevance[0]));
  return maps;
}

}  // namespace relscope::relevance
