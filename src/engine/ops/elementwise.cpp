// relscope/engine/ops/elementwise.cpp — arithmetic with numpy broadcasting, and activations.
//
// Sections: binary (Add, Sub, Mul, Div, Pow) | unary activations | Clip | registration
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

#include "engine/op_registry.h"
#include "engine/ops/broadcast.h"
#include "kernels/cpu/parallel.h"

namespace relscope {

namespace {

// Runs fn over [0, n) split across the kernel threads when n is large enough to pay for waking them. The work
// is in parallel_ranges' unit (a GEMM flop, ~0.01 ns natively): an element read, computed and written into a
// fresh output costs ~0.24 ns (ResNet-18's Relus: 2.3M elements, 0.56 ms), so 24 per element; at 8, layer1's
// 200k-element Relus and Adds stayed on one thread. fn must not throw: it may run on a worker thread.
template <class Fn>
void for_ranges(int64_t n, Fn&& fn) {
  kernels::detail::parallel_ranges(n, 24.0 * static_cast<double>(n), fn);
}

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

// Same-shape and scalar operands are the common case (residual adds, scaling): with the op chosen outside
// the loop these loops vectorise, and large ones split over the kernel threads like the kernels do.
template <class T, class F>
void run_arith(RunCtx& c, F f) {
  const T* a = storage<T>(*c.in[0]).data();
  const T* b = storage<T>(*c.in[1]).data();
  auto& out = storage<T>(*c.out[0]);
  T* y = out.data();
  const Shape &sa = c.in[0]->shape, &sb = c.in[1]->shape, &so = c.out[0]->shape;
  const int64_t n = static_cast<int64_t>(out.size());
  const bool same_a = sa == so, same_b = sb == so;
  const int64_t na = static_cast<int64_t>(storage<T>(*c.in[0]).size()), nb = static_cast<int64_t>(storage<T>(*c.in[1]).size());
  if ((same_a && (same_b || nb == 1)) || (same_b && na == 1)) {
    const int64_t step_a = same_a ? 1 : 0, step_b = same_b ? 1 : 0;
    auto body = [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) y[k] = f(a[k * step_a], b[k * step_b]);
    };
    if constexpr (std::is_floating_point_v<T>)
      for_ranges(n, body);
    else
      body(0, n);   // int64 division may throw: only on the calling thread
  } else {
    broadcast_walk(so, sa, sb, [&](int64_t o, int64_t i, int64_t j) { y[o] = f(a[i], b[j]); });
  }
}

template <class T, class Op>
T wrapping(T x, T y, Op op) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(op(static_cast<uint64_t>(x), static_cast<uint64_t>(y)));
  else
    return op(x, y);
}

template <class T>
void run_typed_binary(RunCtx& c) {
  switch (c.node.op) {
    // int64 wraps as two's complement, as onnxruntime and numpy do (signed overflow would be undefined
    // behaviour; the explain fuzzer found shape arithmetic on hostile constants that overflows).
    case Op::Add: return run_arith<T>(c, [](T x, T y) { return wrapping<T>(x, y, std::plus<>()); });
    case Op::Sub: return run_arith<T>(c, [](T x, T y) { return wrapping<T>(x, y, std::minus<>()); });
    case Op::Mul: return run_arith<T>(c, [](T x, T y) { return wrapping<T>(x, y, std::multiplies<>()); });
    default:
      if constexpr (std::is_integral_v<T>) {
        return run_arith<T>(c, [&c](T x, T y) {
          if (y == 0) c.error("integer division by zero");
          if (x == std::numeric_limits<T>::min() && y == -1) c.error("integer division overflows");
          return x / y;   // truncation toward zero, as ONNX
        });
      } else {
        return run_arith<T>(c, [](T x, T y) { return x / y; });
      }
  }
}

void run_binary(RunCtx& c) {
  if (c.in[0]->dtype == DType::Float32)
    run_typed_binary<float>(c);
  else
    run_typed_binary<int64_t>(c);
}

int64_t int_pow(int64_t base, int64_t exp) {
  if (exp < 0) return base == 1 ? 1 : (base == -1 ? (exp % 2 ? -1 : 1) : 0);
  // Square and multiply, wrapping like Mul: a hostile exponent of 2^62 costs 62 steps, not 2^62.
  uint64_t r = 1, b = static_cast<uint64_t>(base);
  for (uint64_t e = static_cast<uint64_t>(exp); e; e >>= 1, b *= b)
    if (e & 1) r *= b;
  return static_cast<int64_t>(r);
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
      const double v = std::pow(static_cast<double>(a.i[i]), static_cast<double>(bf[j]));
      // A double outside int64 (or NaN) has no defined conversion: refuse it by name.
      if (!(v >= -0x1.0p63 && v < 0x1.0p63)) c.error("Pow of an integer tensor is " + std::to_string(v) + ", outside int64");
      y.i[o] = static_cast<int64_t>(v);
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
  const float* x = c.in[0]->f.data();
  float* y = c.out[0]->f.data();
  for_ranges(static_cast<int64_t>(c.out[0]->f.size()), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) y[k] = f(x[k]);
  });
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
  // Overwrites: every output element is written once (run_arith's loops, map_float).
  for (Op op : {Op::Add, Op::Sub, Op::Mul, Op::Div}) t.add(op, infer_binary, run_binary, 2, 2, true);
  t.add(Op::Pow, infer_binary, run_pow, 2, 2);
  t.add(Op::Sqrt, infer_unary_float, run_sqrt, 1, 1, true);
  t.add(Op::Erf, infer_unary_float, run_erf, 1, 1, true);
  t.add(Op::Relu, infer_unary_float, run_relu, 1, 1, true);
  t.add(Op::LeakyRelu, infer_unary_float, run_leaky_relu, 1, 1, true);
  t.add(Op::Sigmoid, infer_unary_float, run_sigmoid, 1, 1, true);
  t.add(Op::Tanh, infer_unary_float, run_tanh, 1, 1, true);
  t.add(Op::Clip, infer_clip, run_clip, 1, 3, true);
}

}  // namespace relscope
