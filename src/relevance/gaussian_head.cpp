// relscope/relevance/gaussian_head.cpp — Gaussian heads: options, names, units (see gaussian_head.h).
//
// Sections: option parsing (variance_options.h) | name tokens | unit texts | find/detect | explain choice |
//           head values | driver shares
#include "relevance/gaussian_head.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/number_list.h"
#include "relevance/explain.h"
#include "relevance/request.h"

namespace relscope::relevance {

// ---- option parsing -----------------------------------------------------------------------------------
const std::vector<std::string>& variance_option_names() {
  static const std::vector<std::string> names = {"explain", "mean-unit", "var-unit", "var-kind", "ensemble", "mc-dropout", "cov"};
  return names;
}

VarianceOptions parse_variance_options(const std::map<std::string, std::string>& values, const std::string& method,
                                       const std::string& p) {
  auto get = [&](const std::string& name) {
    const auto it = values.find(name);
    return it == values.end() ? std::string() : it->second;
  };
  auto one_of = [&](const std::string& name, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
      if (v == a) return;
      list += (list.empty() ? "" : "|") + std::string(a);
    }
    fail_input(p + name + ": '" + v + "' is not one of " + list);
  };
  VarianceOptions o;
  o.explain = get("explain");
  if (values.count("explain")) one_of("explain", o.explain, {"mean", "variance"});
  o.mean_unit = get("mean-unit");
  o.var_unit = get("var-unit");
  o.var_kind = get("var-kind");
  if (values.count("var-kind")) one_of("var-kind", o.var_kind, {"logvar", "var", "sd"});
  if (values.count("mean-unit") && o.mean_unit.empty()) fail_input(p + "mean-unit: empty (K, OUTPUT or OUTPUT:K)");
  if (values.count("var-unit") && o.var_unit.empty()) fail_input(p + "var-unit: empty (K, OUTPUT or OUTPUT:K)");
  if (o.head_given() && o.explain.empty() && method != "cov-lrp")
    fail_input(p + "mean-unit/" + p + "var-unit/" + p + "var-kind: only used with " + p + "explain mean|variance or " +
               p + "method cov-lrp");
  if (!o.explain.empty() && (values.count("target") || values.count("output")))
    fail_input(p + "explain " + o.explain + ": picks the explained output and unit itself; drop " + p + "target/" + p + "output");

  // cov-lrp: members from --ensemble a.onnx,b.onnx (after MODEL) or --mc-dropout N samples.
  const bool cov = method == "cov-lrp";
  for (const char* name : {"ensemble", "mc-dropout", "cov"})
    if (values.count(name) && !cov) fail_input(p + name + ": only used with " + p + "method cov-lrp");
  if (values.count("ensemble")) {
    const std::string list = get("ensemble");
    size_t start = 0;
    while (true) {
      const size_t comma = list.find(',', start);
      const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item.empty()) fail_input(p + "ensemble '" + list + "': an empty file name (a.onnx,b.onnx,...)");
      o.ensemble.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (values.count("mc-dropout")) {
    const std::vector<int64_t> n = parse_int_list(get("mc-dropout"), p + "mc-dropout");
    if (n.size() != 1 || n[0] < 2 || n[0] > 10000) fail_input(p + "mc-dropout: give a number of samples from 2 to 10000");
    o.mc_dropout = static_cast<int>(n[0]);
  }
  if (cov && o.ensemble.empty() == (o.mc_dropout == 0))
    fail_input("method cov-lrp needs either " + p + "ensemble b.onnx,c.onnx,... (members after MODEL) or " + p +
               "mc-dropout N [" + p + "seed S]");
  if (values.count("cov")) one_of("cov", o.cov = get("cov"), {"diag", "marg", "both"});
  if (cov && o.explain == "variance")
    fail_input(p + "explain variance: cov-lrp explains the spread of the members' means; the variance heads' "
               "(aleatoric) term is added by itself");
  return o;
}

// ---- name tokens --------------------------------------------------------------------------------------
namespace {

enum class Role { None, Mean, Var };
struct Token {
  Role role = Role::None;
  VarKind kind = VarKind::Variance;
  bool kind_known = true;
};

// Lower-case alphanumeric tokens of a name ("Pred/logVar_0" -> pred, logvar, 0).
std::vector<std::string> tokens_of(const std::string& name) {
  std::vector<std::string> out(1);
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) out.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.back().empty()) out.emplace_back();
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// The roles a name's tokens play, in order ("mean_logvar" -> Mean, Var(log-variance)).
std::vector<Token> roles_of(const std::string& name) {
  const auto t = tokens_of(name);
  std::vector<Token> out;
  for (size_t k = 0; k < t.size(); ++k) {
    const std::string& s = t[k];
    const bool after_log = k > 0 && t[k - 1] == "log";
    if (s == "mean" || s == "mu" || s == "loc" || s == "means") out.push_back({Role::Mean});
    else if (s == "logvar" || s == "lvar" || s == "logvariance" || s == "logsigma2")
      out.push_back({Role::Var, VarKind::LogVariance});
    else if (s == "var" || s == "variance" || s == "sigma2" || s == "sigmasq")
      out.push_back({Role::Var, after_log ? VarKind::LogVariance : VarKind::Variance});
    else if (s == "sigma" || s == "std" || s == "sd" || s == "stddev" || s == "scale")
      out.push_back({Role::Var, VarKind::StdDev, !after_log});   // a log standard deviation: not a kind we know
    else if (s == "logsigma" || s == "logstd")
      out.push_back({Role::Var, VarKind::StdDev, false});
  }
  return out;
}

bool has_role(const std::vector<Token>& r, Role role) {
  for (const auto& t : r)
    if (t.role == role) return true;
  return false;
}

std::string output_list(const Graph& g, const std::vector<int64_t>& units) {
  std::string s;
  for (size_t k = 0; k < g.outputs.size(); ++k)
    s += (s.empty() ? "" : ", ") + g.values[g.outputs[k]].name + " (" + std::to_string(units[k]) + " per sample)";
  return s;
}

bool is_integer(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// ---- unit texts: "K" | "OUTPUT" | "OUTPUT:K" ----------------------------------------------------------
HeadUnit parse_unit(const Graph& g, const std::vector<int64_t>& units, const std::string& text, const std::string& what) {
  HeadUnit u;
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    u.output = output_index(g, text.substr(0, colon), what);
    const std::string k = text.substr(colon + 1);
    if (!is_integer(k)) fail_input(what + " '" + text + "': the unit after ':' must be a whole number");
    u.unit = std::strtoll(k.c_str(), nullptr, 10);
  } else if (is_integer(text)) {
    // A bare unit: of the one output, or of the one output holding several values per sample.
    int several = -1, count = 0;
    for (size_t k = 0; k < units.size(); ++k)
      if (units[k] >= 2) several = static_cast<int>(k), ++count;
    if (g.outputs.size() == 1) several = 0, count = 1;
    if (count != 1)
      fail_input(what + " " + text + ": " + g.label + " has outputs " + output_list(g, units) + "; write OUTPUT:UNIT");
    u.output = static_cast<size_t>(several);
    u.unit = std::strtoll(text.c_str(), nullptr, 10);
  } else {
    u.output = output_index(g, text, what);
    if (units[u.output] != 1)
      fail_input(what + " " + text + ": output '" + text + "' has " + std::to_string(units[u.output]) +
                 " values per sample; write " + text + ":UNIT");
  }
  if (u.unit < 0 || u.unit >= units[u.output])
    fail_input(what + " " + text + ": output '" + g.values[g.outputs[u.output]].name + "' has " +
               std::to_string(units[u.output]) + " value(s) per sample, no unit " + std::to_string(u.unit));
  return u;
}

// Names alone: two single-unit outputs, one mean-like and one variance-like; or one two-unit output whose
// name holds both words (their order is the units' order).
bool heads_from_names(const Graph& g, const std::vector<int64_t>& units, GaussianHead& h, Token& var_token) {
  int mean_out = -1, var_out = -1, means = 0, vars = 0;
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const auto r = roles_of(g.values[g.outputs[k]].name);
    const bool m = has_role(r, Role::Mean), v = has_role(r, Role::Var);
    if (m && v && units[k] == 2 && g.outputs.size() == 1) {
      const bool mean_first = r.front().role == Role::Mean;
      h.mean = {k, mean_first ? 0 : 1};
      h.var = {k, mean_first ? 1 : 0};
      for (const auto& t : r)
        if (t.role == Role::Var) var_token = t;
      return true;
    }
    if (units[k] != 1 || m == v) continue;
    if (m) mean_out = static_cast<int>(k), ++means;
    if (v) {
      var_out = static_cast<int>(k), ++vars;
      for (const auto& t : r)
        if (t.role == Role::Var) var_token = t;
    }
  }
  if (means != 1 || vars != 1) return false;
  h.mean = {static_cast<size_t>(mean_out), 0};
  h.var = {static_cast<size_t>(var_out), 0};
  return true;
}

}  // namespace

// ---- find / detect ------------------------------------------------------------------------------------
std::vector<int64_t> output_units_per_sample(Session& s, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> one;
  for (const auto& t : inputs) {
    if (t.shape.empty() || t.shape[0] < 1) fail_input(s.graph().label + ": an input without samples (batch 0 or a scalar)");
    one.push_back(slice_batch(t, 0, 1));
  }
  const Plan& plan = s.plan_for(one);
  std::vector<int64_t> units;
  for (int v : s.graph().outputs) units.push_back(shape_numel(plan.shapes[v]));
  return units;
}

bool detect_gaussian_head(const Graph& g, const std::vector<int64_t>& units, GaussianHead& head) {
  GaussianHead h;
  Token var_token;
  if (!heads_from_names(g, units, h, var_token) || !var_token.kind_known) return false;
  h.kind = var_token.kind;
  h.from_names = true;
  head = h;
  return true;
}

GaussianHead find_gaussian_head(const Graph& g, const std::vector<int64_t>& units, const VarianceOptions& o,
                                const std::string& p) {
  GaussianHead h;
  Token var_token;
  const bool has_mean = !o.mean_unit.empty(), has_var = !o.var_unit.empty();
  if (has_mean) h.mean = parse_unit(g, units, o.mean_unit, p + "mean-unit");
  if (has_var) h.var = parse_unit(g, units, o.var_unit, p + "var-unit");
  if (!has_mean || !has_var) {
    GaussianHead named;
    const bool found = heads_from_names(g, units, named, var_token);
    if (has_mean != has_var) {
      // One unit given: the other is the second unit of a two-unit output, or the named other output.
      const HeadUnit given = has_mean ? h.mean : h.var;
      HeadUnit other;
      if (units[given.output] == 2) other = {given.output, 1 - given.unit};
      else if (found) other = has_mean ? named.var : named.mean;
      else
        fail_input(std::string(has_mean ? p + "mean-unit" : p + "var-unit") + " " + (has_mean ? o.mean_unit : o.var_unit) +
                   ": say which unit holds the " + (has_mean ? "variance (" + p + "var-unit" : "mean (" + p + "mean-unit") +
                   " OUTPUT:K); outputs: " + output_list(g, units));
      (has_mean ? h.var : h.mean) = other;
    } else if (found) {
      h = named;
      h.from_names = true;
    } else {
      fail_input(g.label + ": no Gaussian head (mean and variance) found among the outputs " + output_list(g, units) +
                 "; name them like mean/mu and logvar/var/sigma, or say which unit is which with " + p + "mean-unit and " + p +
                 "var-unit (K, OUTPUT or OUTPUT:K) and " + p + "var-kind logvar|var|sd");
    }
  }
  if (h.mean.output == h.var.output && h.mean.unit == h.var.unit)
    fail_input(p + "mean-unit/" + p + "var-unit: both name unit " + std::to_string(h.mean.unit) + " of output '" +
               g.values[g.outputs[h.mean.output]].name + "'");
  // The kind: given, or said by the name of the output holding the variance unit (one variance word).
  int var_words = 0;
  for (const auto& t : roles_of(g.values[g.outputs[h.var.output]].name))
    if (t.role == Role::Var) var_token = t, ++var_words;
  if (!o.var_kind.empty()) {
    h.kind = o.var_kind == "logvar" ? VarKind::LogVariance : o.var_kind == "var" ? VarKind::Variance : VarKind::StdDev;
  } else if (var_words == 1 && var_token.kind_known) {
    h.kind = var_token.kind;
  } else {
    fail_input(p + "var-kind: output '" + g.values[g.outputs[h.var.output]].name + "' unit " + std::to_string(h.var.unit) +
               " does not say by its name whether it holds a log-variance, a variance or a standard deviation; give " + p +
               "var-kind logvar|var|sd");
  }
  return h;
}

const char* var_kind_name(VarKind k) {
  return k == VarKind::LogVariance ? "log-variance" : k == VarKind::Variance ? "variance" : "standard deviation";
}

std::string describe_unit(const Graph& g, const GaussianHead& h, bool variance) {
  const HeadUnit& u = variance ? h.var : h.mean;
  return std::string(variance ? var_kind_name(h.kind) : "mean") + " of output '" + g.values[g.outputs[u.output]].name +
         "' unit " + std::to_string(u.unit);
}

// ---- explain choice -----------------------------------------------------------------------------------
std::string apply_explain_choice(Session& s, const std::vector<Tensor>& inputs, ExplainRequest& r, const std::string& p) {
  if (r.variance.explain.empty()) return "";
  const GaussianHead h = find_gaussian_head(s.graph(), output_units_per_sample(s, inputs), r.variance, p);
  const bool variance = r.variance.explain == "variance";
  const HeadUnit& u = variance ? h.var : h.mean;
  r.output = u.output;
  r.targets = {u.unit};
  return describe_unit(s.graph(), h, variance);
}

// ---- head values --------------------------------------------------------------------------------------
double to_variance(VarKind k, double v) {
  return k == VarKind::LogVariance ? std::exp(v) : k == VarKind::Variance ? v : v * v;
}

HeadPrediction head_prediction(const GaussianHead& h, const std::vector<Tensor>& outputs, int64_t b) {
  auto value = [&](const HeadUnit& u) {
    const Tensor& t = outputs.at(u.output);
    const int64_t n = t.shape.empty() ? 1 : t.shape[0], per = n > 0 ? t.numel() / n : 0;
    if (b >= n || u.unit >= per) fail(ErrorKind::Internal, "head_prediction: unit outside the output");
    return static_cast<double>(t.f[b * per + u.unit]);
  };
  return {value(h.mean), to_variance(h.kind, value(h.var))};
}

// ---- driver shares ------------------------------------------------------------------------------------
double driver_share(const Tensor& relevance, const std::vector<int64_t>& drivers, const std::string& what) {
  const int64_t n = relevance.shape.empty() ? 1 : relevance.shape[0];
  const int64_t per = n > 0 ? relevance.numel() / n : 0;
  for (int64_t d : drivers)
    if (d < 0 || d >= per) fail_input(what + ": feature " + std::to_string(d) + " is out of range (" + std::to_string(per) + " features)");
  if (n == 0) return 0;
  const std::set<int64_t> unique(drivers.begin(), drivers.end());   // a repeated index must not count twice
  double share = 0;
  for (int64_t b = 0; b < n; ++b) {
    const float* r = relevance.f.data() + b * per;
    double total = 0, on = 0;
    for (int64_t i = 0; i < per; ++i) total += std::fabs(r[i]);
    for (int64_t d : unique) on += std::fabs(r[d]);
    share += total > 0 ? on / total : 0.0;
  }
  return share / static_cast<double>(n);
}

}  // namespace relscope::relevance
