// relscope/engine/ops/pool_norm.cpp — pools, BatchNorm, LayerNorm, Softmax/LogSoftmax, ReduceMean/Sum/Max.
//
// Sections: shared checks | MaxPool / AveragePool | global pools | BatchNormalization | LayerNormalization |
//           Softmax / LogSoftmax | ReduceMean, ReduceSum, ReduceMax | registration
//
// Shape rules validate everything a model can get wrong and name it; kernels (kernels/) do the numbers.
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/op_registry.h"
#include "graph/op_params.h"
#include "kernels/kernels.h"

namespace relscope {

namespace {

// ---- shared checks ---------------------------------------------------------------------------------------
std::string where(const InferCtx& c) { return c.graph.node_label(c.node); }
std::string where(const RunCtx& c) { return c.graph.node_label(c.node); }

void require_float(const InferCtx& c, size_t k, const char* name) {
  if (c.has_input(k) && c.in_dtypes[k] != DType::Float32)
    c.unsupported(std::string("input ") + name + " is " + dtype_name(c.in_dtypes[k]) + "; this op supports float32 only");
}

void require_outputs(const InferCtx& c, size_t n) {
  if (c.node.outputs.size() > n)
    c.error("has " + std::to_string(c.node.outputs.size()) + " outputs; " + c.node.op_type + " has at most " +
            std::to_string(n));
}

bool output_wanted(const InferCtx& c, size_t k) { return k < c.node.outputs.size() && c.node.outputs[k] >= 0; }

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t k = from; k < to; ++k) n *= s[k];
  return n;
}

// ---- MaxPool / AveragePool ---------------------------------------------------------------------------------
void infer_max_pool(InferCtx& c) {
  require_float(c, 0, "X");
  require_outputs(c, 2);
  const PoolParams p = resolve_pool(c.node, c.shape(0), PoolKind::Max, where(c));
  c.out_shapes = {p.y_shape(), p.y_shape()};   // Y and the optional Indices
  c.out_dtypes = {DType::Float32, DType::Int64};
}

void run_max_pool(RunCtx& c) {
  const PoolParams p = resolve_pool(c.node, c.in[0]->shape, PoolKind::Max, where(c));
  int64_t* indices = c.out.size() > 1 && c.out[1] ? c.out[1]->i.data() : nullptr;
  kernels::max_pool(p, c.in[0]->f.data(), c.out[0]->f.data(), indices);
}

void infer_avg_pool(InferCtx& c) {
  require_float(c, 0, "X");
  require_outputs(c, 1);
  c.out_shapes = {resolve_pool(c.node, c.shape(0), PoolKind::Average, where(c)).y_shape()};
  c.out_dtypes = {DType::Float32};
}

void run_avg_pool(RunCtx& c) {
  const PoolParams p = resolve_pool(c.node, c.in[0]->shape, PoolKind::Average, where(c));
  kernels::avg_pool(p, c.in[0]->f.data(), c.out[0]->f.data());
}

// ---- global pools ---------------------------------------------------------------------------------------------
void infer_global_pool(InferCtx& c) {
  require_float(c, 0, "X");
  require_outputs(c, 1);
  const Shape& x = c.shape(0);
  if (x.size() < 3) c.error("input X has shape " + shape_str(x) + "; expected (N, C, D1, ...) of rank >= 3");
  Shape y = x;
  for (size_t k = 2; k < y.size(); ++k) y[k] = 1;
  c.out_shapes = {y};
  c.out_dtypes = {DType::Float32};
}

template <bool kMax>
void run_global_pool(RunCtx& c) {
  const Shape& x = c.in[0]->shape;
  kernels::global_pool(kMax, x[0] * x[1], prod(x, 2, x.size()), c.in[0]->f.data(), c.out[0]->f.data());
}

// ---- BatchNormalization (inference) --------------------------------------------------------------------------
void infer_batch_norm(InferCtx& c) {
  static const char* const kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t k = 0; k < 5; ++k) require_float(c, k, kNames[k]);
  if (c.node.attrs.get_int("training_mode", 0) != 0)
    c.unsupported("training_mode=1 (batch statistics) is not supported; relscope runs inference only");
  if (c.node.attrs.get_int("spatial", 1) != 1)
    c.unsupported("spatial=0 (per-activation statistics, opset < 9) is not supported");
  for (size_t k = 1; k < c.node.outputs.size(); ++k)
    if (output_wanted(c, k))
      c.unsupported("output " + std::to_string(k) + " (running or saved statistics) exists only in training mode");
  const Shape& x = c.shape(0);
  if (x.size() < 2) c.error("input X has shape " + shape_str(x) + "; expected (N, C, ...) of rank >= 2");
  for (size_t k = 1; k < 5; ++k)
    if (c.shape(k) != Shape{x[1]})
      c.error(std::string("input ") + kNames[k] + " has shape " + shape_str(c.shape(k)) + " but X has " +
              std::to_string(x[1]) + " channels; expected [" + std::to_string(x[1]) + "]");
  c.out_shapes = {x};
  c.out_dtypes = {DType::Float32};
}

void run_batch_norm(RunCtx& c) {
  const Shape& x = c.in[0]->shape;
  const int64_t C = x[1];
  const float eps = c.node.attrs.get_float("epsilon", 1e-5f);
  const float *g = c.in[1]->f.data(), *b = c.in[2]->f.data(), *mean = c.in[3]->f.data(), *var = c.in[4]->f.data();
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t k = 0; k < C; ++k) {
    scale[k] = g[k] / std::sqrt(var[k] + eps);
    shift[k] = b[k] - mean[k] * scale[k];
  }
  kernels::channel_affine(x[0], C, prod(x, 2, x.size()), scale.data(), shift.data(), c.in[0]->f.data(),
                          c.out[0]->f.data());
}

// ---- LayerNormalization ----------------------------------------------------------------------------------------
// Scale and B broadcast unidirectionally to X. The usual case (shape X[axis:]) is used in place; other
// shapes are materialised to X[axis:] (one shared row) or, if they vary across rows, to all of X.
bool broadcastable_to(const Shape& s, const Shape& target) {
  if (s.size() > target.size()) return false;
  for (size_t k = 0; k < s.size(); ++k) {
    const int64_t t = target[target.size() - s.size() + k];
    if (s[k] != 1 && s[k] != t) return false;
  }
  return true;
}

std::vector<float> broadcast_to(const Tensor& t, const Shape& target) {
  const size_t r = target.size();
  Shape src(r, 1);
  for (size_t k = 0; k < t.shape.size(); ++k) src[r - t.shape.size() + k] = t.shape[k];
  const std::vector<int64_t> sst = shape_strides(src);
  std::vector<float> out(static_cast<size_t>(shape_numel(target)));
  std::vector<int64_t> idx(r, 0);
  for (size_t o = 0; o < out.size(); ++o) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k)
      if (src[k] != 1) off += idx[k] * sst[k];
    out[o] = t.f[static_cast<size_t>(off)];
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < target[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

int64_t layer_norm_axis(const Node& n, const Shape& x, const std::string& w) {
  return normalize_axis(n.attrs.get_int("axis", -1), static_cast<int64_t>(x.size()), "attribute axis", w);
}

void infer_layer_norm(InferCtx& c) {
  require_float(c, 0, "X");
  require_float(c, 1, "Scale");
  require_float(c, 2, "B");
  require_outputs(c, 3);
  const Shape& x = c.shape(0);
  const int64_t axis = layer_norm_axis(c.node, x, where(c));
  const char* names[] = {"X", "Scale", "B"};
  for (size_t k = 1; k < 3; ++k)
    if (c.has_input(k) && !broadcastable_to(c.shape(k), x))
      c.error(std::string("input ") + names[k] + " has shape " + shape_str(c.shape(k)) + ", not broadcastable to X " +
              shape_str(x));
  Shape stat(x.begin(), x.begin() + axis);
  stat.resize(x.size(), 1);   // Mean and InvStdDev keep X's rank with the normalised dims as 1
  c.out_shapes = {x, stat, stat};
  c.out_dtypes = {DType::Float32, DType::Float32, DType::Float32};
}

void run_layer_norm(RunCtx& c) {
  const Tensor& x = *c.in[0];
  const int64_t axis = layer_norm_axis(c.node, x.shape, where(c));
  const int64_t rows = prod(x.shape, 0, axis), inner = prod(x.shape, axis, x.shape.size());
  const Shape inner_shape(x.shape.begin() + axis, x.shape.end());
  std::vector<float> store[2];
  const float* ptr[2] = {nullptr, nullptr};
  int64_t stride[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const Tensor* t = static_cast<size_t>(k + 1) < c.in.size() ? c.in[k + 1] : nullptr;
    if (!t) continue;
    if (t->shape == inner_shape) {
      ptr[k] = t->f.data();
    } else if (broadcastable_to(t->shape, inner_shape)) {
      store[k] = broadcast_to(*t, inner_shape);
      ptr[k] = store[k].data();
    } else {   // varies across the outer (row) dims too
      store[k] = broadcast_to(*t, x.shape);
      ptr[k] = store[k].data();
      stride[k] = inner;
    }
  }
  float* mean = c.out.size() > 1 && c.out[1] ? c.out[1]->f.data() : nullptr;
  float* inv = c.out.size() > 2 && c.out[2] ? c.out[2]->f.data() : nullptr;
  kernels::layer_norm(rows, inner, x.f.data(), ptr[0], stride[0], ptr[1], stride[1],
                      c.node.attrs.get_float("epsilon", 1e-5f), c.out[0]->f.data(), mean, inv);
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------------------------------------
// Opset < 13: axis defaults to 1 and the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])], the
// softmax running over the whole flattened tail. Opset >= 13: axis defaults to -1, one axis only.
struct SoftmaxView {
  int64_t outer, len, inner;
};

SoftmaxView softmax_view(const Node& n, int64_t opset, const Shape& x, const std::string& w) {
  const int64_t r = static_cast<int64_t>(x.size());
  const bool legacy = opset < 13;
  int64_t axis = n.attrs.get_int("axis", legacy ? 1 : -1);
  if (legacy && axis == r && r > 0) return {shape_numel(x), 1, 1};   // default axis 1 on a 1-D input
  axis = normalize_axis(axis, r, "attribute axis", w);
  if (legacy) return {prod(x, 0, axis), prod(x, axis, x.size()), 1};
  return {prod(x, 0, axis), x[axis], prod(x, axis + 1, x.size())};
}

void infer_softmax(InferCtx& c) {
  require_float(c, 0, "input");
  require_outputs(c, 1);
  softmax_view(c.node, c.opset, c.shape(0), where(c));
  c.out_shapes = {c.shape(0)};
  c.out_dtypes = {DType::Float32};
}

template <bool kLog>
void run_softmax(RunCtx& c) {
  const SoftmaxView v = softmax_view(c.node, c.opset, c.in[0]->shape, where(c));
  kernels::softmax(c.in[0]->f.data(), c.out[0]->f.data(), v.outer, v.len, v.inner, kLog);
}

// ---- ReduceMean, ReduceSum, ReduceMax -----------------------------------------------------------------------------
// Axes: attribute before opset 18 (ReduceSum: 13), optional constant input from then on. Empty axes reduce
// everything unless noop_with_empty_axes (from that opset) makes the op an identity.
void infer_reduce(InferCtx& c) {
  require_float(c, 0, "data");
  require_outputs(c, 1);
  const Tensor* axes = c.has_input(1) ? &c.constant(1, "axes") : nullptr;
  c.out_shapes = {resolve_reduce(c.node, c.opset, c.shape(0), axes, where(c)).out};
  c.out_dtypes = {DType::Float32};
}

template <kernels::ReduceKind kKind>
void run_reduce(RunCtx& c) {
  const Tensor& x = *c.in[0];
  const Tensor* axes = c.in.size() > 1 ? c.in[1] : nullptr;
  const ReduceParams p = resolve_reduce(c.node, c.opset, x.shape, axes, where(c));
  if (p.noop)
    std::copy(x.f.begin(), x.f.end(), c.out[0]->f.begin());
  else
    kernels::reduce(kKind, x.f.data(), x.shape, p.mask, c.out[0]->f.data());
}

}  // namespace

// ---- registration ---------------------------------------------------------------------------------------------------
void register_pool_norm_ops(OpTable& t) {
  // Overwrites: one value per output element (pool planes, channel_affine, softmax rows); MaxPool's int64
  // indices are never pooled.
  t.add(Op::MaxPool, infer_max_pool, run_max_pool, 1, 1, true);
  t.add(Op::AveragePool, infer_avg_pool, run_avg_pool, 1, 1, true);
  t.add(Op::GlobalAveragePool, infer_global_pool, run_global_pool<false>, 1, 1, true);
  t.add(Op::GlobalMaxPool, infer_global_pool, run_global_pool<true>, 1, 1, true);
  t.add(Op::BatchNormalization, infer_batch_norm, run_batch_norm, 5, 5, true);
  t.add(Op::LayerNormalization, infer_layer_norm, run_layer_norm, 2, 3);
  t.add(Op::Softmax, infer_softmax, run_softmax<false>, 1, 1, true);
  t.add(Op::LogSoftmax, infer_softmax, run_softmax<true>, 1, 1, true);
  t.add(Op::ReduceMean, infer_reduce, run_reduce<kernels::ReduceKind::Mean>, 1, 2);
  t.add(Op::ReduceSum, infer_reduce, run_reduce<kernels::ReduceKind::Sum>, 1, 2);
  t.add(Op::ReduceMax, infer_reduce, run_reduce<kernels::ReduceKind::Max>, 1, 2);
}

}  // namespace relscope
