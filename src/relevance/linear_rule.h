// relscope/relevance/linear_rule.h — applying a rule table (rule.h) to one linear layer.
//
// Sections: LinearLayer | linear_layer() | apply_linear_rule()
#pragma once
#include <functional>

#include "engine/executor.h"
#include "graph/op_params.h"
#include "relevance/rule.h"

namespace relscope::relevance {

// A linear layer y = f(x; W) + b with one varying input x, as the LRP rules re-run it with modified
// inputs and parameters. `weight` and `bias` are the effective parameters (Gemm's alpha/beta applied)
// on which parameter modifiers act elementwise. The weight is not copied: it points at the plan's constant
// (or, for Gemm's transposed/scaled form, at the plan's memo), and modified weights are memoised in the plan
// too (Plan::memo), so a rule's clamped weights are computed once per model, not once per explanation.
struct LinearLayer {
  int input_slot = 0;            // which node input is x
  Shape x_shape, y_shape;
  const float* weight = nullptr; // layout private to forward/backward; owned by the plan
  size_t weight_size = 0;
  std::vector<float> bias;       // per output channel, or y-shaped (Gemm's broadcast C); empty when none
  int64_t bias_inner = 1;        // output element j has bias[(j / bias_inner) % bias.size()]
  const Plan* plan = nullptr;    // whose memo holds this layer's modified weights ...
  std::string memo_key;          // ... under keys starting with this (the weight's value id: shared weights share)
  int output_value = -1;         // y's value id: keys what depends on the node, not only its weight
  int channel_axis = 1;          // axis of x along which per-channel ZBox bounds apply
  std::function<void(const float* x, const float* w, float* y)> forward;     // y = f(x; w), no bias
  std::function<void(const float* dy, const float* w, float* dx)> backward;  // dx = f^T(dy; w)
  // dx = f^T(dy; ones), without the all-ones weights (Flat), where the layer has a shortcut (Conv); else empty.
  std::function<void(const float* dy, float* dx)> backward_ones;

  // The same layer as data, for back-ends that run it themselves (gpu_explain.h builds GPU dispatches):
  //   Conv           y = conv(x, w; conv)               ConvTranspose  y = conv^T(x, w; conv)
  //   Gemm           y(M,N) = op(x)(M,K) W(K,N), op = transpose when trans_x; W stored as N x K when trans_w
  //   MatMulRight    y(rows = M, N) = x(M,K) W(K,N)     MatMulLeft     y[b](M,N) = W(M,K) x[b](K,N), b < batches
  enum class Form : unsigned char { Conv, ConvTranspose, Gemm, MatMulRight, MatMulLeft };
  Form form = Form::Conv;
  ConvParams conv;
  int64_t M = 0, N = 0, K = 0, batches = 1;
  bool trans_x = false;
  bool trans_w = false;          // Gemm: weight holds W^T (N x K: ONNX's transB, read in place)
  int64_t weight_ld() const { return trans_w ? K : N; }   // Gemm: the weight's row stride
};

// Conv, ConvTranspose, Gemm (constant B), MatMul (one constant 1-D/2-D operand).
// Throws Unsupported naming the node for layouts relevance does not handle.
LinearLayer linear_layer(const Graph& g, const Plan& p, const Node& n);

// The layer's weight under parameter modifier m: the weight itself for Identity, else computed once per
// plan (Plan::memo). `modifier_key(m, gamma)` tells modified weights apart (gamma only for the Gamma mods).
const float* modified_weight(const LinearLayer& L, ParamMod m, float gamma);
std::string modifier_key(ParamMod m, float gamma);
float modify_param(float v, ParamMod m, float gamma);
// ZBox bounds as a tensor of `shape`: one value everywhere, or one per channel along `axis` (BadInput naming
// `where` when the count does not match).
std::vector<float> bound_tensor(const std::vector<float>& bounds, const Shape& shape, int axis, const std::string& where);

// Relevance at the layer's input x for relevance R at its output (shapes of x and y).
// `y` is the layer's actual output (the plain z that Gamma's output masks read). With `keep` (x's size,
// 0/1), masked inputs contribute to no term after their input modifier (PLRP-M): they leave every
// denominator and receive no relevance, whatever the rule does to inputs (Flat's 1s included).
// With `memo` (the recorded pass's, Activations::memo) the group denominators are kept there and read back
// by later sweeps over the same pass: they depend on x, the rule and the layer, not on R (not with `keep`).
Tensor apply_linear_rule(const LinearLayer& layer, const Rule& rule, const Tensor& x, const Tensor& y, const Tensor& R,
                         const std::string& where, const float* keep = nullptr, PassMemo* memo = nullptr);

}  // namespace relscope::relevance
