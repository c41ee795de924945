// relscope/app/app.h — the canvas app's front-end state shared by the loop, the panels and the page bridge.
//
// Sections: App | panels (app_ui.cpp) | concept browser (app_concepts.cpp) | variance view (app_variance.cpp) |
//           page bridge (platform.cpp)
//
// AppState (app/core) holds model, input and results; App adds what only a canvas needs: textures,
// view settings, where the heatmap was drawn (for tests), and the busy/boot flags of the main loop.
#pragma once
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "app/core/concept_browser.h"
#include "app/core/variance_view.h"
#include "app/textures.h"

namespace relscope::app {

// ---- App ---------------------------------------------------------------------------------------------
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
  int computes = 0;               // successful computes (tests wait on it)
  float dpr = 1.0f;               // device pixels per CSS pixel (ImGui works in device pixels)
  float heat_rect[4] = {0, 0, 0, 0};   // x, y, w, h of the main heatmap, device pixels
  ConceptBrowser concepts;        // the Concepts window's state (works only while it is open)
  bool show_concepts = false;
  VarianceView variance;          // the Variance window's state (app_variance.cpp)
  bool show_variance = false;
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

// ---- page bridge (platform.cpp) ----------------------------------------------------------------------
// A browser download of `bytes` made from a Blob URL: local, no network.
void download_bytes(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& mime);
// Opens the page's <input type=file> (the browser's file dialog).
void open_file_dialog();
// Pushes the state snapshot and status ('ready' | 'error' | 'loading') to the page.
void publish_state(App& app);
// Canvas size in CSS pixels and the device pixel ratio.
void canvas_css_size(double* width, double* height, double* dpr);

}  // namespace relscope::app
