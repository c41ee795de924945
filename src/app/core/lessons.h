// relscope/app/core/lessons.h — the guided lessons of the canvas: what each one opens and what it
// measures, as plain data and pure functions (no ImGui; the menu and panel are app_lessons.cpp).
//
// Sections: FindingSpec | Lesson | lesson table | applying a step | findings
//
// A lesson is a list of steps. A step names settings (relscopeAppSet's keys: sample, method, composite,
// target, compare, compare-method, ...) applied to the lesson's bundled model (assets/<model>/), two or three
// sentences for the student, and a finding: one number computed live from the current explanation (or a
// survey over the model's samples / table rows) that says whether the explanation shows what the lesson
// claims. Unit-tested natively on the bundled models (tests/unit/test_lessons.cpp).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "app/core/app_state.h"

namespace relscope::app {

// ---- FindingSpec -------------------------------------------------------------------------------------
enum class FindingKind {
  Conservation,     // sum(R) / explained output, main vs compare (LRP distributes the score; gradient does not)
  Roughness,        // total variation of R over sum |R| (how much the map changes from a pixel to the next),
                    // main vs compare
  RegionShare,      // share of positive R inside an image box (rows r0..r1, cols c0..c1, inclusive)
  ConceptShare,     // RegionShare of a CRP map, plus its relevance as a share of the LRP map (compare)
  GiniVsCompare,    // Gini of |R| of the main map vs the compare map
  FeatureShare,     // share of |R| on the listed features of a [1,F] input
  PositionShare,    // share of positive R on positions lo..hi of a [1,C,L] sequence, and top positions inside
  Faithfulness,     // AOPC of the main map minus the compare map's under pixel flipping (20 steps, windows of
                    // r0 pixels, baseline 0; relevance/faithfulness.h): which map the model agrees with
};

struct FindingSpec {
  FindingKind kind = FindingKind::RegionShare;
  int r0 = 0, r1 = 0, c0 = 0, c1 = 0;  // RegionShare / ConceptShare box; PositionShare: positions r0..r1;
                                       // Faithfulness: r0 is the window
  std::vector<int> features;           // FeatureShare
  std::string survey;                  // "": the current input; "rows": every table row; else every sample
                                       // whose name contains this text (restored afterwards)
  bool every = true;                   // surveys: the claim is about every input (the smallest value), else
                                       // about the mean
  double threshold = 0;                // >= 0: the finding holds when value >= threshold; < 0: when
                                       // value <= -threshold. GiniVsCompare: main - compare >= threshold;
                                       // Conservation: main in [threshold, 1.2] and 0.3 away from compare;
                                       // Roughness: main <= threshold * compare
};

// ---- Lesson ------------------------------------------------------------------------------------------
struct LessonStep {
  std::string title;
  std::vector<std::pair<std::string, std::string>> settings;   // applied in order after the defaults
  std::string text;                                            // what to look at, 2-3 sentences
  FindingSpec finding;
};

struct Lesson {
  std::string id, title;
  std::string model;   // bundled model id (assets/catalog.json)
  std::vector<LessonStep> steps;
};

// ---- lesson table ------------------------------------------------------------------------------------
const std::vector<Lesson>& lessons();
const Lesson* find_lesson(const std::string& id);

// ---- applying a step ---------------------------------------------------------------------------------
// Resets the explanation settings to a plain start (lrp, predicted target, no compare, output 0) and applies
// the step's settings to `state` (a sample is named by file name). Returns the settings it does not own
// (colormap, opacity: the canvas'), for the caller. Throws relscope::Error for a sample the model lacks.
std::vector<std::pair<std::string, std::string>> apply_lesson_step(AppState& state, const LessonStep& step);
// One setting by relscopeAppSet's key; false for keys that are not AppState's.
bool apply_state_setting(AppState& state, const std::string& key, const std::string& value);

// ---- findings ----------------------------------------------------------------------------------------
struct Finding {
  bool valid = false;
  double value = 0;      // the headline number (a share, a ratio, a Gini)
  double other = 0;      // the compare side (or, for PositionShare, top positions inside; ConceptShare: the
                         // concept's share of all relevance)
  double min = 0;        // surveys: the smallest value over the surveyed inputs
  int count = 1;         // surveys: how many inputs
  bool holds = false;    // the lesson's claim, checked on these numbers
  std::string sentence;  // the number in words, for the panel
};

// Computes a step's finding from `state`'s current results (after compute()). Surveys select each sample /
// row in turn, compute, and restore the input they found (the results are then recomputed). Throws
// relscope::Error when the results do not fit the spec (no compare map, wrong shape, no samples).
Finding compute_finding(AppState& state, const FindingSpec& spec);

// The single-input numbers (exposed for tests): positive share of R in a box of an image map; share of
// |R| on listed features; positive share on positions lo..hi and how many of the top (hi-lo+1) positions
// fall inside; the total variation of an image map (channels summed) over its sum of |R|.
double region_positive_share(const Tensor& relevance, bool channels_last, int r0, int r1, int c0, int c1);
double feature_abs_share(const Tensor& relevance, const std::vector<int>& features);
std::pair<double, int> position_share(const Tensor& relevance, int lo, int hi);
double roughness(const Tensor& relevance, bool channels_last);

}  // namespace relscope::app
