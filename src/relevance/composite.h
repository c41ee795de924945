// relscope/relevance/composite.h — which rule each node gets (zennit's composites, by name).
//
// Sections: CompositeParams | NodeRole | assign_rules()
//
// A composite maps layer kinds to rules; "first layer" is the linear layer
// nearest the input (zennit: the first matching module) and may get its own
// rule. Per-node overrides (`--rule NODE=RULE`) win over the composite.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "graph/graph.h"
#include "relevance/rule.h"

namespace relscope::relevance {

struct CompositeParams {
  // As zennit's composites: `epsilon` is the Epsilon rule's (every linear layer in "epsilon", the dense
  // layers elsewhere); `stabilizer` is the denominator shift of every other rule (ZPlus, AlphaBeta, Gamma,
  // ZBox, Flat) and of Norm. Changing epsilon does not change them.
  float epsilon = 1e-6f;
  float stabilizer = 1e-6f;
  float gamma = 0.25f;
  float alpha = 2.0f, beta = 1.0f;
  std::vector<float> low, high;   // epsilon-gamma-box: required
};

// What a node is, for rule assignment.
enum class NodeRole : unsigned char {
  Linear,        // Conv, ConvTranspose, Gemm, MatMul with one constant operand
  Activation,    // elementwise, one varying input: Relu, Sigmoid, Tanh, ..., BatchNorm, LayerNorm -> Pass
  Sum,           // Add / Sub of two varying inputs, AveragePool, GlobalAveragePool, ReduceMean/Sum -> Norm
  Routing,       // MaxPool, reshapes, Concat, Split, Slice, Gather, Transpose, Pad -> Gradient
  Product,       // Mul / MatMul of two varying inputs (AttnLRP uniform split)
  Softmax,       // AttnLRP softmax rule
  Constant,      // folded at plan time: no relevance flows
};

NodeRole node_role(const Graph& g, const Plan& p, const Node& n);

const std::vector<std::string>& composite_names();

// One rule per graph node (index-aligned with g.nodes). Throws BadInput for an unknown composite,
// missing gamma-box bounds, or an override naming no node.
std::vector<Rule> assign_rules(const Graph& g, const Plan& p, const std::string& composite, const CompositeParams& params,
                               const std::map<std::string, Rule>& overrides = {});

}  // namespace relscope::relevance
