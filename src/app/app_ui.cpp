// relscope/app/app_ui.cpp — the panels: Input and Model (left), View (centre), Prediction, Explain,
// Export and timings (right).
//
// Sections: helpers | textures | Input panel | Model panel | View | Prediction | Explain | Export |
//           exports | draw_ui()
//
// Panels read AppState and change its settings; anything that needs a new forward pass or explanation
// only calls mark_dirty(): the main loop computes between frames (app_main.cpp). Every action that can
// fail goes through AppState::guard(), whose message the View shows — nothing here throws.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "app/app.h"
#include "app/core/view.h"
#include "core/error.h"
#include "imgui.h"
#include "relevance/composite.h"
#include "relevance/explain.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace relscope::app {

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

const ImVec4 kErrorColor(1.0f, 0.45f, 0.42f, 1.0f);
const ImVec4 kDimColor(0.62f, 0.65f, 0.70f, 1.0f);

// A combo over strings; true when the selection changed.
bool combo(const char* label, std::string& value, const std::vector<std::string>& items) {
  bool changed = false;
  if (ImGui::BeginCombo(label, value.c_str())) {
    for (const auto& it : items) {
      const bool selected = it == value;
      if (ImGui::Selectable(it.c_str(), selected)) {
        changed = it != value;
        value = it;
      }
      if (selected) ImGui::SetItemDefaultFocus();
    }
    ImGui::EndCombo();
  }
  return changed;
}

const std::vector<std::string>& colormap_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, source] : render::builtin_colormaps()) n.push_back(name);
    return n;
  }();
  return names;
}

// Live recompute while dragging a slider is fine for fast models; slow ones recompute on release.
bool live_edit(const App& app) { return !app.state.results().valid || app.state.results().main.ms < 60.0; }

// Marks dirty after an edit, live or on release, depending on how long the last explanation took.
void after_edit(App& app, bool changed) {
  if ((changed && live_edit(app)) || ImGui::IsItemDeactivatedAfterEdit()) app.state.mark_dirty();
}

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

std::string target_text(const App& app, const ExplainSettings& s, const Explained& e) {
  const std::string name = app.state.label_for(e.target);
  return (s.target < 0 ? "predicted: " : "class ") + std::to_string(e.target) + " " + name;
}

bool lrp_family(const std::string& method) { return method == "lrp" || method == "pruned-lrp" || method == "crp"; }

std::string explained_title(const App& app, const Explained& e) {
  std::string t = e.settings.method;
  if (lrp_family(e.settings.method)) t += " (" + e.settings.composite + ")";
  if (e.maps > 1) t += " - channel map " + std::to_string(std::clamp<int64_t>(e.settings.concept_view, 0, e.maps - 1) + 1) +
                       "/" + std::to_string(e.maps);
  return t + " - " + target_text(app, e.settings, e);
}

}  // namespace

// ---- textures ----------------------------------------------------------------------------------------
void refresh_textures(App& app) {
  app.textures_dirty = false;
  const Results& r = app.state.results();
  if (!r.valid) {
    app.input_tex.clear();
    app.heat_tex.clear();
    app.compare_tex.clear();
    return;
  }
  const bool from_image = app.state.input().kind == InputKind::Image;
  const Image base = model_view(r.input, app.state.preprocess(), from_image);
  app.input_tex.upload(base);
  const bool last = from_image ? app.state.preprocess().channels_last
                               : (r.input.shape.size() == 4 && r.input.shape[3] <= 4 && r.input.shape[1] > 4);
  auto heat = [&](const Explained& e, Texture& tex) {
    if (!is_image_shaped(e.relevance.shape)) {
      tex.clear();
      return;
    }
    app.state.guard([&] { tex.upload(overlay_image(base, heatmap_image(e.relevance, last, app.colormap), app.opacity)); });
  };
  heat(r.main, app.heat_tex);
  if (r.has_compare) heat(r.compare, app.compare_tex);
  else app.compare_tex.clear();
}

// ---- Input panel -------------------------------------------------------------------------------------
namespace {

void input_panel(App& app) {
  AppState& s = app.state;
  if (ImGui::Button("Open files...")) open_file_dialog();
  help_marker("Or drop files onto the page: a model (.onnx), an image (PNG/JPEG/BMP/GIF), an array (.npy), "
              "a table (.csv, one row per sample), labels (.txt) or preprocessing (.json). Files stay on "
              "this device.");
  if (!s.samples().empty()) {
    ImGui::TextColored(kDimColor, "Samples");
    const float h = std::min<float>(s.samples().size(), 6.5f) * ImGui::GetTextLineHeightWithSpacing() + 4;
    if (ImGui::BeginListBox("##samples", ImVec2(-FLT_MIN, h))) {
      for (size_t k = 0; k < s.samples().size(); ++k) {
        const bool sel = static_cast<int>(k) == s.selected_sample();
        if (ImGui::Selectable(s.samples()[k].name.c_str(), sel) && !sel) s.guard([&] { s.select_sample(k); });
      }
      ImGui::EndListBox();
    }
  }
  const InputData& in = s.input();
  ImGui::Text("Input: %s", in.kind == InputKind::None ? "(none)" : in.label.c_str());
  if (in.kind == InputKind::Image) {
    ImGui::TextColored(kDimColor, "%d x %d, %d channel(s) as decoded", in.image.width, in.image.height, in.image.channels);
  } else if (in.kind == InputKind::Array) {
    ImGui::TextColored(kDimColor, "array %s", shape_str(in.array.shape).c_str());
  }
  if (const int rows = s.input_rows(); rows > 1) {
    int row = in.row;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
    if (ImGui::SliderInt(in.kind == InputKind::Table ? "row" : "sample", &row, 0, rows - 1)) s.select_row(row);
    ImGui::SameLine();
    if (in.kind == InputKind::Table) ImGui::TextColored(kDimColor, "of %d, %zu features", rows, in.table.header.size());
    else ImGui::TextColored(kDimColor, "of %d", rows);
  }
  if (app.input_tex.valid()) {
    const float w = std::min(ImGui::GetContentRegionAvail().x, 96.0f * app.dpr);
    ImGui::Image(app.input_tex.id(), ImVec2(w, w * app.input_tex.height() / app.input_tex.width()));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("the input as the model sees it (after preprocessing)");
  }

  if (in.kind != InputKind::Image) return;
  if (!ImGui::TreeNodeEx("Preprocessing", ImGuiTreeNodeFlags_DefaultOpen)) return;
  ImagePreprocess& p = s.preprocess();
  bool changed = false;
  int hw[2] = {static_cast<int>(p.height), static_cast<int>(p.width)};
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::InputInt2("resize (h, w)", hw)) {
    p.height = std::clamp(hw[0], 0, 4096);
    p.width = std::clamp(hw[1], 0, 4096);
    changed = true;
  }
  help_marker("0 keeps the image's own size. Bilinear, half-pixel centres, no antialiasing "
              "(torch interpolate / OpenCV INTER_LINEAR).");
  int ch = p.channels == 1 ? 0 : 1;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::Combo("channels", &ch, "1 (luma)\0" "3 (RGB)\0")) {
    p.channels = ch == 0 ? 1 : 3;
    changed = true;
  }
  changed |= ImGui::Checkbox("channels last (NHWC)", &p.channels_last);
  if (p.channels == 3) {
    ImGui::SameLine();
    changed |= ImGui::Checkbox("BGR", &p.bgr);
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  changed |= ImGui::InputFloat("scale", &p.scale, 0, 0, "%.6g");
  const size_t n = static_cast<size_t>(std::max<int64_t>(1, p.channels));
  if (p.mean.size() != n) p.mean.resize(n, p.mean.empty() ? 0.f : p.mean.back());
  if (p.std.size() != n) p.std.resize(n, p.std.empty() ? 1.f : p.std.back());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * (n == 1 ? 9 : 14));
  changed |= n == 1 ? ImGui::InputFloat("mean", p.mean.data(), 0, 0, "%.4g") : ImGui::InputFloat3("mean", p.mean.data(), "%.4g");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * (n == 1 ? 9 : 14));
  changed |= n == 1 ? ImGui::InputFloat("std", p.std.data(), 0, 0, "%.4g") : ImGui::InputFloat3("std", p.std.data(), "%.4g");
  for (float& v : p.std)
    if (v == 0) v = 1e-6f;   // never divide by zero; the field shows what is used
  if (changed) {
    s.remember_preprocess();
    s.mark_dirty();
  }
  ImGui::PushStyleColor(ImGuiCol_Text, kDimColor);
  ImGui::TextWrapped("remembered for this model (by hash) while the tab is open");
  ImGui::PopStyleColor();
  ImGui::TreePop();
}

// ---- Model panel -------------------------------------------------------------------------------------
void model_panel(App& app) {
  const AppState& s = app.state;
  if (!s.has_model()) {
    ImGui::TextWrapped("No model yet: open or drop an .onnx file.");
    return;
  }
  const ModelDesc& m = s.model();
  ImGui::TextWrapped("%s", m.label.c_str());
  ImGui::TextColored(kDimColor, "%.1f KiB, opset %lld, %s", m.bytes / 1024.0, static_cast<long long>(m.opset),
                     m.producer.empty() ? "unknown producer" : m.producer.c_str());
  ImGui::TextColored(kDimColor, "fnv1a64 %s", m.hash.c_str());
  for (const auto& io : m.inputs) ImGui::BulletText("in  %s %s %s", io.name.c_str(), io.dtype.c_str(), io.shape_text().c_str());
  for (const auto& io : m.outputs) ImGui::BulletText("out %s %s %s", io.name.c_str(), io.dtype.c_str(), io.shape_text().c_str());
  for (const auto& note : m.canonizer_notes) ImGui::TextColored(kDimColor, "canonizer: %s", note.c_str());
  ImGui::TextColored(kDimColor, "%zu nodes; rules under %s", m.nodes.size(), s.settings.composite.c_str());
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  const float h = std::max(ImGui::GetContentRegionAvail().y, 8 * ImGui::GetTextLineHeightWithSpacing());
  if (ImGui::BeginTable("ops", 3, flags, ImVec2(0, h))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("node", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableSetupColumn("op", ImGuiTableColumnFlags_WidthStretch, 0.8f);
    ImGui::TableSetupColumn("rule", ImGuiTableColumnFlags_WidthStretch, 1.2f);
    ImGui::TableHeadersRow();
    ImGuiListClipper clip;
    clip.Begin(static_cast<int>(m.nodes.size()));
    while (clip.Step()) {
      for (int k = clip.DisplayStart; k < clip.DisplayEnd; ++k) {
        const NodeDesc& n = m.nodes[k];
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(n.name.c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(n.op.c_str());
        ImGui::TableNextColumn();
        ImGui::TextColored(n.rule.empty() ? kDimColor : ImVec4(1, 1, 1, 1), "%s", n.rule.empty() ? "-" : n.rule.c_str());
      }
    }
    ImGui::EndTable();
  }
}

// ---- View --------------------------------------------------------------------------------------------
// 1-D relevance, red positive, blue negative, scaled by max |R| like the heatmaps: a table gets one
// named bar per feature; a sequence a track with one column per position (summed over channels).
void relevance_bars(const App& app, const Explained& e, const char* id) {
  const std::vector<float> r = feature_relevance(e.relevance);
  if (r.empty()) return;
  float max_abs = 0;
  for (float v : r) max_abs = std::max(max_abs, std::fabs(v));
  if (max_abs == 0) max_abs = 1;
  const InputData& in = app.state.input();
  const bool table = in.kind == InputKind::Table;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 pos = IM_COL32(220, 60, 50, 255), neg = IM_COL32(50, 100, 220, 255);
  if (table) {
    // One row per feature: name, bar around a centre line, value.
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const float name_w = ImGui::GetFontSize() * 7;
    const float bar_w = std::max(40.f, ImGui::GetContentRegionAvail().x - name_w - ImGui::GetFontSize() * 6);
    ImGui::PushID(id);
    for (size_t k = 0; k < r.size(); ++k) {
      const std::string name = table && k < in.table.header.size() ? in.table.header[k] : "[" + std::to_string(k) + "]";
      const ImVec2 p = ImGui::GetCursorScreenPos();
      ImGui::TextUnformatted(name.c_str());
      const float cx = p.x + name_w + bar_w / 2, len = r[k] / max_abs * bar_w / 2;
      dl->AddRectFilled(ImVec2(std::min(cx, cx + len), p.y + 2), ImVec2(std::max(cx, cx + len), p.y + line - 3),
                        r[k] >= 0 ? pos : neg);
      dl->AddLine(ImVec2(cx, p.y), ImVec2(cx, p.y + line), IM_COL32(160, 160, 160, 160));
      ImGui::SameLine(name_w + bar_w + ImGui::GetStyle().WindowPadding.x);
      ImGui::Text("%+.4g", r[k]);
    }
    ImGui::PopID();
    return;
  }
  // Sequences and other 1-D inputs: a relevance track.
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetFontSize() * 6;
  const float step = w / r.size(), mid = p.y + h / 2;
  for (size_t k = 0; k < r.size(); ++k) {
    const float x0 = p.x + k * step, len = r[k] / max_abs * h / 2;
    dl->AddRectFilled(ImVec2(x0, std::min(mid, mid - len)), ImVec2(x0 + std::max(1.f, step - 1), std::max(mid, mid - len)),
                      r[k] >= 0 ? pos : neg);
  }
  dl->AddLine(ImVec2(p.x, mid), ImVec2(p.x + w, mid), IM_COL32(160, 160, 160, 160));
  ImGui::Dummy(ImVec2(w, h));
  ImGui::TextColored(kDimColor, "%zu positions, max |R| %.4g", r.size(), max_abs);
}

void view_panel(App& app) {
  AppState& s = app.state;
  if (!s.last_error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kErrorColor);
    ImGui::TextWrapped("%s", s.last_error.c_str());
    ImGui::PopStyleColor();
    if (ImGui::SmallButton("dismiss")) s.last_error.clear();
    ImGui::TextColored(kDimColor, "The previous model, input and results are unchanged.");
    ImGui::Separator();
  } else if (!app.notice.empty()) {
    ImGui::TextColored(kDimColor, "%s", app.notice.c_str());
  }
  if (computing(app)) {
    ImGui::TextColored(ImVec4(1, 0.85f, 0.4f, 1), app.offload.job ? "explaining (in a worker)..." : "computing...");
    if (app.offload.job) {   // the canvas stays live meanwhile (app_offload.cpp); the result can be dropped
      ImGui::SameLine();
      if (ImGui::SmallButton("Cancel")) cancel_explanation(app, false);
    }
  }

  const Results& r = s.results();
  if (!r.valid) {
    ImGui::TextWrapped(s.has_model() ? "Pick a sample or open an input." : "Open or drop a model (.onnx) and an input.");
    app.heat_rect[2] = app.heat_rect[3] = 0;
    return;
  }
  const bool two = r.has_compare;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  auto show = [&](const Explained& e, Texture& tex, bool main, const char* id) {
    ImGui::BeginGroup();
    ImGui::TextWrapped("%s", explained_title(app, e).c_str());
    if (tex.valid()) {
      const float cap = ImGui::GetTextLineHeightWithSpacing() * 3;
      const float box_w = two ? (avail.x - gap) / 2 : avail.x;
      const float track = e.relevance.shape.size() == 3 ? ImGui::GetFontSize() * 9 : 0.0f;
      const float box_h = std::max(64.f, avail.y - cap - track);
      const float scale = std::min(box_w / tex.width(), box_h / tex.height());
      const ImVec2 size(tex.width() * scale, tex.height() * scale);
      const ImVec2 at = ImGui::GetCursorScreenPos();
      ImGui::Image(tex.id(), size);
      if (main) {
        app.heat_rect[0] = at.x;
        app.heat_rect[1] = at.y;
        app.heat_rect[2] = size.x;
        app.heat_rect[3] = size.y;
      }
      if (ImGui::IsItemHovered()) {
        const ImVec2 mp = ImGui::GetMousePos();
        const int px = std::clamp(static_cast<int>((mp.x - at.x) / scale), 0, tex.width() - 1);
        const int py = std::clamp(static_cast<int>((mp.y - at.y) / scale), 0, tex.height() - 1);
        const bool last = app.state.input().kind == InputKind::Image && app.state.preprocess().channels_last;
        ImGui::SetTooltip("pixel (x %d, y %d)\nR = %+.4g", px, py, relevance_at(e.relevance, last, py, px));
      }
      // Sequences ([1,C,L]): the C x L heatmap above, and the per-position track below.
      if (e.relevance.shape.size() == 3) {
        ImGui::BeginChild(id, ImVec2(two ? (avail.x - gap) / 2 : avail.x, 0), false);
        relevance_bars(app, e, id);
        ImGui::EndChild();
      }
    } else {
      if (main) app.heat_rect[2] = app.heat_rect[3] = 0;
      ImGui::BeginChild(id, ImVec2(two ? (avail.x - gap) / 2 : avail.x, 0), false);
      relevance_bars(app, e, id);
      ImGui::EndChild();
    }
    ImGui::EndGroup();
  };
  show(r.main, app.heat_tex, true, "main");
  if (two) {
    ImGui::SameLine();
    show(r.compare, app.compare_tex, false, "compare");
  }
}

// ---- Prediction --------------------------------------------------------------------------------------
void prediction_panel(App& app) {
  AppState& s = app.state;
  // Multi-output models (two heads, mean + variance): which output is predicted and explained.
  const auto& outs = s.model().outputs;
  if (outs.size() > 1) {
    const size_t current = std::min(s.output, outs.size() - 1);
    if (ImGui::BeginCombo("output", outs[current].name.c_str())) {
      for (size_t k = 0; k < outs.size(); ++k) {
        const std::string item = outs[k].name + "  " + outs[k].shape_text();
        if (ImGui::Selectable(item.c_str(), k == current) && k != current) {
          s.output = k;
          s.settings.target = s.compare_settings.target = -1;   // class indices belong to an output
          s.mark_dirty();
        }
      }
      ImGui::EndCombo();
    }
  }
  const Results& r = s.results();
  if (!r.valid) {
    ImGui::TextColored(kDimColor, "no prediction yet");
    return;
  }
  ImGui::TextColored(kDimColor, r.output_is_probability ? "output is a probability distribution"
                                                        : "softmax of the output (logits)");
  for (const auto& t : r.top) {
    char overlay[128];
    std::snprintf(overlay, sizeof overlay, "%5.1f%%  %s", t.score * 100.0, s.label_for(t.index).c_str());
    ImGui::ProgressBar(t.score, ImVec2(-ImGui::GetFontSize() * 4.5f, 0), overlay);
    ImGui::SameLine();
    ImGui::TextColored(kDimColor, "%+.3g", t.raw);
  }
}

// ---- Explain -----------------------------------------------------------------------------------------
// The settings of one explanation (main or compare); ids keep the two sets of widgets apart.
void explain_settings(App& app, ExplainSettings& e, const char* id) {
  ImGui::PushID(id);
  AppState& s = app.state;
  bool changed = combo("method", e.method, relevance::method_names());
  if (lrp_family(e.method)) changed |= combo("composite", e.composite, relevance::composite_names());
  if (changed) s.mark_dirty();

  auto slider_f = [&](const char* name, float* v, float lo, float hi, const char* format, ImGuiSliderFlags f = 0) {
    after_edit(app, ImGui::SliderFloat(name, v, lo, hi, format, f));
  };
  auto slider_i = [&](const char* name, int* v, int lo, int hi) { after_edit(app, ImGui::SliderInt(name, v, lo, hi)); };
  if (e.method == "pruned-lrp") {
    slider_f("prune", &e.prune, 0.0f, 1.0f, "%.2f");
    help_marker("PLRP: per layer, the weakest relevance of each sign is zeroed up to this share of its mass; "
                "the rest is rescaled (conservation holds).");
    after_edit(app, ImGui::Checkbox("mask activations (PLRP-M)", &e.prune_mask));
    help_marker("PLRP-M: instead of rescaling, the pruned units' activations are masked and the layer's rule "
                "runs again, so each output unit's relevance goes to its surviving inputs. Relevance of units "
                "whose every input was pruned is lost: see 'kept'.");
    // Sparsity beside the slider: the heatmap's Gini and, per pruned layer, what it lost.
    const Results& r = s.results();
    const Explained* shown = !r.valid ? nullptr : (&e == &s.settings ? &r.main : (r.has_compare ? &r.compare : nullptr));
    if (shown && shown->settings.method == "pruned-lrp") {
      ImGui::Text("heatmap sparsity (Gini of |R|): %.3f", shown->gini);
      if (!shown->pruning.empty() && ImGui::BeginTable("pruned layers", 4, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
        ImGui::TableSetupColumn("input of layer");
        ImGui::TableSetupColumn(shown->settings.prune_mask ? "masked" : "zeroed");
        ImGui::TableSetupColumn("Gini before -> after");
        ImGui::TableSetupColumn("kept");
        ImGui::TableHeadersRow();
        for (const auto& layer : shown->pruning) {
          ImGui::TableNextRow();
          ImGui::TableNextColumn();
          ImGui::TextUnformatted(layer.node.c_str());
          ImGui::TableNextColumn();
          ImGui::Text("%.1f%%", 100.0 * layer.zeroed_fraction);
          ImGui::TableNextColumn();
          ImGui::Text("%.3f -> %.3f", layer.gini_before, layer.gini_after);
          ImGui::TableNextColumn();
          ImGui::Text("%.1f%%", 100.0 * layer.kept);
        }
        ImGui::EndTable();
      }
    }
  } else if (e.method == "crp") {
    const auto layers = s.concept_layers();
    if (e.layer.empty() && !layers.empty()) e.layer = layers.back();
    changed = combo("layer", e.layer, layers);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s", e.channels.c_str());
    if (ImGui::InputText("channels", buf, sizeof buf, ImGuiInputTextFlags_EnterReturnsTrue | ImGuiInputTextFlags_CharsNoBlank)) {
      e.channels = buf;
      changed = true;
    }
    help_marker("Conditional relevance (CRP): relevance flowing through these channels of the layer only. "
                "Comma-separated; Enter applies.");
    changed |= ImGui::Checkbox("joint", &e.joint);
    if (!e.joint) {
      const Results& r = s.results();
      const Explained* shown = !r.valid ? nullptr : (&e == &s.settings ? &r.main : (r.has_compare ? &r.compare : nullptr));
      if (shown && shown->maps > 1) {
        int k = std::clamp(e.concept_view, 0, static_cast<int>(shown->maps) - 1);
        if (ImGui::SliderInt("map", &k, 0, static_cast<int>(shown->maps) - 1)) {
          e.concept_view = k;
          changed = true;
        }
      }
    }
    if (changed) s.mark_dirty();
  }
  if (lrp_family(e.method)) {
    slider_f("epsilon", &e.epsilon, 1e-9f, 1.0f, "%.2e", ImGuiSliderFlags_Logarithmic);
    if (e.composite == "epsilon-gamma-box" || e.composite.find("gamma") != std::string::npos)
      slider_f("gamma", &e.gamma, 0.0f, 2.0f, "%.3f");
    if (e.composite.find("alpha") != std::string::npos) {
      slider_f("alpha", &e.alpha, 1.0f, 4.0f, "%.2f");
      ImGui::TextColored(kDimColor, "beta = alpha - 1 = %.2f", e.alpha - 1.0f);
    }
  } else if (e.method == "integrated-gradients") {
    slider_i("steps", &e.steps, 1, 200);
  } else if (e.method == "smoothgrad") {
    slider_i("samples", &e.samples, 1, 200);
    slider_f("noise", &e.noise, 0.0f, 1.0f, "%.3f");
  } else if (e.method == "occlusion") {
    slider_i("window", &e.window, 1, 64);
    slider_i("stride", &e.stride, 1, 64);
  }

  // Target: the predicted class or any class, by label.
  const int64_t classes = s.num_classes();
  std::string current = e.target < 0 ? "predicted" : std::to_string(e.target) + " " + s.label_for(e.target);
  if (ImGui::BeginCombo("target", current.c_str())) {
    if (ImGui::Selectable("predicted", e.target < 0)) {
      e.target = -1;
      s.mark_dirty();
    }
    for (int64_t k = 0; k < classes && k < 4096; ++k) {
      const std::string item = std::to_string(k) + " " + s.label_for(k);
      if (ImGui::Selectable(item.c_str(), e.target == k)) {
        e.target = static_cast<int>(k);
        s.mark_dirty();
      }
    }
    ImGui::EndCombo();
  }
  ImGui::PopID();
}

// Where the worker explains (app_offload.cpp): WebGPU when the page found a hardware adapter, else wasm. What WebGPU
// cannot run (some methods and ops) runs on the CPU, and the panel says why.
void compute_on(App& app) {
  Offload& o = app.offload;
  const bool has_gpu = !o.gpu_adapter.empty();
  const std::string gpu_label = !has_gpu ? "WebGPU (no adapter here)"
                                : "WebGPU (" + o.gpu_adapter + (o.gpu_software ? ", software: slower than wasm)" : ")");
  if (ImGui::BeginCombo("compute on", o.backend == "webgpu" ? gpu_label.c_str() : "CPU (wasm)")) {
    if (ImGui::Selectable(gpu_label.c_str(), o.backend == "webgpu", has_gpu ? 0 : ImGuiSelectableFlags_Disabled) &&
        o.backend != "webgpu") {
      o.backend = "webgpu";
      app.state.mark_dirty();
    }
    if (ImGui::Selectable("CPU (wasm)", o.backend == "cpu") && o.backend != "cpu") {
      o.backend = "cpu";
      app.state.mark_dirty();
    }
    ImGui::EndCombo();
  }
  help_marker("WebGPU runs the forward pass and the relevance sweep on the GPU (lrp, gradient, gradient x input; "
              "the common CNN and MLP layers). Anything else, or a GPU failure, runs on the CPU (wasm) instead.");
  if (!app.state.results().valid) return;
  if (o.last_backend == "webgpu") {
    ImGui::TextColored(kDimColor, "explained on WebGPU");
  } else if (!o.last_fallback.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kDimColor);
    ImGui::TextWrapped("explained on the CPU: %s", o.last_fallback.c_str());
    ImGui::PopStyleColor();
  }
}

void explain_panel(App& app) {
  AppState& s = app.state;
  ImGui::PushItemWidth(-ImGui::GetFontSize() * 5.5f);
  explain_settings(app, s.settings, "main");
  ImGui::Separator();
  if (combo("colormap", app.colormap, colormap_names())) app.textures_dirty = true;
  if (ImGui::SliderFloat("opacity", &app.opacity, 0.0f, 1.0f, "%.2f")) app.textures_dirty = true;
  help_marker("The heatmap over the input as the model saw it, weighted by relevance (near-zero relevance lets "
              "the input show through). Colors: zennit's imgify(R.sum(channels), symmetric=True); the PNG "
              "export is exactly that heatmap.");
  if (ImGui::Checkbox("compare", &s.compare)) {
    if (s.compare && s.compare_settings == s.settings) {
      // Start from something different: the other LRP composite family, or gradient x input.
      s.compare_settings = s.settings;
      s.compare_settings.method = lrp_family(s.settings.method) ? "gradient-x-input" : "lrp";
    }
    s.mark_dirty();
  }
  help_marker("Two heatmaps side by side: two methods, two composites or two targets.");
  if (s.compare) {
    ImGui::Indent();
    explain_settings(app, s.compare_settings, "compare");
    ImGui::Unindent();
  }
  compute_on(app);
  ImGui::PopItemWidth();
}

// ---- Export ------------------------------------------------------------------------------------------
// "relscope-<input stem>" for every exported file.
std::string export_stem(const AppState& s) {
  std::string n = s.input().label;
  const auto dot = n.rfind('.');
  return "relscope-" + (dot == std::string::npos ? n : n.substr(0, dot));
}

void export_panel(App& app) {
  AppState& s = app.state;
  const Results& r = s.results();
  if (r.valid) {
    ImGui::Text("forward %.1f ms, explain %.1f ms", r.forward_ms, r.main.ms);
    if (r.has_compare) ImGui::Text("compare explain %.1f ms", r.compare.ms);
  }
  ImGui::TextColored(kDimColor, "back end: %s", s.backend().c_str());
  if (!r.valid) return;
  const bool image = is_image_shaped(r.main.relevance.shape);
  if (image && ImGui::Button("heatmap PNG")) s.guard([&] { export_heatmap_png(app); });
  if (image) ImGui::SameLine();
  if (ImGui::Button("relevance .npy")) s.guard([&] { export_relevance_npy(app); });
  ImGui::SameLine();
  if (ImGui::Button("JSON record")) s.guard([&] { export_record_json(app); });
  ImGui::TextColored(kDimColor, "downloads are made on this device");
}

}  // namespace

// ---- exports -----------------------------------------------------------------------------------------
void export_heatmap_png(App& app) {
  const AppState& s = app.state;
  const Results& r = s.results();
  if (!r.valid || !is_image_shaped(r.main.relevance.shape)) fail_input("export: no image heatmap to export");
  const bool last = s.input().kind == InputKind::Image && s.preprocess().channels_last;
  download_bytes(export_stem(s) + "-heatmap.png", render::encode_png(heatmap_image(r.main.relevance, last, app.colormap).rgb),
                 "image/png");
}

void export_relevance_npy(App& app) {
  download_bytes(export_stem(app.state) + "-relevance.npy", app.state.relevance_npy(), "application/octet-stream");
}

void export_record_json(App& app) {
  const std::string j = app.state.record_json();
  download_bytes(export_stem(app.state) + ".json", std::vector<uint8_t>(j.begin(), j.end()), "application/json");
}

// ---- draw_ui() ---------------------------------------------------------------------------------------
// Three fixed columns that follow the canvas size (no window juggling on a phone-sized canvas).
void draw_ui(App& app) {
  const ImGuiIO& io = ImGui::GetIO();
  const float W = io.DisplaySize.x, H = io.DisplaySize.y, d = app.dpr;
  const float m = 6 * d;
  const float side = std::clamp(W * 0.25f, std::min(250 * d, W * 0.3f), 440 * d);
  const float centre = std::max(120 * d, W - 2 * side - 4 * m);
  const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoSavedSettings;

  ImGui::SetNextWindowPos(ImVec2(m, m), ImGuiCond_Always);
  ImGui::SetNextWindowSize(ImVec2(side, H - 2 * m), ImGuiCond_Always);
  if (ImGui::Begin("relscope", nullptr, fixed)) {
    draw_lessons_menu(app);   // app_lessons.cpp
    if (ImGui::CollapsingHeader("Input", ImGuiTreeNodeFlags_DefaultOpen)) input_panel(app);
    if (ImGui::CollapsingHeader("Model", ImGuiTreeNodeFlags_DefaultOpen)) model_panel(app);
  }
  ImGui::End();

  ImGui::SetNextWindowPos(ImVec2(side + 2 * m, m), ImGuiCond_Always);
  ImGui::SetNextWindowSize(ImVec2(centre, H - 2 * m), ImGuiCond_Always);
  if (ImGui::Begin("View", nullptr, fixed)) view_panel(app);
  ImGui::End();

  ImGui::SetNextWindowPos(ImVec2(side + centre + 3 * m, m), ImGuiCond_Always);
  ImGui::SetNextWindowSize(ImVec2(side, H - 2 * m), ImGuiCond_Always);
  if (ImGui::Begin("Explain", nullptr, fixed)) {
    // The window toggles in a row, wrapping where the panel is narrow (a phone-sized canvas).
    auto toggle = [](const char* label, bool* on, bool first) {
      const ImGuiStyle& st = ImGui::GetStyle();
      const float w = ImGui::GetFrameHeight() + st.ItemInnerSpacing.x + ImGui::CalcTextSize(label).x;
      if (!first && ImGui::GetItemRectMax().x + st.ItemSpacing.x + w <= ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x)
        ImGui::SameLine();
      ImGui::Checkbox(label, on);
    };
    toggle("Concepts", &app.show_concepts, true);     // the concept browser, app_concepts.cpp
    toggle("Variance", &app.show_variance, false);    // app_variance.cpp
    toggle("Strategies", &app.show_spray, false);     // SpRAy, app_spray.cpp
    if (ImGui::CollapsingHeader("Prediction", ImGuiTreeNodeFlags_DefaultOpen)) prediction_panel(app);
    if (ImGui::CollapsingHeader("Method", ImGuiTreeNodeFlags_DefaultOpen)) explain_panel(app);
    if (ImGui::CollapsingHeader("Faithfulness")) draw_faithfulness(app);   // app_faithfulness.cpp
    if (ImGui::CollapsingHeader("Timings and export", ImGuiTreeNodeFlags_DefaultOpen)) export_panel(app);
  }
  ImGui::End();
  draw_concepts(app);
  draw_variance(app);
  draw_spray(app);
  draw_lesson_panel(app);
}

}  // namespace relscope::app
