// relscope/cli/cmd_faithfulness.cpp — `relscope faithfulness`: pixel flipping of one or several explanations
// of the same input, against random orders (relevance/faithfulness.h), as a table and optionally as curves.
//
// Sections: what to compare | cmd_faithfulness
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "cli/input_args.h"
#include "cli/threads_option.h"
#include "core/error.h"
#include "engine/session.h"
#include "relevance/composite.h"
#include "relevance/explain.h"
#include "relevance/faithfulness.h"
#include "relevance/gaussian_head.h"

namespace relscope::cli {

namespace {

// ---- what to compare ------------------------------------------------------------------------------------

// --compare a,b,c: each a method (explained with the other flags) or a composite (lrp with it).
std::vector<relevance::ExplainRequest> compared(const std::string& list, const relevance::ExplainRequest& base) {
  std::vector<relevance::ExplainRequest> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    start = comma + 1;
    const auto& methods = relevance::method_names();
    const auto& composites = relevance::composite_names();
    relevance::ExplainRequest r = base;
    if (std::find(methods.begin(), methods.end(), item) != methods.end()) {
      r.method = item;
    } else if (std::find(composites.begin(), composites.end(), item) != composites.end()) {
      r.method = "lrp";
      r.composite = item;
    } else {
      std::string names;
      for (const auto& m : methods) names += (names.empty() ? "" : ", ") + m;
      for (const auto& c : composites) names += ", " + c;
      fail_input("--compare: '" + item + "' is neither a method nor a composite (" + names + ")");
    }
    if (r.method == "crp" || r.method == "cov-lrp")
      fail_input("--compare: " + r.method + " gives several maps or a variance map, not one map to flip");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

// ---- cmd_faithfulness -----------------------------------------------------------------------------------

int cmd_faithfulness(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"compare", "curve", kThreadsOption});
  options.insert(relevance::flip_option_names().begin(), relevance::flip_option_names().end());
  options.insert(input_value_options().begin(), input_value_options().end());
  auto flags = input_flag_options();
  flags.insert(explain_flag_options().begin(), explain_flag_options().end());
  const Args a = parse_args(argc, argv, 2, options, flags);
  apply_threads_option(a);
  if (a.positional.size() != 2)
    fail_input("usage: relscope faithfulness MODEL.onnx INPUT [--compare M1,M2,...] [--flip-steps N] [--flip-window W] "
               "[--flip-fraction F] [--flip-baseline V] [--random-orders R] [--flip-seed S] [--curve C.csv] [explain flags]");
  std::map<std::string, std::string> flip_text;
  for (const auto& [name, value] : a.options)
    if (relevance::flip_option_names().count(name)) flip_text[name] = value;
  relevance::FlipOptions flip = relevance::parse_flip_options(flip_text, "--");

  Session s = Session::load_file(a.positional[0]);
  // --compare lrp,pruned-lrp --prune 0.5: the pruning flags belong to the pruned-lrp item, so the shared
  // flags are parsed as for pruned-lrp (the other items ignore the proportions); without that item they are
  // refused as in explain (they would do nothing).
  Args shared = a;
  if (a.has("compare") && ("," + a.get("compare", "") + ",").find(",pruned-lrp,") != std::string::npos)
    shared.options["method"] = "pruned-lrp";
  const auto base = explain_request(shared, s.graph(), repeated_option(argc, argv, "rule"), repeated_option(argc, argv, "prune-at"));
  const auto requests = a.has("compare") ? compared(a.get("compare", ""), base) : std::vector<relevance::ExplainRequest>{base};
  if (!a.has("compare") && (base.method == "crp" || base.method == "cov-lrp"))
    fail_input("--method " + base.method + " gives several maps or a variance map, not one map to flip");
  LoadedInput input = std::move(load_inputs({a.positional[1]}, s.graph(), a, s.limits()).front());
  Tensor x = std::move(input.tensor);
  if (x.dtype == DType::Int64) x = Tensor::from_floats(x.shape, x.as_floats());
  flip.channels_last = input.channels_last;

  relevance::Explainer explainer(s);
  struct Row {
    std::string label;
    std::vector<relevance::FlipCurve> curves;
  };
  std::vector<Row> rows;
  std::vector<int64_t> targets;
  for (auto request : requests) {
    const std::string explained = relevance::apply_explain_choice(s, {x}, request);
    if (!explained.empty() && rows.empty()) std::printf("explained: %s\n", explained.c_str());
    // Every explanation is flipped at the first one's targets, so that all rows measure the same output.
    if (!targets.empty()) request.targets = targets;
    const auto e = explainer.explain({x}, request);
    if (targets.empty()) targets = e.targets;
    flip.output = request.output;
    rows.push_back({relevance::method_label(request.method, request.composite), relevance::pixel_flipping(s, {x}, e.relevance, e.targets, flip)});
  }

  const auto& first = rows.front().curves;
  if (first.empty()) fail_input("faithfulness: the input holds no samples");
  const int64_t units = first[0].units, removed = first[0].removed.back();
  std::printf("pixel flipping: %lld of %lld units (windows of %d%s) set to %g, most relevant first, in %zu steps; "
              "reference: %d random orders\n",
              static_cast<long long>(removed), static_cast<long long>(units), flip.window,
              x.rank() >= 3 ? ", all channels" : "", flip.baseline, first[0].removed.size() - 1, flip.random_orders);
  size_t width = 11;
  for (const auto& r : rows) width = std::max(width, r.label.size());
  for (size_t b = 0; b < first.size(); ++b) {
    std::printf("sample %zu, target %lld (output %.6g):\n", b, static_cast<long long>(first[b].target),
                first[b].relevance_first[0]);
    std::printf("  %-*s  %10s  %10s  %10s  %6s\n", static_cast<int>(width), "explanation", "AOPC", "random", "gain", "Gini");
    for (const auto& r : rows) {
      const auto& c = r.curves[b];
      std::printf("  %-*s  %10.4g  %10.4g  %10.4g  %6.3f\n", static_cast<int>(width), r.label.c_str(), c.aopc,
                  flip.random_orders > 0 ? c.aopc_random : 0.0, flip.random_orders > 0 ? c.aopc - c.aopc_random : 0.0, c.gini);
    }
  }
  if (a.has("curve")) {
    const std::string path = a.get("curve", "");
    std::ofstream f(path);
    if (!f) fail_input("--curve: cannot write " + path);
    f << "sample,explanation,point,units_removed,fraction_removed,output,output_random\n";
    char line[256];
    for (const auto& r : rows)
      for (size_t b = 0; b < r.curves.size(); ++b) {
        const auto& c = r.curves[b];
        for (size_t p = 0; p < c.removed.size(); ++p) {
          std::snprintf(line, sizeof line, "%zu,\"%s\",%zu,%lld,%.6g,%.9g,", b, r.label.c_str(), p,
                        static_cast<long long>(c.removed[p]),
                        static_cast<double>(c.removed[p]) / static_cast<double>(std::max<int64_t>(c.units, 1)),
                        c.relevance_first[p]);
          f << line;
          if (!c.random.empty()) {
            std::snprintf(line, sizeof line, "%.9g", c.random[p]);
            f << line;
          }
          f << "\n";
        }
      }
    if (!f.flush()) fail_input("--curve: cannot write " + path);
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}

}  // namespace relscope::cli
