// relscope/engine/ops/shape.cpp — ops that change shape but not values, and shape/constant sources.
//
// Sections: helpers | Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout (copies) | Transpose |
//           Constant | Shape | registration
//
// Every data-movement op here works for float32 and int64 alike (PyTorch exports move int64 shape
// tensors through the same ops), and the relevance sweep differentiates them by running them on int64
// source indices, so they must stay dtype-generic.
#include <algorithm>

#include "engine/op_registry.h"
#include "engine/ops/broadcast.h"
#include "graph/op_params.h"

namespace relscope {

namespace {

// ---- helpers ---------------------------------------------------------------------------------------------------
void copy_values(const Tensor& x, Tensor& y) {
  if (x.dtype == DType::Float32)
    std::copy(x.f.begin(), x.f.end(), y.f.begin());
  else
    std::copy(x.i.begin(), x.i.end(), y.i.begin());
}

void run_copy(RunCtx& c) { copy_values(*c.in[0], *c.out[0]); }

// Axes from an attribute (before `input_from_opset`) or from constant input 1.
std::vector<int64_t> axes_of(InferCtx& c, int64_t input_from_opset) {
  if (c.opset >= input_from_opset) {
    if (c.node.attrs.has("axes")) c.error("attribute 'axes' is input 1 from opset " + std::to_string(input_from_opset) + " on");
    return c.has_input(1) ? c.constant(1, "axes").as_ints() : std::vector<int64_t>{};
  }
  return c.node.attrs.get_ints("axes");
}

// ---- Flatten ------------------------------------------------------------------------------------------------------
void infer_flatten(InferCtx& c) {
  const Shape& x = c.shape(0);
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = c.node.attrs.get_int("axis", 1);
  if (axis < -r || axis > r) c.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < r; ++d) (d < axis ? outer : inner) *= x[d];
  c.out_shapes = {{outer, inner}};
  c.out_dtypes = {c.in_dtypes[0]};
}

// ---- Reshape: 0 copies the input dim (unless allowzero), one -1 is inferred --------------------------------------
void infer_reshape(InferCtx& c) {
  const Shape& x = c.shape(0);
  std::vector<int64_t> target;
  if (c.opset < 5) {
    target = c.node.attrs.get_ints("shape");
  } else {
    const Tensor& t = c.constant(1, "shape");
    if (t.dtype != DType::Int64 || t.rank() != 1) c.error("input 'shape' must be a 1-D int64 tensor, got " + shape_str(t.shape));
    target = t.i;
  }
  const bool allowzero = c.node.attrs.get_int("allowzero", 0) != 0;
  Shape out(target.size());
  int infer_at = -1;
  int64_t known = 1;
  for (size_t k = 0; k < target.size(); ++k) {
    int64_t d = target[k];
    if (d == 0 && !allowzero) {
      if (k >= x.size()) c.error("shape " + shape_str(target) + " copies dimension " + std::to_string(k) + " (0) but the input " + shape_str(x) + " has none");
      d = x[k];
    }
    if (d == -1) {
      if (infer_at >= 0) c.error("shape " + shape_str(target) + " has more than one -1");
      infer_at = static_cast<int>(k);
      continue;
    }
    if (d < 0) c.error("shape " + shape_str(target) + " has a negative dimension");
    out[k] = d;
    if (__builtin_mul_overflow(known, d, &known))   // (a hostile shape; found by tests/fuzz/fuzz_explain)
      c.error("cannot reshape " + shape_str(x) + " to " + shape_str(target) + ": the dimensions' product overflows int64");
  }
  const int64_t n = shape_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || n % known) c.error("cannot reshape " + shape_str(x) + " to " + shape_str(target));
    out[infer_at] = n / known;
  } else if (known != n) {
    c.error("cannot reshape " + shape_str(x) + " (" + std::to_string(n) + " elements) to " + shape_str(out));
  }
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

// ---- Squeeze / Unsqueeze: axes attribute before opset 13, input from 13 -------------------------------------------
void infer_squeeze(InferCtx& c) {
  const Shape& x = c.shape(0);
  const int64_t r = static_cast<int64_t>(x.size());
  std::vector<bool> drop(x.size(), false);
  const auto axes = axes_of(c, 13);
  if (axes.empty()) {
    for (size_t d = 0; d < x.size(); ++d) drop[d] = x[d] == 1;
  } else {
    for (int64_t a : axes) {
      const int64_t d = normalize_axis(a, r, "axes entry", c.graph.node_label(c.node));
      if (x[d] != 1) c.error("cannot squeeze axis " + std::to_string(a) + " of " + shape_str(x) + ": its size is not 1");
      drop[d] = true;
    }
  }
  Shape out;
  for (size_t d = 0; d < x.size(); ++d)
    if (!drop[d]) out.push_back(x[d]);
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

void infer_unsqueeze(InferCtx& c) {
  const Shape& x = c.shape(0);
  const auto axes = axes_of(c, 13);
  if (axes.empty()) c.error("axes are required");
  const int64_t r = static_cast<int64_t>(x.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    const int64_t d = normalize_axis(a, r, "axes entry", c.graph.node_label(c.node));
    if (inserted[d]) c.error("axes " + shape_str(axes) + " name dimension " + std::to_string(d) + " twice");
    inserted[d] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < r; ++d) out.push_back(inserted[d] ? 1 : x[next++]);
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

void infer_same(InferCtx& c) {
  c.out_shapes = {c.shape(0)};
  c.out_dtypes = {c.in_dtypes[0]};
}

// ---- Dropout: inference is the identity; the optional mask output is all true ------------------------------------
void infer_dropout(InferCtx& c) {
  if (c.has_input(2) && c.in_values[2] && !c.in_values[2]->as_ints().empty() && c.in_values[2]->as_ints()[0] != 0)
    c.unsupported("training_mode = true: relscope runs models in inference mode only");
  if (c.has_input(2) && !c.in_values[2]) c.unsupported("training_mode must be a constant");
  c.out_shapes = {c.shape(0), c.shape(0)};
  c.out_dtypes = {c.in_dtypes[0], DType::Int64};
}

void run_dropout(RunCtx& c) {
  copy_values(*c.in[0], *c.out[0]);
  if (c.out.size() > 1 && c.out[1]) std::fill(c.out[1]->i.begin(), c.out[1]->i.end(), 1);
}

// ---- Transpose ------------------------------------------------------------------------------------------------------
std::vector<int64_t> perm_of(const Node& n, size_t rank) {
  std::vector<int64_t> perm = n.attrs.get_ints("perm");
  if (perm.empty())
    for (size_t d = 0; d < rank; ++d) perm.push_back(static_cast<int64_t>(rank - 1 - d));
  return perm;
}

void infer_transpose(InferCtx& c) {
  const Shape& x = c.shape(0);
  const auto perm = perm_of(c.node, x.size());
  std::vector<bool> seen(x.size(), false);
  if (perm.size() != x.size()) c.error("perm " + shape_str(perm) + " does not match the input's rank " + std::to_string(x.size()));
  Shape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(x.size()) || seen[p]) c.error("perm " + shape_str(perm) + " is not a permutation");
    seen[p] = true;
    out.push_back(x[p]);
  }
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

template <class T>
void transpose_values(const Tensor& x, Tensor& y, const std::vector<int64_t>& perm) {
  const auto& src = storage<T>(x);
  auto& dst = storage<T>(y);
  const auto in_strides = shape_strides(x.shape);
  const size_t r = perm.size();
  if (r == 0) {   // a scalar is its own transpose
    dst = src;
    return;
  }
  std::vector<int64_t> step(r);   // input stride of each output dim
  for (size_t d = 0; d < r; ++d) step[d] = in_strides[perm[d]];
  std::vector<int64_t> idx(r, 0);
  int64_t from = 0;
  for (size_t o = 0; o < dst.size(); ++o) {
    dst[o] = src[from];
    for (size_t d = r; d-- > 0;) {
      from += step[d];
      if (++idx[d] < y.shape[d]) break;
      from -= step[d] * idx[d];
      idx[d] = 0;
    }
  }
}

void run_transpose(RunCtx& c) {
  const auto perm = perm_of(c.node, c.in[0]->shape.size());
  if (c.in[0]->dtype == DType::Float32)
    transpose_values<float>(*c.in[0], *c.out[0], perm);
  else
    transpose_values<int64_t>(*c.in[0], *c.out[0], perm);
}

// ---- Constant ---------------------------------------------------------------------------------------------------------
Tensor constant_value(const InferCtx* ic, const RunCtx* rc) {
  const Node& n = ic ? ic->node : rc->node;
  const Attrs& a = n.attrs;
  if (const Tensor* t = a.get_tensor("value")) return *t;
  if (a.has("value_float")) return Tensor::from_floats({}, {a.get_float("value_float", 0)});
  if (a.has("value_floats")) {
    auto v = a.get_floats("value_floats");
    return Tensor::from_floats({static_cast<int64_t>(v.size())}, v);
  }
  if (a.has("value_int")) return Tensor::from_ints({}, {a.get_int("value_int", 0)});
  if (a.has("value_ints")) {
    auto v = a.get_ints("value_ints");
    return Tensor::from_ints({static_cast<int64_t>(v.size())}, v);
  }
  const std::string msg = a.has("sparse_value") || a.has("value_string") || a.has("value_strings")
                              ? "sparse and string constants are not supported"
                              : "needs one of the attributes value, value_float(s), value_int(s)";
  if (ic) ic->unsupported(msg);
  rc->error(msg);
}

void infer_constant(InferCtx& c) {
  const Tensor t = constant_value(&c, nullptr);
  c.out_shapes = {t.shape};
  c.out_dtypes = {t.dtype};
}

void run_constant(RunCtx& c) { *c.out[0] = constant_value(nullptr, &c); }

// ---- Shape (opset 15: start/end slice the shape) ------------------------------------------------------------------------
std::pair<int64_t, int64_t> shape_range(const Node& n, int64_t rank) {
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  const int64_t start = clamp(n.attrs.get_int("start", 0)), end = clamp(n.attrs.get_int("end", rank));
  return {start, std::max(start, end)};
}

void infer_shape(InferCtx& c) {
  const auto [s, e] = shape_range(c.node, static_cast<int64_t>(c.shape(0).size()));
  c.out_shapes = {{e - s}};
  c.out_dtypes = {DType::Int64};
}

void run_shape(RunCtx& c) {
  const Shape& x = c.in[0]->shape;
  const auto [s, e] = shape_range(c.node, static_cast<int64_t>(x.size()));
  std::copy(x.begin() + s, x.begin() + e, c.out[0]->i.begin());
}

}  // namespace

void register_index_ops(OpTable& t);   // shape_index.cpp

// ---- registration ---------------------------------------------------------------------------------------------------------
void register_shape_ops(OpTable& t) {
  // Overwrites: run_copy copies all of its input, which has the output's element count.
  t.add(Op::Flatten, infer_flatten, run_copy, 1, 1, true);
  t.add(Op::Reshape, infer_reshape, run_copy, 1, 2, true);
  t.add(Op::Squeeze, infer_squeeze, run_copy, 1, 2, true);
  t.add(Op::Unsqueeze, infer_unsqueeze, run_copy, 1, 2, true);
  t.add(Op::Identity, infer_same, run_copy, 1, 1, true);
  t.add(Op::Dropout, infer_dropout, run_dropout, 1, 3);
  t.add(Op::Transpose, infer_transpose, run_transpose, 1, 1);
  t.add(Op::Constant, infer_constant, run_constant, 0, 0);
  t.add(Op::Shape, infer_shape, run_shape, 1, 1);
  register_index_ops(t);
}

}  // namespace relscope
