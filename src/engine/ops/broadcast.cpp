// relscope/engine/ops/broadcast.cpp — numpy broadcasting of two shapes.
#include "engine/ops/broadcast.h"

namespace relscope {

bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out) {
  const size_t r = std::max(a.size(), b.size());
  Shape s(r, 1);
  for (size_t k = 0; k < r; ++k) {
    const int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    const int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    s[k] = da == 1 ? db : da;
  }
  *out = std::move(s);
  return true;
}

}  // namespace relscope
