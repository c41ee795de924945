// core/tensor.h's first_non_finite: the index of the first NaN or Inf, found through branch-free chunks of 1024,
// against a plain std::isfinite scan: at chunk edges, in a short last chunk, every kind of non-finite value,
// and the finite values nearest to them (the largest float, subnormals, -0) that must not count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace relscope {
namespace {

size_t plain_scan(const std::vector<float>& v) {
  for (size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k])) return k;
  return v.size();
}

TEST(CoreTensor, FirstNonFiniteFindsTheFirstNanOrInfAnywhere) {
  using L = std::numeric_limits<float>;
  const float bad[] = {L::quiet_NaN(), -L::quiet_NaN(), L::signaling_NaN(), L::infinity(), -L::infinity()};
  for (size_t n : {size_t{1}, size_t{1023}, size_t{1024}, size_t{1025}, size_t{3000}}) {
    std::vector<float> v(n);
    for (size_t k = 0; k < n; ++k) v[k] = static_cast<float>(k % 7) - 3.0f;
    v[0] = L::max(), v[n / 2] = -L::max(), v[n - 1] = L::denorm_min();
    if (n > 2) v[1] = -0.0f;
    EXPECT_EQ(first_non_finite(v), n) << "all finite, n " << n;
    for (size_t at : {size_t{0}, n / 2, size_t{1023}, size_t{1024}, n - 1}) {
      if (at >= n) continue;
      for (float b : bad) {
        std::vector<float> w = v;
        w[at] = b;
        if (at + 5 < n) w[at + 5] = L::infinity();   // a later one does not matter
        EXPECT_EQ(first_non_finite(w), at) << "n " << n << " at " << at << " value " << b;
        EXPECT_EQ(first_non_finite(w), plain_scan(w));
      }
    }
  }
  EXPECT_EQ(first_non_finite(std::vector<float>{}), 0u);
}

}  // namespace
}  // namespace relscope
