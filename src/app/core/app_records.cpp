// relscope/app/core/app_records.cpp — what leaves the app: the relevance .npy, the JSON record of an
// explanation (model hash, method, parameters, target, output, timings) and the page-state snapshot.
//
// Sections: helpers | relevance .npy | JSON record | snapshot
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "app/core/app_state.h"
#include "app/core/json.h"
#include "core/error.h"
#include "io/npy.h"

namespace relscope::app {

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

// Methods whose relevance depends on each parameter (for the JSON record).
bool uses(const std::string& method, const char* param) {
  const std::string p = param;
  const bool lrp = method == "lrp" || method == "pruned-lrp" || method == "crp";
  if (p == "composite" || p == "epsilon" || p == "gamma" || p == "alpha") return lrp;
  if (p == "steps") return method == "integrated-gradients";
  if (p == "samples" || p == "noise") return method == "smoothgrad";
  if (p == "window" || p == "stride") return method == "occlusion";
  if (p == "prune" || p == "prune-mode") return method == "pruned-lrp";
  if (p == "layer" || p == "channels" || p == "joint") return method == "crp";
  return false;
}

}  // namespace

// ---- relevance .npy ----------------------------------------------------------------------------------
std::vector<uint8_t> AppState::relevance_npy(bool compare_side) const {
  if (!results_.valid) fail_input("nothing to export yet");
  return write_npy(compare_side && results_.has_compare ? results_.compare.relevance : results_.main.relevance);
}

// ---- JSON record -------------------------------------------------------------------------------------
namespace {

void write_explained(JsonWriter& w, const AppState& s, const Explained& e) {
  const auto values = s.request_values(e.settings);
  w.key("method").value(e.settings.method);
  w.key("params").begin_object();
  for (const char* p : {"composite", "epsilon", "gamma", "alpha", "steps", "samples", "noise", "window", "stride",
                        "prune", "prune-mode", "layer", "channels", "joint"}) {
    if (!uses(e.settings.method, p)) continue;
    const std::string& v = values.at(p);
    const std::string name = p;
    w.key(p);
    if (name == "composite" || name == "prune-mode" || name == "layer" || name == "channels") w.value(v);
    else if (name == "joint") w.value(v == "1");
    else w.value(std::strtod(v.c_str(), nullptr));
  }
  if (e.maps > 1) w.key("conceptShown").value(e.settings.concept_view).key("conceptMaps").value(static_cast<long long>(e.maps));
  if (uses(e.settings.method, "composite") && e.settings.composite == "epsilon-gamma-box") {
    w.key("low").value(values.at("low"));
    w.key("high").value(values.at("high"));
  }
  if (uses(e.settings.method, "alpha")) w.key("beta").value(static_cast<double>(e.settings.alpha - 1.0f));
  w.end_object();
  w.key("target").value(static_cast<long long>(e.target));
  w.key("targetLabel").value(s.label_for(e.target));
  w.key("targetMode").value(e.settings.target < 0 ? "predicted" : "chosen");
  w.key("relevanceShape").begin_array();
  for (int64_t d : e.relevance.shape) w.value(static_cast<long long>(d));
  w.end_array();
  double sum = 0, max_abs = 0;
  for (float v : e.relevance.f) {
    sum += v;
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
  }
  w.key("relevanceSum").value(sum);
  w.key("relevanceMaxAbs").value(max_abs);
  w.key("explainMs").value(e.ms);
  w.key("notes").begin_array();
  for (const auto& n : e.notes) w.value(n);
  w.end_array();
}

}  // namespace

std::string AppState::record_json() const {
  if (!results_.valid) fail_input("nothing to export yet");
  JsonWriter w;
  w.begin_object();
  w.key("tool").value("relscope");
  w.key("model").begin_object();
  w.key("file").value(model_desc_.label);
  w.key("fnv1a64").value(model_desc_.hash);
  w.key("bytes").value(static_cast<long long>(model_desc_.bytes));
  w.end_object();
  w.key("input").begin_object();
  w.key("file").value(input_.label);
  w.key("shape").begin_array();
  for (int64_t d : results_.input.shape) w.value(static_cast<long long>(d));
  w.end_array();
  if (input_.kind == InputKind::Image) {
    w.key("preprocess").begin_object();
    w.key("height").value(static_cast<long long>(preprocess_.height));
    w.key("width").value(static_cast<long long>(preprocess_.width));
    w.key("channels").value(static_cast<long long>(preprocess_.channels));
    w.key("channels_last").value(preprocess_.channels_last);
    w.key("bgr").value(preprocess_.bgr);
    w.key("scale").value(static_cast<double>(preprocess_.scale));
    w.key("mean").begin_array();
    for (float m : preprocess_.mean) w.value(static_cast<double>(m));
    w.end_array();
    w.key("std").begin_array();
    for (float m : preprocess_.std) w.value(static_cast<double>(m));
    w.end_array();
    w.end_object();
  }
  if (input_.kind == InputKind::Table) w.key("row").value(input_.row);
  w.end_object();
  w.key("output").begin_object();
  w.key("index").value(static_cast<long long>(output));
  if (output < model_desc_.outputs.size()) w.key("name").value(model_desc_.outputs[output].name);
  w.key("values").begin_array();
  for (float v : results_.output.f) w.value(static_cast<double>(v));
  w.end_array();
  w.key("isProbability").value(results_.output_is_probability);
  w.key("top").begin_array();
  for (const auto& t : results_.top) {
    w.begin_object().key("index").value(static_cast<long long>(t.index)).key("label").value(label_for(t.index));
    w.key("score").value(static_cast<double>(t.score)).key("value").value(static_cast<double>(t.raw)).end_object();
  }
  w.end_array();
  w.end_object();
  write_explained(w, *this, results_.main);
  if (results_.has_compare) {
    w.key("compare").begin_object();
    write_explained(w, *this, results_.compare);
    w.end_object();
  }
  w.key("timings").begin_object();
  w.key("forwardMs").value(results_.forward_ms);
  w.key("explainMs").value(results_.main.ms);
  w.key("backend").value(backend_);
  w.end_object();
  w.end_object();
  return w.str();
}

// ---- shared link -------------------------------------------------------------------------------------
std::map<std::string, std::string> AppState::share_settings() const {
  std::map<std::string, std::string> v;
  if (!bundle.empty()) v["model"] = bundle;
  if (selected_sample_ >= 0) v["sample"] = std::to_string(selected_sample_);
  v["method"] = settings.method;
  if (uses(settings.method, "composite")) v["composite"] = settings.composite;
  if (settings.target >= 0) v["target"] = std::to_string(settings.target);
  if (output > 0) v["output"] = std::to_string(output);
  const auto values = request_values(settings);
  for (const char* p : {"prune", "prune-mode", "layer", "channels", "joint"})
    if (uses(settings.method, p) && values.count(p)) v[p] = values.at(p);
  return v;
}

// ---- snapshot ----------------------------------------------------------------------------------------
std::string AppState::snapshot_json() const {
  JsonWriter w;
  w.begin_object();
  w.key("model").value(model_desc_.label);
  w.key("modelHash").value(model_desc_.hash);
  w.key("input").value(input_.label);
  w.key("inputKind").value(input_.kind == InputKind::Image ? "image" : input_.kind == InputKind::Array ? "array"
                           : input_.kind == InputKind::Table ? "table" : "none");
  w.key("method").value(settings.method);
  w.key("composite").value(settings.composite);
  w.key("output").value(static_cast<long long>(output));
  w.key("compare").value(compare);
  w.key("row").value(input_.row);
  w.key("rows").value(input_rows());
  if (results_.valid) {
    const auto& t = results_.top[0];
    w.key("prediction").begin_object().key("index").value(static_cast<long long>(t.index));
    w.key("label").value(label_for(t.index)).key("score").value(static_cast<double>(t.score)).end_object();
    w.key("target").value(static_cast<long long>(results_.main.target));
    w.key("inputShape").begin_array();
    for (int64_t d : results_.input.shape) w.value(static_cast<long long>(d));
    w.end_array();
    w.key("heatmapShape").begin_array();
    for (int64_t d : results_.main.relevance.shape) w.value(static_cast<long long>(d));
    w.end_array();
    w.key("forwardMs").value(results_.forward_ms);
    w.key("explainMs").value(results_.main.ms);
    w.key("gini").value(results_.main.gini);
    w.key("prunedLayers").value(static_cast<long long>(results_.main.pruning.size()));
  } else {
    w.key("prediction").null();
    w.key("heatmapShape").null();
  }
  w.key("backend").value(backend_);
  w.key("share").begin_object();
  for (const auto& [k, val] : share_settings()) w.key(k).value(val);
  w.end_object();
  w.key("lastError").value(last_error);
  w.end_object();
  return w.str();
}

}  // namespace relscope::app
