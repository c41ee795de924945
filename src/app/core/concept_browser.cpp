// relscope/app/core/concept_browser.cpp — the concept browser's work, one unit per step (see the header).
//
// Sections: helpers | choices | step | ranking and maps | selection
// (the atlas and its reference crops: concept_browser_atlas.cpp; the JSON snapshot: concept_browser_json.cpp)
#include "app/core/concept_browser.h"

#include <algorithm>
#include <numeric>

#include "app/core/concept_browser_detail.h"
#include "core/error.h"

namespace relscope::app {

using detail::attempt;

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

std::string request_key(const AppState& s) {
  ExplainSettings plain = s.settings;
  plain.method = "lrp";
  plain.target = -1;
  std::string k;
  for (const auto& [name, value] : s.request_values(plain)) k += name + "=" + value + ";";
  return k;
}

std::string preprocess_key(const ImagePreprocess& p) {
  std::string k = std::to_string(p.height) + "," + std::to_string(p.width) + "," + std::to_string(p.channels) + "," +
                  (p.channels_last ? "l" : "f") + (p.bgr ? "b" : "r") + "," + std::to_string(p.scale);
  for (float v : p.mean) k += ",m" + std::to_string(v);
  for (float v : p.std) k += ",s" + std::to_string(v);
  return k;
}

}  // namespace

// ---- choices -----------------------------------------------------------------------------------------
void ConceptBrowser::set_layer(const std::string& layer, int64_t then_select) {
  wanted_layer_ = layer;
  pending_select_ = then_select;
  if (layer == layer_ && then_select >= 0) select(then_select);
}

void ConceptBrowser::select(int64_t channel) {
  if (channel == selected_) return;
  selected_ = channel < 0 ? -1 : channel;
  graph_ = {};
  ++version_;
  ++maps_version_;
}

void ConceptBrowser::set_thumbnails(int64_t n) { thumbnails_ = std::max<int64_t>(1, n); }

std::string ConceptBrowser::pick_default_layer(const AppState& s) const {
  // The last convolution: its channels are spatial concepts with maps worth looking at; the last dense layer
  // is usually the output itself (one "concept" per class).
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it)
    for (const auto& n : s.model().nodes)
      if (n.name == *it && (n.op == "Conv" || n.op == "ConvTranspose")) return *it;
  return layers_.back();
}

// ---- step --------------------------------------------------------------------------------------------
bool ConceptBrowser::step(AppState& s) {
  idle_ = false;
  const Results& r = s.results();
  // The main compute runs first: the browser works on the input and target the canvas shows.
  if (!s.has_model() || !r.valid || s.dirty() || !s.explainer()) {
    idle_ = true;
    return false;
  }
  if (layers_ != s.concept_layers()) layers_ = s.concept_layers();
  if (layers_.empty()) {
    error_ = "the model has no layer with channels (Conv, Gemm, MatMul with constant weights)";
    idle_ = true;
    return false;
  }
  const bool known = std::find(layers_.begin(), layers_.end(), wanted_layer_) != layers_.end();
  const std::string layer = known ? wanted_layer_ : pick_default_layer(s);
  if (layer != layer_) {
    layer_ = layer;
    selected_ = pending_select_;
    graph_ = {};
    ++version_;
  }
  pending_select_ = -1;
  const std::string request = request_key(s);
  const std::string model = s.model().hash + "|" + request + "|" + layer_;
  const std::string input = fnv1a64_hex(reinterpret_cast<const uint8_t*>(r.input.f.data()), r.input.f.size() * sizeof(float)) +
                            shape_str(r.input.shape);
  const std::string ranking = model + "|" + input + "|" + std::to_string(r.main.target) + "|" + std::to_string(thumbnails_);
  if (ranking != ranking_key_) return refresh_ranking(s, ranking);
  const std::string selection = ranking + "|" + std::to_string(selected_);
  if (selected_ >= 0 && selection != selection_key_) return refresh_selection(s, selection);

  const std::string atlas = model + "|" + preprocess_key(s.preprocess()) + "|" + shape_str(r.input.shape);
  if (atlas != atlas_key_) {
    reset_atlas();
    atlas_key_ = atlas;
  }
  sync_items(s);
  if (atlas_step(s)) return true;
  if (crop_step(s)) return true;
  idle_ = true;
  return false;
}

// ---- ranking and maps --------------------------------------------------------------------------------
bool ConceptBrowser::refresh_ranking(AppState& s, const std::string& key) {
  ranking_key_ = key;   // a failure is not retried until the key changes
  selection_key_.clear();
  const Results& r = s.results();
  const bool ok = attempt(error_, [&] {
    relevance::ExplainRequest req = s.lrp_request();
    req.crp.layer = layer_;
    req.targets = {r.main.target};
    const relevance::ConceptRanking c = s.explainer()->concepts({r.input}, req);
    const int64_t n = c.relevance.shape[1];
    const float* rel = c.relevance.f.data();
    const std::vector<int64_t> order = relevance::rank_channels(rel, n);
    std::vector<RankedConcept> ranked;
    for (int64_t ch : order) ranked.push_back({ch, rel[ch], c.normalized.f[static_cast<size_t>(ch)]});
    // The top channels' conditional maps in one call: one forward pass, one masked sweep per channel.
    req.method = "crp";
    req.crp.joint = false;
    req.crp.channels.assign(order.begin(), order.begin() + std::min(thumbnails_, n));
    relevance::Explanation e = s.explainer()->explain({r.input}, req);
    channels_ = n;
    target_ = r.main.target;
    ranking_ = std::move(ranked);
    maps_ = std::move(e.relevance);
    map_channels_ = req.crp.channels;
    selected_map_ = Tensor{};
    if (selected_ >= n) selected_ = -1;
    error_.clear();
    ++computations_;
  });
  ++maps_version_;
  (void)ok;   // work was done either way; a failure is in error_
  ++version_;
  return true;
}

Tensor ConceptBrowser::map_of(int64_t channel) const {
  const auto it = std::find(map_channels_.begin(), map_channels_.end(), channel);
  if (it == map_channels_.end()) return channel == selected_ ? selected_map_ : Tensor{};
  const int64_t k = it - map_channels_.begin(), per = maps_.numel() / static_cast<int64_t>(map_channels_.size());
  Shape shape = {1};
  shape.insert(shape.end(), maps_.shape.begin() + 2, maps_.shape.end());
  return Tensor::from_floats(shape, std::vector<float>(maps_.f.begin() + k * per, maps_.f.begin() + (k + 1) * per));
}

// ---- selection ---------------------------------------------------------------------------------------
bool ConceptBrowser::refresh_selection(AppState& s, const std::string& key) {
  selection_key_ = key;
  const Results& r = s.results();
  attempt(error_, [&] {
    relevance::ExplainRequest req = s.lrp_request();
    req.crp.layer = layer_;
    req.targets = {target_};
    graph_ = relevance::attribution_graph(*s.explainer(), {r.input}, req, layer_, selected_, 2, 3);
    selected_map_ = Tensor{};
    if (std::find(map_channels_.begin(), map_channels_.end(), selected_) == map_channels_.end()) {
      req.method = "crp";
      req.crp.joint = true;
      req.crp.channels = {selected_};
      selected_map_ = s.explainer()->explain({r.input}, req).relevance;
    }
  });
  rebuild_references();
  ++version_;
  ++maps_version_;
  return true;
}

}  // namespace relscope::app
