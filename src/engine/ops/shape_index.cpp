// relscope/engine/ops/shape_index.cpp — ops that select or place elements by index.
//
// Sections: Concat | Split | Slice | Gather | Pad | registration
//
// dtype-generic (float32 and int64), like shape.cpp, and for the same reasons.
#include <algorithm>
#include <limits>

#include "engine/op_registry.h"
#include "engine/ops/broadcast.h"
#include "graph/op_params.h"

namespace relscope {

namespace {

std::string label(const InferCtx& c) { return c.graph.node_label(c.node); }

// (outer, axis, inner) view of a shape around `axis`.
void split_around(const Shape& s, int64_t axis, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    if (d < axis) *outer *= s[d];
    else if (d > axis) *inner *= s[d];
}

// ---- Concat -------------------------------------------------------------------------------------------------------
void infer_concat(InferCtx& c) {
  const Shape& first = c.shape(0);
  if (!c.node.attrs.has("axis")) c.error("attribute 'axis' is required");
  const int64_t axis = normalize_axis(c.node.attrs.get_int("axis", 0), static_cast<int64_t>(first.size()), "axis", label(c));
  Shape out = first;
  out[axis] = 0;
  for (size_t k = 0; k < c.num_inputs(); ++k) {
    const Shape& s = c.shape(k);
    if (c.in_dtypes[k] != c.in_dtypes[0]) c.error("inputs mix float32 and int64");
    bool ok = s.size() == first.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = static_cast<int64_t>(d) == axis || s[d] == first[d];
    if (!ok) c.error("input " + std::to_string(k) + " " + shape_str(s) + " does not match " + shape_str(first) + " outside axis " + std::to_string(axis));
    out[axis] += s[axis];
  }
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

template <class T>
void concat_values(RunCtx& c, int64_t axis) {
  auto& y = storage<T>(*c.out[0]);
  int64_t outer, inner;
  split_around(c.out[0]->shape, axis, &outer, &inner);
  const int64_t out_row = c.out[0]->shape[axis] * inner;
  int64_t offset = 0;
  for (const Tensor* t : c.in) {
    const auto& x = storage<T>(*t);
    const int64_t row = t->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o) std::copy(x.begin() + o * row, x.begin() + (o + 1) * row, y.begin() + o * out_row + offset);
    offset += row;
  }
}

void run_concat(RunCtx& c) {
  const int64_t r = static_cast<int64_t>(c.out[0]->shape.size());
  int64_t axis = c.node.attrs.get_int("axis", 0);
  if (axis < 0) axis += r;
  if (c.out[0]->dtype == DType::Float32)
    concat_values<float>(c, axis);
  else
    concat_values<int64_t>(c, axis);
}

// ---- Split: sizes from the attribute (< 13) or input 1 (>= 13), else equal parts (opset 18: num_outputs) ----------
std::vector<int64_t> split_sizes(const Node& n, int64_t opset, const Tensor* split_input, int64_t dim, size_t outputs,
                                 const std::string& where) {
  std::vector<int64_t> sizes = opset < 13 ? n.attrs.get_ints("split") : (split_input ? split_input->as_ints() : std::vector<int64_t>{});
  if (sizes.empty()) {
    const int64_t parts = n.attrs.get_int("num_outputs", static_cast<int64_t>(outputs));
    if (parts <= 0 || static_cast<size_t>(parts) != outputs) fail_input(where + ": num_outputs does not match the node's outputs");
    const int64_t each = (dim + parts - 1) / parts;   // opset 18: the last part may be smaller
    if (opset < 18 && dim % parts) fail_input(where + ": cannot split a dimension of " + std::to_string(dim) + " into " + std::to_string(parts) + " equal parts");
    for (int64_t k = 0; k < parts; ++k) sizes.push_back(std::max<int64_t>(0, std::min(each, dim - k * each)));
  }
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) fail_input(where + ": negative split size");
    total = s > dim - total ? dim + 1 : total + s;   // saturates past dim: hostile sizes cannot overflow the sum
  }
  if (total != dim || sizes.size() != outputs)
    fail_input(where + ": split " + shape_str(sizes) + " does not divide a dimension of " + std::to_string(dim) + " into " + std::to_string(outputs) + " outputs");
  return sizes;
}

void infer_split(InferCtx& c) {
  const Shape& x = c.shape(0);
  const int64_t axis = normalize_axis(c.node.attrs.get_int("axis", 0), static_cast<int64_t>(x.size()), "axis", label(c));
  const Tensor* split = c.has_input(1) ? &c.constant(1, "split") : nullptr;
  const auto sizes = split_sizes(c.node, c.opset, split, x[axis], c.node.outputs.size(), label(c));
  for (int64_t s : sizes) {
    Shape o = x;
    o[axis] = s;
    c.out_shapes.push_back(o);
    c.out_dtypes.push_back(c.in_dtypes[0]);
  }
}

template <class T>
void split_values(RunCtx& c, int64_t axis) {
  const auto& x = storage<T>(*c.in[0]);
  int64_t outer, inner;
  split_around(c.in[0]->shape, axis, &outer, &inner);
  const int64_t in_row = c.in[0]->shape[axis] * inner;
  int64_t offset = 0;
  for (size_t k = 0; k < c.node.outputs.size(); ++k) {
    const int64_t size = c.out[k] ? c.out[k]->shape[axis] : 0;
    if (c.out[k]) {
      auto& y = storage<T>(*c.out[k]);
      const int64_t row = size * inner;
      for (int64_t o = 0; o < outer; ++o) std::copy(x.begin() + o * in_row + offset, x.begin() + o * in_row + offset + row, y.begin() + o * row);
      offset += row;
    } else {   // an omitted output still occupies its part: recompute its size
      const Tensor* split = c.in.size() > 1 ? c.in[1] : nullptr;
      const auto sizes = split_sizes(c.node, c.opset, split, c.in[0]->shape[axis], c.node.outputs.size(), c.graph.node_label(c.node));
      offset += sizes[k] * inner;
    }
  }
}

void run_split(RunCtx& c) {
  const int64_t axis = normalize_axis(c.node.attrs.get_int("axis", 0), c.in[0]->rank(), "axis", c.graph.node_label(c.node));
  if (c.in[0]->dtype == DType::Float32)
    split_values<float>(c, axis);
  else
    split_values<int64_t>(c, axis);
}

// ---- Slice: per-axis start, step, count after ONNX's clamping rules ------------------------------------------------
struct SliceAxis {
  int64_t start = 0, step = 1, count = 0;
};

std::vector<SliceAxis> slice_plan(const Node& n, int64_t opset, const Shape& x, const std::vector<const Tensor*>& in,
                                  const std::string& where) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    starts = n.attrs.get_ints("starts");
    ends = n.attrs.get_ints("ends");
    axes = n.attrs.get_ints("axes");
  } else {
    auto get = [&](size_t k) { return k < in.size() && in[k] ? in[k]->as_ints() : std::vector<int64_t>{}; };
    starts = get(1);
    ends = get(2);
    axes = get(3);
    steps = get(4);
  }
  const int64_t r = static_cast<int64_t>(x.size());
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail_input(where + ": starts, ends, axes and steps must have the same length");
  std::vector<SliceAxis> plan(x.size());
  for (int64_t d = 0; d < r; ++d) plan[d] = {0, 1, x[d]};
  std::vector<bool> seen(x.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t d = normalize_axis(axes[k], r, "axes entry", where);
    if (seen[d]) fail_input(where + ": axis " + std::to_string(d) + " is sliced twice");
    seen[d] = true;
    const int64_t dim = x[d], step = steps[k];
    if (step == 0) fail_input(where + ": step 0 is not allowed");
    int64_t s = starts[k], e = ends[k];
    if (s < 0) s += dim;
    if (e < 0 && e > std::numeric_limits<int64_t>::min() / 2) e += dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    // Hostile steps (found by the explain fuzzer): -INT64_MIN and span + step - 1 overflow. Any step longer than
    // the dimension takes one element, so the magnitude is capped at dim + 1 before the ceiling division.
    const int64_t span = step > 0 ? e - s : s - e;
    const int64_t mag = step > 0 ? std::min(step, dim + 1) : (step < -dim - 1 ? dim + 1 : -step);
    plan[d] = {s, step > 0 ? mag : -mag, span > 0 ? 1 + (span - 1) / mag : 0};
  }
  return plan;
}

void infer_slice(InferCtx& c) {
  const Shape& x = c.shape(0);
  std::vector<const Tensor*> in(c.num_inputs(), nullptr);
  static const char* names[] = {"data", "starts", "ends", "axes", "steps"};
  for (size_t k = 1; k < c.num_inputs(); ++k)
    if (c.has_input(k)) in[k] = &c.constant(k, names[k]);
  Shape out;
  for (const auto& a : slice_plan(c.node, c.opset, x, in, label(c))) out.push_back(a.count);
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

template <class T>
void slice_values(RunCtx& c, const std::vector<SliceAxis>& plan) {
  const auto& x = storage<T>(*c.in[0]);
  auto& y = storage<T>(*c.out[0]);
  const auto strides = shape_strides(c.in[0]->shape);
  const size_t r = plan.size();
  std::vector<int64_t> idx(r, 0);
  for (size_t o = 0; o < y.size(); ++o) {
    int64_t from = 0;
    for (size_t d = 0; d < r; ++d) from += (plan[d].start + idx[d] * plan[d].step) * strides[d];
    y[o] = x[from];
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < plan[d].count) break;
      idx[d] = 0;
    }
  }
}

void run_slice(RunCtx& c) {
  const auto plan = slice_plan(c.node, c.opset, c.in[0]->shape, c.in, c.graph.node_label(c.node));
  if (c.in[0]->dtype == DType::Float32)
    slice_values<float>(c, plan);
  else
    slice_values<int64_t>(c, plan);
}

// ---- Gather: out = data.shape[:axis] + indices.shape + data.shape[axis+1:] ------------------------------------------
void infer_gather(InferCtx& c) {
  const Shape &x = c.shape(0), &ind = c.shape(1);
  if (c.in_dtypes[1] != DType::Int64) c.error("indices must be integers");
  const int64_t axis = normalize_axis(c.node.attrs.get_int("axis", 0), static_cast<int64_t>(x.size()), "axis", label(c));
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), ind.begin(), ind.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

template <class T>
void gather_values(RunCtx& c, int64_t axis) {
  const auto& x = storage<T>(*c.in[0]);
  const auto& ind = c.in[1]->i;
  auto& y = storage<T>(*c.out[0]);
  int64_t outer, inner;
  split_around(c.in[0]->shape, axis, &outer, &inner);
  const int64_t dim = c.in[0]->shape[axis], n = static_cast<int64_t>(ind.size());
  for (int64_t k = 0; k < n; ++k)
    if (ind[k] < -dim || ind[k] >= dim)
      c.error("index " + std::to_string(ind[k]) + " is out of range for a dimension of " + std::to_string(dim));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t j = ind[k] < 0 ? ind[k] + dim : ind[k];
      std::copy(x.begin() + (o * dim + j) * inner, x.begin() + (o * dim + j + 1) * inner, y.begin() + (o * n + k) * inner);
    }
}

void run_gather(RunCtx& c) {
  const int64_t axis = normalize_axis(c.node.attrs.get_int("axis", 0), c.in[0]->rank(), "axis", c.graph.node_label(c.node));
  if (c.in[0]->dtype == DType::Float32)
    gather_values<float>(c, axis);
  else
    gather_values<int64_t>(c, axis);
}

// ---- Pad: pads [b1..bn, e1..en] (attribute < 11, constant input from 11; opset 18 axes); negative pads crop -----------
struct PadPlan {
  std::string mode;
  std::vector<int64_t> begin, end;
};

PadPlan pad_plan(const Node& n, int64_t opset, int64_t rank, const std::vector<const Tensor*>& in, const std::string& where) {
  PadPlan p;
  p.mode = n.attrs.get_string("mode", "constant");
  if (p.mode != "constant" && p.mode != "reflect" && p.mode != "edge")
    fail(ErrorKind::Unsupported, where + ": mode '" + p.mode + "' is not supported (constant, reflect, edge)");
  std::vector<int64_t> pads = opset < 11 ? n.attrs.get_ints(opset < 2 ? "paddings" : "pads") : (in.size() > 1 && in[1] ? in[1]->as_ints() : std::vector<int64_t>{});
  std::vector<int64_t> axes;
  if (in.size() > 3 && in[3]) axes = in[3]->as_ints();
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  if (pads.size() != 2 * axes.size())
    fail_input(where + ": pads " + shape_str(pads) + " needs " + std::to_string(2 * axes.size()) + " values");
  p.begin.assign(static_cast<size_t>(rank), 0);
  p.end.assign(static_cast<size_t>(rank), 0);
  // Keeps dim + begin + end far from int64 overflow (the explain fuzzer found pads of -2^62); a real pad
  // is far smaller, and the output's size is checked against the limits after.
  constexpr int64_t kMaxPad = int64_t{1} << 40;
  for (int64_t v : pads)
    if (v > kMaxPad || v < -kMaxPad)
      fail_input(where + ": pads " + shape_str(pads) + " has an entry beyond +-" + std::to_string(kMaxPad));
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t d = normalize_axis(axes[k], rank, "axes entry", where);
    p.begin[d] = pads[k];
    p.end[d] = pads[k + axes.size()];
  }
  return p;
}

void infer_pad(InferCtx& c) {
  const Shape& x = c.shape(0);
  std::vector<const Tensor*> in(c.num_inputs(), nullptr);
  for (size_t k = 1; k < c.num_inputs(); ++k)   // the fill value is read at run time; pads and axes shape the output
    if (c.has_input(k) && k != 2) in[k] = &c.constant(k, k == 1 ? "pads" : "axes");
  if (c.has_input(2) && shape_numel(c.shape(2)) > 1) c.error("constant_value must be a scalar");
  const PadPlan p = pad_plan(c.node, c.opset, static_cast<int64_t>(x.size()), in, label(c));
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t o = x[d] + p.begin[d] + p.end[d];
    if (o < 0) c.error("pads crop dimension " + std::to_string(d) + " of " + shape_str(x) + " below zero");
    if (p.mode != "constant" && x[d] == 0 && o > 0) c.error("cannot " + p.mode + "-pad an empty dimension");
    out.push_back(o);
  }
  c.out_shapes = {out};
  c.out_dtypes = {c.in_dtypes[0]};
}

template <class T>
void pad_values(RunCtx& c, const PadPlan& p, T fill) {
  const auto& x = storage<T>(*c.in[0]);
  auto& y = storage<T>(*c.out[0]);
  const Shape &xs = c.in[0]->shape, &ys = c.out[0]->shape;
  const auto strides = shape_strides(xs);
  const size_t r = xs.size();
  std::vector<int64_t> idx(r, 0);
  for (size_t o = 0; o < y.size(); ++o) {
    int64_t from = 0;
    bool inside = true;
    for (size_t d = 0; d < r; ++d) {
      int64_t i = idx[d] - p.begin[d];
      const int64_t dim = xs[d];
      if (i < 0 || i >= dim) {
        if (p.mode == "constant") {
          inside = false;
          break;
        }
        if (p.mode == "edge") {
          i = std::clamp<int64_t>(i, 0, dim - 1);
        } else {   // reflect, repeated for pads wider than the dimension
          const int64_t period = 2 * (dim - 1);
          i = period == 0 ? 0 : ((i % period) + period) % period;
          if (i >= dim) i = period - i;
        }
      }
      from += i * strides[d];
    }
    y[o] = inside ? x[from] : fill;
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < ys[d]) break;
      idx[d] = 0;
    }
  }
}

void run_pad(RunCtx& c) {
  const PadPlan p = pad_plan(c.node, c.opset, c.in[0]->rank(), c.in, c.graph.node_label(c.node));
  const bool has_value = c.opset >= 11 && c.in.size() > 2 && c.in[2] && c.in[2]->numel() > 0;
  if (c.in[0]->dtype == DType::Float32)
    pad_values<float>(c, p, has_value ? c.in[2]->as_floats()[0] : c.opset < 11 ? c.node.attrs.get_float("value", 0.0f) : 0.0f);
  else
    pad_values<int64_t>(c, p, has_value ? c.in[2]->as_ints()[0] : 0);
}

}  // namespace

void register_index_ops(OpTable& t) {
  t.add(Op::Concat, infer_concat, run_concat, 1, 1 << 20);
  t.add(Op::Split, infer_split, run_split, 1, 2);
  t.add(Op::Slice, infer_slice, run_slice, 1, 5);
  t.add(Op::Gather, infer_gather, run_gather, 2, 2);
  t.add(Op::Pad, infer_pad, run_pad, 1, 4);
}

}  // namespace relscope
