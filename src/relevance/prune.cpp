// relscope/relevance/prune.cpp — relevance pruning of one sample, and the Gini sparsity measure.
#include "relevance/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace relscope::relevance {

namespace {

void check_proportion(float p, const char* which) {
  if (!std::isfinite(p) || p < 0.0f || p > 1.0f)
    fail_input(std::string("prune proportion (") + which + ") must be in [0, 1], got " + std::to_string(p));
}

// Prunes the entries of one sign (`idx`: their positions) so that the removed mass is at most p of the
// sign's mass, keeping at least one entry (p = 1 would otherwise lose the layer's relevance altogether),
// then rescales the survivors to the sign's mass.
int64_t prune_one_sign(float* r, std::vector<int64_t>& idx, float p) {
  if (p <= 0.0f || idx.size() < 2) return 0;
  std::stable_sort(idx.begin(), idx.end(), [r](int64_t a, int64_t b) { return std::fabs(r[a]) < std::fabs(r[b]); });
  double mass = 0;
  for (int64_t k : idx) mass += std::fabs(static_cast<double>(r[k]));
  const double budget = static_cast<double>(p) * mass;
  double removed = 0;
  size_t cut = 0;
  while (cut + 1 < idx.size() && removed + std::fabs(static_cast<double>(r[idx[cut]])) <= budget)
    removed += std::fabs(static_cast<double>(r[idx[cut++]]));
  if (cut == 0) return 0;
  for (size_t k = 0; k < cut; ++k) r[idx[k]] = 0.0f;
  const double scale = mass / (mass - removed);
  for (size_t k = cut; k < idx.size(); ++k) r[idx[k]] = static_cast<float>(r[idx[k]] * scale);
  return static_cast<int64_t>(cut);
}

}  // namespace

int64_t prune_sample(float* r, int64_t n, PruneProportion p) {
  check_proportion(p.pos, "positive");
  check_proportion(p.neg, "negative");
  if (p.pos == 0.0f && p.neg == 0.0f) return 0;
  std::vector<int64_t> pos, neg;
  for (int64_t k = 0; k < n; ++k) {
    if (r[k] > 0.0f) pos.push_back(k);
    else if (r[k] < 0.0f) neg.push_back(k);
  }
  return prune_one_sign(r, pos, p.pos) + prune_one_sign(r, neg, p.neg);
}

int64_t prune_mask(const float* r, int64_t n, PruneProportion p, float* keep) {
  std::vector<float> pruned(r, r + n);
  const int64_t zeroed = prune_sample(pruned.data(), n, p);
  for (int64_t k = 0; k < n; ++k) keep[k] = (r[k] != 0.0f && pruned[k] == 0.0f) ? 0.0f : 1.0f;
  return zeroed;
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
