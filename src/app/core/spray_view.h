// relscope/app/core/spray_view.h — the canvas's Strategies view: SpRAy over the data set the canvas holds
// (the bundled samples and the inputs the user opened), as plain data (no ImGui; the window is app_spray.cpp).
//
// Sections: SprayEntry | SprayView
//
// "Is my model right for the right reasons on all of these, or does it use a shortcut on some?" The view
// explains every input of the data set at one class with the main panel's method (one input per step(), so
// the canvas stays responsive), then clusters the heatmaps (relevance/spray.h): each cluster is a strategy,
// shown as its mean heatmap and its members. The class, method and model are frozen at start(); another
// model or preprocessing drops the run and its result.
#pragma once
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "relevance/spray.h"

namespace relscope::app {

// ---- SprayEntry -----------------------------------------------------------------------------------------

struct SprayEntry {
  std::string name;          // file name, with [k] for the k-th sample of an array or row of a table
  int64_t predicted = 0;     // the model's arg-max for it
};

// ---- SprayView ------------------------------------------------------------------------------------------

class SprayView {
 public:
  relevance::SprayOptions options;   // size, neighbours, clusters (0: eigengap); channels_last from the state
  bool predicted_only = false;       // only the inputs the model predicts as the class

  // Freezes the class (the main results' target), the request (the main settings) and the data set; the
  // first input is explained by the first step(). BadInput without results or without 3 inputs.
  void start(AppState& state);
  // One input explained, or (after the last) the clustering. False when idle. A run whose model or
  // preprocessing changed is dropped first. Throws what the explainer or spray() throws; the run ends then.
  bool step(AppState& state);
  void cancel() { running_ = false; maps_.clear(); }
  bool running() const { return running_; }
  double progress() const;
  bool has_result() const { return has_result_; }
  const relevance::SprayResult& result() const { return result_; }
  const std::vector<SprayEntry>& entries() const { return entries_; }   // per map of the result
  int64_t target() const { return target_; }
  std::string method() const { return method_; }
  int64_t skipped() const { return skipped_; }   // inputs that did not fit, or predicted otherwise
  std::string snapshot_json() const;

 private:
  bool same_origin(const AppState& state) const;
  std::string model_hash_;
  ImagePreprocess preprocess_;
  std::vector<Sample> files_;
  size_t next_file_ = 0;
  bool running_ = false, has_result_ = false;
  std::map<std::string, std::string> request_;
  std::string method_;
  int64_t target_ = 0, skipped_ = 0;
  std::vector<Tensor> maps_;
  std::vector<SprayEntry> pending_, entries_;
  relevance::SprayResult result_;
};

}  // namespace relscope::app
