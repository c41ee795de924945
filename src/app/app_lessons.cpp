// relscope/app/app_lessons.cpp — the Models and Lessons menus, the lesson panel, and the page calls that
// switch bundled models.
//
// Sections: page bridge (EM_JS, exported C functions) | opening models and lessons | menus | lesson panel |
//           between frames | snapshot and settings
//
// Bundled models live on the page's side (web/app.mjs fetches assets/<dir>/ from assets/catalog.json and
// hands the files over as it does the demo); the app only asks for one by id and hears back when it is in.
// A lesson step is applied once its model is loaded; the finding (app/core/lessons.h) is recomputed after
// every successful compute, so it always describes what the canvas shows.
#include <emscripten.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "app/app.h"
#include "app/core/json.h"
#include "imgui.h"

// ---- page bridge (EM_JS, exported C functions) -------------------------------------------------------
// clang-format off
EM_JS(int, relscope_js_open_bundled, (const char* id), {
  if (typeof Module['relscopeOpenBundled'] !== 'function') return 0;
  Module['relscopeOpenBundled'](UTF8ToString(id));
  return 1;
});
// clang-format on

namespace relscope::app {
namespace {

const ImVec4 kDim(0.62f, 0.65f, 0.70f, 1.0f);
const ImVec4 kGood(0.55f, 0.85f, 0.55f, 1.0f);
const ImVec4 kBad(1.0f, 0.6f, 0.4f, 1.0f);

// ---- opening models and lessons ----------------------------------------------------------------------
void open_model(App& app, const std::string& id) {
  if (!relscope_js_open_bundled(id.c_str())) app.state.last_error = "bad input: this page cannot open bundled models";
}

}  // namespace

// Applies the open lesson's step to the loaded model (its model must be the current bundle). Also called
// by relscope_app_bundle_loaded below.
void apply_lesson_step_now(App& app) {
  const Lesson* l = find_lesson(app.lesson.id);
  if (!l) return;
  app.lesson.finding = {};
  app.lesson.error.clear();
  app.lesson.finding_computes = -1;
  app.state.guard([&] {
    for (const auto& [key, value] : apply_lesson_step(app.state, l->steps[app.lesson.step]))
      if (key == "colormap") app.colormap = value;
  });
  app.textures_dirty = true;
}

namespace {

void open_lesson(App& app, const std::string& id, int step) {
  const Lesson* l = find_lesson(id);
  if (!l) {
    app.state.last_error = "bad input: no lesson '" + id + "'";
    return;
  }
  app.lesson.id = id;
  app.lesson.step = std::clamp(step, 0, static_cast<int>(l->steps.size()) - 1);
  if (app.state.bundle == l->model) {
    app.lesson.waiting_model = false;
    apply_lesson_step_now(app);
  } else {
    app.lesson.waiting_model = true;
    app.lesson.finding = {};
    open_model(app, l->model);
  }
}

std::string title_of(const App& app, const std::string& id) {
  for (const auto& m : app.catalog)
    if (m.id == id) return m.title;
  return id;
}

}  // namespace

// ---- menus -------------------------------------------------------------------------------------------
void draw_lessons_menu(App& app) {
  if (ImGui::Button("Models")) ImGui::OpenPopup("models");
  if (ImGui::BeginPopup("models")) {
    if (app.catalog.empty()) ImGui::TextColored(kDim, "no bundled models on this page");
    for (const auto& m : app.catalog) {
      if (ImGui::MenuItem(m.title.c_str(), m.id.c_str(), app.state.bundle == m.id)) {
        app.lesson.id.clear();   // a model picked by hand leaves the lesson
        open_model(app, m.id);
      }
    }
    ImGui::EndPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("Lessons")) ImGui::OpenPopup("lessons");
  if (ImGui::BeginPopup("lessons")) {
    for (const auto& l : lessons())
      if (ImGui::MenuItem(l.title.c_str(), nullptr, app.lesson.id == l.id)) open_lesson(app, l.id, 0);
    ImGui::EndPopup();
  }
  if (!app.state.bundle.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(kDim, "%s", app.state.bundle.c_str());
  }
}

// ---- lesson panel ------------------------------------------------------------------------------------
void draw_lesson_panel(App& app) {
  const Lesson* l = find_lesson(app.lesson.id);
  if (!l) return;
  const float d = app.dpr;
  const ImGuiIO& io = ImGui::GetIO();
  const float wrap = std::min(500 * d, io.DisplaySize.x * 0.42f);   // text width; the window fits it
  ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x * 0.5f, io.DisplaySize.y - 12 * d), ImGuiCond_Appearing, ImVec2(0.5f, 1.0f));
  bool open = true;
  const std::string title = l->title + "###lesson";
  if (ImGui::Begin(title.c_str(), &open, ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize)) {
    const LessonStep& st = l->steps[app.lesson.step];
    const int n = static_cast<int>(l->steps.size());
    ImGui::TextColored(kDim, "step %d of %d: %s", app.lesson.step + 1, n, st.title.c_str());
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + wrap);
    ImGui::TextUnformatted(st.text.c_str());
    ImGui::Separator();
    if (app.lesson.waiting_model) {
      ImGui::TextColored(kDim, "opening %s...", title_of(app, l->model).c_str());
    } else if (app.state.bundle != l->model) {
      ImGui::TextColored(kBad, "This lesson runs on %s.", title_of(app, l->model).c_str());
      if (ImGui::Button("open it")) open_lesson(app, l->id, app.lesson.step);
    } else if (!app.lesson.error.empty()) {
      ImGui::TextColored(kBad, "%s", app.lesson.error.c_str());
    } else if (app.lesson.finding.valid) {
      ImGui::TextColored(app.lesson.finding.holds ? kGood : kBad, "%s %s", app.lesson.finding.holds ? "Finding:" : "Not shown here:",
                         app.lesson.finding.sentence.c_str());
    } else {
      ImGui::TextColored(kDim, "computing the finding...");
    }
    ImGui::PopTextWrapPos();
    if (n > 1) {
      ImGui::BeginDisabled(app.lesson.step == 0);
      if (ImGui::Button("< previous")) open_lesson(app, l->id, app.lesson.step - 1);
      ImGui::EndDisabled();
      ImGui::SameLine();
      ImGui::BeginDisabled(app.lesson.step + 1 >= n);
      if (ImGui::Button("next >")) open_lesson(app, l->id, app.lesson.step + 1);
      ImGui::EndDisabled();
      ImGui::SameLine();
    }
    if (ImGui::Button("reset step")) open_lesson(app, l->id, app.lesson.step);
  }
  ImGui::End();
  if (!open) app.lesson.id.clear();
}

// ---- between frames ----------------------------------------------------------------------------------
bool step_lessons(App& app) {
  LessonRun& run = app.lesson;
  const Lesson* l = find_lesson(run.id);
  if (!l || run.waiting_model || app.state.bundle != l->model) return false;
  AppState& s = app.state;
  if (!s.results().valid || s.dirty() || computing(app) || run.finding_computes == app.computes) return false;
  run.finding_computes = app.computes;
  const std::string kept = s.last_error;
  // Surveys compute on their own (the app's compute counter stays), and put the input back.
  if (!s.guard([&] { run.finding = compute_finding(s, l->steps[run.step].finding); })) {
    run.finding = {};
    run.error = s.last_error;
    s.last_error = kept;
  } else {
    run.error.clear();
  }
  publish_state(app);
  return true;
}

// ---- snapshot and settings ---------------------------------------------------------------------------
std::string lessons_snapshot_json(const App& app) {
  JsonWriter w;
  w.begin_object();
  w.key("id").value(app.lesson.id);
  w.key("step").value(app.lesson.step + 1);
  const Lesson* l = find_lesson(app.lesson.id);
  w.key("steps").value(l ? static_cast<int>(l->steps.size()) : 0);
  w.key("model").value(l ? l->model : std::string());
  w.key("waiting").value(app.lesson.waiting_model);
  w.key("error").value(app.lesson.error);
  const Finding& f = app.lesson.finding;
  w.key("computes").value(app.lesson.finding_computes);
  if (f.valid) {
    w.key("finding").begin_object();
    w.key("value").value(f.value).key("other").value(f.other).key("min").value(f.min);
    w.key("count").value(f.count).key("holds").value(f.holds).key("sentence").value(f.sentence);
    w.end_object();
  } else {
    w.key("finding").null();
  }
  w.key("all").begin_array();
  for (const auto& x : lessons()) {
    w.begin_object().key("id").value(x.id).key("model").value(x.model);
    w.key("steps").value(static_cast<int>(x.steps.size())).end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

bool set_lessons(App& app, const std::string& key, const std::string& value) {
  if (key == "lesson") {
    if (value.empty() || value == "off") {
      app.lesson.id.clear();
      return true;
    }
    if (!find_lesson(value)) return false;
    open_lesson(app, value, 0);
    return true;
  }
  if (key == "lesson-step") {
    const Lesson* l = find_lesson(app.lesson.id);
    const int step = std::atoi(value.c_str()) - 1;
    if (!l || step < 0 || step >= static_cast<int>(l->steps.size())) return false;
    open_lesson(app, l->id, step);
    return true;
  }
  if (key == "model") {
    app.lesson.id.clear();
    open_model(app, value);
    return true;
  }
  return false;
}

}  // namespace relscope::app

// ---- page -> C++ ---------------------------------------------------------------------------------------
using relscope::app::the_app;

extern "C" {

// assets/catalog.json as the page read it: the Models menu's entries.
EMSCRIPTEN_KEEPALIVE int relscope_app_catalog(const char* json) {
  auto& app = the_app();
  return app.state.guard([&] {
    const relscope::app::Json root = relscope::app::parse_json(json, "assets/catalog.json");
    std::vector<relscope::app::BundledModel> list;
    if (const auto* models = root.get("models"); models && models->is_array())
      for (const auto& m : models->items)
        if (m.get("id") && m.get("title")) list.push_back({m.get("id")->str, m.get("title")->str});
    app.catalog = std::move(list);
  }) ? 1 : 0;
}

// Before a bundled model's files are handed over: its samples replace the previous model's.
EMSCRIPTEN_KEEPALIVE void relscope_app_clear_samples() { the_app().state.clear_samples(); }

// The page handed over bundled model `id` (ok = 1) or could not (ok = 0; it reported why). A lesson waiting
// for this model applies its step now.
EMSCRIPTEN_KEEPALIVE void relscope_app_bundle_loaded(const char* id_c, int ok) {
  auto& app = the_app();
  const std::string id = id_c;
  if (ok) app.state.bundle = id;
  const relscope::app::Lesson* l = relscope::app::find_lesson(app.lesson.id);
  if (l && app.lesson.waiting_model && l->model == id) {
    app.lesson.waiting_model = false;
    if (ok) relscope::app::apply_lesson_step_now(app);
  }
  relscope::app::publish_state(app);
}

}  // extern "C"
