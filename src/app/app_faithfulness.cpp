// relscope/app/app_faithfulness.cpp — the Faithfulness section of the Explain window: pixel flipping of the
// heatmap(s) on screen, its progress, AOPC against random orders and the curves.
//
// Sections: chart | section | between frames | page bridge
//
// The numbers come from app/core/faithfulness_view.h (unit-tested natively); this file draws them and
// forwards clicks. The run advances between frames, about 25 ms of forward passes per frame
// (step_faithfulness), so the canvas stays responsive and Stop works at once.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/app.h"
#include "imgui.h"

namespace relscope::app {

namespace {

const ImVec4 kDim(0.62f, 0.65f, 0.70f, 1.0f);
const ImU32 kCurveColors[] = {IM_COL32(230, 90, 70, 255), IM_COL32(80, 150, 240, 255)};   // main, compare
const ImU32 kRandomColor = IM_COL32(160, 160, 160, 255);

// ---- chart ----------------------------------------------------------------------------------------------
// The output at each point against the share of units removed, for every outcome and (dashed grey) the
// main map's random orders: the faster a curve falls, the more faithful its map.
void flip_chart(const std::vector<FaithfulnessOutcome>& outcomes) {
  const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetFontSize() * 7.0f;
  const ImVec2 p0 = ImGui::GetCursorScreenPos(), p1(p0.x + w, p0.y + h);
  ImDrawList* d = ImGui::GetWindowDrawList();
  d->AddRect(p0, p1, IM_COL32(90, 90, 100, 255));
  double lo = 1e300, hi = -1e300;
  for (const auto& o : outcomes)
    for (const auto* c : {&o.curve.relevance_first, &o.curve.random})
      for (double v : *c) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > lo)) hi = lo + 1;
  const auto& removed = outcomes.front().curve.removed;
  const double units = static_cast<double>(std::max<int64_t>(outcomes.front().curve.units, 1));
  auto at = [&](size_t k, double v) {
    return ImVec2(p0.x + 4 + (w - 8) * static_cast<float>(removed[k] / units),
                  p1.y - 4 - (h - 8) * static_cast<float>((v - lo) / (hi - lo)));
  };
  auto line = [&](const std::vector<double>& c, ImU32 color, bool dashed) {
    for (size_t k = 1; k < c.size() && k < removed.size(); ++k)
      if (!dashed || k % 2) d->AddLine(at(k - 1, c[k - 1]), at(k, c[k]), color, dashed ? 1.5f : 2.0f);
  };
  line(outcomes.front().curve.random, kRandomColor, true);
  for (size_t i = 0; i < outcomes.size() && i < 2; ++i) line(outcomes[i].curve.relevance_first, kCurveColors[i], false);
  ImGui::Dummy(ImVec2(w, h));
  ImGui::TextColored(kDim, "output %.3g .. %.3g against the share of units removed (0 -> %.0f%%); dashed: random orders",
                     lo, hi, 100.0 * static_cast<double>(removed.back()) / units);
}

}  // namespace

// ---- section --------------------------------------------------------------------------------------------

void draw_faithfulness(App& app) {
  AppState& s = app.state;
  FaithfulnessView& v = app.faithfulness;
  ImGui::PushID("faithfulness");
  ImGui::TextWrapped("Pixel flipping: set the most relevant units to the baseline first and watch the output "
                     "fall. A faithful heatmap makes it fall faster than random orders do.");
  ImGui::SliderInt("steps", &v.options.steps, 5, 50);
  ImGui::SliderInt("window", &v.options.window, 1, 16);
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("A unit is a window x window block of pixels (all channels); 1 is pixel flipping.\n"
                      "Features for table rows, positions for sequences.");
  ImGui::SliderInt("random orders", &v.options.random_orders, 0, 10);
  ImGui::InputFloat("baseline", &v.options.baseline, 0.0f, 0.0f, "%.3g");
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("The value a removed entry takes, in the model's input space (after mean/std): 0 is the "
                      "mean colour for a normalised image.");
  if (v.running()) {
    ImGui::ProgressBar(static_cast<float>(v.progress()), ImVec2(-ImGui::GetFontSize() * 4.0f, 0));
    ImGui::SameLine();
    if (ImGui::Button("Stop")) v.cancel();
  } else {
    const bool ready = s.results().valid;
    if (!ready) ImGui::BeginDisabled();
    if (ImGui::Button(s.results().has_compare ? "Flip both heatmaps" : "Flip the heatmap")) s.guard([&] { v.start(s); });
    if (!ready) ImGui::EndDisabled();
  }
  const auto& outcomes = v.outcomes(s);
  if (!outcomes.empty()) {
    if (ImGui::BeginTable("aopc", 4, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
      ImGui::TableSetupColumn("heatmap");
      ImGui::TableSetupColumn("AOPC");
      ImGui::TableSetupColumn("random");
      ImGui::TableSetupColumn("Gini");
      ImGui::TableHeadersRow();
      for (size_t i = 0; i < outcomes.size(); ++i) {
        const auto& c = outcomes[i].curve;
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kCurveColors[std::min<size_t>(i, 1)]), "%s", outcomes[i].label.c_str());
        ImGui::TableNextColumn();
        ImGui::Text("%.3g", c.aopc);
        ImGui::TableNextColumn();
        if (c.random.empty()) ImGui::TextDisabled("-");
        else ImGui::Text("%.3g", c.aopc_random);
        ImGui::TableNextColumn();
        ImGui::Text("%.3f", c.gini);
      }
      ImGui::EndTable();
    }
    flip_chart(outcomes);
    ImGui::TextColored(kDim, "AOPC: the mean drop of the output over the points; higher is more faithful");
  }
  ImGui::PopID();
}

// ---- between frames -------------------------------------------------------------------------------------

bool step_faithfulness(App& app) {
  if (!app.faithfulness.running() || app.compute_pending || app.offload.job != 0 || app.state.dirty()) return false;
  // Passes until about 25 ms of this frame are used (at least one): a small model finishes in a few frames
  // instead of one pass per frame, a large one still leaves the canvas a frame between its passes.
  const auto t0 = std::chrono::steady_clock::now();
  bool ran = false;
  do {
    ran = app.state.guard([&] { app.faithfulness.step(app.state); });
  } while (ran && app.faithfulness.running() &&
           std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(25));
  if (!app.faithfulness.running()) publish_state(app);   // finished, dropped or failed: the page may be waiting
  return ran || !app.faithfulness.running();
}

// ---- page bridge ----------------------------------------------------------------------------------------

std::string faithfulness_snapshot_json(const App& app) { return app.faithfulness.snapshot_json(app.state); }

bool set_faithfulness(App& app, const std::string& key, const std::string& value) {
  relscope::relevance::FlipOptions& o = app.faithfulness.options;
  if (key == "faithfulness-run") return app.state.guard([&] { app.faithfulness.start(app.state); });
  if (key == "faithfulness-stop") app.faithfulness.cancel();
  else if (key == "faithfulness-steps") o.steps = std::atoi(value.c_str());
  else if (key == "faithfulness-window") o.window = std::atoi(value.c_str());
  else if (key == "faithfulness-orders") o.random_orders = std::atoi(value.c_str());
  else if (key == "faithfulness-baseline") o.baseline = static_cast<float>(std::atof(value.c_str()));
  else return false;
  return true;
}

}  // namespace relscope::app
