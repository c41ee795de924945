// relscope/app/core/app_state.cpp — the app's model, input, settings and results (see app_state.h).
//
// Sections: helpers | files | model | input | compute | guard
// (preprocess.json, per-model memory and .csv parsing: app_config.cpp; exports and the page
// snapshot: app_records.cpp)
#include "app/core/app_state.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <sstream>

#include "app/core/json.h"
#include "core/error.h"
#include "io/npy.h"
#include "io/input_file.h"
#include "relevance/request.h"

namespace relscope::app {

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string lower_ext(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return "";
  std::string e = name.substr(dot + 1);
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string join_floats(const std::vector<float>& v) {
  std::string s;
  for (float x : v) {
    if (!s.empty()) s += ',';   // (not `a + b` of temporaries: g++ 12 -O3 warns falsely on that)
    s += fmt(x);
  }
  return s;
}

IoDesc describe_value(const Value& v) {
  IoDesc d;
  d.name = v.name;
  d.dtype = onnx::elem_type_name(v.declared.elem_type);
  d.has_shape = v.declared.has_shape;
  for (const auto& dim : v.declared.dims) d.dims.push_back(dim.value >= 0 ? dim.value : -1);
  return d;
}

bool is_npy(const std::vector<uint8_t>& b) { return b.size() >= 6 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0; }

}  // namespace

std::string IoDesc::shape_text() const {
  if (!has_shape) return "(rank unknown)";
  std::string s = "[";
  for (size_t k = 0; k < dims.size(); ++k) {
    if (k) s += ',';
    s += dims[k] >= 0 ? std::to_string(dims[k]) : std::string("?");
  }
  return s + "]";
}

std::string fnv1a64_hex(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t k = 0; k < size; ++k) {
    h ^= data[k];
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

AppState::AppState() {
#ifdef __EMSCRIPTEN__
  // wasm32 memory ends at 2 GiB (and a tab may get less): refuse what cannot fit with a Limit message
  // naming the file or model, before allocating, instead of running out of memory half way.
  limits_.max_file_bytes = 1ull << 30;
  limits_.max_total_bytes = 1ull << 30;
#endif
}
AppState::~AppState() = default;

// ---- files -------------------------------------------------------------------------------------------
std::string AppState::open(const std::string& name, std::vector<uint8_t> bytes) {
  const std::string ext = lower_ext(name);
  // Inputs also join the concept browser's data set (bounded: the first 256).
  auto keep = [&] {
    if (opened_.size() < 256) opened_.push_back({name, bytes});
  };
  if (is_npy(bytes)) {
    set_array(name, bytes);
    keep();
    return "input " + name + " " + shape_str(input_.array.shape);
  }
  if (looks_like_image(bytes.data(), bytes.size())) {
    set_image(name, bytes);
    keep();
    return "image " + name + " (" + std::to_string(input_.image.width) + "x" + std::to_string(input_.image.height) + ")";
  }
  const std::string text(bytes.begin(), bytes.end());
  if (ext == "json") {
    load_preprocess_json(text, name);
    return "preprocessing from " + name;
  }
  if (ext == "txt") {
    load_labels(text);
    return std::to_string(labels_.size()) + " labels from " + name;
  }
  if (ext == "csv") {
    set_table(name, text);
    keep();
    return "table " + name + " (" + std::to_string(input_.table.rows.size()) + " rows)";
  }
  if (ext == "onnx" || ext.empty() || ext == "bin" || ext == "pb") {
    load_model(name, std::move(bytes));
    return "model " + name;
  }
  fail_input(name + ": not a model (.onnx), image (PNG/JPEG/BMP/GIF), array (.npy), table (.csv), labels (.txt) or "
             "preprocessing (.json)");
}

// ---- model -------------------------------------------------------------------------------------------
void AppState::load_model(const std::string& label, std::vector<uint8_t> bytes) {
  // Build everything first; swap in only on success.
  auto session = std::make_unique<Session>(Session::load(bytes.data(), bytes.size(), label, limits_));
  if (session->graph().inputs.empty()) fail_input(label + ": the model has no inputs");
  if (session->graph().outputs.empty()) fail_input(label + ": the model has no outputs");
  auto explainer = std::make_unique<relevance::Explainer>(*session);

  ModelDesc d;
  const Graph& g = session->graph();
  d.label = label;
  d.hash = fnv1a64_hex(bytes.data(), bytes.size());
  d.bytes = bytes.size();
  d.opset = g.opset;
  d.producer = g.producer;
  for (int v : g.inputs) d.inputs.push_back(describe_value(g.values[v]));
  for (int v : g.outputs) d.outputs.push_back(describe_value(g.values[v]));
  const Graph& cg = explainer->canonical_graph();
  for (const auto& n : cg.nodes) d.nodes.push_back({n.name, n.op_type, ""});
  for (const auto& m : explainer->canonize_report().merged) d.canonizer_notes.push_back("merged BatchNorm " + m);


  if (!model_desc_.hash.empty()) {
    remember_preprocess();
    remembered_labels_[model_desc_.hash] = labels_;
  }
  // Labels opened just before (the demo, or "labels.txt + model.onnx" dropped together) are this
  // model's; otherwise the ones it had earlier in this tab, or none.
  if (!labels_fresh_) {
    const auto it = remembered_labels_.find(d.hash);
    labels_ = it != remembered_labels_.end() ? it->second : std::vector<std::string>{};
  }
  labels_fresh_ = false;
  output = 0;
  bundle.clear();   // the page names a bundled model after handing it over (relscope_app_bundle_loaded)
  explainer_ = std::move(explainer);   // before session_: it refers to the session
  session_ = std::move(session);
  model_bytes_ = std::move(bytes);
  model_desc_ = std::move(d);
  rules_key_.clear();
  predicted_ = Prediction{};
  results_ = Results{};
  if (settings.target >= 0) settings.target = -1;
  if (compare_settings.target >= 0) compare_settings.target = -1;
  apply_model_layout();
  dirty_ = true;
}

void AppState::load_labels(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  labels_ = std::move(out);
  labels_fresh_ = true;
  if (has_model()) remembered_labels_[model_desc_.hash] = labels_;
}

std::string AppState::label_for(int64_t index) const {
  if (index >= 0 && static_cast<size_t>(index) < labels_.size() && !labels_[index].empty()) return labels_[index];
  return "class " + std::to_string(index);
}

int64_t AppState::num_classes() const { return results_.valid ? results_.output.numel() : 0; }

// ---- input -------------------------------------------------------------------------------------------
void AppState::add_sample(const std::string& name, std::vector<uint8_t> bytes) {
  samples_.push_back({name, std::move(bytes)});
}

void AppState::select_sample(size_t index) {
  if (index >= samples_.size()) fail_input("sample " + std::to_string(index) + " does not exist");
  // Bundled samples are images, arrays (.npy: sequences) or tables (.csv), as open() tells them apart.
  const Sample& s = samples_[index];
  if (is_npy(s.bytes)) set_array(s.name, s.bytes);
  else if (!looks_like_image(s.bytes.data(), s.bytes.size()) && lower_ext(s.name) == "csv")
    set_table(s.name, std::string(s.bytes.begin(), s.bytes.end()));
  else set_image(s.name, s.bytes);
  selected_sample_ = static_cast<int>(index);
}

void AppState::clear_samples() {
  samples_.clear();
  selected_sample_ = -1;
}

void AppState::set_image(const std::string& label, const std::vector<uint8_t>& bytes) {
  InputData d;
  d.kind = InputKind::Image;
  d.label = label;
  d.image = decode_image(bytes.data(), bytes.size(), label, limits_);
  input_ = std::move(d);
  selected_sample_ = -1;
  dirty_ = true;
}

void AppState::set_array(const std::string& label, const std::vector<uint8_t>& bytes) {
  InputData d;
  d.kind = InputKind::Array;
  d.label = label;
  d.array = read_npy(bytes.data(), bytes.size(), limits_, label);
  if (d.array.dtype == DType::Int64) d.array = Tensor::from_floats(d.array.shape, d.array.as_floats());
  require_usable_input(d.array, label);   // non-empty and finite, as the CLI and the JS API demand
  input_ = std::move(d);
  selected_sample_ = -1;
  dirty_ = true;
}

void AppState::set_table(const std::string& label, const std::string& text) {
  InputData d;
  d.kind = InputKind::Table;
  d.label = label;
  d.table = parse_csv(text, label);
  input_ = std::move(d);
  selected_sample_ = -1;
  dirty_ = true;
}

Shape AppState::declared_input_shape() const {
  Shape want;
  if (!session_) return want;
  const Graph& g = session_->graph();
  const Value& in = g.values[g.inputs[0]];
  if (!in.declared.has_shape) return want;
  for (const auto& d : in.declared.dims) want.push_back(d.value >= 0 ? d.value : 1);
  return want;
}

// A .npy holds N samples when its first axis is a batch: the rest matches one model input.
int AppState::input_rows() const {
  if (input_.kind == InputKind::Table) return static_cast<int>(input_.table.rows.size());
  if (input_.kind != InputKind::Array) return 1;
  const Shape& s = input_.array.shape;
  const Shape want = declared_input_shape();
  if (s.size() < 2 || s[0] <= 1) return 1;
  if (!want.empty() && s.size() != want.size() && shape_numel(s) / s[0] != shape_numel(want)) return 1;
  return static_cast<int>(s[0]);
}

void AppState::select_row(int row) {
  if (input_.kind != InputKind::Table && input_.kind != InputKind::Array) return;
  input_.row = std::clamp(row, 0, std::max(0, input_rows() - 1));
  dirty_ = true;
}

// The tensor the model gets. Arrays and table rows are reshaped to the model's declared input when
// the element counts agree (a [784] vector for a [1,1,28,28] model), else given a batch dim of 1.
Tensor AppState::make_input() const {
  if (input_.kind == InputKind::None) fail_input("no input: open an image, .npy or .csv, or pick a sample");
  if (input_.kind == InputKind::Image) return image_to_tensor(input_.image, preprocess_);
  Tensor x;
  if (input_.kind == InputKind::Table) {
    const auto& row = input_.table.rows[std::clamp<size_t>(input_.row, 0, input_.table.rows.size() - 1)];
    x = Tensor::from_floats({1, static_cast<int64_t>(row.size())}, row);
  } else if (input_rows() > 1) {
    x = slice_batch(input_.array, std::clamp<int64_t>(input_.row, 0, input_.array.shape[0] - 1), 1);
  } else {
    x = input_.array;
  }
  // Reshape to the declared input when only the layout differs ([784] for [N,1,28,28]), or add the
  // batch axis ([4,40] for [N,4,40]); anything else goes to the model as it is (and its error says why).
  const Shape want = declared_input_shape();
  if (!want.empty() && want != x.shape && shape_numel(want) == x.numel()) x.shape = want;
  return x;
}

// ---- compute -----------------------------------------------------------------------------------------
std::map<std::string, std::string> AppState::request_values(const ExplainSettings& s) const {
  std::map<std::string, std::string> v;
  v["method"] = s.method;
  v["composite"] = s.composite;
  v["epsilon"] = fmt(s.epsilon);
  v["gamma"] = fmt(s.gamma);
  v["alpha"] = fmt(s.alpha);
  v["beta"] = fmt(s.alpha - 1.0f);
  v["steps"] = std::to_string(s.steps);
  v["samples"] = std::to_string(s.samples);
  v["noise"] = fmt(s.noise);
  v["window"] = std::to_string(s.window);
  v["stride"] = std::to_string(s.stride);
  if (s.target >= 0) v["target"] = std::to_string(s.target);
  v["output"] = std::to_string(output);
  // Method-specific parameters only where they apply (the shared parser refuses them elsewhere).
  if (s.method == "pruned-lrp") {
    v["prune"] = fmt(s.prune);
    v["prune-mode"] = s.prune_mask ? "mask" : "lambda";
  }
  if (s.method == "crp") {
    v["layer"] = s.layer.empty() && !concept_layers().empty() ? concept_layers().back() : s.layer;
    v["channels"] = s.channels;
    v["joint"] = s.joint ? "1" : "0";
  }
  if ((s.method == "lrp" || s.method == "pruned-lrp" || s.method == "crp") && s.composite == "epsilon-gamma-box") {
    // zennit's box bounds: the preprocessed values of black and white pixels, per channel.
    std::vector<float> low, high;
    const size_t c = static_cast<size_t>(std::max<int64_t>(1, preprocess_.channels));
    for (size_t k = 0; k < c; ++k) {
      const float m = preprocess_.mean.empty() ? 0.f : preprocess_.mean[std::min(k, preprocess_.mean.size() - 1)];
      const float sd = preprocess_.std.empty() ? 1.f : preprocess_.std[std::min(k, preprocess_.std.size() - 1)];
      low.push_back((0.f * preprocess_.scale - m) / sd);
      high.push_back((255.f * preprocess_.scale - m) / sd);
    }
    if (input_.kind != InputKind::Image && results_.valid) {
      const auto [lo, hi] = std::minmax_element(results_.input.f.begin(), results_.input.f.end());
      low.assign(1, *lo);
      high.assign(1, *hi);
    }
    v["low"] = join_floats(low);
    v["high"] = join_floats(high);
  }
  return v;
}

Explained AppState::explained(const PendingCompute& p, size_t job, relevance::Explanation e, double ms) const {
  const Tensor& x = p.results.input;
  const ExplainJob& j = p.jobs.at(job);
  const int64_t predicted = p.results.top.empty() ? 0 : p.results.top[0].index;
  Explained out;
  out.ms = ms;
  out.settings = j.settings;
  out.target = e.targets.empty() ? predicted : e.targets[0];
  out.relevance = std::move(e.relevance);
  if (out.relevance.dtype != DType::Float32 || (out.relevance.f.empty() && out.relevance.numel() != 0))
    fail(ErrorKind::Internal, "explanation of job " + std::to_string(job) + ": no float32 relevance");
  // crp per channel gives (1, K, input dims...): show one channel's map at a time.
  if (out.relevance.rank() == x.rank() + 1 && out.relevance.shape[0] == 1) {
    out.maps = out.relevance.shape[1];
    const int64_t k = std::clamp<int64_t>(j.settings.concept_view, 0, out.maps - 1);
    const int64_t per = x.numel();
    Tensor one = Tensor::from_floats(x.shape, std::vector<float>(out.relevance.f.begin() + k * per,
                                                                 out.relevance.f.begin() + (k + 1) * per));
    out.relevance = std::move(one);
  }
  if (out.relevance.shape != x.shape)
    fail(ErrorKind::Internal, "explanation of job " + std::to_string(job) + ": relevance " + shape_str(out.relevance.shape) +
                  " for input " + shape_str(x.shape));
  out.notes = std::move(e.notes);
  out.pruning = std::move(e.pruning);
  out.gini = relevance::gini(out.relevance.f.data(), out.relevance.numel());
  return out;
}

relevance::ExplainRequest AppState::lrp_request() const { return parse_request_values(lrp_request_values()); }

std::map<std::string, std::string> AppState::lrp_request_values() const {
  ExplainSettings plain = settings;
  plain.method = "lrp";
  plain.target = -1;
  return request_values(plain);
}

relevance::ExplainRequest AppState::parse_request_values(const std::map<std::string, std::string>& values) const {
  if (!session_) fail_input("no model: open an .onnx file");
  relevance::RequestText text;
  text.values = values;
  return relevance::parse_request(text, session_->graph(), "");
}

void AppState::refresh_rules(const Tensor& x) {
  const std::string key = settings.composite + "|" + shape_str(x.shape) + "|" + fmt(settings.epsilon) + "|" +
                          fmt(settings.gamma) + "|" + fmt(settings.alpha);
  if (key == rules_key_) return;
  relevance::RequestText text;
  ExplainSettings plain = settings;   // the composite's rules: plain LRP's parameters only
  plain.method = "lrp";
  text.values = request_values(plain);
  const auto req = relevance::parse_request(text, session_->graph(), "");
  const auto rules = explainer_->rules_for({x}, req);
  for (size_t k = 0; k < model_desc_.nodes.size() && k < rules.size(); ++k)
    model_desc_.nodes[k].rule = rules[k].describe();
  rules_key_ = key;
}

AppState::PendingCompute AppState::begin_compute() {
  dirty_ = false;   // a failure is not retried every frame; the next edit marks dirty again
  if (!session_) fail_input("no model: open an .onnx file");
  PendingCompute p;
  Results& r = p.results;
  r.input = make_input();
  // crp's layers: the engine's own notion of a concept layer (a MatMul of two activations is not one),
  // once per model, from the plan for the real input (cached by the session).
  if (model_desc_.concept_layers.empty()) model_desc_.concept_layers = explainer_->concept_layers({r.input});
  if (predicted_.outputs.empty() || !same_bits(predicted_.input, r.input)) {
    predicted_ = Prediction{};   // a failing pass leaves nothing stale behind
    const auto t0 = std::chrono::steady_clock::now();
    auto outs = session_->predict({r.input});
    predicted_ = {r.input, std::move(outs), ms_since(t0)};
  }
  const std::vector<Tensor>& outs = predicted_.outputs;
  r.forward_ms = predicted_.ms;   // the pass's own time, also when this compute reused it
  if (output >= outs.size()) output = 0;
  r.output = outs[output];
  if (r.output.dtype != DType::Float32) r.output = Tensor::from_floats(r.output.shape, r.output.as_floats());
  const auto& o = r.output.f;
  if (o.empty()) fail_input(model_desc_.label + ": output '" + model_desc_.outputs[output].name + "' is empty");

  // Scores: the output itself when it already is a distribution, else its softmax.
  double sum = 0;
  bool in_unit = true;
  for (float v : o) {
    sum += v;
    in_unit = in_unit && v >= 0 && v <= 1;
  }
  r.output_is_probability = in_unit && std::fabs(sum - 1.0) < 1e-3;
  std::vector<float> score(o.size());
  if (r.output_is_probability) {
    score = o;
  } else {
    const float mx = *std::max_element(o.begin(), o.end());
    double z = 0;
    for (size_t k = 0; k < o.size(); ++k) z += std::exp(static_cast<double>(o[k]) - mx);
    for (size_t k = 0; k < o.size(); ++k) score[k] = static_cast<float>(std::exp(static_cast<double>(o[k]) - mx) / z);
  }
  std::vector<int64_t> order(o.size());
  for (size_t k = 0; k < o.size(); ++k) order[k] = static_cast<int64_t>(k);
  const size_t k_top = std::min<size_t>(5, o.size());
  std::partial_sort(order.begin(), order.begin() + k_top, order.end(),
                    [&](int64_t a, int64_t b) { return o[a] > o[b] || (o[a] == o[b] && a < b); });
  for (size_t k = 0; k < k_top; ++k) r.top.push_back({order[k], score[order[k]], o[order[k]]});
  const int64_t predicted = r.top[0].index;

  // Targets beyond this model's classes (kept from a previous model) fall back to the prediction.
  const int64_t classes = static_cast<int64_t>(o.size());
  if (settings.target >= classes) settings.target = -1;
  if (compare_settings.target >= classes) compare_settings.target = -1;

  auto job = [&](const ExplainSettings& s) {
    ExplainJob j{s, request_values(s)};
    if (s.target < 0) j.values["target"] = std::to_string(predicted);
    relevance::RequestText text;
    text.values = j.values;
    relevance::parse_request(text, session_->graph(), "");   // a bad request fails here, before any work
    return j;
  };
  p.jobs.push_back(job(settings));
  if (compare) p.jobs.push_back(job(compare_settings));
  return p;
}

void AppState::finish_compute(PendingCompute p, std::vector<Explained> explained) {
  if (explained.size() != p.jobs.size())
    fail(ErrorKind::Internal, "finish_compute: " + std::to_string(explained.size()) + " explanations for " + std::to_string(p.jobs.size()) + " jobs");
  Results& r = p.results;
  r.main = std::move(explained[0]);
  if (explained.size() > 1) {
    r.compare = std::move(explained[1]);
    r.has_compare = true;
  }
  try {
    refresh_rules(r.input);
  } catch (const Error&) {
    // Rules are a display aid (a gamma-box composite without bounds, say); the explanation stands.
  }
  r.valid = true;
  results_ = std::move(r);
}

void AppState::compute() { finish_here(begin_compute()); }

void AppState::finish_here(PendingCompute p) {
  std::vector<Explained> done;
  for (size_t k = 0; k < p.jobs.size(); ++k) {
    relevance::RequestText text;
    text.values = p.jobs[k].values;
    const auto req = relevance::parse_request(text, session_->graph(), "");
    const auto t0 = std::chrono::steady_clock::now();
    auto e = explainer_->explain({p.results.input}, req);
    done.push_back(explained(p, k, std::move(e), ms_since(t0)));
  }
  finish_compute(std::move(p), std::move(done));
}

// ---- guard -------------------------------------------------------------------------------------------
bool AppState::guard(const std::function<void()>& fn) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    const char* kind = e.kind() == ErrorKind::BadInput ? "bad input" : e.kind() == ErrorKind::Unsupported ? "unsupported"
                       : e.kind() == ErrorKind::Limit ? "limit" : "internal error";
    last_error = std::string(kind) + ": " + e.what();
  } catch (const std::bad_alloc&) {
    last_error = "out of memory: the model or input is too large for this tab (previous state kept)";
  } catch (const std::exception& e) {
    last_error = std::string("internal error: ") + e.what();
  }
  return false;
}

// ---- data set --------------------------------------------------------------------------------------------
std::vector<Tensor> AppState::inputs_of(const Sample& file) const {
  const Shape& shape = results_.input.shape;
  const int64_t per = shape_numel(shape);
  std::vector<Tensor> out;
  auto mismatch = [&](const std::string& what) {
    fail_input(file.name + ": " + what + " does not fit the model input " + shape_str(shape));
  };
  if (!results_.valid || per == 0) fail_input(file.name + ": explain an input first (its shape is the one to fit)");
  if (looks_like_image(file.bytes.data(), file.bytes.size())) {
    Tensor x = image_to_tensor(decode_image(file.bytes.data(), file.bytes.size(), file.name, limits_), preprocess_);
    if (x.shape != shape) mismatch("the image as " + shape_str(x.shape));
    out.push_back(std::move(x));
  } else if (is_npy(file.bytes)) {
    Tensor a = read_npy(file.bytes.data(), file.bytes.size(), limits_, file.name);
    if (a.dtype == DType::Int64) a = Tensor::from_floats(a.shape, a.as_floats());
    if (a.numel() == 0 || a.numel() % per != 0) mismatch("the array " + shape_str(a.shape));
    for (int64_t k = 0; k < a.numel() / per; ++k)
      out.push_back(Tensor::from_floats(shape, std::vector<float>(a.f.begin() + k * per, a.f.begin() + (k + 1) * per)));
  } else if (lower_ext(file.name) == "csv") {
    const Table t = parse_csv(std::string(file.bytes.begin(), file.bytes.end()), file.name);
    for (const auto& row : t.rows) {
      if (static_cast<int64_t>(row.size()) != per) mismatch("a row of " + std::to_string(row.size()) + " values");
      out.push_back(Tensor::from_floats(shape, row));
    }
  } else {
    fail_input(file.name + ": not an input");
  }
  return out;
}

}  // namespace relscope::app
