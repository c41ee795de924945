// relscope/cli/explain_args.h — the flags shared by explain, rules and bench --method: one parser.
#pragma once
#include <set>
#include <string>

#include "cli/args.h"
#include "engine/session.h"
#include "relevance/explain.h"

namespace relscope::cli {

// Value options and flags understood by explain_request().
const std::set<std::string>& explain_value_options();
const std::set<std::string>& explain_flag_options();

// --method --composite --epsilon --stabilizer --gamma --alpha --beta --low --high --rule --target --output
// --steps --samples --noise --seed --window --stride --baseline --prune --prune-pos --prune-neg --prune-at
// --layer --channels --joint (see relevance/request.h). `rule` and `prune-at` may repeat: Args keeps the
// last, so they come from `rule_specs` / `prune_specs` (every one given, collected by the caller).
relevance::ExplainRequest explain_request(const Args& a, const Graph& g, const std::vector<std::string>& rule_specs,
                                          const std::vector<std::string>& prune_specs = {});

// Every value of a repeatable option, in order.
std::vector<std::string> repeated_option(int argc, char** argv, const std::string& name);

}  // namespace relscope::cli
