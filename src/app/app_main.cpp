// relscope/app/app_main.cpp — GLFW window on the page's canvas, Dear ImGui, the main loop.
//
// Sections: fonts and DPI | canvas size | frame | main()
//
// High DPI: the canvas backing store is CSS size x devicePixelRatio and ImGui works in device pixels
// (Emscripten's GLFW scales mouse coordinates to the canvas' pixel size), so text is rasterised at
// the screen's resolution and the UI is scaled by the ratio: sharp on every screen, one code path.
// Idle: frames are drawn only after input, a state change or a resize (plus a short tail so hover
// effects settle): an idle tab costs no GPU time.
#include <GLES3/gl3.h>
#include <GLFW/glfw3.h>
#include <emscripten.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "app/app.h"
#include "backends/imgui_impl_glfw.h"
#include "backends/imgui_impl_opengl3.h"
#include "imgui.h"

namespace relscope::app {

App& the_app() {
  static App app;
  return app;
}

namespace {

GLFWwindow* g_window = nullptr;
double g_last_activity = 0;   // glfwGetTime() of the last input or state change
float g_font_dpr = 0;         // the ratio the font atlas was built for

void activity() { g_last_activity = glfwGetTime(); }

// ---- fonts and DPI -----------------------------------------------------------------------------------
// DejaVu Sans from Debian's fonts-dejavu-core, embedded at build time (emscripten.cmake); ImGui's
// built-in font when it is absent.
// `upload`: replace the GL font texture now (after the first frame; before it, the backend makes it).
void build_fonts(float dpr, bool upload) {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  ImFontConfig cfg;
  cfg.OversampleH = 2;
  const float size = std::round(15.0f * dpr);
  ImFont* font = nullptr;
  if (FILE* f = std::fopen("/fonts/DejaVuSans.ttf", "rb")) {
    std::fclose(f);
    font = io.Fonts->AddFontFromFileTTF("/fonts/DejaVuSans.ttf", size, &cfg);
  }
  if (!font) {
    ImFontConfig def;
    def.SizePixels = std::round(13.0f * dpr);
    io.Fonts->AddFontDefault(&def);
  }
  if (upload) {
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }

  ImGuiStyle& style = ImGui::GetStyle();
  style = ImGuiStyle();
  ImGui::StyleColorsDark(&style);
  style.WindowRounding = 4;
  style.FrameRounding = 3;
  style.GrabRounding = 3;
  style.ScaleAllSizes(dpr);
  g_font_dpr = dpr;
  the_app().dpr = dpr;
}

// ---- canvas size -------------------------------------------------------------------------------------
// Follow the canvas' CSS box (the page's stylesheet sizes it to the window) at device resolution.
bool sync_canvas_size() {
  double css_w = 0, css_h = 0, dpr = 1;
  canvas_css_size(&css_w, &css_h, &dpr);
  if (css_w < 1 || css_h < 1) return false;
  const int want_w = static_cast<int>(std::lround(css_w * dpr)), want_h = static_cast<int>(std::lround(css_h * dpr));
  int w = 0, h = 0;
  glfwGetWindowSize(g_window, &w, &h);
  bool changed = false;
  if (w != want_w || h != want_h) {
    set_canvas_pixels(want_w, want_h);   // not glfwSetWindowSize: see platform.cpp
    changed = true;
  }
  if (static_cast<float>(dpr) != g_font_dpr) {
    build_fonts(static_cast<float>(dpr), g_font_dpr != 0);
    changed = true;
  }
  return changed;
}

// ---- frame -------------------------------------------------------------------------------------------
void frame() {
  App& app = the_app();
  if (sync_canvas_size()) activity();

  // Compute between frames: the frame before shows "computing...".
  // The explanations go to the page's worker when it has one (app_offload.cpp): the canvas keeps drawing.
  if (app.compute_pending) {
    app.compute_pending = false;
    if (!start_offloaded_compute(app)) {
      if (app.state.guard([&] { app.state.compute(); })) {
        ++app.computes;
        app.state.last_error.clear();
        app.offload.last_in_worker = false;
      }
      app.textures_dirty = true;
    }
    publish_state(app);
    activity();
  } else if (app.state.dirty() && app.state.has_model() && app.state.input().kind != InputKind::None) {
    if (app.offload.job) cancel_explanation(app, true);   // superseded: its result would be stale
    app.compute_pending = true;
    activity();
  }
  if (step_concepts(app)) activity();   // the concept browser: one unit of work per frame, while open
  if (step_lessons(app)) activity();    // the open lesson's finding for the latest results
  if (step_variance(app)) activity();   // the variance view, when the page asked for it
  if (step_faithfulness(app)) activity();   // pixel flipping: ~25 ms of forward passes per frame while it runs
  if (step_spray(app)) activity();          // SpRAy: one input of the data set per frame while it runs
  if (app.textures_dirty) {
    refresh_textures(app);
    activity();
    publish_state(app);
  }

  // Draw only while something happens (input, state change, resize), plus a short tail.
  if (glfwGetTime() - g_last_activity > 0.75) return;

  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  draw_ui(app);
  ImGui::Render();
  int fb_w = 0, fb_h = 0;
  glfwGetFramebufferSize(g_window, &fb_w, &fb_h);
  glViewport(0, 0, fb_w, fb_h);
  glClearColor(0.09f, 0.10f, 0.12f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  // The heatmap's place may have moved with the layout: keep the page's snapshot current.
  static float last_rect[4] = {-1, -1, -1, -1};
  if (std::memcmp(last_rect, app.heat_rect, sizeof last_rect) != 0) {
    std::memcpy(last_rect, app.heat_rect, sizeof last_rect);
    publish_state(app);
  }
}

// Input callbacks, installed before ImGui's (which chain to them): any input wakes the loop.
void on_cursor(GLFWwindow*, double, double) { activity(); }
void on_button(GLFWwindow*, int, int, int) { activity(); }
void on_scroll(GLFWwindow*, double, double) { activity(); }
void on_key(GLFWwindow*, int, int, int, int) { activity(); }
void on_char(GLFWwindow*, unsigned) { activity(); }
void on_enter(GLFWwindow*, int) { activity(); }

}  // namespace

// The page calls this after handing over files, so the next frame draws.
extern "C" EMSCRIPTEN_KEEPALIVE void relscope_app_wake() { activity(); }

}  // namespace relscope::app

int main() {
  using namespace relscope::app;
  if (!glfwInit()) {
    std::fprintf(stderr, "relscope: glfwInit failed\n");
    return 1;
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  g_window = glfwCreateWindow(1280, 800, "relscope", nullptr, nullptr);
  if (!g_window) {
    std::fprintf(stderr, "relscope: no WebGL2 context\n");
    return 1;
  }
  glfwMakeContextCurrent(g_window);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;   // layout is fixed; nothing to persist (and no storage use)
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;

  glfwSetCursorPosCallback(g_window, on_cursor);
  glfwSetMouseButtonCallback(g_window, on_button);
  glfwSetScrollCallback(g_window, on_scroll);
  glfwSetKeyCallback(g_window, on_key);
  glfwSetCharCallback(g_window, on_char);
  glfwSetCursorEnterCallback(g_window, on_enter);
  ImGui_ImplGlfw_InitForOpenGL(g_window, true);
  ImGui_ImplOpenGL3_Init("#version 300 es");

  the_app().state.set_backend("cpu (wasm simd128)");
  sync_canvas_size();
  if (g_font_dpr == 0) build_fonts(1.0f, false);
  activity();
  publish_state(the_app());
  emscripten_set_main_loop(frame, 0, true);
  return 0;
}
