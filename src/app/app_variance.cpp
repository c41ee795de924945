// relscope/app/app_variance.cpp — the Variance window: "drives the prediction" vs "drives the uncertainty"
// side by side (bars for tabular/1-D inputs, heatmaps for images) with the predicted mean +- sd; for
// ensembles / MC-dropout the CovLRP map and the members' predictions.
//
// Sections: textures | drawing helpers | keeping the result current | settings | window | page bridge
//
// The numbers come from app/core/variance_view.h (unit-tested natively); this file only draws them and
// forwards clicks. Computing is on demand (the button): CovLRP runs one explanation per member.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/app.h"
#include "app/core/json.h"
#include "app/core/view.h"
#include "imgui.h"

namespace relscope::app {

namespace {

const ImVec4 kDim(0.62f, 0.65f, 0.70f, 1.0f);
const ImVec4 kError(1.0f, 0.45f, 0.42f, 1.0f);

// ---- textures ----------------------------------------------------------------------------------------
struct VarianceTextures {
  int version = -1, drawn_version = -2;    // re-upload when the result or the view settings change
  std::string colormap;
  float opacity = -1;
  Texture mean, var, cov;
};

VarianceTextures& tex() {
  static VarianceTextures t;
  return t;
}

void refresh_variance_textures(App& app) {
  VarianceTextures& t = tex();
  if (t.version == t.drawn_version && t.colormap == app.colormap && t.opacity == app.opacity) return;
  t.drawn_version = t.version, t.colormap = app.colormap, t.opacity = app.opacity;
  const VarianceResult& v = app.variance.result();
  const Results& r = app.state.results();
  const bool from_image = app.state.input().kind == InputKind::Image;
  const Image base = r.valid ? model_view(r.input, app.state.preprocess(), from_image) : Image{};
  const bool last = from_image && app.state.preprocess().channels_last;
  auto draw = [&](const Tensor& map, Texture& into) {
    if (map.f.empty() || !is_image_shaped(map.shape)) return into.clear();
    app.state.guard([&] { into.upload(overlay_image(base, heatmap_image(map, last, app.colormap), app.opacity)); });
  };
  draw(v.mean_map, t.mean);
  draw(v.var_map, t.var);
  draw(v.cov_map, t.cov);
}

// ---- drawing helpers ---------------------------------------------------------------------------------
// One bar per feature around a centre line, scaled to the map's own max |R| (each map reads on its own).
void feature_bars(const App& app, const Tensor& map, const char* id) {
  const std::vector<float> r = feature_relevance(map);
  if (r.empty()) return;
  float max_abs = 0;
  for (float v : r) max_abs = std::max(max_abs, std::fabs(v));
  if (max_abs == 0) max_abs = 1;
  const InputData& in = app.state.input();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeightWithSpacing(), name_w = ImGui::GetFontSize() * 4;
  const float bar_w = std::max(30.f, ImGui::GetContentRegionAvail().x - name_w - ImGui::GetFontSize() * 4);
  ImGui::PushID(id);
  for (size_t k = 0; k < r.size(); ++k) {
    const std::string name = in.kind == InputKind::Table && k < in.table.header.size() ? in.table.header[k] : "[" + std::to_string(k) + "]";
    const ImVec2 p = ImGui::GetCursorScreenPos();
    ImGui::TextUnformatted(name.c_str());
    const float cx = p.x + name_w + bar_w / 2, len = r[k] / max_abs * bar_w / 2;
    dl->AddRectFilled(ImVec2(std::min(cx, cx + len), p.y + 2), ImVec2(std::max(cx, cx + len), p.y + line - 3),
                      r[k] >= 0 ? IM_COL32(220, 60, 50, 255) : IM_COL32(50, 100, 220, 255));
    dl->AddLine(ImVec2(cx, p.y), ImVec2(cx, p.y + line), IM_COL32(160, 160, 160, 160));
    ImGui::SameLine(ImGui::GetCursorPosX() + name_w + bar_w);
    ImGui::Text("%+.3g", r[k]);
  }
  ImGui::PopID();
}

// A map as a heatmap (image inputs) or as bars (everything else), under a title.
void map_view(App& app, const char* title, const std::string& what, const Tensor& map, const Texture& t, const char* id) {
  ImGui::TextUnformatted(title);
  ImGui::PushTextWrapPos(0);
  ImGui::TextColored(kDim, "%s", what.c_str());
  ImGui::PopTextWrapPos();
  if (t.valid()) {
    const float w = ImGui::GetContentRegionAvail().x;
    ImGui::Image(t.id(), ImVec2(w, w * t.height() / std::max(1, t.width())));
  } else {
    feature_bars(app, map, id);
  }
}

// ---- keeping the result current ----------------------------------------------------------------------
// A new model drops the members and the result; a new input or setting (another compute) the result. Called
// by the window and by the between-frames step, so a result computed for the page (variance-compute) is not
// dropped by a window drawn for the first time afterwards.
void sync_variance(App& app) {
  static std::string model_hash;
  static int computes = -1;
  if (model_hash != app.state.model().hash) app.variance.clear_members(), model_hash = app.state.model().hash;
  if (computes != app.computes) app.variance.reset(), computes = app.computes;
}

// ---- settings ----------------------------------------------------------------------------------------
void settings_panel(App& app) {
  VarianceSettings& s = app.variance.settings;
  auto text_field = [](const char* label, std::string& value, const char* hint) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s", value.c_str());
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
    if (ImGui::InputTextWithHint(label, hint, buf, sizeof buf)) value = buf;
  };
  text_field("mean unit", s.mean_unit, "from names");
  ImGui::SameLine();
  text_field("variance unit", s.var_unit, "from names");
  const char* kinds[] = {"from names", "logvar", "var", "sd"};
  int kind = s.var_kind == "logvar" ? 1 : s.var_kind == "var" ? 2 : s.var_kind == "sd" ? 3 : 0;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  if (ImGui::Combo("variance unit holds", &kind, kinds, 4)) s.var_kind = kind ? kinds[kind] : "";
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::InputInt("MC-dropout samples (0: off)", &s.mc_dropout);
  s.mc_dropout = std::clamp(s.mc_dropout, 0, 1000);
  if (s.mc_dropout > 1) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
    ImGui::InputInt("seed", &s.seed);
  }
  const auto names = app.variance.member_names();
  ImGui::Text("ensemble members besides the model: %zu", names.size());
  for (const auto& n : names) ImGui::BulletText("%s", n.c_str());
  if (ImGui::Button(app.variance.take_next_model ? "Waiting for a member .onnx..." : "Add ensemble member...")) {
    app.variance.take_next_model = true;
    open_file_dialog();
  }
  ImGui::SameLine();
  if (ImGui::Button("Clear members")) app.variance.clear_members();
  const char* covs[] = {"marg", "diag"};
  int cov = s.cov == "diag" ? 1 : 0;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::Combo("CovLRP", &cov, covs, 2)) s.cov = covs[cov];
}

}  // namespace

// ---- window ------------------------------------------------------------------------------------------
void draw_variance(App& app) {
  if (!app.show_variance) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 44, ImGui::GetFontSize() * 34), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Variance", &app.show_variance)) return ImGui::End();
  sync_variance(app);
  if (ImGui::CollapsingHeader("Settings", ImGuiTreeNodeFlags_DefaultOpen)) settings_panel(app);
  if (ImGui::Button("Explain mean and variance") &&
      app.state.guard([&] { app.variance.compute(app.state); }))
    ++tex().version;
  const VarianceResult& v = app.variance.result();
  if (!app.state.last_error.empty()) ImGui::TextColored(kError, "%s", app.state.last_error.c_str());
  if (!v.valid) {
    ImGui::TextColored(kDim, "Gaussian-head models (mean and variance outputs): what drives the prediction and what\n"
                             "drives the uncertainty. Ensembles / MC-dropout: what makes the members disagree (CovLRP).");
    return ImGui::End();
  }
  refresh_variance_textures(app);
  VarianceTextures& t = tex();
  if (v.gaussian) {
    ImGui::Text("prediction: %.4g +- %.4g (sd)   method %s", v.mean, v.sd, v.method.c_str());
    if (ImGui::BeginTable("##variance_maps", 2, ImGuiTableFlags_BordersInnerV)) {
      ImGui::TableNextColumn();
      map_view(app, "drives the prediction", v.mean_text, v.mean_map, t.mean, "mean");
      ImGui::TableNextColumn();
      map_view(app, "drives the uncertainty", v.var_text, v.var_map, t.var, "var");
      ImGui::EndTable();
    }
  } else {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(kDim, "%s", v.head_problem.c_str());
    ImGui::PopTextWrapPos();
  }
  if (v.has_cov) {
    ImGui::Separator();
    ImGui::TextWrapped("%s", v.cov_text.c_str());
    ImGui::Text("CovLRP total %.4g; variance of member outputs %.4g", v.cov_total, v.output_variance);
    if (v.aleatoric_total != 0) ImGui::Text("aleatoric term %.4g (added to the map)", v.aleatoric_total);
    if (ImGui::BeginTable("##cov", 2, ImGuiTableFlags_BordersInnerV)) {
      ImGui::TableNextColumn();
      map_view(app, "makes the members disagree", "CovLRP-" + app.variance.settings.cov, v.cov_map, t.cov, "cov");
      ImGui::TableNextColumn();
      ImGui::TextUnformatted("member predictions");
      const auto [lo, hi] = std::minmax_element(v.member_outputs.begin(), v.member_outputs.end());
      const float pad = std::max(1e-6f, (*hi - *lo) * 0.1f);
      ImGui::PlotHistogram("##members", v.member_outputs.data(), static_cast<int>(v.member_outputs.size()), 0, nullptr,
                           *lo - pad, *hi + pad, ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 6));
      for (size_t m = 0; m < v.member_outputs.size() && m < 12; ++m) ImGui::Text("member %zu: %.4g", m, v.member_outputs[m]);
      ImGui::EndTable();
    }
  }
  ImGui::End();
}

// ---- page bridge -------------------------------------------------------------------------------------
bool variance_take_model(App& app, const std::string& name, const std::vector<uint8_t>& bytes) {
  const bool onnx = name.size() > 5 && name.compare(name.size() - 5, 5, ".onnx") == 0;
  if (!app.variance.take_next_model || !onnx) return false;
  app.variance.take_next_model = false;
  if (app.state.guard([&] { app.variance.add_member(name, bytes, app.state.limits()); })) app.notice = "ensemble member " + name;
  return true;
}

bool step_variance(App& app) {
  sync_variance(app);
  if (!app.variance_requested || computing(app) || app.state.dirty() || !app.state.results().valid) return false;
  app.variance_requested = false;
  if (app.state.guard([&] { app.variance.compute(app.state); })) ++tex().version;
  publish_state(app);
  return true;
}

std::string variance_snapshot_json(const App& app) {
  const VarianceResult& v = app.variance.result();
  const VarianceSettings& s = app.variance.settings;
  JsonWriter w;
  w.begin_object();
  w.key("open").value(app.show_variance).key("requested").value(app.variance_requested);
  w.key("waitingForMember").value(app.variance.take_next_model);
  w.key("cov").value(s.cov).key("mcDropout").value(s.mc_dropout).key("seed").value(s.seed);
  w.key("members").begin_array();
  for (const auto& n : app.variance.member_names()) w.value(n);
  w.end_array();
  w.key("valid").value(v.valid);
  if (v.valid) {
    w.key("gaussian").value(v.gaussian).key("headProblem").value(v.head_problem);
    w.key("meanText").value(v.mean_text).key("varText").value(v.var_text).key("method").value(v.method);
    w.key("mean").value(v.mean).key("sd").value(v.sd);
    const Tensor& any = !v.mean_map.f.empty() ? v.mean_map : v.cov_map;
    w.key("mapShape").begin_array();
    for (int64_t d : any.shape) w.value(static_cast<long long>(d));
    w.end_array();
    w.key("hasCov").value(v.has_cov).key("covText").value(v.cov_text);
    w.key("memberOutputs").begin_array();
    for (float o : v.member_outputs) w.value(static_cast<double>(o));
    w.end_array();
    w.key("outputVariance").value(v.output_variance).key("covTotal").value(v.cov_total);
    w.key("aleatoricTotal").value(v.aleatoric_total);
  }
  w.end_object();
  return w.str();
}

bool set_variance(App& app, const std::string& key, const std::string& value) {
  VarianceSettings& s = app.variance.settings;
  const bool on = value == "1" || value == "true";
  if (key == "variance") app.show_variance = on;
  else if (key == "variance-compute") app.variance_requested = on;
  else if (key == "variance-member") app.variance.take_next_model = on;   // the next .onnx opened is a member
  else if (key == "variance-clear-members") app.variance.clear_members(), app.variance.reset();
  else if (key == "variance-cov" && (value == "marg" || value == "diag")) s.cov = value;
  else if (key == "variance-mc-dropout") s.mc_dropout = std::clamp(std::atoi(value.c_str()), 0, 1000);
  else if (key == "variance-seed") s.seed = std::atoi(value.c_str());
  else if (key == "variance-mean-unit") s.mean_unit = value;
  else if (key == "variance-unit") s.var_unit = value;
  else if (key == "variance-kind" && (value.empty() || value == "logvar" || value == "var" || value == "sd")) s.var_kind = value;
  else return false;
  return true;
}

const Tensor* variance_tensor(const App& app, int which) {
  const VarianceResult& v = app.variance.result();
  if (!v.valid) return nullptr;
  const Tensor* t = which == 5 ? &v.mean_map : which == 6 ? &v.var_map : which == 7 ? &v.cov_map : nullptr;
  return t && !t->f.empty() ? t : nullptr;
}

}  // namespace relscope::app
