// relscope/relevance/request.h — named text parameters -> ExplainRequest, shared by every front end.
//
// Sections: RequestText | parse_request() | output_index()
//
// Why text: the CLI has flags (`--epsilon 1e-3`), the JS API has an object ({epsilon: 1e-3}); both are
// turned into the same name -> text table first, so that one parser checks every value and the two
// front ends cannot drift apart (defaults, beta = alpha - 1, the alpha - beta == 1 check, list syntax).
// `prefix` is how a front end spells a parameter in messages: "--" for the CLI ("--epsilon: 'x' is not
// a number"), "" for the JS API ("epsilon: 'x' is not a number").
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "relevance/explain.h"

namespace relscope::relevance {

// One per-node rule override: `rule` in parse_rule() syntax ("zplus", "gamma:0.5"); `what` names it in
// messages ("--rule /fc1/Gemm=zplus", "rules['/fc1/Gemm']").
struct RuleOverrideText {
  std::string node, rule, what;
};

struct RequestText {
  std::map<std::string, std::string> values;   // name (request_option_names()) -> text; absent: default
  std::vector<RuleOverrideText> rules;
  std::vector<RuleOverrideText> prune_at;      // pruned-lrp per layer: `rule` holds "P" or "Ppos:Pneg"
};

// method composite epsilon stabilizer gamma alpha beta low high target output steps samples noise seed
// window stride baseline prune prune-pos prune-neg layer channels joint (rule overrides and per-layer
// prune proportions travel in RequestText::rules / prune_at).
const std::set<std::string>& request_option_names();

// Every value checked; throws BadInput naming the parameter. Unknown names are refused too.
// Values: numbers as strtod/strtoll read them (whole text), low/high "a,b,c", target "pred" | "K" | "K1,K2",
// output a graph output's name or position.
ExplainRequest parse_request(const RequestText& text, const Graph& g, const std::string& prefix = "--");

// An output's name, or its position as text -> position among g.outputs; throws BadInput listing the
// outputs. `what` names the parameter ("--output").
size_t output_index(const Graph& g, const std::string& which, const std::string& what);

}  // namespace relscope::relevance
