// relscope/js/js_api.cpp — the JS API facade (see js_api.h).
//
// Sections: helpers | errors | Api: model | Api: inputs | Api: predict, explain | Api: concepts | rules
#include "js/js_api.h"

#include <chrono>
#include <cmath>
#include <map>
#include <new>

#include "core/error.h"
#include "io/image.h"
#include "io/input_file.h"
#include "onnx/model.h"

namespace relscope::js {

// ---- helpers ------------------------------------------------------------------------------------------
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

ValueDesc describe_value(const Value& v) {
  ValueDesc d;
  d.name = v.name;
  d.dtype = onnx::elem_type_name(v.declared.elem_type);
  d.has_shape = v.declared.has_shape;
  for (const auto& dim : v.declared.dims) d.dims.push_back(dim.value >= 0 ? dim.value : -1);
  return d;
}

std::string input_names(const Graph& g) {
  std::string names;
  for (int v : g.inputs) names += (names.empty() ? "" : ", ") + g.values[v].name;
  return names;
}

void check_input_count(const Graph& g, size_t given) {
  if (given != g.inputs.size())
    fail_input(g.label + ": the model has " + std::to_string(g.inputs.size()) + " input(s) (" + input_names(g) + "), got " +
               std::to_string(given));
}

}  // namespace

// ---- errors -------------------------------------------------------------------------------------------
ErrorInfo describe_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    switch (e.kind()) {
      case ErrorKind::BadInput: return {e.what(), "bad-input"};
      case ErrorKind::Unsupported: return {e.what(), "unsupported"};
      case ErrorKind::Limit: return {e.what(), "limit"};
      case ErrorKind::Internal: return {e.what(), "internal"};
    }
    return {e.what(), "internal"};
  } catch (const std::bad_alloc&) {
    return {"out of memory", "limit"};
  } catch (const std::exception& e) {
    return {std::string("internal error: ") + e.what(), "internal"};
  } catch (...) {
    return {"internal error: unknown exception", "internal"};
  }
}

// ---- Api: model ---------------------------------------------------------------------------------------
Api::Api(const Limits& limits) : limits_(limits) {}
Api::~Api() = default;

const char* Api::version() {
#ifdef RELSCOPE_VERSION
  return RELSCOPE_VERSION;
#else
  return "0.1.0";
#endif
}

void Api::check_model_size(size_t size, const std::string& label) const {
  if (size > limits_.max_file_bytes)
    fail(ErrorKind::Limit, label + ": model is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(limits_.max_file_bytes));
}

ModelInfo Api::load_model(ByteBuffer bytes, const std::string& label) {
  check_model_size(bytes.size(), label);
  auto next = std::make_unique<Session>(Session::load(std::move(bytes), label, limits_));
  next->graph().require_supported();   // refuse at load, naming every unsupported node, not at first run
  explainer_.reset();                   // it refers to the old session
  gpu_pending_.reset();
  ++model_generation_;
  members_.clear();                     // members of the old model's ensemble
  session_ = std::move(next);

  const Graph& g = session_->graph();
  ModelInfo info;
  for (int v : g.inputs) info.inputs.push_back(describe_value(g.values[v]));
  for (int v : g.outputs) info.outputs.push_back(describe_value(g.values[v]));
  info.opset = g.opset;
  info.producer = g.producer;
  // The default composite's rule per node, for a first display. Nodes the canonizer merged (BatchNorm)
  // have none; a model whose example shapes do not plan gets none at all, and rules() says why.
  std::map<std::string, std::string> rule_of;
  try {
    for (const auto& op : rules({})) rule_of[op.name] = op.rule;
  } catch (const Error&) {
    rule_of.clear();
  }
  for (const auto& n : g.nodes) {
    OpDesc d{n.name, n.op_type, false, ""};
    if (const auto it = rule_of.find(n.name); it != rule_of.end()) d.has_rule = true, d.rule = it->second;
    info.ops.push_back(std::move(d));
  }
  return info;
}

Session& Api::session() {
  if (!session_) fail_input("no model is loaded (call loadModel first)");
  return *session_;
}

relevance::Explainer& Api::explainer() {
  if (!explainer_) explainer_ = std::make_unique<relevance::Explainer>(session());
  return *explainer_;
}

// ---- Api: inputs --------------------------------------------------------------------------------------
Tensor Api::new_input(size_t slot, size_t rank, const std::function<double(size_t)>& dim, size_t length) {
  const Graph& g = session().graph();
  if (slot >= g.inputs.size())
    fail_input(g.label + ": the model has " + std::to_string(g.inputs.size()) + " input(s) (" + input_names(g) +
               "), got more");
  const Value& v = g.values[g.inputs[slot]];
  const std::string what = g.label + ": input '" + v.name + "'";
  if (rank > limits_.max_rank)
    fail(ErrorKind::Limit, what + ": rank " + std::to_string(rank) + " exceeds the limit of " + std::to_string(limits_.max_rank));
  Shape shape(rank);
  for (size_t k = 0; k < rank; ++k) {
    const double d = dim(k);
    if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > 9007199254740992.0)
      fail_input(what + ": shape[" + std::to_string(k) + "] must be a non-negative integer");
    shape[k] = static_cast<int64_t>(d);
  }
  const int64_t n = checked_numel(shape.data(), shape.size(), limits_, what);
  if (static_cast<uint64_t>(n) != length)
    fail_input(what + ": shape " + shape_str(shape) + " holds " + std::to_string(n) + " values but data has " +
               std::to_string(length));
  return Tensor::zeros(shape, v.declared.elem_type == onnx::kInt64 ? DType::Int64 : DType::Float32);
}

Tensor Api::load_input(const uint8_t* bytes, size_t size, const std::string& label, size_t slot) {
  const Graph& g = session().graph();
  if (slot >= g.inputs.size())
    fail_input(label + ": input slot " + std::to_string(slot) + ", but " + g.label + " has " + std::to_string(g.inputs.size()) +
               " input(s) (" + input_names(g) + ")");
  const Value& v = g.values[g.inputs[slot]];
  Shape declared;
  if (v.declared.has_shape)
    for (const auto& d : v.declared.dims) declared.push_back(d.value >= 0 ? d.value : -1);
  if (size > limits_.max_file_bytes)
    fail(ErrorKind::Limit, label + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                               std::to_string(limits_.max_file_bytes));
  if (looks_like_image(bytes, size)) {
    const std::string what = g.label + ": input '" + v.name + "'";
    if (v.declared.elem_type != onnx::kFloat)
      fail_input(label + ": an image cannot feed " + what + " of type " + onnx::elem_type_name(v.declared.elem_type));
    const ImagePreprocess pre = image_layout_for(declared, what);
    return image_to_tensor(decode_image(bytes, size, label, limits_), pre);
  }
  Tensor t = read_array_input(bytes, size, label, declared, limits_);
  if (v.declared.elem_type == onnx::kFloat && t.dtype == DType::Int64) t = Tensor::from_floats(t.shape, t.as_floats());
  return t;
}

// ---- Api: predict, explain, rules ---------------------------------------------------------------------
Prediction Api::predict(const std::vector<Tensor>& inputs) {
  Session& s = session();
  const Graph& g = s.graph();
  check_input_count(g, inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) require_usable_input(inputs[k], g.label + ": input '" + g.values[g.inputs[k]].name + "'");
  const auto t0 = Clock::now();
  auto outs = s.predict(inputs);
  // NaN/Inf out (an extreme input or weight overflowed float32) is no prediction: refuse, as the CLI does.
  for (size_t k = 0; k < outs.size(); ++k)
    if (const size_t j = first_non_finite(outs[k].f); j < outs[k].f.size())
      fail_input("output '" + g.values[g.outputs[k]].name + "' holds " + (std::isnan(outs[k].f[j]) ? "NaN" : "Inf") +
                 " at element " + std::to_string(j) + " (the input or the weights overflow float32); no prediction");
  Prediction p;
  p.ms = ms_since(t0);
  for (size_t k = 0; k < outs.size(); ++k) p.outputs.push_back({g.values[g.outputs[k]].name, std::move(outs[k])});
  return p;
}

ExplainResult Api::explain(const std::vector<Tensor>& inputs, const relevance::RequestText& request) {
  Session& s = session();
  const Graph& g = s.graph();
  check_input_count(g, inputs.size());
  auto r = relevance::parse_request(request, g, "");
  if (r.method == "cov-lrp") return explain_cov(inputs, r);
  ExplainResult out;
  out.explained = relevance::apply_explain_choice(s, inputs, r, "");
  relevance::Explainer& ex = explainer();
  const auto t0 = Clock::now();
  auto e = ex.explain(inputs, r);
  out.ms = ms_since(t0);
  out.relevance = std::move(e.relevance);
  out.output = {g.values[g.outputs[r.output]].name, std::move(e.output)};
  out.targets = std::move(e.targets);
  out.notes = std::move(e.notes);
  out.pruning = std::move(e.pruning);
  return out;
}

const kernels::gpu::Program& Api::gpu_program(const std::vector<Tensor>& inputs, const relevance::RequestText& request) {
  gpu_pending_.reset();
  Session& s = session();
  const Graph& g = s.graph();
  check_input_count(g, inputs.size());
  auto r = relevance::parse_request(request, g, "");
  if (r.method == "cov-lrp") fail(ErrorKind::Unsupported, "method cov-lrp (the GPU path runs on the CPU instead)");
  gpu_explained_ = relevance::apply_explain_choice(s, inputs, r, "");
  gpu_output_name_ = g.values[g.outputs[r.output]].name;
  gpu_pending_ = std::make_unique<relevance::GpuExplanation>(
      relevance::compile_gpu_explanation(explainer(), inputs, r, "m" + std::to_string(model_generation_) + ":"));
  return gpu_pending_->program;
}

ExplainResult Api::gpu_finish(std::vector<std::vector<float>> readback) {
  if (!gpu_pending_) fail(ErrorKind::Internal, "gpuFinish: no GPU program is pending");
  const auto pending = std::move(gpu_pending_);
  auto e = relevance::finish_gpu_explanation(explainer(), *pending, std::move(readback));
  ExplainResult out;
  out.relevance = std::move(e.relevance);
  out.output = {gpu_output_name_, std::move(e.output)};
  out.targets = std::move(e.targets);
  out.notes = std::move(e.notes);
  out.pruning = std::move(e.pruning);
  out.explained = gpu_explained_;
  return out;
}

void Api::load_ensemble_member(ByteBuffer bytes, const std::string& label) {
  session();   // members belong to a model
  check_model_size(bytes.size(), label);
  auto member = std::make_unique<Session>(Session::load(std::move(bytes), label, limits_));
  member->graph().require_supported();
  for (auto& [name, s] : members_)
    if (name == label) {   // same name: replaced
      s = std::move(member);
      return;
    }
  members_.emplace_back(label, std::move(member));
}

ExplainResult Api::explain_cov(const std::vector<Tensor>& inputs, const relevance::ExplainRequest& r) {
  std::vector<Session*> others;
  for (const auto& want : r.variance.ensemble) {
    Session* found = nullptr;
    std::string loaded;
    for (auto& [name, s] : members_) {
      if (name == want) found = s.get();
      loaded += (loaded.empty() ? "" : ", ") + name;
    }
    if (!found)
      fail_input("ensemble: '" + want + "' is not loaded (loadEnsembleMember first; loaded: " + (loaded.empty() ? "none" : loaded) + ")");
    others.push_back(found);
  }
  const auto t0 = Clock::now();
  ExplainResult out;
  out.cov = relevance::explain_cov(session(), others, inputs, r, "");
  out.ms = ms_since(t0);
  const auto& c = out.cov;
  // The chosen map (diag | marg, both: N x 2 x input dims), plus the aleatoric term for Gaussian heads.
  const bool both = r.variance.cov == "both";
  const int64_t n = inputs[0].shape[0], per = c.marg.numel() / n, k_count = both ? 2 : 1;
  Shape shape = inputs[0].shape;
  if (both) shape.insert(shape.begin() + 1, 2);
  out.relevance = Tensor::zeros(shape);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < k_count; ++k) {
      const Tensor& part = (both ? k == 0 : r.variance.cov == "diag") ? c.diag : c.marg;
      for (int64_t i = 0; i < per; ++i)
        out.relevance.f[(b * k_count + k) * per + i] = part.f[b * per + i] + (c.aleatoric.f.empty() ? 0.0f : c.aleatoric.f[b * per + i]);
    }
  out.targets = c.targets;
  out.explained = c.explained;
  out.has_cov = true;
  return out;
}

// ---- Api: concepts ---------------------------------------------------------------------------------------
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

}  // namespace

relevance::ExplainRequest Api::concept_request(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                               const std::string& what, std::vector<std::string>& layers) {
  Session& s = session();
  check_input_count(s.graph(), inputs.size());
  auto r = relevance::parse_request(request, s.graph(), "");
  relevance::apply_explain_choice(s, inputs, r, "");
  layers = explainer().concept_layers(inputs);
  if (r.crp.layer.empty()) fail_input(what + ": params.layer names the concepts' layer (one of: " + joined(layers) + ")");
  return r;
}

FaithfulnessResult Api::faithfulness(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                        bool channels_last) {
  relevance::RequestText explain_text = request;
  std::map<std::string, std::string> flip_text;
  for (const auto& name : relevance::flip_option_names())
    if (const auto it = explain_text.values.find(name); it != explain_text.values.end()) {
      flip_text[name] = it->second;
      explain_text.values.erase(it);
    }
  FaithfulnessResult out;
  out.options = relevance::parse_flip_options(flip_text, "");
  out.options.channels_last = channels_last;
  const auto method = explain_text.values.count("method") ? explain_text.values.at("method") : "lrp";
  if (method == "crp" || method == "cov-lrp")
    fail_input("faithfulness: method " + method + " gives several maps or a variance map, not one map to flip");
  out.explanation = explain(inputs, explain_text);
  out.options.output = relevance::output_index(session().graph(), out.explanation.output.name, "output");
  const auto t0 = Clock::now();
  out.curves = relevance::pixel_flipping(session(), inputs, out.explanation.relevance, out.explanation.targets, out.options);
  out.ms = ms_since(t0);
  return out;
}

ConceptsResult Api::concepts(const std::vector<Tensor>& inputs, const relevance::RequestText& request) {
  ConceptsResult out;
  const auto r = concept_request(inputs, request, "concepts", out.layers);
  const Graph& g = session().graph();
  relevance::Explainer& ex = explainer();
  const auto t0 = Clock::now();
  auto c = ex.concepts(inputs, r);
  out.ms = ms_since(t0);
  out.layer = r.crp.layer;
  const int64_t n = c.relevance.shape[0], channels = c.relevance.shape[1];
  for (int64_t b = 0; b < n; ++b) out.order.push_back(relevance::rank_channels(c.relevance.f.data() + b * channels, channels));
  out.relevance = std::move(c.relevance);
  out.normalized = std::move(c.normalized);
  out.output = {g.values[g.outputs[r.output]].name, std::move(c.output)};
  out.targets = std::move(c.targets);
  return out;
}

ConceptMapsResult Api::concept_maps(const std::vector<Tensor>& inputs, const relevance::RequestText& request) {
  std::vector<std::string> layers;
  const auto r = concept_request(inputs, request, "conceptMaps", layers);
  ConceptMapsResult out;
  const auto t0 = Clock::now();
  out.maps = explainer().concept_maps(inputs, r);
  out.ms = ms_since(t0);
  out.layer = r.crp.layer;
  out.output_name = session().graph().values[session().graph().outputs[r.output]].name;
  return out;
}

relevance::AttributionGraph Api::attribution_graph(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                                   int64_t channel, int depth, int top) {
  std::vector<std::string> layers;
  const auto r = concept_request(inputs, request, "attributionGraph", layers);
  const int64_t n = inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
  if (n != 1) fail_input("attributionGraph: one sample at a time (the input's batch is " + std::to_string(n) + ")");
  return relevance::attribution_graph(explainer(), inputs, r, r.crp.layer, channel, depth, top);
}

std::vector<OpDesc> Api::rules(const relevance::RequestText& request) {
  Session& s = session();
  const auto r = relevance::parse_request(request, s.graph(), "");
  relevance::Explainer& ex = explainer();
  const auto rules = ex.rules_for(example_inputs(s.graph()), r);
  const Graph& g = ex.canonical_graph();
  std::vector<OpDesc> out;
  for (size_t k = 0; k < g.nodes.size(); ++k) out.push_back({g.nodes[k].name, g.nodes[k].op_type, true, rules[k].describe()});
  return out;
}

}  // namespace relscope::js
