// relscope/engine/ops/broadcast.h — numpy broadcasting and typed access shared by the op families.
//
// Sections: typed storage | broadcast shapes | broadcast walk
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace relscope {

// ---- typed storage: write a data-movement kernel once, for float32 and int64 ----
template <class T> std::vector<T>& storage(Tensor& t);
template <> inline std::vector<float>& storage<float>(Tensor& t) { return t.f; }
template <> inline std::vector<int64_t>& storage<int64_t>(Tensor& t) { return t.i; }
template <class T> const std::vector<T>& storage(const Tensor& t) { return storage<T>(const_cast<Tensor&>(t)); }

// ---- broadcast shapes (numpy, multidirectional); false when incompatible ----
bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out);

// ---- broadcast walk: for every output element, the flat indices of the two inputs it reads ----
// f(out_index, a_index, b_index). Same-shape and scalar operands should take faster paths first.
template <class F>
void broadcast_walk(const Shape& out, const Shape& a, const Shape& b, F&& f) {
  const size_t r = out.size();
  std::vector<int64_t> sa(r, 0), sb(r, 0);
  for (int64_t k = static_cast<int64_t>(r) - 1, st_a = 1, st_b = 1; k >= 0; --k) {
    const int64_t ka = k - static_cast<int64_t>(r - a.size()), kb = k - static_cast<int64_t>(r - b.size());
    const int64_t da = ka >= 0 ? a[ka] : 1, db = kb >= 0 ? b[kb] : 1;
    sa[k] = da == 1 ? 0 : st_a;
    sb[k] = db == 1 ? 0 : st_b;
    st_a *= da;
    st_b *= db;
  }
  const int64_t n = shape_numel(out);
  if (n == 0) return;
  if (r == 0) {
    f(0, 0, 0);
    return;
  }
  const int64_t last = out[r - 1], la = sa[r - 1], lb = sb[r - 1];
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < n; o += last) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d + 1 < r; ++d) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    for (int64_t j = 0; j < last; ++j) f(o + j, ia + j * la, ib + j * lb);
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace relscope
