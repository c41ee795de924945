// relscope/relevance/sweep.cpp — the backward sweep and the non-linear-layer rules.
//
// Sections: helpers (broadcast reduction) | rules on one node | the sweep (one, or branching at a value)
#include "relevance/sweep.h"

#include <algorithm>

#include "core/error.h"
#include "graph/op_params.h"
#include "relevance/composite.h"
#include "relevance/linear_rule.h"
#include "relevance/vjp.h"

namespace relscope::relevance {

namespace {

void accumulate(Tensor& into, Tensor&& add) {
  if (into.f.empty()) {
    into = std::move(add);   // the first share arrives: no copy
    return;
  }
  for (size_t k = 0; k < into.f.size(); ++k) into.f[k] += add.f[k];
}

// x * v elementwise (same shapes).
Tensor times(const Tensor& x, const Tensor& v) {
  Tensor out = v;
  for (size_t k = 0; k < out.f.size(); ++k) out.f[k] *= x.f[k];
  return out;
}

// Sum of a broadcast result back onto the shape of one operand (numpy broadcasting in reverse).
Tensor sum_to_shape(const Tensor& t, const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  const size_t r = t.shape.size(), off = r - shape.size();
  const auto in_strides = shape_strides(t.shape);
  const auto out_strides = shape_strides(shape);
  for (int64_t k = 0; k < t.numel(); ++k) {
    int64_t o = 0;
    for (size_t d = off; d < r; ++d) {
      const int64_t c = (k / in_strides[d]) % t.shape[d];
      if (shape[d - off] != 1) o += c * out_strides[d - off];
    }
    out.f[o] += t.f[k];
  }
  return out;
}

int varying_count(const Plan& p, const Node& n) {
  int k = 0;
  for (int v : n.inputs)
    if (v >= 0 && !p.is_constant(v) && p.dtypes[v] == DType::Float32) ++k;
  return k;
}

// AttnLRP softmax rule: R_in = x * (R - s * sum_axis(R)), s the softmax output.
Tensor softmax_rule(const Graph& g, const Node& n, const Tensor& x, const Tensor& s, const Tensor& R) {
  const int64_t rank = x.rank();
  const bool coerce_2d = g.opset < 13;   // older opsets normalise over all dims from `axis` on
  const int64_t axis = normalize_axis(n.attrs.get_int("axis", coerce_2d ? 1 : -1), rank, "axis", g.node_label(n));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : (d == axis || coerce_2d ? len : inner)) *= x.shape[d];
  Tensor out = Tensor::zeros(x.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      double total = 0;
      for (int64_t l = 0; l < len; ++l) total += R.f[base + l * inner];
      for (int64_t l = 0; l < len; ++l) {
        const int64_t k = base + l * inner;
        out.f[k] = x.f[k] * (R.f[k] - s.f[k] * static_cast<float>(total));
      }
    }
  return out;
}

// R_k = x_k * vjp_k(R / (share * stab(y))): each input's share of the node's output by its contribution
// (Norm: share 1; a MatMul of two activations: share 2, AttnLRP's even split).
void split_by_contribution(const Graph& g, const Plan& p, const Activations& act, const Node& n, const Tensor& R,
                           float share, float epsilon, std::vector<Tensor>& in_rel) {
  const Tensor& y = act.get(n.outputs[0]);
  Tensor s = R;
  for (size_t k = 0; k < s.f.size(); ++k) s.f[k] /= share * stabilize(y.f[k], epsilon);
  std::vector<Tensor> grads;
  vjp(g, p, act, n, {&s}, grads);
  for (size_t k = 0; k < n.inputs.size(); ++k)
    if (!grads[k].f.empty()) in_rel[k] = times(act.get(n.inputs[k]), grads[k]);
}

}  // namespace

// ---- the sweep ------------------------------------------------------------------------------------------------
namespace {

struct Sweep {
  const Graph& g;
  const Plan& p;
  const Activations& act;
  const std::vector<Rule>& rules;
  const SweepOptions& options;
};

// The relevance of every value at the start: the seed at the explained output.
std::vector<Tensor> start_sweep(const Sweep& c, int output_value, const Tensor& seed) {
  if (c.rules.size() != c.g.nodes.size()) fail(ErrorKind::Internal, "backward_sweep: one rule per node expected");
  if (seed.shape != c.p.shapes[output_value])
    fail(ErrorKind::Internal, "backward_sweep: seed " + shape_str(seed.shape) + " for output " + shape_str(c.p.shapes[output_value]));
  std::vector<Tensor> rel(c.g.values.size());
  rel[output_value] = seed;
  return rel;
}

// Node `index` (a plan step) passes the relevance at its outputs on to its inputs.
void sweep_node(const Sweep& c, int index, std::vector<Tensor>& rel) {
  const Graph& g = c.g;
  const Plan& p = c.p;
  const Activations& act = c.act;
  const SweepOptions& options = c.options;
  const Node& n = g.nodes[index];
  const Rule& rule = c.rules[index];
  bool any = false;
  for (int v : n.outputs)
    if (v >= 0 && !rel[v].f.empty()) {
      any = true;
      if (options.at_node_output) options.at_node_output(n, v, rel[v]);
    }
  if (!any) return;
  const std::string where = g.node_label(n);
  const int out0 = n.outputs[0];
  const Tensor zero_out = rel[out0].f.empty() ? Tensor::zeros(p.shapes[out0]) : Tensor{};
  const Tensor& R = rel[out0].f.empty() ? zero_out : rel[out0];
  std::vector<Tensor> in_rel(n.inputs.size());

  switch (rule.kind) {
    case RuleKind::Linear: {
      const LinearLayer L = linear_layer(g, p, n);
      const Tensor& x = act.get(n.inputs[L.input_slot]);
      in_rel[L.input_slot] = apply_linear_rule(L, rule, x, act.get(out0), R, where, nullptr, &act.memo);
      if (options.at_linear_input)
        options.at_linear_input(n, in_rel[L.input_slot], [&](const Tensor& keep) {
          return apply_linear_rule(L, rule, x, act.get(out0), R, where, keep.f.data());
        });
      break;
    }
    case RuleKind::Softmax:
      in_rel[0] = softmax_rule(g, n, act.get(n.inputs[0]), act.get(out0), R);
      break;
    case RuleKind::Product: {
      // Each of the n varying factors gets an even share of R. For an elementwise Mul that is R/n
      // exactly (summed over copies when a factor was broadcast); computing it as
      // x * vjp(R / (n * stab(y))) would be ill-conditioned where y is near 0 (e.g. exported GELU).
      // MatMul of two activations uses that form, as AttnLRP: R_A = A * ((R / 2z) B^T).
      const float share = static_cast<float>(varying_count(p, n));
      if (n.op == Op::Mul) {
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          const int v = n.inputs[k];
          if (v < 0 || p.is_constant(v)) continue;
          Tensor part = R;
          for (float& x : part.f) x /= share;
          in_rel[k] = p.shapes[v] == R.shape ? std::move(part) : sum_to_shape(part, p.shapes[v]);
        }
        break;
      }
      split_by_contribution(g, p, act, n, R, share, rule.epsilon, in_rel);
      break;
    }
    case RuleKind::Pass: {
      // Relevance passes unchanged to the one varying input (Activation nodes have exactly one:
      // two varying inputs make a node a Sum or a Product). If that input was broadcast, its copies'
      // relevance is summed, which is what the op's gradient does with R.
      // R itself moves on when this node's output relevance is dropped after it anyway (an activation's one
      // varying input takes it whole): ReLU and friends then cost no copy.
      auto varying = [&](int v) { return v >= 0 && !p.is_constant(v) && p.dtypes[v] == DType::Float32; };
      const bool movable = !options.keep_all && &R == &rel[out0] && n.outputs.size() == 1 &&
                           std::count_if(n.inputs.begin(), n.inputs.end(), varying) == 1;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const int v = n.inputs[k];
        if (!varying(v)) continue;
        if (p.shapes[v] == R.shape && movable) {
          in_rel[k] = std::move(rel[out0]);
        } else if (p.shapes[v] == R.shape) {
          in_rel[k] = R;
        } else {
          std::vector<Tensor> grads;
          vjp(g, p, act, n, {&R}, grads);
          in_rel[k] = std::move(grads[k]);
        }
      }
      break;
    }
    case RuleKind::Norm:
      split_by_contribution(g, p, act, n, R, 1.0f, rule.epsilon, in_rel);
      break;
    case RuleKind::Gradient: {
      std::vector<const Tensor*> outs;
      for (int v : n.outputs) outs.push_back(v >= 0 && !rel[v].f.empty() ? &rel[v] : nullptr);
      vjp(g, p, act, n, outs, in_rel);
      break;
    }
  }
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int v = n.inputs[k];
    if (v < 0 || in_rel[k].f.empty() || p.is_constant(v)) continue;
    accumulate(rel[v], std::move(in_rel[k]));
  }
  if (!options.keep_all)
    for (int v : n.outputs)
      if (v >= 0) rel[v] = Tensor{};
}

SweepResult finish_sweep(const Sweep& c, std::vector<Tensor>& rel) {
  SweepResult result;
  for (int v : c.g.inputs) {
    Tensor r = rel[v];
    if (r.f.empty() && c.p.dtypes[v] == DType::Float32) r = Tensor::zeros(c.p.shapes[v]);
    result.input_relevance.push_back(std::move(r));
  }
  if (c.options.keep_all) result.values = std::move(rel);
  return result;
}

bool produces(const Node& n, int value) { return std::find(n.outputs.begin(), n.outputs.end(), value) != n.outputs.end(); }

}  // namespace

SweepResult backward_sweep(const Graph& g, const Plan& p, const Activations& act, const std::vector<Rule>& rules,
                           int output_value, const Tensor& seed, const SweepOptions& options) {
  const Sweep c{g, p, act, rules, options};
  std::vector<Tensor> rel = start_sweep(c, output_value, seed);
  for (auto it = p.steps.rbegin(); it != p.steps.rend(); ++it) sweep_node(c, *it, rel);
  return finish_sweep(c, rel);
}

Tensor backward_sweep_to(const Graph& g, const Plan& p, const Activations& act, const std::vector<Rule>& rules,
                         int output_value, const Tensor& seed, int value, const SweepOptions& options) {
  const Sweep c{g, p, act, rules, options};
  std::vector<Tensor> rel = start_sweep(c, output_value, seed);
  for (auto it = p.steps.rbegin(); it != p.steps.rend(); ++it) {
    const Node& n = g.nodes[*it];
    if (!produces(n, value)) {
      sweep_node(c, *it, rel);
      continue;
    }
    if (options.at_node_output)   // the hooks a whole sweep would run here, then stop
      for (int v : n.outputs)
        if (v >= 0 && !rel[v].f.empty()) options.at_node_output(n, v, rel[v]);
    return std::move(rel[value]);
  }
  return {};
}

std::vector<SweepResult> backward_sweep_branches(const Graph& g, const Plan& p, const Activations& act,
                                                 const std::vector<Rule>& rules, int output_value, const Tensor& seed,
                                                 int value, const std::vector<std::function<void(Tensor&)>>& edits,
                                                 const SweepOptions& options) {
  const Sweep c{g, p, act, rules, options};
  std::vector<Tensor> trunk = start_sweep(c, output_value, seed);
  size_t left = p.steps.size();   // steps not yet swept, from the last backwards
  while (left > 0 && !produces(g.nodes[p.steps[left - 1]], value)) sweep_node(c, p.steps[--left], trunk);
  std::vector<SweepResult> results;
  for (const auto& edit : edits) {
    std::vector<Tensor> rel = trunk;
    if (left > 0 && !rel[value].f.empty()) edit(rel[value]);   // where a hook at `value` would see it
    for (size_t k = left; k-- > 0;) sweep_node(c, p.steps[k], rel);
    results.push_back(finish_sweep(c, rel));
  }
  return results;
}

}  // namespace relscope::relevance
