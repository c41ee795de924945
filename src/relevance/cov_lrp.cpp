// relscope/relevance/cov_lrp.cpp — CovLRP over ensemble members or MC-dropout samples (see cov_lrp.h).
//
// Sections: cov_maps | MC-dropout sampling | member checks | explain_cov (members, targets, one sample, batch)
#include "relevance/cov_lrp.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "relevance/explain_detail.h"

namespace relscope::relevance {

// ---- cov_maps -----------------------------------------------------------------------------------------
CovMaps cov_maps(const std::vector<const float*>& maps, int64_t per) {
  const size_t m_count = maps.size();
  if (m_count == 0) fail(ErrorKind::Internal, "cov_maps: no maps");
  const double inv = 1.0 / static_cast<double>(m_count);
  CovMaps c;
  c.mean.assign(per, 0.0);
  c.diag.assign(per, 0.0);
  c.marg.assign(per, 0.0);
  std::vector<double> s(m_count, 0.0);   // s_m = sum_i R^(m)_i
  double s_mean = 0;
  for (size_t m = 0; m < m_count; ++m) {
    for (int64_t i = 0; i < per; ++i) c.mean[i] += maps[m][i], s[m] += maps[m][i];
    s_mean += s[m];
  }
  for (double& v : c.mean) v *= inv;
  s_mean *= inv;
  for (size_t m = 0; m < m_count; ++m)
    for (int64_t i = 0; i < per; ++i) {
      const double d = maps[m][i] - c.mean[i];
      c.diag[i] += d * d * inv;
      c.marg[i] += d * (s[m] - s_mean) * inv;   // sum_j Sigma_ij without the F x F matrix
    }
  return c;
}

// ---- MC-dropout sampling ------------------------------------------------------------------------------
int dropout_count(const Graph& g) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == Op::Dropout; }));
}

namespace {

bool is_read(const Graph& g, int v) {
  if (v < 0) return false;
  for (const auto& n : g.nodes)
    if (std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end()) return true;
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

// The drop probability of a Dropout node: the `ratio` input (opset 12+) or attribute, 0.5 by default.
float dropout_ratio(const Graph& g, const Plan& plan, const Node& n) {
  const std::string where = g.node_label(n);
  float p = 0.5f;
  if (g.opset >= 12) {
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
      if (!plan.is_constant(n.inputs[1])) fail(ErrorKind::Unsupported, where + ": ratio must be a constant for MC-dropout");
      const Tensor& t = *plan.constants[n.inputs[1]];
      if (t.numel() != 1) fail_input(where + ": ratio must hold one value, it has " + std::to_string(t.numel()));
      p = t.dtype == DType::Float32 ? t.f[0] : static_cast<float>(t.i[0]);
    }
  } else {
    p = n.attrs.get_float("ratio", 0.5f);
  }
  if (!(p >= 0.0f && p <= 1.0f)) fail_input(where + ": ratio " + std::to_string(p) + " is outside [0, 1]");
  return p;
}

}  // namespace

Graph sample_dropout(const Graph& original, const Plan& plan, std::mt19937_64& rng) {
  Graph g = original;
  for (Node& n : g.nodes) {
    if (n.op != Op::Dropout) continue;
    const std::string where = g.node_label(n);
    if (n.outputs.size() > 1 && is_read(g, n.outputs[1]))
      fail(ErrorKind::Unsupported, where + ": its mask output is read; MC-dropout replaces the node by a fixed mask");
    const float p = dropout_ratio(g, plan, n);
    // PyTorch: keep with probability 1-p, kept values scaled by 1/(1-p); p = 1 drops everything.
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    Tensor mask = Tensor::zeros(plan.shapes[n.inputs[0]]);
    for (float& v : mask.f) {
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;   // [0, 1), portable (not std::uniform_*)
      v = u >= p ? scale : 0.0f;
    }
    Value mv;
    mv.name = n.name + "#mc_dropout_mask";
    mv.is_initializer = true;
    mv.initializer = std::make_shared<const Tensor>(std::move(mask));
    g.values.push_back(std::move(mv));
    const int mask_id = static_cast<int>(g.values.size()) - 1;
    g.value_index[g.values.back().name] = mask_id;
    n.op = Op::Mul;   // a fixed multiplier: the composites give it Pass, gradients are multiplied by it
    n.op_type = "Mul";
    n.inputs = {n.inputs[0], mask_id};
    n.outputs = {n.outputs[0]};
    n.attrs = Attrs({}, where);
  }
  return g;
}

// ---- member checks ------------------------------------------------------------------------------------
namespace {

using namespace detail;

std::string declared_str(const onnx::ValueInfo& v) {
  if (!v.has_shape) return "(no declared shape)";
  std::string s = "[";
  for (size_t k = 0; k < v.dims.size(); ++k)
    s += (k ? "," : "") + (v.dims[k].value >= 0 ? std::to_string(v.dims[k].value) : v.dims[k].param.empty() ? "?" : v.dims[k].param);
  return s + "]";
}

// Ensemble members must take the same inputs as MODEL: count, element type, rank and every fixed dim.
void check_same_inputs(const Graph& a, const Graph& b) {
  if (a.inputs.size() != b.inputs.size())
    fail_input(b.label + ": " + std::to_string(b.inputs.size()) + " input(s), but " + a.label + " has " +
               std::to_string(a.inputs.size()) + "; ensemble members must take the same input");
  for (size_t k = 0; k < a.inputs.size(); ++k) {
    const onnx::ValueInfo &va = a.values[a.inputs[k]].declared, &vb = b.values[b.inputs[k]].declared;
    bool same = va.elem_type == vb.elem_type;
    if (va.has_shape && vb.has_shape) {
      same &= va.dims.size() == vb.dims.size();
      for (size_t d = 0; same && d < va.dims.size(); ++d)
        same &= va.dims[d].value < 0 || vb.dims[d].value < 0 || va.dims[d].value == vb.dims[d].value;
    }
    if (!same)
      fail_input(b.label + ": input '" + vb.name + "' is " + declared_str(vb) + " " + onnx::elem_type_name(vb.elem_type) +
                 ", but " + a.label + "'s input '" + va.name + "' is " + declared_str(va) + " " +
                 onnx::elem_type_name(va.elem_type) + "; ensemble members must take the same input");
  }
}

// One member for one sample: its session, explainer and the head it is read with.
struct Member {
  Session* session = nullptr;
  Explainer* explainer = nullptr;
  GaussianHead head;
};

double population_variance(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean) / static_cast<double>(v.size());
  return var;
}

}  // namespace

// ---- explain_cov --------------------------------------------------------------------------------------
CovExplanation explain_cov(Session& model, const std::vector<Session*>& others, const std::vector<Tensor>& inputs,
                           const ExplainRequest& request, const std::string& p) {
  const VarianceOptions& o = request.variance;
  const Graph& g = model.graph();
  check_request(g, inputs, request);
  if (inputs[0].shape.empty() || inputs[0].shape[0] < 1) fail_input(g.label + ": the explained input has no samples");
  const bool mc = o.mc_dropout > 0;
  if (mc == !others.empty()) fail_input("method cov-lrp needs either " + p + "ensemble (members after MODEL) or " + p + "mc-dropout N");
  if (mc && dropout_count(g) == 0)
    fail_input(g.label + ": " + p + "mc-dropout: the model has no Dropout node to sample (use " + p + "ensemble for a deep ensemble)");
  for (Session* s : others) check_same_inputs(g, s->graph());
  const int64_t n = batch_of(inputs[0]), per = inputs[0].numel() / n;
  const int m_count = mc ? o.mc_dropout : 1 + static_cast<int>(others.size());
  if (static_cast<uint64_t>(m_count) * static_cast<uint64_t>(per) > model.limits().max_tensor_elements)
    fail(ErrorKind::Limit, g.label + ": " + std::to_string(m_count) + " member maps of " + std::to_string(per) +
                               " values exceed the element limit");

  // The explained quantity: a Gaussian head's mean unit (given options, or names alone), else output/target.
  GaussianHead head;
  const bool gaussian = o.head_given() ? (head = find_gaussian_head(g, output_units_per_sample(model, inputs), o, p), true)
                                       : detect_gaussian_head(g, output_units_per_sample(model, inputs), head);
  std::vector<Member> fixed;   // ensemble: MODEL, then the others, explainers made once
  std::vector<std::unique_ptr<Explainer>> fixed_explainers;
  if (!mc) {
    std::vector<Session*> all = {&model};
    all.insert(all.end(), others.begin(), others.end());
    for (Session* s : all) {
      Member m{s, nullptr, head};
      if (gaussian && s != &model) m.head = find_gaussian_head(s->graph(), output_units_per_sample(*s, inputs), o, p);
      if (!gaussian && request.output >= s->graph().outputs.size())
        fail_input(s->graph().label + ": " + p + "output " + std::to_string(request.output) + ": the model has " +
                   std::to_string(s->graph().outputs.size()) + " output(s)");
      fixed_explainers.push_back(std::make_unique<Explainer>(*s));
      m.explainer = fixed_explainers.back().get();
      fixed.push_back(m);
    }
  }
  if (request.targets.size() > 1 && static_cast<int64_t>(request.targets.size()) != n)
    fail_input(p + "target: " + std::to_string(request.targets.size()) + " targets for a batch of " + std::to_string(n));

  CovExplanation out;
  out.members = m_count;
  out.diag = Tensor::zeros(inputs[0].shape);
  out.marg = Tensor::zeros(inputs[0].shape);
  out.mean = Tensor::zeros(inputs[0].shape);
  out.member_outputs = Tensor::zeros({m_count, n});
  if (gaussian) out.aleatoric = Tensor::zeros(inputs[0].shape), out.member_variances = Tensor::zeros({m_count, n});
  std::mt19937_64 rng(request.seed);
  std::vector<float> maps(static_cast<size_t>(m_count) * static_cast<size_t>(per));

  for (int64_t b = 0; b < n; ++b) {
    std::vector<Tensor> sample;
    for (const auto& t : inputs) sample.push_back(slice_batch(t, b, 1));
    std::vector<Member> members = fixed;
    std::vector<std::unique_ptr<Session>> sampled;   // MC-dropout: fresh masks per sample and member
    std::vector<std::unique_ptr<Explainer>> sampled_explainers;
    if (mc) {
      const Plan& plan = model.plan_for(sample);
      for (int m = 0; m < m_count; ++m) {
        sampled.push_back(std::make_unique<Session>(Session::from_graph(sample_dropout(g, plan, rng), model.limits())));
        sampled_explainers.push_back(std::make_unique<Explainer>(*sampled.back()));
        members.push_back({sampled.back().get(), sampled_explainers.back().get(), head});
      }
    }
    // The explained unit: the head's mean, the given target, or the arg-max of the members' mean output.
    int64_t target = request.targets.empty() ? -1 : request.targets[request.targets.size() == 1 ? 0 : b];
    if (!gaussian && target < 0) {
      std::vector<double> avg;
      for (const Member& m : members) {
        const Tensor y = m.session->predict(sample)[request.output];
        avg.resize(y.f.size(), 0.0);
        for (size_t k = 0; k < y.f.size() && k < avg.size(); ++k) avg[k] += y.f[k];
      }
      target = std::max_element(avg.begin(), avg.end()) - avg.begin();
    }
    std::vector<double> f(m_count);
    for (int m = 0; m < m_count; ++m) {
      ExplainRequest r = request;
      r.method = "lrp";
      r.variance = {};
      const HeadUnit u = gaussian ? members[m].head.mean : HeadUnit{request.output, target};
      r.output = u.output;
      r.targets = {u.unit};
      const Explanation e = members[m].explainer->explain(sample, r);
      members[m].explainer->drop_recorded();   // one member's recorded pass alive at a time, not m of them
      std::copy(e.relevance.f.begin(), e.relevance.f.end(), maps.begin() + static_cast<size_t>(m) * per);
      f[m] = e.output.f[u.unit];
      out.member_outputs.f[m * n + b] = static_cast<float>(f[m]);
      if (m == 0) out.targets.push_back(u.unit);
      if (!gaussian) continue;
      // Aleatoric term: the variance unit's map, rescaled from the head's value v to sigma^2 (LRP is linear
      // in the seed, so this is the map a seed of sigma^2 would give). v = 0: nothing to rescale.
      r.output = members[m].head.var.output;
      r.targets = {members[m].head.var.unit};
      const Explanation ev = members[m].explainer->explain(sample, r);
      const double v = ev.output.f[members[m].head.var.unit];
      const double sigma2 = to_variance(members[m].head.kind, v);
      out.member_variances.f[m * n + b] = static_cast<float>(sigma2);
      const double scale = std::fabs(v) > 1e-12 ? sigma2 / v : 0.0;
      for (int64_t i = 0; i < per; ++i)
        out.aleatoric.f[b * per + i] += static_cast<float>(scale * ev.relevance.f[i] / m_count);
    }
    std::vector<const float*> ptrs;
    for (int m = 0; m < m_count; ++m) ptrs.push_back(maps.data() + static_cast<size_t>(m) * per);
    const CovMaps c = cov_maps(ptrs, per);
    for (int64_t i = 0; i < per; ++i) {
      out.diag.f[b * per + i] = static_cast<float>(c.diag[i]);
      out.marg.f[b * per + i] = static_cast<float>(c.marg[i]);
      out.mean.f[b * per + i] = static_cast<float>(c.mean[i]);
    }
    out.output_variance.push_back(population_variance(f));
  }

  const bool one_unit = std::all_of(out.targets.begin(), out.targets.end(), [&](int64_t t) { return t == out.targets[0]; });
  out.explained = gaussian ? describe_unit(g, head, false)
                           : "output '" + g.values[g.outputs[request.output]].name + "' " +
                                 (one_unit ? "unit " + std::to_string(out.targets[0]) : "at each sample's target");
  if (gaussian) out.aleatoric_explained = describe_unit(g, head, true) + ", as variance";
  out.members_text = mc ? std::to_string(m_count) + " MC-dropout samples of " + std::to_string(dropout_count(g)) +
                              " Dropout node(s), seed " + std::to_string(request.seed)
                        : std::to_string(m_count) + " ensemble members";
  return out;
}

}  // namespace relscope::relevance
