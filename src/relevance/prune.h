// relscope/relevance/prune.h — pruned LRP (PLRP-lambda, Yanez Sarmiento et al. 2024) and sparsity.
//
// Sections: PruneOptions (PLRP-lambda / PLRP-M) | prune_sample() | gini() | LayerPruneReport
//
// Per sample and per linear layer (every one except the layer nearest the input), once the sweep has the
// complete relevance of the layer's input (a hidden representation; the explained input itself is never
// pruned — its sparsity comes from the layers above): the entries carrying the smallest share of the
// relevance mass are zeroed and the survivors rescaled so the layer's total is unchanged. Positive and
// negative relevance are pruned on their own (each with its own proportion) and each keeps its own mass,
// so the layer's sum, its positive part and its negative part are all conserved; with one proportion for
// both (`--prune P`) this is the paper's PLRP-lambda on each sign. P = 0 leaves R untouched, bit for bit.
//
// PLRP-M (`--prune-mode mask`) chooses the same entries but, instead of rescaling, masks their activations
// and runs the layer's rule again: the pruned inputs leave both the numerator and the denominator of the
// rule, so each output neuron's relevance is redistributed over the surviving inputs in proportion to
// their contributions (the paper's modified propagation matrix). The pruned set is chosen from the
// relevance this layer sends to its input (for a value read by one layer, its complete relevance).
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

enum class PruneMode {
  Lambda,   // PLRP-lambda: zero the pruned entries, rescale the survivors (one pass)
  Mask,     // PLRP-M: mask the pruned inputs' activations and re-run the layer's rule (a second pass per layer)
};

struct PruneOptions {
  PruneMode mode = PruneMode::Lambda;
  PruneProportion all;                               // every prunable layer
  std::map<std::string, PruneProportion> at_node;    // linear layer name -> proportions for its input
};

// Prunes one sample's relevance `r[0..n)` in place: within each sign, entries are taken in order of
// increasing |r| (ties: lower index first) and zeroed while the zeroed mass stays <= p * that sign's mass;
// survivors of each sign are scaled so the sign's mass is unchanged. Returns how many entries were zeroed.
// Throws BadInput when a proportion is outside [0, 1] or not finite.
int64_t prune_sample(float* r, int64_t n, PruneProportion p);

// PLRP-M's choice: keep[k] = 0 for the entries prune_sample would zero in `r[0..n)`, 1 otherwise
// (entries with r = 0 are kept: they carry no relevance to prune). `r` is not changed. Returns the
// number of masked entries.
int64_t prune_mask(const float* r, int64_t n, PruneProportion p, float* keep);

// "lambda" | "mask" -> PruneMode; BadInput naming `what` otherwise.
PruneMode parse_prune_mode(const std::string& text, const std::string& what);

// Gini coefficient of |x| (0: all equal, -> 1: all mass on one entry); 0 for an all-zero x.
// G = sum_i (2i - n - 1) |x|_(i) / (n sum |x|), with |x|_(i) sorted ascending, i = 1..n.
double gini(const float* x, int64_t n);

// What pruning did at one layer (the sample-average for a batch).
struct LayerPruneReport {
  std::string node;             // the linear layer whose input was pruned
  double zeroed_fraction = 0;   // entries set to zero / entries
  double gini_before = 0, gini_after = 0;
  // Sum of the relevance after / before pruning. PLRP-lambda keeps it (1); PLRP-M loses the relevance of
  // output units whose every contributing input was masked (their rule has nothing left to divide by).
  double kept = 1;
};

}  // namespace relscope::relevance
