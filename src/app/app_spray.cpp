// relscope/app/app_spray.cpp — the Strategies window: SpRAy over the canvas's data set (bundled samples and
// opened inputs) at the class shown, each strategy as its mean heatmap and its members.
//
// Sections: textures | window | between frames | page bridge
//
// The numbers come from app/core/spray_view.h (unit-tested natively); this file draws them and forwards
// clicks. One input is explained per frame (step_spray), so the canvas stays responsive and Stop works.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "app/app.h"
#include "app/core/view.h"
#include "imgui.h"

namespace relscope::app {

namespace {

const ImVec4 kDim(0.62f, 0.65f, 0.70f, 1.0f);

// ---- textures -------------------------------------------------------------------------------------------
// Each cluster's mean heatmap (downsized, 2-D features only), re-made when the result or the colormap changes.
struct SprayTextures {
  int drawn_version = -1;
  std::string colormap;
  std::vector<std::unique_ptr<Texture>> means;   // Texture owns a GL name: not movable
};

SprayTextures& tex() {
  static SprayTextures t;
  return t;
}

void refresh_spray_textures(App& app) {
  SprayTextures& t = tex();
  const SprayView& v = app.spray;
  if (!v.has_result()) {
    t.means.clear();
    t.drawn_version = -1;
    return;
  }
  const auto& r = v.result();
  if (t.drawn_version == app.spray_result_version && t.colormap == app.colormap) return;
  t.drawn_version = app.spray_result_version, t.colormap = app.colormap;
  t.means.clear();
  for (int c = 0; c < r.clusters; ++c) {
    t.means.push_back(std::make_unique<Texture>());
    if (r.feature_shape.size() != 2) continue;
    const Tensor mean = Tensor::from_floats({1, 1, r.feature_shape[0], r.feature_shape[1]}, r.centroids[static_cast<size_t>(c)]);
    app.state.guard([&] { t.means.back()->upload(heatmap_image(mean, false, app.colormap).rgb); });
  }
}

}  // namespace

// ---- window ---------------------------------------------------------------------------------------------

void draw_spray(App& app) {
  if (!app.show_spray) return;
  AppState& s = app.state;
  SprayView& v = app.spray;
  const float f = ImGui::GetFontSize();
  ImGui::SetNextWindowSize(ImVec2(f * 30, f * 34), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Strategies", &app.show_spray)) {
    ImGui::End();
    return;
  }
  ImGui::TextWrapped("SpRAy: every input of the data set (the bundled samples and the inputs you opened) is "
                     "explained at the class shown, with the main method; the heatmaps are clustered. Each cluster "
                     "is a strategy the model uses for that class. A small cluster of its own can be a shortcut "
                     "(a Clever Hans).");
  ImGui::PushItemWidth(-f * 9);
  ImGui::SliderInt("neighbours", &v.options.neighbours, 1, 20);
  ImGui::SliderInt("heatmap size", &v.options.size, 4, 64);
  ImGui::SliderInt("clusters (0: eigengap)", &v.options.clusters, 0, 8);
  ImGui::Checkbox("only inputs predicted as the class", &v.predicted_only);
  ImGui::PopItemWidth();
  if (v.running()) {
    ImGui::ProgressBar(static_cast<float>(v.progress()), ImVec2(-f * 4, 0));
    ImGui::SameLine();
    if (ImGui::Button("Stop")) v.cancel();
  } else {
    const Results& r = s.results();
    if (!r.valid) ImGui::BeginDisabled();
    const std::string label = "Find strategies for " + (r.valid ? s.label_for(r.main.target) : std::string("the class"));
    if (ImGui::Button(label.c_str())) s.guard([&] { v.start(s); });
    if (!r.valid) ImGui::EndDisabled();
  }
  refresh_spray_textures(app);
  if (v.has_result()) {
    const auto& r = v.result();
    ImGui::Separator();
    ImGui::Text("%zu heatmaps of %s (%s)", v.entries().size(), s.label_for(v.target()).c_str(), v.method().c_str());
    if (v.skipped() > 0) ImGui::TextColored(kDim, "%lld input(s) skipped (did not fit, or predicted otherwise)", static_cast<long long>(v.skipped()));
    std::string eig;
    for (double e : r.eigenvalues) {
      char b[16];
      std::snprintf(b, sizeof b, " %.3f", e);
      eig += b;
    }
    ImGui::TextWrapped("eigenvalues:%s", eig.c_str());
    ImGui::TextColored(kDim, "%d strateg%s (%s)", r.clusters, r.clusters == 1 ? "y" : "ies",
                       v.options.clusters ? "as asked" : "the largest gap after the smallest eigenvalues");
    for (int c = 0; c < r.clusters; ++c) {
      ImGui::PushID(c);
      const Texture* t = tex().means.size() > static_cast<size_t>(c) ? tex().means[static_cast<size_t>(c)].get() : nullptr;
      if (t && t->valid()) {
        ImGui::Image(t->id(), ImVec2(f * 5, f * 5 * static_cast<float>(t->height()) / static_cast<float>(std::max(1, t->width()))));
        ImGui::SameLine();
      }
      ImGui::BeginGroup();
      ImGui::Text("strategy %d: %lld input(s), %.0f%%", c, static_cast<long long>(r.sizes[static_cast<size_t>(c)]),
                  100.0 * static_cast<double>(r.sizes[static_cast<size_t>(c)]) / static_cast<double>(v.entries().size()));
      std::string names;
      for (size_t i = 0; i < v.entries().size(); ++i)
        if (r.label[i] == c) names += (names.empty() ? "" : ", ") + v.entries()[i].name;
      ImGui::PushStyleColor(ImGuiCol_Text, kDim);
      ImGui::TextWrapped("%s", names.c_str());
      ImGui::PopStyleColor();
      ImGui::EndGroup();
      ImGui::PopID();
    }
  }
  ImGui::End();
}

// ---- between frames -------------------------------------------------------------------------------------

bool step_spray(App& app) {
  if (!app.spray.running() || app.compute_pending || app.offload.job != 0 || app.state.dirty()) return false;
  const bool was_result = app.spray.has_result();
  app.state.guard([&] { app.spray.step(app.state); });
  if (!app.spray.running()) {   // finished, dropped or failed: new textures, and the page may be waiting
    if (app.spray.has_result() || was_result) ++app.spray_result_version;
    publish_state(app);
  }
  return true;
}

// ---- page bridge ----------------------------------------------------------------------------------------

std::string spray_snapshot_json(const App& app) { return app.spray.snapshot_json(); }

bool set_spray(App& app, const std::string& key, const std::string& value) {
  SprayView& v = app.spray;
  const bool on = value == "1" || value == "true";
  if (key == "spray") app.show_spray = on;
  else if (key == "spray-run") return app.state.guard([&] { v.start(app.state); });
  else if (key == "spray-stop") v.cancel();
  else if (key == "spray-neighbours") v.options.neighbours = std::atoi(value.c_str());
  else if (key == "spray-size") v.options.size = std::atoi(value.c_str());
  else if (key == "spray-clusters") v.options.clusters = std::atoi(value.c_str());
  else if (key == "spray-predicted-only") v.predicted_only = on;
  else return false;
  return true;
}

}  // namespace relscope::app
