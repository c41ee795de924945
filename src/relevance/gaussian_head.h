// relscope/relevance/gaussian_head.h — models that predict their own uncertainty (mean and variance).
//
// Sections: GaussianHead | find_gaussian_head() | apply_explain_choice() | head values | driver shares
//
// A Gaussian head is two outputs (e.g. 'mean' and 'logvar', one unit per sample each) or one output with
// two units per sample (e.g. 'mean_logvar'). Names decide when they can (tokens like mean/mu/loc and
// logvar/var/variance/sigma/std); otherwise the user says which unit is which (--mean-unit, --var-unit)
// and what the variance unit holds (--var-kind). Explaining the variance is explaining that unit like
// any other output (Iversen et al.): any method, any composite; what was explained is stated in words.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/session.h"
#include "relevance/variance_options.h"

namespace relscope::relevance {

struct ExplainRequest;

enum class VarKind : unsigned char { LogVariance, Variance, StdDev };

struct HeadUnit {
  size_t output = 0;   // position among the graph outputs
  int64_t unit = 0;    // index into one sample's flattened output
};

struct GaussianHead {
  HeadUnit mean, var;
  VarKind kind = VarKind::LogVariance;
  bool from_names = false;   // found by output names rather than given units
};

// Values per sample of each graph output for these inputs (planned for their first sample).
std::vector<int64_t> output_units_per_sample(Session& s, const std::vector<Tensor>& inputs);

// The head of g, from the options and the output names. `units[k]` = values per sample of output k.
// BadInput naming the output/unit/flag when the options do not fit, or when no head can be found and
// the options do not say (the message lists the outputs and the flags that would settle it).
GaussianHead find_gaussian_head(const Graph& g, const std::vector<int64_t>& units, const VarianceOptions& o,
                                const std::string& prefix = "--");
// Like find_gaussian_head with no options, but false instead of an error: names alone decide.
bool detect_gaussian_head(const Graph& g, const std::vector<int64_t>& units, GaussianHead& head);

// "log-variance of output 'y' unit 1", "mean of output 'mu' unit 0".
std::string describe_unit(const Graph& g, const GaussianHead& h, bool variance);
const char* var_kind_name(VarKind k);   // "log-variance" | "variance" | "standard deviation"

// --explain mean|variance: sets r.output and r.targets to the head's unit; returns what is explained in
// words ("" when r asks for no head). Call before Explainer::explain.
std::string apply_explain_choice(Session& s, const std::vector<Tensor>& inputs, ExplainRequest& r,
                                 const std::string& prefix = "--");

// The predicted mean and variance of sample b from one forward pass (outputs in graph-output order).
struct HeadPrediction {
  double mean = 0, variance = 0;
};
HeadPrediction head_prediction(const GaussianHead& h, const std::vector<Tensor>& outputs, int64_t b);
// The variance a value of the variance unit stands for: exp(v), v or v^2.
double to_variance(VarKind k, double v);

// Share of |R| on the true drivers: per sample sum_{i in drivers} |R_i| / sum_i |R_i| over a (N, F...)
// map, averaged over the samples (samples with R = 0 count as 0). Feature indices index one sample's
// flattened values; out of range: BadInput naming `what`.
double driver_share(const Tensor& relevance, const std::vector<int64_t>& drivers, const std::string& what);

}  // namespace relscope::relevance
