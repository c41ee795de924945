// relscope/app/core/faithfulness_view.cpp — pixel flipping of the canvas's heatmaps (faithfulness_view.h).
//
// Sections: helpers | start | step | outcomes and snapshot
#include "app/core/faithfulness_view.h"

#include <algorithm>

#include "app/core/json.h"
#include "core/error.h"
#include "relevance/explain.h"

namespace relscope::app {

namespace {

// ---- helpers --------------------------------------------------------------------------------------------

const std::vector<FaithfulnessOutcome> kNone;

}  // namespace

// ---- start ----------------------------------------------------------------------------------------------

void FaithfulnessView::start(AppState& state) {
  const Results& r = state.results();
  if (!r.valid || !state.session()) fail_input("faithfulness: explain an input first");
  const bool compare = r.has_compare;
  for (const Explained* e : {&r.main, compare ? &r.compare : nullptr})
    if (e && e->maps > 1) fail_input("faithfulness: crp shows one of several conditional maps; flip a joint map");
  relevance::FlipOptions o = options;
  o.output = state.output;
  o.channels_last = state.input().kind == InputKind::Image && state.preprocess().channels_last;
  // A pass should fit a frame's budget (app_faithfulness.cpp: about 25 ms): fewer copies per pass for a model
  // whose forward pass is slow.
  o.copies_per_pass = std::clamp(static_cast<int>(25.0 / std::max(r.forward_ms, 0.1)), 1, 8);
  std::vector<Run> runs;   // built whole before anything is replaced: a refused option leaves the old run
  runs.push_back({relevance::method_label(r.main.settings.method, r.main.settings.composite),
                  std::make_unique<relevance::FlipRun>(*state.session(), std::vector<Tensor>{r.input}, r.main.relevance,
                                                       std::vector<int64_t>{r.main.target}, o)});
  if (compare) {
    // The random orders do not depend on the map: at the same target the compare map shares the main one's
    // reference curve instead of running it again (half its passes).
    relevance::FlipOptions oc = o;
    if (r.compare.target == r.main.target) oc.random_orders = 0;
    runs.push_back({"compare: " + relevance::method_label(r.compare.settings.method, r.compare.settings.composite),
                    std::make_unique<relevance::FlipRun>(*state.session(), std::vector<Tensor>{r.input}, r.compare.relevance,
                                                         std::vector<int64_t>{r.compare.target}, oc)});
  }
  runs_ = std::move(runs);
  current_ = 0;
  outcomes_.clear();
  origin_ = {r.input, r.main.relevance, compare ? r.compare.relevance : Tensor{}, r.main.target,
             compare ? r.compare.target : 0, compare};
  have_origin_ = true;
}

// ---- step -----------------------------------------------------------------------------------------------

bool FaithfulnessView::matches(const AppState& state) const {
  const Results& r = state.results();
  if (!have_origin_ || !r.valid || r.has_compare != origin_.has_compare || r.main.target != origin_.main_target)
    return false;
  if (!same_bits(r.input, origin_.input) || !same_bits(r.main.relevance, origin_.main)) return false;
  return !r.has_compare || (r.compare.target == origin_.compare_target && same_bits(r.compare.relevance, origin_.compare));
}

bool FaithfulnessView::step(AppState& state) {
  if (runs_.empty()) return false;
  // The model or the results changed under the run: what it would finish describes nothing on screen (and a
  // new model's session is not the one the run refers to).
  if (!matches(state)) {
    runs_.clear();
    outcomes_.clear();
    have_origin_ = false;
    return false;
  }
  try {
    runs_[current_].run->step();
  } catch (...) {
    runs_.clear();
    throw;
  }
  if (runs_[current_].run->done() && ++current_ == runs_.size()) {
    for (auto& run : runs_) outcomes_.push_back({run.label, run.run->curves().front()});
    for (auto& o : outcomes_)
      if (o.curve.random.empty() && o.curve.target == outcomes_[0].curve.target) {   // shared (see start)
        o.curve.random = outcomes_[0].curve.random;
        o.curve.aopc_random = outcomes_[0].curve.aopc_random;
      }
    runs_.clear();
  }
  return true;
}

double FaithfulnessView::progress() const {
  if (runs_.empty()) return 1.0;
  int64_t total = 0;
  double done = 0;
  for (const auto& run : runs_) {
    total += run.run->copies_total();
    done += run.run->progress() * static_cast<double>(run.run->copies_total());
  }
  return total ? done / static_cast<double>(total) : 1.0;
}

// ---- outcomes and snapshot ------------------------------------------------------------------------------

const std::vector<FaithfulnessOutcome>& FaithfulnessView::outcomes(const AppState& state) const {
  return running() || !matches(state) ? kNone : outcomes_;
}

std::string FaithfulnessView::snapshot_json(const AppState& state) const {
  JsonWriter w;
  w.begin_object();
  w.key("running").value(running()).key("progress").value(progress());
  w.key("steps").value(options.steps).key("window").value(options.window);
  w.key("randomOrders").value(options.random_orders).key("baseline").value(static_cast<double>(options.baseline));
  w.key("outcomes").begin_array();
  for (const auto& o : outcomes(state)) {
    const auto& c = o.curve;
    w.begin_object();
    w.key("label").value(o.label).key("target").value(static_cast<long long>(c.target));
    w.key("units").value(static_cast<long long>(c.units));
    w.key("aopc").value(c.aopc).key("aopcRandom").value(c.aopc_random).key("gini").value(c.gini);
    w.key("removed").begin_array();
    for (int64_t m : c.removed) w.value(static_cast<long long>(m));
    w.end_array();
    w.key("relevanceFirst").begin_array();
    for (double v : c.relevance_first) w.value(v);
    w.end_array();
    w.key("random").begin_array();
    for (double v : c.random) w.value(v);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

}  // namespace relscope::app
