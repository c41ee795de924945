// relscope/cli/cmd_variance.cpp — explain's cov-lrp path and `relscope drivers` (variance heatmaps).
//
// Sections: helpers | explain_cov_command | cmd_drivers
#include "cli/cmd_variance.h"

#include <cstdio>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "cli/explain_args.h"
#include "cli/heatmap_files.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "core/number_list.h"
#include "io/npy.h"
#include "relevance/cov_lrp.h"
#include "relevance/gaussian_head.h"
#include "relevance/request.h"

namespace relscope::cli {

namespace {

double total(const Tensor& t, int64_t b, int64_t per) {
  double s = 0;
  for (int64_t i = 0; i < per; ++i) s += t.f[b * per + i];
  return s;
}

// The written map(s) of sample b: the chosen CovLRP map(s), plus the aleatoric term for Gaussian heads.
Tensor written_maps(const relevance::CovExplanation& c, const std::string& which, const Shape& input_shape) {
  const int64_t n = input_shape[0], per = c.marg.numel() / n;
  const std::vector<const Tensor*> parts = which == "both" ? std::vector<const Tensor*>{&c.diag, &c.marg}
                                                           : std::vector<const Tensor*>{which == "diag" ? &c.diag : &c.marg};
  const int64_t k_count = static_cast<int64_t>(parts.size());
  Shape shape = input_shape;
  if (k_count > 1) shape.insert(shape.begin() + 1, k_count);
  Tensor out = Tensor::zeros(shape);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < k_count; ++k)
      for (int64_t i = 0; i < per; ++i)
        out.f[(b * k_count + k) * per + i] =
            parts[k]->f[b * per + i] + (c.aleatoric.f.empty() ? 0.0f : c.aleatoric.f[b * per + i]);
  return out;
}

}  // namespace

// ---- explain_cov_command ------------------------------------------------------------------------------
int explain_cov_command(const Args& a, Session& model, const relevance::ExplainRequest& request, const Tensor& x,
                        bool channels_last, const std::optional<render::Palette>& palette) {
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> others;
  for (const auto& path : request.variance.ensemble) {
    owned.push_back(std::make_unique<Session>(Session::load_file(path, model.limits())));
    owned.back()->graph().require_supported();
    others.push_back(owned.back().get());
  }
  const auto c = relevance::explain_cov(model, others, {x}, request);
  std::printf("method cov-lrp (LRP, composite %s) over %s\n", request.composite.c_str(), c.members_text.c_str());
  std::printf("explained: %s\n", c.explained.c_str());
  const int64_t n = x.shape[0], per = x.numel() / n, m_count = c.members;
  for (int64_t b = 0; b < n; ++b) {
    std::string outs;
    double mean = 0;
    for (int64_t m = 0; m < m_count; ++m) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.6g", m ? " " : "", c.member_outputs.f[m * n + b]);
      outs += buf;
      mean += c.member_outputs.f[m * n + b] / static_cast<double>(m_count);
    }
    if (m_count > 8) outs = "(" + std::to_string(m_count) + " values)";
    std::printf("sample %lld: member outputs %s; mean %.6g\n", static_cast<long long>(b), outs.c_str(), mean);
    std::printf("sample %lld: CovLRP-marg total = %.6g; variance of ensemble outputs = %.6g; CovLRP-diag total = %.6g\n",
                static_cast<long long>(b), total(c.marg, b, per), c.output_variance[b], total(c.diag, b, per));
    if (!c.aleatoric.f.empty()) {
      double mean_var = 0;
      for (int64_t m = 0; m < m_count; ++m) mean_var += c.member_variances.f[m * n + b] / static_cast<double>(m_count);
      std::printf("sample %lld: aleatoric term total = %.6g; mean member variance = %.6g (%s); predictive variance = %.6g\n",
                  static_cast<long long>(b), total(c.aleatoric, b, per), mean_var, c.aleatoric_explained.c_str(),
                  mean_var + c.output_variance[b]);
    }
  }
  const std::string which = request.variance.cov;
  const Tensor maps = written_maps(c, which, x.shape);
  const std::string what = (which == "both" ? std::string("CovLRP-diag and CovLRP-marg (N x 2 x input dims)") : "CovLRP-" + which) +
                           (c.aleatoric.f.empty() ? "" : " + aleatoric term");
  if (a.has("out")) {
    write_npy_file(a.get("out", ""), maps);
    std::printf("wrote %s %s: %s\n", a.get("out", "").c_str(), shape_str(maps.shape).c_str(), what.c_str());
  }
  if (palette) {
    const int64_t k_count = which == "both" ? 2 : 1;
    Tensor flat = maps;
    Shape per_sample(x.shape.begin() + 1, x.shape.end());
    per_sample.insert(per_sample.begin(), n * k_count);
    flat.shape = per_sample;
    write_heatmaps(a.get("heatmap", ""), flat, n * k_count, channels_last, *palette);
  }
  return 0;
}

// ---- cmd_drivers --------------------------------------------------------------------------------------
// relscope drivers MODEL DATA --mean-features 0,1,2 --var-features 3,4 [--method m1,m2,...] [--composite C]
// For each method: the share of |R| on the true drivers, for the mean and for the variance explanation.
int cmd_drivers(int argc, char** argv) {
  std::set<std::string> options = {"mean-features", "var-features", "method", "composite", "mean-unit", "var-unit",
                                   "var-kind", "epsilon", "stabilizer", "steps", "samples", "noise", "seed",
                                   "window", "stride", "baseline"};
  options.insert(input_value_options().begin(), input_value_options().end());
  const Args a = parse_args(argc, argv, 2, options, input_flag_options());
  if (a.positional.size() != 2 || !a.has("mean-features") || !a.has("var-features"))
    fail_input("usage: relscope drivers MODEL.onnx DATA.npy|DATA.csv --mean-features i,j,... --var-features k,l,... "
               "[--method m1,m2,...] [--composite C]");
  const auto mean_features = parse_int_list(a.get("mean-features", ""), "--mean-features");
  const auto var_features = parse_int_list(a.get("var-features", ""), "--var-features");
  Session s = Session::load_file(a.positional[0]);
  s.graph().require_supported();
  Tensor x = std::move(load_inputs({a.positional[1]}, s.graph(), a, s.limits()).front().tensor);
  if (x.dtype == DType::Int64) x = Tensor::from_floats(x.shape, x.as_floats());

  // Every method gets the same text parameters; tabular defaults: epsilon composite (a flat first layer
  // would spread relevance evenly over the features) and 1-feature occlusion windows.
  relevance::RequestText text;
  for (const auto& [name, value] : a.options)
    if (relevance::request_option_names().count(name) && name != "method") text.values[name] = value;
  if (!text.values.count("composite")) text.values["composite"] = "epsilon";
  const std::vector<std::string> methods = [&] {
    std::vector<std::string> list;
    const std::string m = a.get("method", "lrp,gradient,gradient-x-input,integrated-gradients,smoothgrad,occlusion");
    size_t start = 0;
    for (size_t comma; (comma = m.find(',', start)) != std::string::npos; start = comma + 1) list.push_back(m.substr(start, comma - start));
    list.push_back(m.substr(start));
    return list;
  }();
  relevance::Explainer explainer(s);
  std::printf("%s over %lld samples: mean drivers %s, variance drivers %s\n", s.graph().label.c_str(),
              static_cast<long long>(x.shape.empty() ? 1 : x.shape[0]), a.get("mean-features", "").c_str(),
              a.get("var-features", "").c_str());
  for (const char* v : {"mean", "variance"}) {   // what the two columns explain, settled (and checked) once
    relevance::RequestText t = text;
    t.values["explain"] = v;
    auto r = relevance::parse_request(t, s.graph());
    std::printf("%s explanation: %s\n", v, relevance::apply_explain_choice(s, {x}, r).c_str());
  }
  std::printf("%-34s %14s %18s\n", "method", "mean -> drivers", "variance -> drivers");
  for (const auto& method : methods) {
    if (method == "cov-lrp" || method == "crp")
      fail_input("--method " + method + ": drivers compares first-order explanations of one model");
    double share[2] = {0, 0};
    for (int v = 0; v < 2; ++v) {
      relevance::RequestText t = text;
      t.values["method"] = method;
      t.values["explain"] = v ? "variance" : "mean";
      if (method == "occlusion" && !t.values.count("window")) t.values["window"] = "1", t.values["stride"] = "1";
      auto r = relevance::parse_request(t, s.graph());
      relevance::apply_explain_choice(s, {x}, r);
      const auto e = explainer.explain({x}, r);
      share[v] = relevance::driver_share(e.relevance, v ? var_features : mean_features, v ? "--var-features" : "--mean-features");
    }
    const bool lrp = method == "lrp" || method == "pruned-lrp";
    const std::string label = lrp ? method + " (" + text.values["composite"] + ")" : method;
    std::printf("%-34s %13.1f%% %17.1f%%\n", label.c_str(), 100.0 * share[0], 100.0 * share[1]);
  }
  return 0;
}

}  // namespace relscope::cli
