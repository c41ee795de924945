// relscope/relevance/rule.h — LRP rules as data (zennit's BasicHook, without copies of code).
//
// Sections: modifiers | Term | Group | Rule | named rules | parsing
//
// A linear-layer rule re-runs the layer several times ("terms"), each with a
// modified input and modified parameters. Terms are summed into groups; each
// group's sum is stabilised and divides the upper relevance (optionally only
// for outputs whose plain pre-activation z is positive or negative). Each
// term then sends that ratio back through its own modified weights and
// multiplies by its own modified input; the results are added with the term's
// coefficient. Every rule of METHODS.md is one table of terms:
//
//   Epsilon   (x, w, b)                                  one group, coef 1
//   ZPlus     (x+, w+, b+) (x-, w-, 0)                   one group
//   AlphaBeta (x+, w+, b+) (x-, w-, 0) | (x+, w-, b-) (x-, w+, 0)   groups P | N, coefs alpha | -beta
//   Gamma     (x+, w+gw+, b+gb+) (x-, w+gw-, 0) on z>0 | (x+, w+gw-, b+gb-) (x-, w+gw+, 0) on z<0
//   ZBox      (x, w, b) (low, w+, b+) (high, w-, b-)    one group, denominator signs +,-,-
//   Flat      (1, 1, 0)        WSquare (1, w^2, b^2)
// Non-linear-layer rules (Pass, Norm, Gradient) have no terms; the sweep knows them by kind.
#pragma once
#include <string>
#include <vector>

namespace relscope::relevance {

enum class InputMod : unsigned char { Identity, Positive, Negative, Ones, Low, High };
enum class ParamMod : unsigned char {
  Identity, Positive, Negative, Zero, Ones, Square,
  GammaPositive,   // p + gamma * p+
  GammaNegative,   // p + gamma * p-
};
enum class OutputMask : unsigned char { All, ZPositive, ZNegative };

struct Term {
  InputMod input;
  ParamMod weight;
  ParamMod bias;
  int group;            // which stabilised sum this term belongs to
  float denom_sign;     // sign with which the term enters its group's sum (ZBox: -1 for the bound terms)
  float coef;           // weight of this term's contribution to the input relevance
};

struct Group {
  OutputMask mask = OutputMask::All;
};

enum class RuleKind : unsigned char {
  Linear,     // terms/groups above; for Conv, ConvTranspose, Gemm, MatMul with constant weights
  Pass,       // relevance passes through unchanged (activations, stand-alone BatchNorm, LayerNorm)
  Norm,       // proportional split by contribution (Add, Sum, AveragePool, GlobalAveragePool)
  Gradient,   // the plain vector-Jacobian product (MaxPool, routing ops, gradient baselines)
  Softmax,    // AttnLRP: R_in = x * (R - s * sum(R)) along the softmax axis
  Product,    // AttnLRP: a product of n varying factors splits relevance evenly among them
};

struct Rule {
  std::string name;          // "epsilon", "zplus", ... as users type it
  RuleKind kind = RuleKind::Gradient;
  std::vector<Term> terms;
  std::vector<Group> groups;
  float epsilon = 1e-6f;     // stabiliser
  float gamma = 0.25f;       // for GammaPositive / GammaNegative
  std::vector<float> low, high;   // ZBox bounds: one value, or one per input channel

  std::string describe() const;   // "alphabeta(alpha=2, beta=1)" for `relscope rules`
};

Rule rule_epsilon(float epsilon = 1e-6f);
Rule rule_zplus(float epsilon = 1e-6f);
Rule rule_alpha_beta(float alpha = 2.0f, float beta = 1.0f, float epsilon = 1e-6f);
Rule rule_gamma(float gamma = 0.25f, float epsilon = 1e-6f);
Rule rule_zbox(std::vector<float> low, std::vector<float> high, float epsilon = 1e-6f);
Rule rule_flat(float epsilon = 1e-6f);
Rule rule_wsquare(float epsilon = 1e-6f);
Rule rule_pass();
Rule rule_norm(float epsilon = 1e-6f);
Rule rule_gradient();
Rule rule_softmax();
Rule rule_product(float epsilon = 1e-6f);

// "zplus", "epsilon:1e-3", "alphabeta:2,1", "gamma:0.5", "zbox:-1,1" (or "zbox:l1/l2/l3,h1/h2/h3"
// for per-channel bounds). Throws relscope::Error(BadInput) naming `what` on anything else.
Rule parse_rule(const std::string& spec, const std::string& what);

}  // namespace relscope::relevance
