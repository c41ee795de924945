// relscope/cli/explain_args.cpp — flags -> ExplainRequest, with every value checked.
#include "cli/explain_args.h"

#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace relscope::cli {

namespace {

std::vector<float> float_list(const std::string& text, const std::string& what) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end) fail_input(what + ": '" + text + "' is not a comma-separated list of numbers");
    out.push_back(v);
  }
  return out;
}

size_t output_index(const Graph& g, const std::string& which) {
  for (size_t k = 0; k < g.outputs.size(); ++k)
    if (g.values[g.outputs[k]].name == which) return k;
  char* end = nullptr;
  const long k = std::strtol(which.c_str(), &end, 10);
  if (!which.empty() && !*end && k >= 0 && static_cast<size_t>(k) < g.outputs.size()) return static_cast<size_t>(k);
  std::string names;
  for (int v : g.outputs) names += (names.empty() ? "" : ", ") + g.values[v].name;
  fail_input("--output: '" + which + "' is not an output of " + g.label + " (outputs: " + names + ")");
}

}  // namespace

const std::set<std::string>& explain_value_options() {
  static const std::set<std::string> o = {"method", "composite", "epsilon", "gamma", "alpha", "beta", "low", "high",
                                          "rule", "target", "output", "steps", "samples", "noise", "seed", "window",
                                          "stride", "baseline"};
  return o;
}

std::vector<std::string> repeated_option(int argc, char** argv, const std::string& name) {
  std::vector<std::string> out;
  const std::string flag = "--" + name;
  for (int k = 2; k < argc; ++k) {
    const std::string s = argv[k];
    if (s == flag && k + 1 < argc) out.push_back(argv[++k]);
    else if (s.rfind(flag + "=", 0) == 0) out.push_back(s.substr(flag.size() + 1));
  }
  return out;
}

relevance::ExplainRequest explain_request(const Args& a, const Graph& g, const std::vector<std::string>& rule_specs) {
  relevance::ExplainRequest r;
  r.method = a.get("method", "lrp");
  r.composite = a.get("composite", "epsilon-plus-flat");
  r.params.epsilon = static_cast<float>(a.get_double("epsilon", 1e-6));
  r.params.gamma = static_cast<float>(a.get_double("gamma", 0.25));
  r.params.alpha = static_cast<float>(a.get_double("alpha", 2.0));
  r.params.beta = static_cast<float>(a.get_double("beta", r.params.alpha - 1.0));
  if (r.params.alpha - r.params.beta != 1.0f) fail_input("--alpha/--beta: alpha - beta must be 1");
  if (a.has("low")) r.params.low = float_list(a.get("low", ""), "--low");
  if (a.has("high")) r.params.high = float_list(a.get("high", ""), "--high");
  if (r.params.low.size() != r.params.high.size()) fail_input("--low and --high must have the same number of values");
  for (const auto& spec : rule_specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail_input("--rule '" + spec + "': expected NODE=RULE[:params]");
    r.overrides[spec.substr(0, eq)] = relevance::parse_rule(spec.substr(eq + 1), "--rule " + spec);
  }
  const std::string target = a.get("target", "pred");
  if (target != "pred")
    for (long long t : parse_int_list(target, "--target")) r.targets.push_back(t);
  if (a.has("output")) r.output = output_index(g, a.get("output", ""));
  r.steps = static_cast<int>(a.get_int("steps", 20));
  r.samples = static_cast<int>(a.get_int("samples", 20));
  r.noise = static_cast<float>(a.get_double("noise", 0.1));
  r.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  r.window = static_cast<int>(a.get_int("window", 8));
  r.stride = static_cast<int>(a.get_int("stride", 8));
  r.baseline = static_cast<float>(a.get_double("baseline", 0.0));
  return r;
}

}  // namespace relscope::cli
