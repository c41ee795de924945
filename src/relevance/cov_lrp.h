// relscope/relevance/cov_lrp.h — CovLRP (Bley et al.): which input features make an ensemble disagree.
//
// Sections: cov_maps() (the maths) | MC-dropout sampling | CovExplanation | explain_cov()
//
// M first-order explanations R^(m) of one input (LRP with the request's composite, one per ensemble member
// or MC-dropout sample) give Sigma = (1/M) sum_m (R^(m) - mean)(R^(m) - mean)^T. CovLRP-diag = diag Sigma;
// CovLRP-marg_i = sum_j Sigma_ij (Sigma is symmetric, so this is METHODS.md's Sigma_ii + sum_{j != i}
// (Sigma_ij + Sigma_ji)/2). With a conserving rule sum_i R^(m)_i = f_m, so sum_i marg_i is exactly the
// (population, 1/M) variance of the members' outputs. marg needs no F x F matrix: marg_i =
// (1/M) sum_m d_mi (s_m - mean s), with d = R - mean and s_m = sum_i R^(m)_i.
// Gaussian-head members: the explained quantity is the mean unit, and the aleatoric term — the members'
// average explanation of their variance sigma^2 (the variance unit's LRP map rescaled to sum to sigma^2,
// as LRP treats an output nonlinearity such as exp) — is reported next to the CovLRP maps; total
// predictive variance = var(means) + mean(sigma^2).
// MC-dropout: every Dropout node becomes a Mul by a fixed mask (keep with probability 1-p, kept values
// scaled by 1/(1-p) as PyTorch does), drawn from --seed; relevance passes through the mask as through any
// fixed multiplier (Pass), gradients are multiplied by it. Only cov-lrp samples; Dropout is the identity
// everywhere else.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/session.h"
#include "relevance/explain.h"
#include "relevance/gaussian_head.h"

namespace relscope::relevance {

// CovLRP of M maps of `per` values each (maps[m] points at member m's map).
struct CovMaps {
  std::vector<double> mean, diag, marg;
};
CovMaps cov_maps(const std::vector<const float*>& maps, int64_t per);

// The number of Dropout nodes in g.
int dropout_count(const Graph& g);
// A copy of g whose Dropout nodes multiply by masks drawn from `rng`, for the value shapes of `plan` (g's
// plan for the inputs to run). Refuses (Unsupported, naming the node) a Dropout whose mask output is read
// or whose ratio is not a constant; BadInput for a ratio outside [0, 1].
Graph sample_dropout(const Graph& g, const Plan& plan, std::mt19937_64& rng);

struct CovExplanation {
  Tensor diag, marg;          // (N, input dims...): CovLRP of the members' first-order maps
  Tensor mean;                // (N, input dims...): the members' mean first-order map ("drives the prediction")
  Tensor aleatoric;           // (N, input dims...) Gaussian heads: mean map of sigma^2; empty otherwise
  Tensor member_outputs;      // (M, N): each member's explained value
  Tensor member_variances;    // (M, N) Gaussian heads: each member's sigma^2; empty otherwise
  std::vector<double> output_variance;   // per sample: population variance of member_outputs
  std::vector<int64_t> targets;          // per sample: the explained unit (of member 0's explained output)
  std::string explained;      // "mean of output 'mean' unit 0", "output 'y' unit 3"
  std::string aleatoric_explained;       // "log-variance of output 'logvar' unit 0", Gaussian heads
  std::string members_text;   // "3 ensemble members" | "30 MC-dropout samples of 2 Dropout node(s), seed 0"
  int members = 0;
};

// Members: `model` and then `others` (ensemble), or `model` sampled request.variance.mc_dropout times.
// Each member is explained with LRP (request.composite, overrides, parameters). Targets: the request's, the
// head's mean unit, or the arg-max of the members' mean output. Errors name the member file and field.
CovExplanation explain_cov(Session& model, const std::vector<Session*>& others, const std::vector<Tensor>& inputs,
                           const ExplainRequest& request, const std::string& prefix = "--");

}  // namespace relscope::relevance
