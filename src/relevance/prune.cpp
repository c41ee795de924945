// relscope/relevance/prune.cpp — relevance pruning of one sample, and the Gini sparsity measure.
#include "relevance/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kernels/kernels.h"

namespace relscope::relevance {

namespace {

void check_proportion(float p, const char* which) {
  if (!std::isfinite(p) || p < 0.0f || p > 1.0f)
    fail_input(std::string("prune proportion (") + which + ") must be in [0, 1], got " + std::to_string(p));
}

}  // namespace

int64_t prune_sample(float* r, int64_t n, PruneProportion p) {
  check_proportion(p.pos, "positive");
  check_proportion(p.neg, "negative");
  return kernels::prune_relevance(r, n, p.pos, p.neg);
}

int64_t prune_mask(const float* r, int64_t n, PruneProportion p, float* keep) {
  check_proportion(p.pos, "positive");
  check_proportion(p.neg, "negative");
  return kernels::prune_keep_mask(r, n, p.pos, p.neg, keep);
}

PruneMode parse_prune_mode(const std::string& text, const std::string& what) {
  if (text == "lambda") return PruneMode::Lambda;
  if (text == "mask") return PruneMode::Mask;
  fail_input(what + ": '" + text + "' is not a pruning mode (lambda: rescale the kept relevance, PLRP-lambda; "
             "mask: mask the pruned activations and propagate again, PLRP-M)");
}

double gini(const float* x, int64_t n) {
  if (n <= 0) return 0;
  std::vector<double> a(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) a[k] = std::fabs(static_cast<double>(x[k]));
  std::sort(a.begin(), a.end());
  const double total = std::accumulate(a.begin(), a.end(), 0.0);
  if (total <= 0) return 0;
  double weighted = 0;
  for (int64_t i = 0; i < n; ++i) weighted += static_cast<double>(2 * (i + 1) - n - 1) * a[i];
  return weighted / (static_cast<double>(n) * total);
}

}  // namespace relscope::relevance
