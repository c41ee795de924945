// relscope/engine/ops/elementwise.cpp — arithmetic with numpy broadcasting, and activations.
//
// Sections: binary (Add, Sub, Mul, Div, Pow) | unary activations | Clip | registration
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/op_registry.h"
#include "engine/ops/broadcast.h"

namespace relscope {

namespace {

// ---- binary -------------------------------------------------------------------------------------------------
void infer_binary(InferCtx& c) {
  const Shape &a = c.shape(0), &b = c.shape(1);
  Shape out;
  if (!broadcast_shapes(a, b, &out)) c.error("cannot broadcast " + shape_str(a) + " with " + shape_str(b));
  const DType ta = c.in_dtypes[0], tb = c.in_dtypes[1];
  if (c.node.op == Op::Pow) {
    c.out_shapes = {out};
    c.out_dtypes = {ta};   // ONNX: the result has the base's type
    return;
  }
  if (ta != tb) c.error(std::string("inputs are ") + dtype_name(ta) + " and " + dtype_name(tb) + "; they must match");
  c.out_shapes = {out};
  c.out_dtypes = {ta};
}

template <class T>
T apply_binary(Op op, T x, T y, const RunCtx& c) {
  switch (op) {
    case Op::Add: return x + y;
    case Op::Sub: return x - y;
    case Op::Mul: return x * y;
    default:
      if constexpr (std::is_integral_v<T>) {
        if (y == 0) c.error("integer division by zero");
        if (x == std::numeric_limits<T>::min() && y == -1) c.error("integer division overflows");
      }
      return x / y;   // int64: truncation toward zero, as ONNX
  }
}

template <class T>
void run_arith(RunCtx& c) {
  const auto& a = storage<T>(*c.in[0]);
  const auto& b = storage<T>(*c.in[1]);
  auto& y = storage<T>(*c.out[0]);
  const Op op = c.node.op;
  const Shape &sa = c.in[0]->shape, &sb = c.in[1]->shape, &so = c.out[0]->shape;
  if (sa == so && sb == so) {   // fast paths: same shape, scalar on either side
    for (size_t k = 0; k < y.size(); ++k) y[k] = apply_binary<T>(op, a[k], b[k], c);
  } else if (sa == so && b.size() == 1) {
    for (size_t k = 0; k < y.size(); ++k) y[k] = apply_binary<T>(op, a[k], b[0], c);
  } else if (sb == so && a.size() == 1) {
    for (size_t k = 0; k < y.size(); ++k) y[k] = apply_binary<T>(op, a[0], b[k], c);
  } else {
    broadcast_walk(so, sa, sb, [&](int64_t o, int64_t i, int64_t j) { y[o] = apply_binary<T>(op, a[i], b[j], c); });
  }
}

void run_binary(RunCtx& c) {
  if (c.in[0]->dtype == DType::Float32)
    run_arith<float>(c);
  else
    run_arith<int64_t>(c);
}

int64_t int_pow(int64_t base, int64_t exp) {
  if (exp < 0) return base == 1 ? 1 : (base == -1 ? (exp % 2 ? -1 : 1) : 0);
  int64_t r = 1;
  while (exp-- > 0) r *= base;
  return r;
}

void run_pow(RunCtx& c) {
  const Tensor &a = *c.in[0], &b = *c.in[1];
  Tensor& y = *c.out[0];
  const auto bf = b.as_floats();
  const Shape &sa = a.shape, &sb = b.shape, &so = y.shape;
  if (a.dtype == DType::Float32) {
    broadcast_walk(so, sa, sb, [&](int64_t o, int64_t i, int64_t j) { y.f[o] = std::pow(a.f[i], bf[j]); });
  } else if (b.dtype == DType::Int64) {
    broadcast_walk(so, sa, sb, [&](int64_t o, int64_t i, int64_t j) { y.i[o] = int_pow(a.i[i], b.i[j]); });
  } else {
    broadcast_walk(so, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
      y.i[o] = static_cast<int64_t>(std::pow(static_cast<double>(a.i[i]), static_cast<double>(bf[j])));
    });
  }
}

// ---- unary activations (float32) ------------------------------------------------------------------------------
void infer_unary_float(InferCtx& c) {
  if (c.in_dtypes[0] != DType::Float32) c.unsupported(std::string("input is ") + dtype_name(c.in_dtypes[0]) + "; relscope computes this op in float32 only");
  c.out_shapes = {c.shape(0)};
  c.out_dtypes = {DType::Float32};
}

template <class F>
void map_float(RunCtx& c, F f) {
  const auto& x = c.in[0]->f;
  auto& y = c.out[0]->f;
  for (size_t k = 0; k < x.size(); ++k) y[k] = f(x[k]);
}

void run_sqrt(RunCtx& c) { map_float(c, [](float v) { return std::sqrt(v); }); }
void run_erf(RunCtx& c) { map_float(c, [](float v) { return std::erf(v); }); }
void run_relu(RunCtx& c) { map_float(c, [](float v) { return v > 0.0f ? v : 0.0f; }); }
void run_sigmoid(RunCtx& c) { map_float(c, [](float v) { return 1.0f / (1.0f + std::exp(-v)); }); }
void run_tanh(RunCtx& c) { map_float(c, [](float v) { return std::tanh(v); }); }
void run_leaky_relu(RunCtx& c) {
  const float alpha = c.node.attrs.get_float("alpha", 0.01f);
  map_float(c, [alpha](float v) { return v >= 0.0f ? v : alpha * v; });
}

// ---- Clip: bounds are attributes before opset 11, optional scalar inputs from 11 on -------------------------------
void infer_clip(InferCtx& c) {
  infer_unary_float(c);
  for (size_t k = 1; k < 3; ++k)
    if (c.has_input(k) && shape_numel(c.shape(k)) != 1)
      c.error(std::string(k == 1 ? "min" : "max") + " must be a scalar, got " + shape_str(c.shape(k)));
}

void run_clip(RunCtx& c) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (c.opset < 11) {
    lo = c.node.attrs.get_float("min", lo);
    hi = c.node.attrs.get_float("max", hi);
  } else {
    if (c.in.size() > 1 && c.in[1]) lo = c.in[1]->as_floats()[0];
    if (c.in.size() > 2 && c.in[2]) hi = c.in[2]->as_floats()[0];
  }
  // std::max/min, not fmax/fmin: NaN passes through (numpy.clip, onnxruntime), and min > max gives max.
  map_float(c, [lo, hi](float v) { return std::min(std::max(v, lo), hi); });
}

}  // namespace

// ---- registration ----------------------------------------------------------------------------------------------
void register_elementwise_ops(OpTable& t) {
  for (Op op : {Op::Add, Op::Sub, Op::Mul, Op::Div}) t.add(op, infer_binary, run_binary, 2, 2);
  t.add(Op::Pow, infer_binary, run_pow, 2, 2);
  t.add(Op::Sqrt, infer_unary_float, run_sqrt, 1, 1);
  t.add(Op::Erf, infer_unary_float, run_erf, 1, 1);
  t.add(Op::Relu, infer_unary_float, run_relu, 1, 1);
  t.add(Op::LeakyRelu, infer_unary_float, run_leaky_relu, 1, 1);
  t.add(Op::Sigmoid, infer_unary_float, run_sigmoid, 1, 1);
  t.add(Op::Tanh, infer_unary_float, run_tanh, 1, 1);
  t.add(Op::Clip, infer_clip, run_clip, 1, 3);
}

}  // namespace relscope
