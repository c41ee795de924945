// relscope/app/platform.cpp — the bridge between the canvas app and its page (web/app.mjs).
//
// Sections: JS side (EM_JS) | C++ -> page | page -> C++ (exported C functions)
//
// The page owns files: it writes what the user drops or picks (and the bundled demo) into MEMFS and
// calls relscope_app_open(path, name); the app reads and deletes the file. The app pushes a JSON
// snapshot of its state back (document.documentElement.dataset.relscope, relscopeAppState()).
// Downloads are Blob URLs made here: nothing leaves the device.
#include <algorithm>
#include <emscripten.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/app.h"
#include "app/core/json.h"
#include "core/error.h"
#include "io/file.h"

// ---- JS side (EM_JS) ---------------------------------------------------------------------------------
// clang-format off
EM_JS(void, relscope_js_download, (const char* name, const uint8_t* data, int size, const char* mime), {
  const bytes = HEAPU8.slice(data, data + size);   // a copy: wasm memory may grow under a view
  const blob = new Blob([bytes], { type: UTF8ToString(mime) });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = UTF8ToString(name);
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

EM_JS(void, relscope_js_open_dialog, (), {
  const input = document.getElementById('file-input');
  if (input) input.click();
});

EM_JS(void, relscope_js_publish, (const char* json, const char* status), {
  const root = document.documentElement;
  const s = UTF8ToString(status);
  if (root.dataset.relscope !== s) root.dataset.relscope = s;
  Module['relscopeSnapshot'] = UTF8ToString(json);
  if (typeof Module['onRelscopeState'] === 'function') Module['onRelscopeState'](s);
});

EM_JS(void, relscope_js_canvas_size, (double* w, double* h, double* dpr), {
  const c = Module['canvas'];
  const r = c.getBoundingClientRect();
  HEAPF64[w >> 3] = r.width;
  HEAPF64[h >> 3] = r.height;
  HEAPF64[dpr >> 3] = window.devicePixelRatio || 1;
});

// What glfwSetWindowSize does, without its trap: Emscripten's GLFW asks for fullscreen instead (and the
// pointer lock with it, refused without a user gesture) when the size equals the screen's, as it does in a
// browser window that fills the screen (F11, kiosk). The canvas then kept its old size.
EM_JS(void, relscope_js_set_canvas_pixels, (int w, int h), {
  Browser.setCanvasSize(w, h);
  if (GLFW.active) {
    GLFW.active.width = w;
    GLFW.active.height = h;
  }
});
// clang-format on

namespace relscope::app {

// ---- C++ -> page -------------------------------------------------------------------------------------
void download_bytes(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& mime) {
  relscope_js_download(name.c_str(), bytes.data(), static_cast<int>(bytes.size()), mime.c_str());
  the_app().notice = "downloaded " + name + " (" + std::to_string(bytes.size()) + " bytes, made on this device)";
}

void open_file_dialog() { relscope_js_open_dialog(); }

void canvas_css_size(double* width, double* height, double* dpr) { relscope_js_canvas_size(width, height, dpr); }

void set_canvas_pixels(int width, int height) { relscope_js_set_canvas_pixels(width, height); }

namespace {

std::string snapshot(App& app) {
  std::string j = app.state.snapshot_json();
  // Add what only the canvas knows: where the main heatmap is, in CSS pixels of the canvas.
  JsonWriter w;
  w.begin_object();
  w.key("x").value(app.heat_rect[0] / app.dpr).key("y").value(app.heat_rect[1] / app.dpr);
  w.key("w").value(app.heat_rect[2] / app.dpr).key("h").value(app.heat_rect[3] / app.dpr);
  w.end_object();
  j.pop_back();   // the closing brace
  j += ",\"heatmapRect\":" + w.str();
  j += ",\"computes\":" + std::to_string(app.computes);
  j += ",\"booted\":" + std::string(app.booted ? "true" : "false");
  j += ",\"busy\":" + std::string(computing(app) || app.state.dirty() ? "true" : "false");
  j += ",\"explaining\":" + std::string(app.offload.job != 0 ? "true" : "false");
  j += ",\"explainedIn\":" + std::string(app.offload.last_in_worker ? "\"worker\"" : "\"page\"");
  j += ",\"computeOn\":" + json_escape(app.offload.backend);
  j += ",\"gpuAdapter\":" + json_escape(app.offload.gpu_adapter);
  j += ",\"gpuSoftware\":" + std::string(app.offload.gpu_software ? "true" : "false");
  j += ",\"explainedOn\":" + json_escape(app.offload.last_backend);
  j += ",\"fallback\":" + json_escape(app.offload.last_fallback);
  j += ",\"notice\":" + json_escape(app.notice);
  j += ",\"colormap\":" + json_escape(app.colormap);
  j += ",\"lesson\":" + relscope::app::lessons_snapshot_json(app);   // app_lessons.cpp
  j += ",\"catalog\":" + std::to_string(app.catalog.size());
  j += ",\"variance\":" + relscope::app::variance_snapshot_json(app);   // app_variance.cpp
  j += ",\"faithfulness\":" + relscope::app::faithfulness_snapshot_json(app);   // app_faithfulness.cpp
  j += ",\"spray\":" + relscope::app::spray_snapshot_json(app);   // app_spray.cpp
  j += ",\"concepts\":" + relscope::app::concepts_snapshot_json(app) + "}";
  return j;
}

}  // namespace

void publish_state(App& app) {
  // 'ready' once the app has something to show; 'error' only when the boot (demo) could not produce
  // that — a later bad file is a message in the canvas, and the page stays 'ready'.
  const AppState& s = app.state;
  const bool working = s.has_model() && !s.results().valid && (s.dirty() || computing(app));
  const char* status = !app.booted || working ? "loading"
                       : (s.has_model() || !app.expect_model) ? "ready" : "error";
  relscope_js_publish(snapshot(app).c_str(), status);
}

}  // namespace relscope::app

// ---- page -> C++ (exported C functions) --------------------------------------------------------------
using relscope::app::App;
using relscope::app::the_app;

namespace {

// Reads a MEMFS file the page wrote and removes it (the bytes now live in the app).
bool take_file(const char* path, std::vector<uint8_t>& out) {
  App& app = the_app();
  const bool ok = app.state.guard([&] { out = relscope::read_file_bytes(path, app.state.limits().max_file_bytes); });
  std::remove(path);
  return ok;
}

}  // namespace

extern "C" {

// Opens a file the page wrote to MEMFS at `path`; `name` is the user's file name. 1 on success.
EMSCRIPTEN_KEEPALIVE int relscope_app_open(const char* path, const char* name) {
  App& app = the_app();
  std::vector<uint8_t> bytes;
  if (!take_file(path, bytes)) {
    relscope::app::publish_state(app);
    return 0;
  }
  if (variance_take_model(app, name, bytes)) {   // the Variance window asked for an ensemble member
    relscope::app::publish_state(app);
    return app.state.last_error.empty() ? 1 : 0;
  }
  std::string what;
  const bool ok = app.state.guard([&] { what = app.state.open(name, std::move(bytes)); });
  if (ok) {
    app.notice = "opened " + what;
    app.state.last_error.clear();
  }
  relscope::app::publish_state(app);
  return ok ? 1 : 0;
}

// A problem the page met before the app saw the file (unreadable, too large to copy): shown in the
// canvas like the app's own errors.
EMSCRIPTEN_KEEPALIVE void relscope_app_report(const char* message) {
  App& app = the_app();
  app.state.last_error = message;
  relscope::app::publish_state(app);
}

// A bundled sample (listed in the Input panel; not selected).
EMSCRIPTEN_KEEPALIVE int relscope_app_add_sample(const char* path, const char* name) {
  App& app = the_app();
  std::vector<uint8_t> bytes;
  if (!take_file(path, bytes)) return 0;
  app.state.add_sample(name, std::move(bytes));
  return 1;
}

EMSCRIPTEN_KEEPALIVE int relscope_app_select_sample(int index) {
  App& app = the_app();
  const bool ok = app.state.guard([&] { app.state.select_sample(static_cast<size_t>(index)); });
  relscope::app::publish_state(app);
  return ok ? 1 : 0;
}

// The page handed over everything it bundles: from now on the state is 'ready' or 'error'.
// `with_demo`: 0 when the page had no demo to hand over (the app then starts empty, and that is fine).
EMSCRIPTEN_KEEPALIVE void relscope_app_booted(int with_demo) {
  App& app = the_app();
  app.booted = true;
  app.expect_model = with_demo != 0;
  relscope::app::publish_state(app);
}

// Settings by name, for the page and tests (the canvas has the same controls):
// method, composite, target ("pred" or an index), colormap, opacity, compare ("0"/"1"),
// compare-method, compare-composite, compare-target, output (graph output index), prune / prune-mode (pruned-lrp), layer / channels / joint
// (crp), samples / noise (smoothgrad), steps (integrated-gradients), row (table row / .npy sample), sample (demo
// sample index), compute-on (webgpu | cpu: where the worker explains), cancel (the explanation in flight; 1 when there was one), concepts / concept-* (app_concepts.cpp),
// lesson / lesson-step / model (app_lessons.cpp), variance / variance-* (app_variance.cpp), faithfulness-*
// (app_faithfulness.cpp), spray / spray-* (app_spray.cpp). 1 on success.
EMSCRIPTEN_KEEPALIVE int relscope_app_set(const char* key_c, const char* value_c) {
  App& app = the_app();
  const std::string key = key_c, value = value_c;
  auto& s = app.state;
  auto target = [&](const std::string& v) { return v == "pred" ? -1 : std::atoi(v.c_str()); };
  if (key == "method") s.settings.method = value;
  else if (key == "composite") s.settings.composite = value;
  else if (key == "target") s.settings.target = target(value);
  else if (key == "compare") s.compare = value == "1" || value == "true";
  else if (key == "compare-method") s.compare_settings.method = value;
  else if (key == "compare-composite") s.compare_settings.composite = value;
  else if (key == "compare-target") s.compare_settings.target = target(value);
  else if (key == "output") { s.output = static_cast<size_t>(std::max(0, std::atoi(value.c_str()))); s.settings.target = s.compare_settings.target = -1; }
  else if (key == "prune") s.settings.prune = static_cast<float>(std::atof(value.c_str()));
  else if (key == "prune-mode") s.settings.prune_mask = value == "mask";
  else if (key == "layer") s.settings.layer = value;
  else if (key == "channels") s.settings.channels = value;
  else if (key == "joint") s.settings.joint = value == "1" || value == "true";
  else if (key == "row") s.select_row(std::atoi(value.c_str()));
  else if (key == "samples") s.settings.samples = std::max(1, std::atoi(value.c_str()));   // smoothgrad
  else if (key == "steps") s.settings.steps = std::max(1, std::atoi(value.c_str()));       // integrated-gradients
  else if (key == "noise") s.settings.noise = static_cast<float>(std::atof(value.c_str()));
  else if (key == "compute-on") {   // the Compute-on combo: "webgpu" (needs an adapter) or "cpu"
    if (value != "cpu" && (value != "webgpu" || app.offload.gpu_adapter.empty())) return 0;
    app.offload.backend = value;
  }
  else if (key == "cancel") {   // the Cancel button next to "explaining..."
    const bool was = app.offload.job != 0;
    relscope::app::cancel_explanation(app, false);
    return was ? 1 : 0;
  }
  else if (key == "sample") {
    const bool ok = s.guard([&] { s.select_sample(static_cast<size_t>(std::atoi(value.c_str()))); });
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key == "lesson" || key == "lesson-step" || key == "model") {   // app_lessons.cpp
    const bool ok = relscope::app::set_lessons(app, key, value);
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key.rfind("variance", 0) == 0) {   // the Variance window (app_variance.cpp)
    const bool ok = relscope::app::set_variance(app, key, value);
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key.rfind("spray", 0) == 0) {   // the Strategies window (app_spray.cpp)
    const bool ok = relscope::app::set_spray(app, key, value);
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key.rfind("faithfulness", 0) == 0) {   // the Faithfulness section (app_faithfulness.cpp)
    const bool ok = relscope::app::set_faithfulness(app, key, value);
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key.rfind("concept", 0) == 0) {   // the Concepts window (app_concepts.cpp)
    const bool ok = relscope::app::set_concepts(app, key, value);
    relscope::app::publish_state(app);
    return ok ? 1 : 0;
  }
  else if (key == "colormap") { app.colormap = value; app.textures_dirty = true; relscope::app::publish_state(app); return 1; }
  else if (key == "opacity") { app.opacity = static_cast<float>(std::atof(value.c_str())); app.textures_dirty = true; return 1; }
  else return 0;
  s.mark_dirty();
  relscope::app::publish_state(app);
  return 1;
}

// Exports, as the canvas' buttons make them: "png" (heatmap), "npy" (relevance), "json" (record).
// 1 when a download was started.
EMSCRIPTEN_KEEPALIVE int relscope_app_export(const char* kind_c) {
  App& app = the_app();
  const std::string kind = kind_c;
  const bool ok = app.state.guard([&] {
    if (kind == "png") relscope::app::export_heatmap_png(app);
    else if (kind == "npy") relscope::app::export_relevance_npy(app);
    else if (kind == "json") relscope::app::export_record_json(app);
    else relscope::fail_input("export: unknown kind '" + kind + "' (png, npy, json)");
  });
  relscope::app::publish_state(app);
  return ok ? 1 : 0;
}

// The state snapshot (JSON); valid until the next call.
EMSCRIPTEN_KEEPALIVE const char* relscope_app_state_json() {
  static std::string s;
  s = relscope::app::snapshot(the_app());
  return s.c_str();
}

// The current main relevance (0), model input (1), compare relevance (2), the concept browser's maps (3:
// concepts.mapsShape) or its selected channel's map (4: heatmapShape), the Variance window's mean, variance
// and CovLRP maps (5, 6, 7: variance.mapShape), float32, shape in the snapshot: element count and a pointer into wasm memory (the page copies at once).
namespace {
const relscope::Tensor* result_tensor(int which) {
  const auto& r = the_app().state.results();
  if (!r.valid) return nullptr;
  if (which == 0) return &r.main.relevance;
  if (which == 1) return &r.input;
  if (which == 2 && r.has_compare) return &r.compare.relevance;
  if (which >= 5) return relscope::app::variance_tensor(the_app(), which);   // 5-7: the Variance window's maps
  return relscope::app::concepts_tensor(the_app(), which);   // 3, 4: the concept browser's maps
}
}  // namespace

EMSCRIPTEN_KEEPALIVE int relscope_app_tensor_size(int which) {
  const auto* t = result_tensor(which);
  return t ? static_cast<int>(t->f.size()) : 0;
}

EMSCRIPTEN_KEEPALIVE const float* relscope_app_tensor_data(int which) {
  const auto* t = result_tensor(which);
  return t ? t->f.data() : nullptr;
}

}  // extern "C"
