// relscope/relevance/composite.cpp — node roles and zennit's composite tables (METHODS.md).
#include "relevance/composite.h"

#include "core/error.h"

namespace relscope::relevance {

namespace {

int varying_inputs(const Plan& p, const Node& n) {
  int k = 0;
  for (int v : n.inputs)
    if (v >= 0 && !p.is_constant(v)) ++k;
  return k;
}

bool is_conv(Op op) { return op == Op::Conv || op == Op::ConvTranspose; }

}  // namespace

NodeRole node_role(const Graph& g, const Plan& p, const Node& n) {
  const int varying = varying_inputs(p, n);
  if (varying == 0) return NodeRole::Constant;
  switch (n.op) {
    case Op::Conv:
    case Op::ConvTranspose:
    case Op::Gemm:
      return p.is_constant(n.inputs[1]) ? NodeRole::Linear : NodeRole::Product;
    case Op::MatMul:
      return varying == 1 ? NodeRole::Linear : NodeRole::Product;
    case Op::Mul:
      return varying == 1 ? NodeRole::Activation : NodeRole::Product;
    case Op::Add:
    case Op::Sub:
      return varying == 1 ? NodeRole::Activation : NodeRole::Sum;
    case Op::AveragePool:
    case Op::GlobalAveragePool:
    case Op::ReduceMean:
    case Op::ReduceSum:
      return NodeRole::Sum;
    case Op::Softmax:
      return NodeRole::Softmax;
    case Op::MaxPool:
    case Op::GlobalMaxPool:
    case Op::ReduceMax:
    case Op::Flatten:
    case Op::Reshape:
    case Op::Transpose:
    case Op::Concat:
    case Op::Split:
    case Op::Slice:
    case Op::Gather:
    case Op::Squeeze:
    case Op::Unsqueeze:
    case Op::Identity:
    case Op::Dropout:
    case Op::Pad:
    case Op::Cast:
      return NodeRole::Routing;
    default:
      return NodeRole::Activation;
  }
}

const std::vector<std::string>& composite_names() {
  static const std::vector<std::string> names = {"epsilon", "epsilon-plus", "epsilon-plus-flat", "epsilon-alpha2-beta1",
                                                 "epsilon-alpha2-beta1-flat", "epsilon-gamma-box"};
  return names;
}

std::vector<Rule> assign_rules(const Graph& g, const Plan& p, const std::string& composite, const CompositeParams& cp,
                               const std::map<std::string, Rule>& overrides) {
  bool known = false;
  for (const auto& c : composite_names()) known |= c == composite;
  if (!known) {
    std::string list;
    for (const auto& c : composite_names()) list += (list.empty() ? "" : ", ") + c;
    fail_input("unknown composite '" + composite + "' (" + list + ")");
  }
  const bool gamma_box = composite == "epsilon-gamma-box";
  if (gamma_box && (cp.low.empty() || cp.high.empty()))
    fail_input("composite epsilon-gamma-box needs --low and --high (the input's value range, scalar or per channel)");

  // The rule for a Conv that is not the first layer, and for the first layer. Only Epsilon takes cp.epsilon
  // (zennit: `epsilon` goes to Epsilon, `stabilizer` to every other rule and to Norm).
  Rule conv_rule = rule_epsilon(cp.epsilon);
  if (composite == "epsilon-plus" || composite == "epsilon-plus-flat") conv_rule = rule_zplus(cp.stabilizer);
  if (composite == "epsilon-alpha2-beta1" || composite == "epsilon-alpha2-beta1-flat")
    conv_rule = rule_alpha_beta(cp.alpha, cp.beta, cp.stabilizer);
  if (gamma_box) conv_rule = rule_gamma(cp.gamma, cp.stabilizer);
  const bool flat_first = composite.size() > 5 && composite.substr(composite.size() - 5) == "-flat";

  std::vector<Rule> rules(g.nodes.size());
  bool first_seen = false;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    Rule& r = rules[k];
    switch (node_role(g, p, n)) {
      case NodeRole::Linear: {
        // zennit's first_map: the first linear layer (any kind for the -flat composites, the first Conv for
        // gamma-box) in topological order.
        const bool first_candidate = !first_seen && (flat_first || (gamma_box && is_conv(n.op)));
        if (first_candidate) {
          first_seen = true;
          r = flat_first ? rule_flat(cp.stabilizer) : rule_zbox(cp.low, cp.high, cp.stabilizer);
        } else {
          r = is_conv(n.op) ? conv_rule : rule_epsilon(cp.epsilon);
        }
        break;
      }
      case NodeRole::Activation: r = rule_pass(); break;
      case NodeRole::Sum: r = rule_norm(cp.stabilizer); break;
      case NodeRole::Routing: r = rule_gradient(); break;
      case NodeRole::Constant:   // folded at plan time: no relevance reaches it
        r = rule_gradient();
        r.name = "folded";
        break;
      case NodeRole::Product: r = rule_product(cp.epsilon); break;
      case NodeRole::Softmax: r = rule_softmax(); break;
    }
  }
  for (const auto& [name, rule] : overrides) {
    bool found = false;
    for (size_t k = 0; k < g.nodes.size(); ++k)
      if (g.nodes[k].name == name) {
        found = true;
        if (rule.kind == RuleKind::Linear && node_role(g, p, g.nodes[k]) != NodeRole::Linear)
          fail_input("--rule " + name + "=" + rule.name + ": node '" + name + "' (" + g.nodes[k].op_type +
                     ") is not a linear layer; only pass, norm and gradient apply to it");
        rules[k] = rule;
      }
    if (!found) fail_input("--rule " + name + "=" + rule.name + ": the model has no node named '" + name + "'");
  }
  return rules;
}

}  // namespace relscope::relevance
