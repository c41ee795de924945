// relscope/app/app_concepts.cpp — the Concepts window: the concept browser (app/core/concept_browser.h) drawn
// with ImGui: layer, ranked channels with their conditional heatmaps, the selected channel large with its
// attribution tree and its reference samples from the in-page atlas (with progress).
//
// Sections: textures | ranked list | selected channel | window | page bridge
//
// The browser's work happens between frames (step_concepts, called by the main loop: one unit per frame,
// so an atlas over many samples never blocks the page; the ranking and selections run in the page's worker,
// app_concepts_offload.cpp); this file only draws and forwards clicks.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
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
struct ConceptTextures {
  int64_t maps_version = -1, version = -1;
  std::string colormap;
  float opacity = -1;
  std::map<int64_t, Texture> thumbs;   // channel -> conditional heatmap over the input
  Texture large;                       // the selected channel's map
  std::map<int, Texture> refs;         // 2 * rank + (actmax ? 1 : 0) -> crop
  Tensor selected_map;                 // for relscopeAppTensor(4)
  struct Rect { int64_t channel; float x, y, w, h; };
  std::vector<Rect> thumb_rects;       // where the thumbnails were drawn (device px), for the page's tests
};

ConceptTextures& tex() {
  static ConceptTextures t;
  return t;
}

bool channels_last_of(const App& app, const Shape& s) {
  return app.state.input().kind == InputKind::Image ? app.state.preprocess().channels_last
                                                    : (s.size() == 4 && s[3] <= 4 && s[1] > 4);
}

void refresh_concept_textures(App& app) {
  ConceptTextures& t = tex();
  const ConceptBrowser& b = app.concepts;
  const Results& r = app.state.results();
  const bool view_changed = t.colormap != app.colormap || t.opacity != app.opacity;
  if (r.valid && (view_changed || t.maps_version != b.maps_version())) {
    const Image base = model_view(r.input, app.state.preprocess(), app.state.input().kind == InputKind::Image);
    auto draw = [&](const Tensor& map, Texture& into) {
      if (map.f.empty() || !is_image_shaped(map.shape)) return into.clear();
      app.state.guard([&] { into.upload(overlay_image(base, heatmap_image(map, channels_last_of(app, map.shape), app.colormap), app.opacity)); });
    };
    t.thumbs.clear();
    for (int64_t c : b.map_channels()) draw(b.map_of(c), t.thumbs[c]);
    t.selected_map = b.selected() >= 0 ? b.map_of(b.selected()) : Tensor{};
    draw(t.selected_map, t.large);
    t.maps_version = b.maps_version();
  }
  if (t.version != b.version()) {
    t.refs.clear();
    for (int act = 0; act < 2; ++act) {
      const auto& list = b.references(act == 1);
      for (size_t k = 0; k < list.size(); ++k)
        if (!list[k].crop.pixels.empty()) t.refs[static_cast<int>(2 * k) + act].upload(list[k].crop);
    }
    t.version = b.version();
  }
  t.colormap = app.colormap;
  t.opacity = app.opacity;
}

// ---- ranked list -------------------------------------------------------------------------------------
void ranked_list(App& app) {
  ConceptBrowser& b = app.concepts;
  ConceptTextures& t = tex();
  t.thumb_rects.clear();
  const float thumb = 56.0f * app.dpr;
  for (size_t k = 0; k < b.ranking().size(); ++k) {
    const RankedConcept& rc = b.ranking()[k];
    ImGui::PushID(static_cast<int>(rc.channel));
    const bool selected = rc.channel == b.selected();
    const auto it = t.thumbs.find(rc.channel);
    bool clicked = false;
    if (it != t.thumbs.end() && it->second.valid()) {
      const ImVec4 bg = selected ? ImVec4(1.0f, 0.85f, 0.3f, 1.0f) : ImVec4(0, 0, 0, 0);
      clicked = ImGui::ImageButton(it->second.id(), ImVec2(thumb, thumb * it->second.height() / it->second.width()),
                                   ImVec2(0, 0), ImVec2(1, 1), selected ? static_cast<int>(3 * app.dpr) : static_cast<int>(app.dpr), bg);
      const ImVec2 lo = ImGui::GetItemRectMin(), hi = ImGui::GetItemRectMax();
      t.thumb_rects.push_back({rc.channel, lo.x, lo.y, hi.x - lo.x, hi.y - lo.y});
      ImGui::SameLine();
    }
    ImGui::BeginGroup();
    char label[64];
    std::snprintf(label, sizeof label, "#%zu  channel %lld##row", k + 1, static_cast<long long>(rc.channel));
    clicked |= ImGui::Selectable(label, selected);
    ImGui::TextColored(kDim, "R %+.4g   %.1f%% of |R|", rc.relevance, 100.0 * rc.share);
    ImGui::EndGroup();
    if (clicked) b.select(selected ? -1 : rc.channel);
    ImGui::PopID();
  }
}

// ---- selected channel --------------------------------------------------------------------------------
void attribution_tree(ConceptBrowser& b, const relevance::AttributionGraph& g, const std::vector<std::vector<int>>& children, int k) {
  const auto& n = g.nodes[static_cast<size_t>(k)];
  ImGuiTreeNodeFlags flags = ImGuiTreeNodeFlags_DefaultOpen | ImGuiTreeNodeFlags_SpanAvailWidth;
  if (children[static_cast<size_t>(k)].empty()) flags |= ImGuiTreeNodeFlags_Leaf;
  const bool open = ImGui::TreeNodeEx(reinterpret_cast<void*>(static_cast<intptr_t>(k + 1)), flags, "%s : %lld   %+.4g", n.layer.c_str(),
                                      static_cast<long long>(n.channel), n.relevance);
  if (k > 0 && ImGui::IsItemClicked() && !ImGui::IsItemToggledOpen()) b.set_layer(n.layer, n.channel);   // go to that concept
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(k == 0 ? "the concept's relevance" : "relevance reaching this concept through the path above it\n(click: browse it)");
  if (!open) return;
  for (int c : children[static_cast<size_t>(k)]) attribution_tree(b, g, children, c);
  ImGui::TreePop();
}

void references_row(App& app, bool actmax) {
  const auto& list = app.concepts.references(actmax);
  ConceptTextures& t = tex();
  ImGui::TextColored(kDim, actmax ? "ActMax: largest activation" : "RelMax: largest relevance");
  if (list.empty()) return ImGui::TextColored(kDim, "  (none yet)");
  const float size = 52.0f * app.dpr;
  for (size_t k = 0; k < list.size(); ++k) {
    if (k > 0) ImGui::SameLine();
    const auto it = t.refs.find(static_cast<int>(2 * k) + (actmax ? 1 : 0));
    if (it != t.refs.end() && it->second.valid()) {
      const float s = size / std::max(it->second.width(), it->second.height());
      ImGui::Image(it->second.id(), ImVec2(it->second.width() * s, it->second.height() * s));
    } else {
      ImGui::Button(list[k].cut ? "-" : "...", ImVec2(size, size));
    }
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s\n%s %.4g", list[k].name.c_str(), actmax ? "activation" : "relevance", list[k].value);
  }
}

void selected_panel(App& app) {
  ConceptBrowser& b = app.concepts;
  if (b.selected() < 0) {
    ImGui::TextWrapped("Click a channel for its map, its attribution graph and its reference samples.");
  } else {
    ImGui::Text("channel %lld of %s", static_cast<long long>(b.selected()), b.layer().c_str());
    const Texture& large = tex().large;
    if (large.valid()) {
      const float w = std::min(ImGui::GetContentRegionAvail().x, 280.0f * app.dpr);
      ImGui::Image(large.id(), ImVec2(w, w * large.height() / large.width()));
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("relevance of the input through this channel only (CRP)");
    }
    const auto& g = b.graph();
    if (!g.nodes.empty() && ImGui::CollapsingHeader("Attribution graph", ImGuiTreeNodeFlags_DefaultOpen)) {
      std::vector<std::vector<int>> children(g.nodes.size());
      for (size_t k = 1; k < g.nodes.size(); ++k) children[static_cast<size_t>(g.nodes[k].parent)].push_back(static_cast<int>(k));
      attribution_tree(b, g, children, 0);
    }
  }
  if (ImGui::CollapsingHeader("Reference samples", ImGuiTreeNodeFlags_DefaultOpen)) {
    const AtlasStatus st = b.atlas_status();
    char overlay[96];
    std::snprintf(overlay, sizeof overlay, "atlas %lld / %lld samples", static_cast<long long>(st.done), static_cast<long long>(st.total));
    ImGui::ProgressBar(st.total > 0 ? static_cast<float>(st.done) / st.total : 0.0f, ImVec2(-1, 0), overlay);
    ImGui::TextColored(kDim, "over the bundled samples and the inputs you opened; each on its predicted class%s",
                       st.skipped ? " (files that do not fit the model skipped)" : "");
    if (b.selected() >= 0) {
      references_row(app, false);
      references_row(app, true);
    }
  }
}

}  // namespace

// ---- window ------------------------------------------------------------------------------------------
void draw_concepts(App& app) {
  if (!app.show_concepts) return;
  const ImGuiIO& io = ImGui::GetIO();
  const float d = app.dpr;
  ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x * 0.22f, 10 * d), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(std::min(io.DisplaySize.x * 0.56f, 900 * d), io.DisplaySize.y - 20 * d), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Concepts", &app.show_concepts, ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse)) {
    ImGui::End();
    return;
  }
  ConceptBrowser& b = app.concepts;
  refresh_concept_textures(app);
  AppState& s = app.state;
  if (!s.results().valid) {
    ImGui::TextWrapped("Open a model and an input first.");
    ImGui::End();
    return;
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 16);
  if (ImGui::BeginCombo("layer", b.layer().c_str())) {
    for (const auto& l : b.layers())
      if (ImGui::Selectable(l.c_str(), l == b.layer())) b.set_layer(l);
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  int n = static_cast<int>(b.thumbnails());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::SliderInt("maps", &n, 1, static_cast<int>(std::max<int64_t>(1, b.channels()))) ) b.set_thumbnails(n);
  ImGui::TextColored(kDim, "%lld channels ranked for class %lld %s (LRP, %s)", static_cast<long long>(b.channels()),
                     static_cast<long long>(b.target()), s.label_for(b.target()).c_str(), s.settings.composite.c_str());
  if (!b.error().empty()) ImGui::TextColored(kError, "%s", b.error().c_str());
  if (!b.idle()) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1, 0.85f, 0.4f, 1), "working...");
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  ImGui::BeginChild("ranked", ImVec2(avail.x * 0.46f, 0), true);
  ranked_list(app);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("selected", ImVec2(0, 0), true);
  selected_panel(app);
  ImGui::EndChild();
  ImGui::End();
}

// ---- page bridge -------------------------------------------------------------------------------------
bool step_concepts(App& app) {
  if (!app.show_concepts || computing(app)) return false;
  static bool offloading = false;   // the large units go to the page's worker (app_concepts_offload.cpp)
  if (!offloading) {
    app.concepts.set_offloader([&app](const ConceptJob& job) { return offload_concept_job(app, job); });
    offloading = true;
  }
  return app.concepts.step(app.state);   // the page reads the state on demand (relscopeAppState)
}

std::string concepts_snapshot_json(App& app) {
  std::string j = app.concepts.snapshot_json();
  JsonWriter w;
  w.begin_array();   // thumbnails as drawn, CSS px in the canvas (the main loop keeps them current)
  for (const auto& r : tex().thumb_rects)
    w.begin_object().key("channel").value(static_cast<long long>(r.channel)).key("x").value(r.x / app.dpr).key("y").value(r.y / app.dpr)
        .key("w").value(r.w / app.dpr).key("h").value(r.h / app.dpr).end_object();
  w.end_array();
  j.pop_back();
  return j + ",\"open\":" + (app.show_concepts ? "true" : "false") + ",\"thumbRects\":" + w.str() + "}";
}

bool set_concepts(App& app, const std::string& key, const std::string& value) {
  ConceptBrowser& b = app.concepts;
  if (key == "concepts") app.show_concepts = value == "1" || value == "true";
  else if (key == "concept-layer") b.set_layer(value);
  else if (key == "concept-maps") b.set_thumbnails(std::atoll(value.c_str()));
  else if (key == "concept-select") b.select(std::atoll(value.c_str()));
  else return false;
  return true;
}

const Tensor* concepts_tensor(App& app, int which) {
  if (which == 3) return app.concepts.maps().f.empty() ? nullptr : &app.concepts.maps();
  if (which == 4) return tex().selected_map.f.empty() ? nullptr : &tex().selected_map;
  return nullptr;
}

}  // namespace relscope::app
