// relscope/cli/cmd_explain.cpp — `relscope explain` (relevance as .npy and/or heatmap PNGs) and `relscope rules`.
//
// Sections: cmd_explain (cov-lrp: cmd_variance.cpp; heatmap files: heatmap_files.h) | cmd_rules
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli/args.h"
#include "cli/threads_option.h"
#include "cli/commands.h"
#include "cli/cmd_variance.h"
#include "cli/explain_args.h"
#include "cli/heatmap_files.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "engine/session.h"
#include "io/file.h"
#include "io/npy.h"
#include "relevance/explain.h"
#include "relevance/gaussian_head.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace relscope::cli {

int cmd_explain(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"out", "heatmap", "cmap", kThreadsOption});
  options.insert(input_value_options().begin(), input_value_options().end());
  auto flags = input_flag_options();
  flags.insert(explain_flag_options().begin(), explain_flag_options().end());
  const Args a = parse_args(argc, argv, 2, options, flags);
  apply_threads_option(a);
  if (a.positional.size() != 2 || (!a.has("out") && !a.has("heatmap")))
    fail_input("usage: relscope explain MODEL.onnx INPUT --out R.npy and/or --heatmap H.png [--cmap NAME] [--method M] "
               "[--composite C] [--target T] ...");
  if (a.has("cmap") && !a.has("heatmap")) fail_input("--cmap: only used with --heatmap H.png");
  // Compiled before the (possibly long) explanation so that a misspelt colormap fails at once.
  std::optional<render::Palette> palette;
  if (a.has("heatmap")) palette = render::get_colormap(a.get("cmap", "bwr")).palette();
  Session s = Session::load_file(a.positional[0]);
  auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"), repeated_option(argc, argv, "prune-at"));
  LoadedInput input = std::move(load_inputs({a.positional[1]}, s.graph(), a, s.limits()).front());
  Tensor x = std::move(input.tensor);
  if (x.dtype == DType::Int64) x = Tensor::from_floats(x.shape, x.as_floats());
  if (request.method == "cov-lrp") return explain_cov_command(a, s, request, x, input.channels_last, palette);
  // --explain mean|variance of a Gaussian head: picks the output and unit; say which quantity it is.
  const std::string explained = relevance::apply_explain_choice(s, {x}, request);
  if (!explained.empty()) std::printf("explained: %s\n", explained.c_str());
  relevance::Explainer explainer(s);
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = explainer.explain({x}, request);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& note : e.notes) std::printf("%s\n", note.c_str());
  const int64_t n = static_cast<int64_t>(e.targets.size()), per_out = e.output.numel() / n;
  std::printf("method %s, %.1f ms\n", relevance::method_label(request.method, request.composite).c_str(), ms);
  for (const auto& layer : e.pruning)
    std::printf("pruned input of %s: %.1f%% of entries %s, Gini %.3f -> %.3f, relevance kept %.1f%%\n",
                layer.node.c_str(), 100.0 * layer.zeroed_fraction,
                request.prune.mode == relevance::PruneMode::Mask ? "masked" : "zeroed", layer.gini_before,
                layer.gini_after, 100.0 * layer.kept);
  // crp maps are (N, K, input dims...) unless --joint: one line per sample and concept.
  const bool per_concept = request.method == "crp" && !request.crp.joint;
  const int64_t maps = per_concept ? static_cast<int64_t>(request.crp.channels.size()) : 1, per_map = x.numel() / n;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < maps; ++k) {
      const float* r = e.relevance.f.data() + (b * maps + k) * per_map;
      double sum = 0, max_abs = 0;
      for (int64_t i = 0; i < per_map; ++i) {
        sum += r[i];
        max_abs = std::max(max_abs, std::fabs(static_cast<double>(r[i])));
      }
      const std::string concept_label = per_concept ? ", channel " + std::to_string(request.crp.channels[k]) : "";
      std::printf("sample %lld%s: target %lld (output %.6g), sum R %.6g, max |R| %.6g, Gini %.3f\n", static_cast<long long>(b),
                  concept_label.c_str(), static_cast<long long>(e.targets[b]), e.output.f[b * per_out + e.targets[b]], sum,
                  max_abs, relevance::gini(r, per_map));
    }
  if (a.has("out")) {
    write_npy_file(a.get("out", ""), e.relevance);
    std::printf("wrote %s %s\n", a.get("out", "").c_str(), shape_str(e.relevance.shape).c_str());
  }
  if (palette) {   // crp: one heatmap per sample and concept, H_<sample*K + k>.png
    Tensor flat = e.relevance;
    Shape per_sample(x.shape.begin() + 1, x.shape.end());
    per_sample.insert(per_sample.begin(), n * maps);
    flat.shape = per_sample;
    write_heatmaps(a.get("heatmap", ""), flat, n * maps, input.channels_last, *palette);
  }
  return 0;
}

int cmd_rules(int argc, char** argv) {
  const Args a = parse_args(argc, argv, 2, explain_value_options());
  if (a.positional.size() != 1) fail_input("usage: relscope rules MODEL.onnx [--composite NAME] [--rule NODE=RULE]...");
  Session s = Session::load_file(a.positional[0]);
  const auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"));
  relevance::Explainer explainer(s);
  const auto rules = explainer.rules_for(example_inputs(s.graph()), request);
  const Graph& g = explainer.canonical_graph();
  for (const auto& m : explainer.canonize_report().merged) std::printf("# canonizer: merged BatchNorm %s\n", m.c_str());
  std::printf("# composite %s\n", request.composite.c_str());
  size_t width = 4;
  for (const auto& n : g.nodes) width = std::max(width, n.name.size());
  for (size_t k = 0; k < g.nodes.size(); ++k)
    std::printf("%-*s  %-20s %s\n", static_cast<int>(width), g.nodes[k].name.c_str(), g.nodes[k].op_type.c_str(),
                rules[k].describe().c_str());
  return 0;
}

}  // namespace relscope::cli
