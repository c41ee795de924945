// relscope/relevance/request.cpp — named text parameters -> ExplainRequest (see request.h).
#include "relevance/request.h"

#include <cstdlib>

#include "core/error.h"
#include "core/number_list.h"

namespace relscope::relevance {

namespace {

// The value of `name`, parsed as a whole; `fallback` when absent.
struct Reader {
  const RequestText& text;
  const std::string& prefix;

  bool has(const std::string& name) const { return text.values.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const {
    const auto it = text.values.find(name);
    return it == text.values.end() ? fallback : it->second;
  }
  long long get_int(const std::string& name, long long fallback) const {
    const auto it = text.values.find(name);
    if (it == text.values.end()) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end) fail_input(prefix + name + ": '" + it->second + "' is not an integer");
    return v;
  }
  double get_double(const std::string& name, double fallback) const {
    const auto it = text.values.find(name);
    if (it == text.values.end()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end) fail_input(prefix + name + ": '" + it->second + "' is not a number");
    return v;
  }
};

}  // namespace

const std::set<std::string>& request_option_names() {
  static const std::set<std::string> names = {"method", "composite", "epsilon", "gamma", "alpha", "beta",
                                              "low", "high", "target", "output", "steps", "samples",
                                              "noise", "seed", "window", "stride", "baseline",
                                              "stabilizer", "prune", "prune-pos", "prune-neg", "prune-mode", "layer",
                                              "channels", "joint"};
  static const std::set<std::string> all = [] {   // + the variance-heatmap names (variance_options.h)
    std::set<std::string> n = names;
    n.insert(variance_option_names().begin(), variance_option_names().end());
    return n;
  }();
  return all;
}

size_t output_index(const Graph& g, const std::string& which, const std::string& what) {
  for (size_t k = 0; k < g.outputs.size(); ++k)
    if (g.values[g.outputs[k]].name == which) return k;
  char* end = nullptr;
  const long k = std::strtol(which.c_str(), &end, 10);
  if (!which.empty() && !*end && k >= 0 && static_cast<size_t>(k) < g.outputs.size()) return static_cast<size_t>(k);
  std::string names;
  for (int v : g.outputs) names += (names.empty() ? "" : ", ") + g.values[v].name;
  fail_input(what + ": '" + which + "' is not an output of " + g.label + " (outputs: " + names + ")");
}

ExplainRequest parse_request(const RequestText& text, const Graph& g, const std::string& prefix) {
  for (const auto& [name, value] : text.values)
    if (!request_option_names().count(name)) fail_input("unknown parameter " + prefix + name);
  const Reader a{text, prefix};
  const std::string p = prefix;
  ExplainRequest r;
  r.method = a.get("method", "lrp");
  r.composite = a.get("composite", "epsilon-plus-flat");
  r.params.epsilon = static_cast<float>(a.get_double("epsilon", 1e-6));
  r.params.stabilizer = static_cast<float>(a.get_double("stabilizer", 1e-6));
  r.params.gamma = static_cast<float>(a.get_double("gamma", 0.25));
  r.params.alpha = static_cast<float>(a.get_double("alpha", 2.0));
  r.params.beta = static_cast<float>(a.get_double("beta", r.params.alpha - 1.0));
  if (r.params.alpha - r.params.beta != 1.0f) fail_input(p + "alpha/" + p + "beta: alpha - beta must be 1");
  if (a.has("low")) r.params.low = parse_float_list(a.get("low", ""), p + "low");
  if (a.has("high")) r.params.high = parse_float_list(a.get("high", ""), p + "high");
  if (r.params.low.size() != r.params.high.size())
    fail_input(p + "low and " + p + "high must have the same number of values");
  for (const auto& o : text.rules) r.overrides[o.node] = parse_rule(o.rule, o.what);
  const std::string target = a.get("target", "pred");
  if (target != "pred") r.targets = parse_int_list(target, p + "target");
  if (a.has("output")) r.output = output_index(g, a.get("output", ""), p + "output");
  r.steps = static_cast<int>(a.get_int("steps", 20));
  r.samples = static_cast<int>(a.get_int("samples", 20));
  r.noise = static_cast<float>(a.get_double("noise", 0.1));
  r.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  r.window = static_cast<int>(a.get_int("window", 8));
  r.stride = static_cast<int>(a.get_int("stride", 8));
  r.baseline = static_cast<float>(a.get_double("baseline", 0.0));

  // pruned-lrp: --prune P sets both signs; --prune-pos / --prune-neg set one; --prune-at NODE=P or
  // NODE=Ppos:Pneg one layer; --prune-mode lambda (rescale) | mask (PLRP-M). Ranges are checked by the
  // pruner, before any work.
  const float both = static_cast<float>(a.get_double("prune", 0.0));
  r.prune.all = {static_cast<float>(a.get_double("prune-pos", both)), static_cast<float>(a.get_double("prune-neg", both))};
  for (const auto& o : text.prune_at) {
    const size_t colon = o.rule.find(':');
    const std::vector<float> pos = parse_float_list(o.rule.substr(0, colon), o.what);
    const std::vector<float> neg = colon == std::string::npos ? pos : parse_float_list(o.rule.substr(colon + 1), o.what);
    if (pos.size() != 1 || neg.size() != 1) fail_input(o.what + ": expected NODE=P or NODE=Ppos:Pneg");
    r.prune.at_node[o.node] = {pos[0], neg[0]};
  }
  r.prune.mode = parse_prune_mode(a.get("prune-mode", "lambda"), p + "prune-mode");
  if ((a.has("prune") || a.has("prune-pos") || a.has("prune-neg") || a.has("prune-mode") || !text.prune_at.empty()) &&
      r.method != "pruned-lrp")
    fail_input(p + "prune: only used with " + p + "method pruned-lrp");

  // crp (and concept ranking): --layer NODE, --channels c1,c2,..., --joint.
  r.crp.layer = a.get("layer", "");
  if (a.has("channels")) r.crp.channels = parse_int_list(a.get("channels", ""), p + "channels");
  const std::string joint = a.get("joint", "0");
  if (joint != "0" && joint != "1" && joint != "true" && joint != "false") fail_input(p + "joint: '" + joint + "' is not true or false");
  r.crp.joint = joint == "1" || joint == "true";
  if (r.method == "crp" && r.crp.layer.empty()) fail_input("method crp needs " + p + "layer NODE (a Conv/Gemm name, see `relscope rules`)");
  if (r.method == "crp" && r.crp.channels.empty()) fail_input("method crp needs " + p + "channels c1,c2,...");
  r.variance = parse_variance_options(text.values, r.method, p);
  return r;
}

}  // namespace relscope::relevance
