// relscope/relevance/linear_rule.h — applying a rule table (rule.h) to one linear layer.
//
// Sections: LinearLayer | linear_layer() | apply_linear_rule()
#pragma once
#include <functional>

#include "engine/executor.h"
#include "relevance/rule.h"

namespace relscope::relevance {

// A linear layer y = f(x; W) + b with one varying input x, as the LRP rules re-run it with modified
// inputs and parameters. `weight` and `bias` are the effective parameters (Gemm's alpha/beta applied,
// bias broadcast to y's shape) on which parameter modifiers act elementwise.
struct LinearLayer {
  int input_slot = 0;            // which node input is x
  Shape x_shape, y_shape;
  Tensor weight;                 // layout private to forward/backward
  Tensor bias;                   // y-shaped, or empty when the layer has none
  int channel_axis = 1;          // axis of x along which per-channel ZBox bounds apply
  std::function<void(const float* x, const float* w, float* y)> forward;     // y = f(x; w), no bias
  std::function<void(const float* dy, const float* w, float* dx)> backward;  // dx = f^T(dy; w)
};

// Conv, ConvTranspose, Gemm (constant B), MatMul (one constant 1-D/2-D operand).
// Throws Unsupported naming the node for layouts relevance does not handle.
LinearLayer linear_layer(const Graph& g, const Plan& p, const Node& n);

// Relevance at the layer's input x for relevance R at its output (shapes of x and y).
// `y` is the layer's actual output (the plain z that Gamma's output masks read).
Tensor apply_linear_rule(const LinearLayer& layer, const Rule& rule, const Tensor& x, const Tensor& y, const Tensor& R,
                         const std::string& where);

}  // namespace relscope::relevance
