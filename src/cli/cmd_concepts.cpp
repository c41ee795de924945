// relscope/cli/cmd_concepts.cpp — `relscope concepts`: which channels of a layer carry the explanation (CRP
// concept ranking), per sample, most relevant first; with --graph C, channel C's attribution graph.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_args.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "engine/session.h"
#include "io/npy.h"
#include "relevance/attribution.h"
#include "relevance/explain.h"

namespace relscope::cli {

namespace {

// One tree per sample: each line a concept (layer:channel) and its relevance conditional on the path above.
int print_attribution_graphs(relevance::Explainer& explainer, const Tensor& x, const relevance::ExplainRequest& request,
                             long long channel, int depth, int top) {
  const int64_t n = x.shape.empty() ? 1 : x.shape[0];
  for (int64_t b = 0; b < n; ++b) {
    relevance::ExplainRequest one = request;   // --target K1,K2,...: sample b's own
    if (request.targets.size() > 1) {
      if (static_cast<int64_t>(request.targets.size()) != n)
        fail_input("--target: " + std::to_string(request.targets.size()) + " targets for a batch of " + std::to_string(n));
      one.targets = {request.targets[b]};
    }
    const auto g = relevance::attribution_graph(explainer, {slice_batch(x, b, 1)}, one, request.crp.layer, channel, depth, top, "--");
    std::printf("sample %lld: target %lld (output %.6g); attribution graph of %s channel %lld, depth %d, top %d\n",
                static_cast<long long>(b), static_cast<long long>(g.target), g.output, request.crp.layer.c_str(), channel, depth, top);
    // Depth-first print order from the breadth-first node list.
    std::vector<std::vector<int>> children(g.nodes.size());
    for (size_t k = 1; k < g.nodes.size(); ++k) children[g.nodes[k].parent].push_back(static_cast<int>(k));
    std::vector<int> stack = {0};
    while (!stack.empty()) {
      const int k = stack.back();
      stack.pop_back();
      const auto& node = g.nodes[k];
      std::printf("  %*s%s:%lld  %.6g\n", 2 * node.depth, "", node.layer.c_str(), static_cast<long long>(node.channel), node.relevance);
      for (auto it = children[k].rbegin(); it != children[k].rend(); ++it) stack.push_back(*it);
    }
  }
  return 0;
}

}  // namespace

int cmd_concepts(int argc, char** argv) {
  auto options = explain_value_options();
  options.insert({"out", "top", "graph", "depth"});
  options.insert(input_value_options().begin(), input_value_options().end());
  const Args a = parse_args(argc, argv, 2, options, input_flag_options());
  if (a.positional.size() != 2 || !a.has("layer"))
    fail_input("usage: relscope concepts MODEL.onnx INPUT --layer NODE [--top K] [--out C.npy] [--graph CHANNEL [--depth D]] "
               "[--composite C] [--target T] ...");
  Session s = Session::load_file(a.positional[0]);
  const auto request = explain_request(a, s.graph(), repeated_option(argc, argv, "rule"));
  const long long top = a.get_int("top", 10);
  if (top < 1) fail_input("--top must be at least 1");
  Tensor x = std::move(load_inputs({a.positional[1]}, s.graph(), a, s.limits()).front().tensor);
  if (x.dtype == DType::Int64) x = Tensor::from_floats(x.shape, x.as_floats());
  relevance::Explainer explainer(s);
  if (a.has("graph")) return print_attribution_graphs(explainer, x, request, a.get_int("graph", 0),
                                                      static_cast<int>(a.get_int("depth", 2)), static_cast<int>(a.has("top") ? top : 3));
  if (a.has("depth")) fail_input("--depth: only used with --graph CHANNEL");
  const auto c = explainer.concepts({x}, request);
  const int64_t n = c.relevance.shape[0], channels = c.relevance.shape[1], per_out = c.output.numel() / n;
  std::printf("# layer %s (%lld channels), composite %s\n", request.crp.layer.c_str(), static_cast<long long>(channels),
              request.composite.c_str());
  for (int64_t b = 0; b < n; ++b) {
    std::printf("sample %lld: target %lld (output %.6g)\n", static_cast<long long>(b), static_cast<long long>(c.targets[b]),
                c.output.f[b * per_out + c.targets[b]]);
    const float* r = c.relevance.f.data() + b * channels;
    const std::vector<int64_t> order = relevance::rank_channels(r, channels);
    std::printf("  %-8s %14s %10s\n", "channel", "relevance", "share");
    for (int64_t k = 0; k < std::min<int64_t>(top, channels); ++k)
      std::printf("  %-8lld %14.6g %9.2f%%\n", static_cast<long long>(order[k]), r[order[k]],
                  100.0 * c.normalized.f[b * channels + order[k]]);
  }
  if (a.has("out")) {
    write_npy_file(a.get("out", ""), c.relevance);
    std::printf("wrote %s %s\n", a.get("out", "").c_str(), shape_str(c.relevance.shape).c_str());
  }
  return 0;
}

}  // namespace relscope::cli
