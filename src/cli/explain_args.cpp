// relscope/cli/explain_args.cpp — flags -> ExplainRequest. The values are checked by the parser the JS
// API shares (relevance/request.h); this file only maps flags to its named text parameters.
#include "cli/explain_args.h"

#include "core/error.h"
#include "relevance/request.h"

namespace relscope::cli {

const std::set<std::string>& explain_value_options() {
  static const std::set<std::string> o = [] {
    auto names = relevance::request_option_names();
    names.erase("joint");   // a flag on the command line (explain_flag_options)
    names.insert("rule");
    names.insert("prune-at");
    return names;
  }();
  return o;
}

const std::set<std::string>& explain_flag_options() {
  static const std::set<std::string> o = {"joint"};
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

relevance::ExplainRequest explain_request(const Args& a, const Graph& g, const std::vector<std::string>& rule_specs,
                                          const std::vector<std::string>& prune_specs) {
  relevance::RequestText text;
  // Args also holds the command's own options (--out, --repeat, ...): take only the request's.
  for (const auto& [name, value] : a.options)
    if (relevance::request_option_names().count(name)) text.values[name] = value;
  for (const auto& spec : rule_specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail_input("--rule '" + spec + "': expected NODE=RULE[:params]");
    text.rules.push_back({spec.substr(0, eq), spec.substr(eq + 1), "--rule " + spec});
  }
  for (const auto& spec : prune_specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) fail_input("--prune-at '" + spec + "': expected NODE=P or NODE=Ppos:Pneg");
    text.prune_at.push_back({spec.substr(0, eq), spec.substr(eq + 1), "--prune-at " + spec});
  }
  return relevance::parse_request(text, g, "--");
}

}  // namespace relscope::cli
