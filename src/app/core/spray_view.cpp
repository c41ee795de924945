// relscope/app/core/spray_view.cpp — SpRAy over the canvas's data set, in steps (spray_view.h).
//
// Sections: helpers | start | step | snapshot
#include "app/core/spray_view.h"

#include <algorithm>

#include "app/core/json.h"
#include "core/error.h"
#include "relevance/explain.h"

namespace relscope::app {

namespace {

// ---- helpers --------------------------------------------------------------------------------------------

bool same_preprocess(const ImagePreprocess& a, const ImagePreprocess& b) {
  return a.height == b.height && a.width == b.width && a.channels == b.channels && a.channels_last == b.channels_last &&
         a.bgr == b.bgr && a.scale == b.scale && a.mean == b.mean && a.std == b.std;
}

}  // namespace

// ---- start ----------------------------------------------------------------------------------------------

void SprayView::start(AppState& state) {
  const Results& r = state.results();
  if (!r.valid || !state.explainer()) fail_input("strategies: explain an input first");
  if (state.settings.method == "crp") fail_input("strategies: crp gives conditional maps; choose a method with one heatmap per input");
  // The data set as the concept browser's atlas sees it: bundled samples, then opened inputs, each file once.
  std::vector<Sample> files;
  std::vector<std::string> seen;
  for (const auto* list : {&state.samples(), &state.opened_inputs()})
    for (const Sample& f : *list) {
      const std::string h = fnv1a64_hex(f.bytes.data(), f.bytes.size());
      if (std::find(seen.begin(), seen.end(), h) != seen.end()) continue;
      seen.push_back(h);
      files.push_back(f);
    }
  if (files.empty()) fail_input("strategies: no data set: open inputs (or load a bundled model with samples)");
  model_hash_ = state.model().hash;
  preprocess_ = state.preprocess();
  files_ = std::move(files);
  next_file_ = 0;
  request_ = state.request_values(state.settings);
  request_["target"] = std::to_string(r.main.target);
  method_ = relevance::method_label(state.settings.method, state.settings.composite);
  target_ = r.main.target;
  skipped_ = 0;
  maps_.clear();
  pending_.clear();
  options.channels_last = state.input().kind == InputKind::Image && state.preprocess().channels_last;
  running_ = true;
  has_result_ = false;
}

// ---- step -----------------------------------------------------------------------------------------------

bool SprayView::same_origin(const AppState& state) const {
  return state.has_model() && state.model().hash == model_hash_ && same_preprocess(state.preprocess(), preprocess_) &&
         state.results().valid;
}

bool SprayView::step(AppState& state) {
  if (!running_) return false;
  if (!same_origin(state)) {   // another model or preprocessing: the maps would not be comparable
    cancel();
    has_result_ = false;
    return false;
  }
  try {
    if (next_file_ < files_.size()) {
      const Sample& file = files_[next_file_++];
      std::vector<Tensor> inputs;
      try {
        inputs = state.inputs_of(file);
      } catch (const Error&) {   // a file that does not fit the model is skipped, as the atlas does
        ++skipped_;
        return true;
      }
      const relevance::ExplainRequest request = state.parse_request_values(request_);
      for (size_t k = 0; k < inputs.size(); ++k) {
        const relevance::Explanation e = state.explainer()->explain({inputs[k]}, request);
        const auto predicted = std::max_element(e.output.f.begin(), e.output.f.end()) - e.output.f.begin();
        if (predicted_only && predicted != target_) {
          ++skipped_;
          continue;
        }
        maps_.push_back(e.relevance);
        pending_.push_back({inputs.size() > 1 ? file.name + "[" + std::to_string(k) + "]" : file.name, predicted});
      }
      state.explainer()->drop_recorded();
      return true;
    }
    // Every input explained: cluster.
    running_ = false;
    if (maps_.size() < 3)
      fail_input("strategies: " + std::to_string(maps_.size()) + " heatmaps of class " + std::to_string(target_) +
                 (skipped_ ? " (" + std::to_string(skipped_) + " inputs skipped)" : "") + "; clustering needs at least 3");
    result_ = relevance::spray(concat_batch(maps_), options);
    entries_ = std::move(pending_);
    has_result_ = true;
    maps_.clear();
    pending_.clear();
  } catch (...) {
    cancel();
    throw;
  }
  return true;
}

double SprayView::progress() const {
  if (!running_) return 1.0;
  return static_cast<double>(next_file_) / static_cast<double>(files_.size() + 1);
}

// ---- snapshot -------------------------------------------------------------------------------------------

std::string SprayView::snapshot_json() const {
  JsonWriter w;
  w.begin_object();
  w.key("running").value(running_).key("progress").value(progress());
  w.key("neighbours").value(options.neighbours).key("size").value(options.size).key("predictedOnly").value(predicted_only);
  w.key("hasResult").value(has_result_);
  if (has_result_) {
    w.key("target").value(static_cast<long long>(target_)).key("method").value(method_);
    w.key("skipped").value(static_cast<long long>(skipped_)).key("clusters").value(result_.clusters);
    w.key("eigenvalues").begin_array();
    for (double v : result_.eigenvalues) w.value(v);
    w.end_array();
    w.key("members").begin_array();
    for (int c = 0; c < result_.clusters; ++c) {
      w.begin_array();
      for (size_t i = 0; i < entries_.size(); ++i)
        if (result_.label[i] == c) w.value(entries_[i].name);
      w.end_array();
    }
    w.end_array();
  }
  w.end_object();
  return w.str();
}

}  // namespace relscope::app
