// relscope/app/app.h — the canvas app's front-end state shared by the loop, the panels and the page bridge.
//
// Sections: App | panels (app_ui.cpp) | concept browser (app_concepts.cpp) | variance view (app_variance.cpp) |
//           faithfulness (app_faithfulness.cpp) | strategies (app_spray.cpp) |
//           lessons and bundled models (app_lessons.cpp) | explanations in a worker (app_offload.cpp,
//           app_concepts_offload.cpp) |
//           page bridge (platform.cpp)
//
// AppState (app/core) holds model, input and results; App adds what only a canvas needs: textures,
// view settings, where the heatmap was drawn (for tests), and the busy/boot flags of the main loop.
#pragma once
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "app/core/concept_browser.h"
#include "app/core/lessons.h"
#include "app/core/spray_view.h"
#include "app/core/faithfulness_view.h"
#include "app/core/variance_view.h"
#include "app/textures.h"

namespace relscope::app {

// ---- App ---------------------------------------------------------------------------------------------
// The open lesson (app_lessons.cpp): which step, and the finding computed for the latest results.
struct LessonRun {
  std::string id;                 // "" : no lesson open
  int step = 0;                   // 0-based
  bool waiting_model = false;     // the page is fetching the lesson's bundled model
  int finding_computes = -1;      // App::computes the finding belongs to
  Finding finding;
  std::string error;              // why the finding could not be computed
};

struct BundledModel {
  std::string id, title;          // assets/catalog.json
};

// The explanation running in the page's worker (app_offload.cpp): its id, the pending results, and what has
// come back so far.
struct Offload {
  int job = 0;                         // in flight (0: none)
  int next_job = 1;
  AppState::PendingCompute pending;
  std::vector<Explained> got;
  std::string worker_model;            // hash of the model the worker holds ("" : none / unknown)
  bool last_in_worker = false;         // the results on screen were explained in the worker
  // Where the worker explains: "webgpu" (its GPU path, falling back to the CPU with a reason; the default
  // when the page found a hardware adapter) or "cpu" (wasm). The Compute-on combo and relscopeAppSet('backend').
  std::string backend = "cpu";
  std::string gpu_adapter;             // the page's WebGPU adapter ("" : none)
  bool gpu_software = false;           // ... emulated on the CPU (SwiftShader): offered, not the default
  std::string got_backend, got_fallback;    // of the explanations in flight
  std::string last_backend = "cpu";    // where the results on screen were computed ("webgpu" | "cpu")
  std::string last_fallback;           // why they were not computed on the GPU although it was chosen
};

struct App {
  AppState state;
  std::string colormap = "bwr";   // zennit's imgify default
  float opacity = 0.8f;           // heatmap over the input (relevance-weighted, view.h)
  Texture input_tex, heat_tex, compare_tex;
  bool textures_dirty = true;     // results, colormap or opacity changed
  std::string notice;             // last successful action ("model x.onnx loaded")
  bool booted = false;            // the page finished handing over the demo
  bool expect_model = true;       // the page had a demo model: without a model after boot, 'error'
  bool compute_pending = false;   // draw one "computing..." frame first, then compute
  Offload offload;                // explanations in the page's worker (app_offload.cpp)
  int computes = 0;               // successful computes (tests wait on it)
  float dpr = 1.0f;               // device pixels per CSS pixel (ImGui works in device pixels)
  float heat_rect[4] = {0, 0, 0, 0};   // x, y, w, h of the main heatmap, device pixels
  ConceptBrowser concepts;        // the Concepts window's state (works only while it is open)
  bool show_concepts = false;
  VarianceView variance;          // the Variance window's state (app_variance.cpp)
  bool show_variance = false;
  bool variance_requested = false;   // the page asked for the variance view's result (variance-compute)
  FaithfulnessView faithfulness;  // pixel flipping of the heatmaps on screen (app_faithfulness.cpp)
  SprayView spray;                // the Strategies window's state (app_spray.cpp)
  bool show_spray = false;
  int spray_result_version = 0;   // bumped when a SpRAy result arrives or goes (its textures follow)
  LessonRun lesson;               // app_lessons.cpp
  std::vector<BundledModel> catalog;   // handed over by the page (relscope_app_catalog)
};

App& the_app();

// ---- panels (app_ui.cpp) -----------------------------------------------------------------------------
void draw_ui(App& app);
// Re-render input / heatmap textures from the current results and view settings.
void refresh_textures(App& app);

// Exports (downloads); throw relscope::Error when there is nothing to export. Run through guard().
void export_heatmap_png(App& app);
void export_relevance_npy(App& app);
void export_record_json(App& app);

// ---- concept browser (app_concepts.cpp) --------------------------------------------------------------
void draw_concepts(App& app);     // the Concepts window, while show_concepts
bool step_concepts(App& app);     // one unit of the browser's work, between frames; true when it did some
std::string concepts_snapshot_json(App& app);
// Page/test settings: concepts (0/1), concept-layer, concept-maps (how many), concept-select (channel).
bool set_concepts(App& app, const std::string& key, const std::string& value);
const Tensor* concepts_tensor(App& app, int which);   // 3: all conditional maps, 4: the selected channel's

// ---- variance view (app_variance.cpp) ----------------------------------------------------------------
void draw_variance(App& app);     // the Variance window, while show_variance
// An .onnx the page opened while the window waits for an ensemble member: added as one (true), else false.
bool variance_take_model(App& app, const std::string& name, const std::vector<uint8_t>& bytes);
bool step_variance(App& app);      // between frames: a result the page asked for (variance-compute); true when it ran
std::string variance_snapshot_json(const App& app);
// Page/test settings: variance (0/1: the window), variance-compute (1: explain mean and variance once the
// current compute is done), variance-member (1: the next .onnx opened joins the ensemble),
// variance-clear-members, variance-cov (marg|diag), variance-mc-dropout, variance-seed, variance-mean-unit,
// variance-unit, variance-kind (logvar|var|sd|"").
bool set_variance(App& app, const std::string& key, const std::string& value);
const Tensor* variance_tensor(const App& app, int which);   // 5: mean map, 6: variance map, 7: CovLRP map

// ---- faithfulness (app_faithfulness.cpp) ----------------------------------------------------------------
void draw_faithfulness(App& app);   // the Faithfulness section of the Explain window
bool step_faithfulness(App& app);   // between frames: ~25 ms of forward passes of a running check; true when it did work
std::string faithfulness_snapshot_json(const App& app);
// Page/test settings: faithfulness-run (start on the results on screen; 0 when there are none),
// faithfulness-stop, faithfulness-steps, faithfulness-window, faithfulness-orders, faithfulness-baseline.
bool set_faithfulness(App& app, const std::string& key, const std::string& value);

// ---- strategies (app_spray.cpp) ---------------------------------------------------------------------------
void draw_spray(App& app);          // the Strategies window, while show_spray
bool step_spray(App& app);          // between frames: one input of a running SpRAy (or its clustering)
std::string spray_snapshot_json(const App& app);
// Page/test settings: spray (0/1: the window), spray-run (start at the class shown; 0 without results),
// spray-stop, spray-neighbours, spray-size, spray-clusters (0: eigengap), spray-predicted-only.
bool set_spray(App& app, const std::string& key, const std::string& value);

// ---- lessons and bundled models (app_lessons.cpp) -----------------------------------------------------
void draw_lessons_menu(App& app);   // the Models and Lessons menus atop the left panel
void draw_lesson_panel(App& app);   // the open lesson's window
bool step_lessons(App& app);        // between frames: the finding for the latest results; true when it ran
std::string lessons_snapshot_json(const App& app);
// Page/test settings: lesson (an id; "" closes), lesson-step (1-based), model (a bundled model id).
bool set_lessons(App& app, const std::string& key, const std::string& value);
void apply_lesson_step_now(App& app);   // the open lesson's step, on the model now loaded

// ---- explanations in a worker (app_offload.cpp) -------------------------------------------------------
// Starts the current compute with its explanations in the page's worker. False when the page has no worker
// (the caller then computes on this thread); true otherwise, also when begin_compute() failed (the error is
// in last_error).
bool start_offloaded_compute(App& app);
// Stops the explanation in flight (the heatmap stays the previous one). `quiet`: superseded by a new compute,
// whose request simply queues behind it in the worker; else the worker is terminated (the Cancel button).
void cancel_explanation(App& app, bool quiet);
// The pending compute's explanations on this thread, after the worker could not give them (`why`: its
// message, shown as a notice).
void compute_here(App& app, const std::string& why);
// Busy: a compute is pending or an explanation is in flight.
inline bool computing(const App& app) { return app.compute_pending || app.offload.job != 0; }
// The concept browser's offloader (app_concepts_offload.cpp): hands `job` to the page's worker; false when
// the page has none (it then runs on this thread).
bool offload_concept_job(App& app, const ConceptJob& job);

// ---- page bridge (platform.cpp) ----------------------------------------------------------------------
// A browser download of `bytes` made from a Blob URL: local, no network.
void download_bytes(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& mime);
// Opens the page's <input type=file> (the browser's file dialog).
void open_file_dialog();
// Pushes the state snapshot and status ('ready' | 'error' | 'loading') to the page.
void publish_state(App& app);
// Canvas size in CSS pixels and the device pixel ratio.
void canvas_css_size(double* width, double* height, double* dpr);
// Resizes the canvas' drawing buffer (device pixels) and GLFW's window with it.
void set_canvas_pixels(int width, int height);

}  // namespace relscope::app
