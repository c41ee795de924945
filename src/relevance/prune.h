// relscope/relevance/prune.h — pruned LRP (PLRP-lambda, Yanez Sarmiento et al. 2024) and sparsity.
//
// Sections: PruneOptions | prune_sample() | gini() | LayerPruneReport
//
// Per sample and per linear layer (every one except the layer nearest the input), once the sweep has the
// complete relevance of the layer's input (a hidden representation; the explained input itself is never
// pruned — its sparsity comes from the layers above): the entries carrying the smallest share of the
// relevance mass are zeroed and the survivors rescaled so the layer's total is unchanged. Positive and
// negative relevance are pruned on their own (each with its own proportion) and each keeps its own mass,
// so the layer's sum, its positive part and its negative part are all conserved; with one proportion for
// both (`--prune P`) this is the paper's PLRP-lambda on each sign. P = 0 leaves R untouched, bit for bit.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace relscope::relevance {

struct PruneProportion {
  float pos = 0.0f;   // share of the positive relevance mass removed, in [0, 1]
  float neg = 0.0f;   // share of the negative relevance mass removed, in [0, 1]
};

struct PruneOptions {
  PruneProportion all;                               // every prunable layer
  std::map<std::string, PruneProportion> at_node;    // linear layer name -> proportions for its input
};

// Prunes one sample's relevance `r[0..n)` in place: within each sign, entries are taken in order of
// increasing |r| (ties: lower index first) and zeroed while the zeroed mass stays <= p * that sign's mass;
// survivors of each sign are scaled so the sign's mass is unchanged. Returns how many entries were zeroed.
// Throws BadInput when a proportion is outside [0, 1] or not finite.
int64_t prune_sample(float* r, int64_t n, PruneProportion p);

// Gini coefficient of |x| (0: all equal, -> 1: all mass on one entry); 0 for an all-zero x.
// G = sum_i (2i - n - 1) |x|_(i) / (n sum |x|), with |x|_(i) sorted ascending, i = 1..n.
double gini(const float* x, int64_t n);

// What pruning did at one layer (the sample-average for a batch).
struct LayerPruneReport {
  std::string node;             // the linear layer whose input was pruned
  double zeroed_fraction = 0;   // entries set to zero / entries
  double gini_before = 0, gini_after = 0;
};

}  // namespace relscope::relevance
