// relscope/app/core/faithfulness_view.h — the canvas's faithfulness check: pixel flipping of the shown
// heatmap (and of the compare heatmap), as plain data (no ImGui; the section is app_faithfulness.cpp).
//
// Sections: FaithfulnessOutcome | FaithfulnessView
//
// A user who has two heatmaps that disagree wants to know which one the model agrees with. The view flips
// the current results' maps (relevance/faithfulness.h: the most relevant units set to the baseline first,
// against random orders) on the model as it is, one forward pass per step() so that the canvas stays
// responsive and can show progress and stop. Its outcome belongs to the results it started from: once the
// results change (another input, method, target or model) it is dropped, never shown beside maps it does
// not describe.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "relevance/faithfulness.h"

namespace relscope::app {

// ---- FaithfulnessOutcome --------------------------------------------------------------------------------

struct FaithfulnessOutcome {
  std::string label;                 // "lrp (epsilon-plus-flat)" or "compare: gradient"
  relevance::FlipCurve curve;        // batch 1: the one sample
};

// ---- FaithfulnessView -----------------------------------------------------------------------------------

class FaithfulnessView {
 public:
  relevance::FlipOptions options;    // steps, window, baseline, random orders (output and layout: from the state)

  // Starts flipping the valid results' main map and, when shown, the compare map. Throws BadInput without
  // results (or for options pixel_flipping refuses); a run in progress is replaced.
  void start(AppState& state);
  // One forward pass of the run (none when idle). A run whose results are gone is dropped first: true when
  // work was done. Throws what the run throws (a NaN output); the run is dropped then.
  bool step(AppState& state);
  void cancel() { runs_.clear(); }
  bool running() const { return !runs_.empty(); }
  double progress() const;           // 0..1 over every map's run
  // Complete outcomes for the results they were computed on: main first, then compare. Empty while running
  // or once the results changed.
  const std::vector<FaithfulnessOutcome>& outcomes(const AppState& state) const;
  std::string snapshot_json(const AppState& state) const;

 private:
  // What the run started from, to tell whether the shown results are still those.
  struct Origin {
    Tensor input, main, compare;
    int64_t main_target = 0, compare_target = 0;
    bool has_compare = false;
  };
  bool matches(const AppState& state) const;
  struct Run {
    std::string label;
    std::unique_ptr<relevance::FlipRun> run;
  };
  Origin origin_;
  bool have_origin_ = false;
  std::vector<Run> runs_;
  size_t current_ = 0;
  std::vector<FaithfulnessOutcome> outcomes_;
};

}  // namespace relscope::app
