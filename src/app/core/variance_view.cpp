// relscope/app/core/variance_view.cpp — the variance view's computation (see variance_view.h).
//
// Sections: members | request text | compute
#include "app/core/variance_view.h"

#include <cmath>

#include "core/error.h"
#include "relevance/gaussian_head.h"
#include "relevance/request.h"

namespace relscope::app {

// ---- members ------------------------------------------------------------------------------------------
void VarianceView::add_member(const std::string& label, const std::vector<uint8_t>& bytes, const Limits& limits) {
  auto s = std::make_unique<Session>(Session::load(bytes.data(), bytes.size(), label, limits));
  s->graph().require_supported();
  for (auto& m : members_)
    if (m.first == label) {
      m.second = std::move(s);
      return;
    }
  members_.emplace_back(label, std::move(s));
}

std::vector<std::string> VarianceView::member_names() const {
  std::vector<std::string> names;
  for (const auto& m : members_) names.push_back(m.first);
  return names;
}

// ---- request text -------------------------------------------------------------------------------------
namespace {

// The main panel's request as text, reduced to a first-order method on the view's own output/unit: crp and
// pruned-lrp become lrp (the view compares plain maps), target and output are the head's.
relevance::RequestText base_text(const AppState& state, const VarianceSettings& v) {
  relevance::RequestText t;
  t.values = state.request_values(state.settings);
  for (const char* k : {"target", "output", "layer", "channels", "joint", "prune"}) t.values.erase(k);
  if (t.values["method"] == "crp" || t.values["method"] == "pruned-lrp") t.values["method"] = "lrp";
  if (!v.mean_unit.empty()) t.values["mean-unit"] = v.mean_unit;
  if (!v.var_unit.empty()) t.values["var-unit"] = v.var_unit;
  if (!v.var_kind.empty()) t.values["var-kind"] = v.var_kind;
  return t;
}

}  // namespace

// ---- compute ------------------------------------------------------------------------------------------
void VarianceView::compute(AppState& state) {
  Session* s = state.session();
  if (!s || !state.explainer() || !state.results().valid) fail_input("variance view: open a model and an input first");
  const Tensor& x = state.results().input;
  const Graph& g = s->graph();
  const relevance::RequestText text = base_text(state, settings);
  VarianceResult r;
  r.method = text.values.at("method");

  // The Gaussian head: the two maps and the prediction. Without one, only CovLRP can be shown.
  relevance::VarianceOptions o;
  o.mean_unit = settings.mean_unit, o.var_unit = settings.var_unit, o.var_kind = settings.var_kind;
  relevance::GaussianHead head;
  try {
    head = relevance::find_gaussian_head(g, relevance::output_units_per_sample(*s, {x}), o, "");
    r.gaussian = true;
  } catch (const Error& e) {
    r.head_problem = e.what();
  }
  if (r.gaussian) {
    for (const char* which : {"mean", "variance"}) {
      relevance::RequestText t = text;
      t.values["explain"] = which;
      auto req = relevance::parse_request(t, g, "");
      const std::string what = relevance::apply_explain_choice(*s, {x}, req, "");
      Tensor map = state.explainer()->explain({x}, req).relevance;
      (which[0] == 'm' ? r.mean_text : r.var_text) = what;
      (which[0] == 'm' ? r.mean_map : r.var_map) = std::move(map);
    }
    const auto p = relevance::head_prediction(head, s->predict({x}), 0);
    r.mean = p.mean;
    r.sd = std::sqrt(std::max(0.0, p.variance));
  }

  // CovLRP over ensemble members or MC-dropout samples.
  if (settings.mc_dropout > 1 || !members_.empty()) {
    relevance::RequestText t = text;
    t.values["method"] = "cov-lrp";
    t.values["cov"] = settings.cov == "diag" ? "diag" : "marg";
    std::vector<Session*> others;
    if (settings.mc_dropout > 1) {
      t.values["mc-dropout"] = std::to_string(settings.mc_dropout);
      t.values["seed"] = std::to_string(settings.seed);
    } else {
      std::string names;
      for (const auto& m : members_) names += (names.empty() ? "" : ",") + m.first, others.push_back(m.second.get());
      t.values["ensemble"] = names;
    }
    const auto req = relevance::parse_request(t, g, "");
    const auto c = relevance::explain_cov(*s, others, {x}, req, "");
    const Tensor& part = req.variance.cov == "diag" ? c.diag : c.marg;
    r.cov_map = part;
    for (size_t i = 0; i < r.cov_map.f.size(); ++i) {
      r.cov_total += part.f[i];
      if (!c.aleatoric.f.empty()) r.cov_map.f[i] += c.aleatoric.f[i], r.aleatoric_total += c.aleatoric.f[i];
    }
    r.member_outputs = c.member_outputs.f;
    r.output_variance = c.output_variance.at(0);
    r.cov_text = c.members_text + "; explained: " + c.explained;
    r.has_cov = true;
  }
  r.valid = true;
  result_ = std::move(r);
}

}  // namespace relscope::app
