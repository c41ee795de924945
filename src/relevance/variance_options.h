// relscope/relevance/variance_options.h — the variance-heatmap part of an ExplainRequest (plain data).
//
// Sections: VarianceOptions | parse_variance_options()
//
// Why separate from explain.h: gaussian_head.h and cov_lrp.h use these options without the Explainer, and
// explain.h only needs to carry them. Unit texts stay text here: they are resolved against a model's
// outputs and per-sample output sizes (gaussian_head.h), which a parser of flags does not know.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace relscope::relevance {

struct VarianceOptions {
  std::string explain;                 // "" (the request's output and target) | "mean" | "variance"
  std::string mean_unit, var_unit;     // "" (from names) | "K" | "OUTPUT" | "OUTPUT:K"
  std::string var_kind;                // "" (from names) | "logvar" | "var" | "sd"
  std::vector<std::string> ensemble;   // cov-lrp: member files after MODEL (front ends load them)
  int mc_dropout = 0;                  // cov-lrp: number of MC-dropout samples (0: an ensemble)
  std::string cov = "marg";            // which CovLRP map a front end writes: diag | marg | both
  bool head_given() const { return !explain.empty() || !mean_unit.empty() || !var_unit.empty() || !var_kind.empty(); }
};

// The names parse_variance_options reads (request_option_names() includes them).
const std::vector<std::string>& variance_option_names();

// explain mean-unit var-unit var-kind ensemble mc-dropout cov, from name -> text; every value and every
// combination with `method` checked (BadInput naming the parameter, spelt with `prefix`).
VarianceOptions parse_variance_options(const std::map<std::string, std::string>& values, const std::string& method,
                                       const std::string& prefix);

}  // namespace relscope::relevance
