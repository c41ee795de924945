// relscope/cli/cmd_explain.cpp — `relscope explain` and `relscope rules`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "core/error.h"
#include "engine/session.h"
#include "io/npy.h"
#include "relevance/explain.h"

namespace relscope::cli {

namespace {

// Symbolic dims become 1: the shapes `relscope rules` plans for.
std::vector<Tensor> example_inputs(const Graph& g) {
  std::vector<Tensor> in;
  for (int v : g.inputs) {
    Shape s;
    for (const auto& d : g.values[v].declared.dims) s.push_back(d.value >= 0 ? d.value : 1);
    in.push_back(Tensor::zeros(s, g.values[v].declared.elem_type == onnx::kInt64 ? DType::Int64 : DType::Float32));
  }
  return in;
}

}  // namespace

int cmd_explain(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert("out");
  const Args a = parse_args(argc, argv, 2, options);
  if (a.positional.size() != 2 || !a.has("out"))
    fail_input("usage: relscope explain MODEL.onnx INPUT.npy --out R.npy [--method M] [--composite C] [--target T] ...");
  Session s = Session::load_file(a.positional[0]);
  const auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"));
  Tensor x = read_npy_file(a.positional[1], s.limits());
  if (x.dtype == DType::Int64) x = Tensor::from_floats(x.shape, x.as_floats());
  relevance::Explainer explainer(s);
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = explainer.explain({x}, request);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& note : e.notes) std::printf("%s\n", note.c_str());
  const int64_t n = static_cast<int64_t>(e.targets.size()), per_out = e.output.numel() / n, per_in = x.numel() / n;
  std::printf("method %s%s, %.1f ms\n", request.method.c_str(), request.method == "lrp" ? (" (" + request.composite + ")").c_str() : "", ms);
  for (int64_t b = 0; b < n; ++b) {
    double sum = 0, max_abs = 0;
    for (int64_t i = 0; i < per_in; ++i) {
      sum += e.relevance.f[b * per_in + i];
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(e.relevance.f[b * per_in + i])));
    }
    std::printf("sample %lld: target %lld (output %.6g), sum R %.6g, max |R| %.6g\n", static_cast<long long>(b),
                static_cast<long long>(e.targets[b]), e.output.f[b * per_out + e.targets[b]], sum, max_abs);
  }
  write_npy_file(a.get("out", ""), e.relevance);
  std::printf("wrote %s %s\n", a.get("out", "").c_str(), shape_str(e.relevance.shape).c_str());
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
