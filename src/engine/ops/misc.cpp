// relscope/engine/ops/misc.cpp — Cast and ConstantOfShape: glue that real PyTorch exports contain.
//
// Sections: Cast | ConstantOfShape | registration
//
// Why here: exporters emit these around shape arithmetic (Cast of a Shape
// result, ConstantOfShape for padding masks); most of them fold away at plan
// time, but a model must load for that to happen.
#include <cmath>

#include "engine/op_registry.h"
#include "onnx/model.h"

namespace relscope {

namespace {

// ---- Cast: relscope holds float32 and int64; casts between those kinds are exact as in ONNX ----
DType cast_target(const InferCtx* ictx, const RunCtx* rctx, int64_t to) {
  switch (to) {
    case onnx::kFloat:
    case onnx::kDouble:   // computed in float32: relscope's only float type
      return DType::Float32;
    case onnx::kInt64:
    case onnx::kInt32:
    case onnx::kInt16:
    case onnx::kInt8:
    case onnx::kUint8:
    case onnx::kUint16:
    case onnx::kUint32:
    case onnx::kBool:
      return DType::Int64;
    default: {
      const std::string msg = std::string("Cast to ") + onnx::elem_type_name(static_cast<int32_t>(to)) + " is not supported";
      if (ictx) ictx->unsupported(msg);
      rctx->error(msg);
    }
  }
}

void infer_cast(InferCtx& c) {
  if (!c.node.attrs.has("to")) c.error("attribute 'to' is required");
  c.out_shapes = {c.shape(0)};
  c.out_dtypes = {cast_target(&c, nullptr, c.node.attrs.get_int("to", 0))};
}

// Integer targets narrower than int64 wrap as two's complement does in ONNX runtimes.
int64_t to_integer(double v, int64_t to) {
  if (to == onnx::kBool) return v != 0.0 ? 1 : 0;
  if (std::isnan(v)) return 0;
  const double clamped = std::fmax(std::fmin(v, 9.2e18), -9.2e18);
  const int64_t x = static_cast<int64_t>(clamped);   // truncation toward zero
  switch (to) {
    case onnx::kInt32: return static_cast<int32_t>(static_cast<uint32_t>(x));
    case onnx::kInt16: return static_cast<int16_t>(static_cast<uint16_t>(x));
    case onnx::kInt8: return static_cast<int8_t>(static_cast<uint8_t>(x));
    case onnx::kUint8: return static_cast<uint8_t>(x);
    case onnx::kUint16: return static_cast<uint16_t>(x);
    case onnx::kUint32: return static_cast<uint32_t>(x);
    default: return x;
  }
}

void run_cast(RunCtx& c) {
  const Tensor& x = *c.in[0];
  Tensor& y = *c.out[0];
  const int64_t to = c.node.attrs.get_int("to", 0);
  const size_t n = static_cast<size_t>(x.numel());
  if (y.dtype == DType::Float32) {
    for (size_t k = 0; k < n; ++k) y.f[k] = x.dtype == DType::Float32 ? x.f[k] : static_cast<float>(x.i[k]);
  } else {
    for (size_t k = 0; k < n; ++k) y.i[k] = to_integer(x.dtype == DType::Float32 ? x.f[k] : static_cast<double>(x.i[k]), to);
  }
}

// ---- ConstantOfShape: shape input (constant at plan time) filled with `value` (default float 0) ----
void infer_constant_of_shape(InferCtx& c) {
  const Tensor& shape = c.constant(0, "shape");
  if (shape.rank() != 1) c.error("input 'shape' must be 1-D, got " + shape_str(shape.shape));
  Shape out;
  for (int64_t d : shape.as_ints()) {
    if (d < 0) c.error("input 'shape' has a negative dimension " + std::to_string(d));
    out.push_back(d);
  }
  const Tensor* value = c.node.attrs.get_tensor("value");
  if (value && value->numel() != 1) c.error("attribute 'value' must hold exactly one element");
  c.out_shapes = {out};
  c.out_dtypes = {value ? value->dtype : DType::Float32};
}

void run_constant_of_shape(RunCtx& c) {
  const Tensor* value = c.node.attrs.get_tensor("value");
  Tensor& y = *c.out[0];
  if (y.dtype == DType::Float32)
    std::fill(y.f.begin(), y.f.end(), value ? value->f[0] : 0.0f);
  else
    std::fill(y.i.begin(), y.i.end(), value->i[0]);
}

}  // namespace

void register_misc_ops(OpTable& t) {
  t.add(Op::Cast, infer_cast, run_cast, 1, 1);
  t.add(Op::ConstantOfShape, infer_constant_of_shape, run_constant_of_shape, 1, 1);
}

}  // namespace relscope
