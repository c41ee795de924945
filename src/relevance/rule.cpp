// relscope/relevance/rule.cpp — the rule tables of METHODS.md, and parsing "name:params".
#include "relevance/rule.h"

#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace relscope::relevance {

namespace {

using I = InputMod;
using P = ParamMod;

Rule linear(std::string name, std::vector<Term> terms, std::vector<Group> groups, float epsilon) {
  Rule r;
  r.name = std::move(name);
  r.kind = RuleKind::Linear;
  r.terms = std::move(terms);
  r.groups = std::move(groups);
  r.epsilon = epsilon;
  return r;
}

std::string fmt(float v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::vector<float> parse_floats(const std::string& text, char sep, const std::string& what) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end) fail_input(what + ": '" + item + "' is not a number");
    out.push_back(v);
  }
  if (out.empty()) fail_input(what + ": expected a number");
  return out;
}

}  // namespace

Rule rule_epsilon(float epsilon) { return linear("epsilon", {{I::Identity, P::Identity, P::Identity, 0, 1, 1}}, {{}}, epsilon); }

Rule rule_zplus(float epsilon) {
  return linear("zplus", {{I::Positive, P::Positive, P::Positive, 0, 1, 1}, {I::Negative, P::Negative, P::Zero, 0, 1, 1}},
                {{}}, epsilon);
}

Rule rule_alpha_beta(float alpha, float beta, float epsilon) {
  Rule r = linear("alphabeta",
                  {{I::Positive, P::Positive, P::Positive, 0, 1, alpha},
                   {I::Negative, P::Negative, P::Zero, 0, 1, alpha},
                   {I::Positive, P::Negative, P::Negative, 1, 1, -beta},
                   {I::Negative, P::Positive, P::Zero, 1, 1, -beta}},
                  {{}, {}}, epsilon);
  return r;
}

Rule rule_gamma(float gamma, float epsilon) {
  Rule r = linear("gamma",
                  {{I::Positive, P::GammaPositive, P::GammaPositive, 0, 1, 1},
                   {I::Negative, P::GammaNegative, P::Zero, 0, 1, 1},
                   {I::Positive, P::GammaNegative, P::GammaNegative, 1, 1, 1},
                   {I::Negative, P::GammaPositive, P::Zero, 1, 1, 1}},
                  {{OutputMask::ZPositive}, {OutputMask::ZNegative}}, epsilon);
  r.gamma = gamma;
  return r;
}

Rule rule_zbox(std::vector<float> low, std::vector<float> high, float epsilon) {
  Rule r = linear("zbox",
                  {{I::Identity, P::Identity, P::Identity, 0, 1, 1},
                   {I::Low, P::Positive, P::Positive, 0, -1, -1},
                   {I::High, P::Negative, P::Negative, 0, -1, -1}},
                  {{}}, epsilon);
  r.low = std::move(low);
  r.high = std::move(high);
  return r;
}

Rule rule_flat(float epsilon) { return linear("flat", {{I::Ones, P::Ones, P::Zero, 0, 1, 1}}, {{}}, epsilon); }

Rule rule_wsquare(float epsilon) { return linear("wsquare", {{I::Ones, P::Square, P::Square, 0, 1, 1}}, {{}}, epsilon); }

Rule rule_pass() {
  Rule r;
  r.name = "pass";
  r.kind = RuleKind::Pass;
  return r;
}

Rule rule_norm(float epsilon) {
  Rule r;
  r.name = "norm";
  r.kind = RuleKind::Norm;
  r.epsilon = epsilon;
  return r;
}

Rule rule_gradient() {
  Rule r;
  r.name = "gradient";
  r.kind = RuleKind::Gradient;
  return r;
}

Rule rule_softmax() {
  Rule r;
  r.name = "attn-softmax";
  r.kind = RuleKind::Softmax;
  return r;
}

Rule rule_product(float epsilon) {
  Rule r;
  r.name = "attn-product";
  r.kind = RuleKind::Product;
  r.epsilon = epsilon;
  return r;
}

std::string Rule::describe() const {
  // zennit's naming: epsilon is the Epsilon rule's own parameter; for the others it is only the stabiliser.
  if (name == "epsilon") return "epsilon(epsilon=" + fmt(epsilon) + ")";
  if (name == "zplus" || name == "flat" || name == "wsquare" || name == "norm")
    return name + "(stabilizer=" + fmt(epsilon) + ")";
  if (name == "alphabeta") return "alphabeta(alpha=" + fmt(terms[0].coef) + ", beta=" + fmt(-terms[2].coef) + ")";
  if (name == "gamma") return "gamma(gamma=" + fmt(gamma) + ")";
  if (name == "zbox") {
    auto list = [](const std::vector<float>& v) {
      std::string s;
      for (size_t k = 0; k < v.size(); ++k) s += (k ? "/" : "") + fmt(v[k]);
      return s;
    };
    return "zbox(low=" + list(low) + ", high=" + list(high) + ")";
  }
  return name;
}

Rule parse_rule(const std::string& spec, const std::string& what) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string params = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto numbers = [&](size_t min, size_t max) {
    std::vector<float> v = params.empty() ? std::vector<float>{} : parse_floats(params, ',', what);
    if (v.size() < min || v.size() > max)
      fail_input(what + ": rule '" + name + "' takes " + std::to_string(min) + (max > min ? " to " + std::to_string(max) : "") +
                 " parameter(s), got " + std::to_string(v.size()));
    return v;
  };
  if (name == "epsilon") {
    auto v = numbers(0, 1);
    return rule_epsilon(v.empty() ? 1e-6f : v[0]);
  }
  if (name == "zplus") return numbers(0, 0), rule_zplus();
  if (name == "alphabeta") {
    auto v = numbers(0, 2);
    const float alpha = v.size() > 0 ? v[0] : 2.0f, beta = v.size() > 1 ? v[1] : alpha - 1.0f;
    if (alpha - beta != 1.0f) fail_input(what + ": alphabeta needs alpha - beta = 1, got alpha=" + fmt(alpha) + " beta=" + fmt(beta));
    return rule_alpha_beta(alpha, beta);
  }
  if (name == "gamma") {
    auto v = numbers(0, 1);
    if (!v.empty() && v[0] < 0) fail_input(what + ": gamma must be >= 0");
    return rule_gamma(v.empty() ? 0.25f : v[0]);
  }
  if (name == "zbox") {
    const auto comma = params.find(',');
    if (params.empty() || comma == std::string::npos) fail_input(what + ": zbox needs bounds, e.g. zbox:-1,1 or zbox:l1/l2/l3,h1/h2/h3");
    auto low = parse_floats(params.substr(0, comma), '/', what), high = parse_floats(params.substr(comma + 1), '/', what);
    if (low.size() != high.size()) fail_input(what + ": zbox low and high have different lengths");
    for (size_t k = 0; k < low.size(); ++k)
      if (low[k] > high[k]) fail_input(what + ": zbox low " + fmt(low[k]) + " is above high " + fmt(high[k]));
    return rule_zbox(std::move(low), std::move(high));
  }
  if (name == "flat") return numbers(0, 0), rule_flat();
  if (name == "wsquare") return numbers(0, 0), rule_wsquare();
  if (name == "pass") return numbers(0, 0), rule_pass();
  if (name == "norm") return numbers(0, 0), rule_norm();
  if (name == "gradient") return numbers(0, 0), rule_gradient();
  fail_input(what + ": unknown rule '" + name + "' (epsilon, zplus, alphabeta, gamma, zbox, flat, wsquare, pass, norm, gradient)");
}

}  // namespace relscope::relevance
