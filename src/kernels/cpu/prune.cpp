// relscope/kernels/cpu/prune.cpp — pruned LRP's choice of entries on one sample (kernels.h), the reference
// for the GPU's prune.wgsl.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"

namespace relscope::kernels {

namespace {

// The entries of one sign (`idx`: their positions) that go: the longest prefix of idx sorted by (|r|, index)
// whose mass stays within p of the sign's mass, keeping at least one entry (p = 1 would otherwise lose the
// sign's relevance altogether). Sorts idx; returns the prefix length (0: nothing goes) and the masses.
struct Cut {
  size_t length = 0;
  double mass = 0, removed = 0;
};

Cut choose_cut(const float* r, std::vector<int64_t>& idx, float p) {
  Cut cut;
  if (p <= 0.0f || idx.size() < 2) return cut;
  std::stable_sort(idx.begin(), idx.end(), [r](int64_t a, int64_t b) { return std::fabs(r[a]) < std::fabs(r[b]); });
  for (int64_t k : idx) cut.mass += std::fabs(static_cast<double>(r[k]));
  const double budget = static_cast<double>(p) * cut.mass;
  while (cut.length + 1 < idx.size() && cut.removed + std::fabs(static_cast<double>(r[idx[cut.length]])) <= budget)
    cut.removed += std::fabs(static_cast<double>(r[idx[cut.length++]]));
  return cut;
}

// Calls act(idx, cut) for each sign with entries (idx: their positions, sorted by (|r|, index) when the
// sign is pruned at all) and returns the entries cut over both signs.
template <class Act>
int64_t for_each_cut(const float* r, int64_t n, float p_pos, float p_neg, Act&& act) {
  std::vector<int64_t> signs[2];
  for (int64_t k = 0; k < n; ++k) {
    if (r[k] > 0.0f) signs[0].push_back(k);
    else if (r[k] < 0.0f) signs[1].push_back(k);
  }
  int64_t total = 0;
  for (int s = 0; s < 2; ++s) {
    const Cut cut = choose_cut(r, signs[s], s == 0 ? p_pos : p_neg);
    act(signs[s], cut);
    total += static_cast<int64_t>(cut.length);
  }
  return total;
}

}  // namespace

int64_t prune_relevance(float* r, int64_t n, float p_pos, float p_neg) {
  if (p_pos <= 0.0f && p_neg <= 0.0f) return 0;
  return for_each_cut(r, n, p_pos, p_neg, [r](const std::vector<int64_t>& idx, const Cut& cut) {
    if (cut.length == 0) return;
    for (size_t k = 0; k < cut.length; ++k) r[idx[k]] = 0.0f;
    const double scale = cut.mass / (cut.mass - cut.removed);
    for (size_t k = cut.length; k < idx.size(); ++k) r[idx[k]] = static_cast<float>(r[idx[k]] * scale);
  });
}

int64_t prune_keep_mask(const float* r, int64_t n, float p_pos, float p_neg, float* keep) {
  std::fill(keep, keep + n, 1.0f);
  if (p_pos <= 0.0f && p_neg <= 0.0f) return 0;
  return for_each_cut(r, n, p_pos, p_neg, [keep](const std::vector<int64_t>& idx, const Cut& cut) {
    for (size_t k = 0; k < cut.length; ++k) keep[idx[k]] = 0.0f;
  });
}

}  // namespace relscope::kernels
