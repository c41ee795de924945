// relscope/app/core/lesson_findings.cpp — the live numbers behind each lesson (lessons.h).
//
// Sections: single-map measures | surveys | compute_finding()
//
// Every measure reads the relevance the app already computed (AppState::results()); surveys (Clever Hans
// over its marked samples, the variance drivers over the table's rows) select each input in turn, compute,
// and put the input back, so the canvas ends where it started.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>

#include "app/core/lessons.h"
#include "core/error.h"
#include "relevance/faithfulness.h"
#include "relevance/prune.h"
#include "render/heatmap.h"

namespace relscope::app {

// ---- single-map measures -----------------------------------------------------------------------------
namespace {

render::Map2D image_map(const Tensor& t, bool channels_last) {
  if (t.shape.size() < 3 || t.shape[0] != 1 || t.f.empty()) fail_input("lesson: the map " + shape_str(t.shape) + " is not an image");
  const Shape one(t.shape.begin() + 1, t.shape.end());
  return render::sum_channels(t.f.data(), one, t.shape.size() == 4 && channels_last);
}

double sum(const Tensor& t) { return std::accumulate(t.f.begin(), t.f.end(), 0.0); }

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * v);
  return b;
}

std::string num(double v, const char* f = "%.3f") {
  char b[32];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

bool check(double value, double threshold) { return threshold >= 0 ? value >= threshold : value <= -threshold; }

}  // namespace

double region_positive_share(const Tensor& relevance, bool channels_last, int r0, int r1, int c0, int c1) {
  const render::Map2D m = image_map(relevance, channels_last);
  double in = 0, all = 0;
  for (int64_t y = 0; y < m.height; ++y) {
    for (int64_t x = 0; x < m.width; ++x) {
      const double v = std::max(0.0f, m.values[static_cast<size_t>(y * m.width + x)]);
      all += v;
      if (y >= r0 && y <= r1 && x >= c0 && x <= c1) in += v;
    }
  }
  return all > 0 ? in / all : 0.0;
}

double feature_abs_share(const Tensor& relevance, const std::vector<int>& features) {
  const size_t n = relevance.f.size();
  double in = 0, all = 0;
  for (size_t k = 0; k < n; ++k) {
    const double v = std::fabs(relevance.f[k]);
    all += v;
    if (std::find(features.begin(), features.end(), static_cast<int>(k)) != features.end()) in += v;
  }
  return all > 0 ? in / all : 0.0;
}

std::pair<double, int> position_share(const Tensor& relevance, int lo, int hi) {
  const Shape& s = relevance.shape;
  if (s.size() != 3 || s[0] != 1) fail_input("lesson: the map " + shape_str(s) + " is not a sequence [1,C,L]");
  const int64_t c = s[1], l = s[2];
  std::vector<double> pos(static_cast<size_t>(l), 0.0);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t p = 0; p < l; ++p) pos[static_cast<size_t>(p)] += relevance.f[static_cast<size_t>(ch * l + p)];
  double in = 0, all = 0;
  for (int64_t p = 0; p < l; ++p) {
    const double v = std::max(0.0, pos[static_cast<size_t>(p)]);
    all += v;
    if (p >= lo && p <= hi) in += v;
  }
  // How many of the top (hi - lo + 1) positions lie inside lo..hi.
  std::vector<int> order(static_cast<size_t>(l));
  std::iota(order.begin(), order.end(), 0);
  const int k = std::min<int>(hi - lo + 1, static_cast<int>(l));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return pos[a] > pos[b]; });
  int inside = 0;
  for (int j = 0; j < k; ++j) inside += order[j] >= lo && order[j] <= hi;
  return {all > 0 ? in / all : 0.0, inside};
}

double roughness(const Tensor& relevance, bool channels_last) {
  const render::Map2D m = image_map(relevance, channels_last);
  auto at = [&](int64_t y, int64_t x) { return static_cast<double>(m.values[static_cast<size_t>(y * m.width + x)]); };
  double tv = 0, all = 0;
  for (int64_t y = 0; y < m.height; ++y) {
    for (int64_t x = 0; x < m.width; ++x) {
      all += std::fabs(at(y, x));
      if (x + 1 < m.width) tv += std::fabs(at(y, x + 1) - at(y, x));
      if (y + 1 < m.height) tv += std::fabs(at(y + 1, x) - at(y, x));
    }
  }
  return all > 0 ? tv / all : 0.0;
}

// ---- surveys -----------------------------------------------------------------------------------------
namespace {

// Runs `measure` on the current results of every surveyed input; restores the input and recomputes.
std::vector<double> survey(AppState& s, const std::string& what, const std::function<double()>& measure) {
  std::vector<double> values;
  if (what == "rows") {
    const int row = s.input().row, rows = s.input_rows();
    for (int r = 0; r < rows; ++r) {
      s.select_row(r);
      s.compute();
      values.push_back(measure());
    }
    s.select_row(row);
  } else {
    const int selected = s.selected_sample();
    if (selected < 0) fail_input("lesson: pick one of the model's samples first (the survey restores it)");
    for (size_t k = 0; k < s.samples().size(); ++k) {
      if (s.samples()[k].name.find(what) == std::string::npos) continue;
      s.select_sample(k);
      s.compute();
      values.push_back(measure());
    }
    s.select_sample(static_cast<size_t>(selected));
  }
  s.compute();
  if (values.empty()) fail_input("lesson: no sample matches '" + what + "'");
  return values;
}

}  // namespace

// ---- compute_finding() ---------------------------------------------------------------------------------
Finding compute_finding(AppState& s, const FindingSpec& spec) {
  if (!s.results().valid) fail_input("lesson: nothing computed yet");
  const bool last = s.input().kind == InputKind::Image && s.preprocess().channels_last;
  auto main_map = [&]() -> const Tensor& { return s.results().main.relevance; };
  auto compare_map = [&]() -> const Explained& {
    if (!s.results().has_compare) fail_input("lesson: this step compares two maps; turn 'compare' on");
    return s.results().compare;
  };
  Finding f;
  std::function<double()> measure;
  switch (spec.kind) {
    case FindingKind::Conservation: {
      const Results& r = s.results();
      const double out = r.output.f.at(static_cast<size_t>(r.main.target));
      if (out == 0) fail_input("lesson: the explained output is 0");
      f.value = sum(main_map()) / out;
      f.other = sum(compare_map().relevance) / out;
      f.holds = f.value >= spec.threshold && f.value <= 1.2 && std::fabs(f.value - f.other) >= 0.3;
      f.sentence = "The left map adds up to " + pct(f.value) + " of the explained score (" + num(out) +
                   "); the right one to " + pct(f.other) + ".";
      break;
    }
    case FindingKind::Roughness: {
      f.value = roughness(main_map(), last);
      f.other = roughness(compare_map().relevance, last);
      f.holds = f.other > 0 && f.value <= spec.threshold * f.other;
      f.sentence = "Roughness (total variation / sum |R|): " + num(f.value) + " on the left, " + num(f.other) +
                   " on the right.";
      break;
    }
    case FindingKind::RegionShare:
    case FindingKind::ConceptShare: {
      measure = [&] { return region_positive_share(main_map(), last, spec.r0, spec.r1, spec.c0, spec.c1); };
      if (spec.kind == FindingKind::ConceptShare) {
        const double total = sum(compare_map().relevance);
        f.other = total != 0 ? sum(main_map()) / total : 0.0;
      }
      break;
    }
    case FindingKind::GiniVsCompare:
      f.value = s.results().main.gini;
      f.other = compare_map().gini;
      f.holds = f.value - f.other >= spec.threshold;
      f.sentence = "Gini of |R|: " + num(f.value) + " on the left, " + num(f.other) + " for plain LRP on the right.";
      break;
    case FindingKind::FeatureShare:
      measure = [&] { return feature_abs_share(main_map(), spec.features); };
      break;
    case FindingKind::Faithfulness:
      measure = [&] {
        relevance::FlipOptions o;
        o.window = std::max(1, spec.r0);
        o.random_orders = 0;
        o.output = s.output;
        o.channels_last = last;
        const Results& r = s.results();
        auto aopc = [&](const Explained& e) {
          return relevance::pixel_flipping(*s.session(), {r.input}, e.relevance, {e.target}, o)[0].aopc;
        };
        return aopc(r.main) - aopc(compare_map());
      };
      break;
    case FindingKind::PositionShare: {
      const auto [share, inside] = position_share(main_map(), spec.r0, spec.r1);
      f.value = share;
      f.other = inside;
      f.holds = check(f.value, spec.threshold);
      f.sentence = "Positions " + std::to_string(spec.r0) + "-" + std::to_string(spec.r1) + " hold " + pct(share) +
                   " of the positive relevance; " + std::to_string(inside) + " of the top " +
                   std::to_string(spec.r1 - spec.r0 + 1) + " positions lie there.";
      break;
    }
  }
  if (measure) {
    const std::vector<double> v = spec.survey.empty() ? std::vector<double>{measure()} : survey(s, spec.survey, measure);
    f.count = static_cast<int>(v.size());
    f.value = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
    f.min = *std::min_element(v.begin(), v.end());
    // A survey's claim is about every input (the smallest share) or, where single inputs are noisy (the
    // variance drivers), about the mean; a single input's about itself.
    const double worst = spec.threshold >= 0 ? f.min : *std::max_element(v.begin(), v.end());
    f.holds = check(spec.every ? worst : f.value, spec.threshold);
    if (spec.kind == FindingKind::Faithfulness) {
      f.sentence = "Flipping the left map's most relevant pixels first lowers the score more: its AOPC exceeds the "
                   "right map's by " + num(f.value) + (f.count > 1 ? " on average over " + std::to_string(f.count) +
                   " samples (smallest " + num(f.min) + ")." : ".");
      f.valid = true;
      return f;
    }
    const bool drivers = spec.kind == FindingKind::FeatureShare;
    const std::string where = drivers ? "the true drivers" : "the corner box", verb = drivers ? " hold " : " holds ";
    const std::string what = spec.kind == FindingKind::FeatureShare ? "of |R|" : "of the positive relevance";
    if (f.count > 1) {
      f.sentence = "Over " + std::to_string(f.count) + (spec.survey == "rows" ? " rows" : " samples") + ", " +
                   where + verb + pct(f.value) + " " + what + " on average (smallest " + pct(f.min) + ").";
    } else {
      f.sentence = where + verb + pct(f.value) + " " + what + ".";
      f.sentence[0] = static_cast<char>(std::toupper(f.sentence[0]));
    }
    if (spec.kind == FindingKind::ConceptShare)
      f.sentence += " The concept carries " + pct(f.other) + " of all the relevance (right).";
  } else {
    f.min = f.value;
  }
  f.valid = true;
  return f;
}

}  // namespace relscope::app
