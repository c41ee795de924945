// relscope/app/core/concept_browser.cpp — the concept browser's work, one unit per step (see the header).
//
// Sections: helpers | choices | step | ranking and maps | selection | jobs
// (the atlas and its reference crops: concept_browser_atlas.cpp; the JSON snapshot: concept_browser_json.cpp)
#include "app/core/concept_browser.h"

#include <algorithm>
#include <cstdlib>

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
  if (ranking != ranking_key_) return refresh_ranking(s, ranking);   // (supersedes a job handed out)
  const std::string selection = ranking + "|" + std::to_string(selected_);
  const bool ranking_out = waiting() && pending_.kind == ConceptJob::Kind::Ranking;   // the selection needs it
  if (selected_ >= 0 && selection != selection_key_ && !ranking_out) return refresh_selection(s, selection);

  const std::string atlas = model + "|" + preprocess_key(s.preprocess()) + "|" + shape_str(r.input.shape);
  if (atlas != atlas_key_) {
    reset_atlas();
    atlas_key_ = atlas;
  }
  sync_items(s);
  if (atlas_step(s)) return true;
  if (crop_step(s)) return true;
  idle_ = !waiting();
  return false;
}

// ---- ranking and maps --------------------------------------------------------------------------------
bool ConceptBrowser::refresh_ranking(AppState& s, const std::string& key) {
  ranking_key_ = key;   // a failure is not retried until the key changes
  selection_key_.clear();
  ConceptJob job = new_job(s, ConceptJob::Kind::Ranking, key);
  job.values["target"] = std::to_string(s.results().main.target);
  job.thumbnails = thumbnails_;
  return dispatch(s, std::move(job));
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
  ConceptJob job = new_job(s, ConceptJob::Kind::Selection, key);
  job.values["target"] = std::to_string(target_);
  job.channel = selected_;
  job.need_map = std::find(map_channels_.begin(), map_channels_.end(), selected_) == map_channels_.end();
  return dispatch(s, std::move(job));
}

// ---- jobs ----------------------------------------------------------------------------------------------
ConceptJob ConceptBrowser::new_job(const AppState& s, ConceptJob::Kind kind, std::string key) const {
  ConceptJob job;
  job.kind = kind;
  job.key = std::move(key);
  job.values = s.lrp_request_values();   // no target: each kind sets its own, or none
  job.values["layer"] = layer_;
  return job;
}

ConceptAnswer run_concept_job(AppState& s, const ConceptJob& job) {
  relevance::Explainer* ex = s.explainer();
  if (!ex) fail_input("no model: open an .onnx file");
  const Tensor& x = s.results().input;
  relevance::ExplainRequest req = s.parse_request_values(job.values);
  ConceptAnswer a;
  if (job.kind == ConceptJob::Kind::Ranking) {
    relevance::ConceptRanking c = ex->concepts({x}, req);
    const int64_t n = c.relevance.shape[1];
    const std::vector<int64_t> order = relevance::rank_channels(c.relevance.f.data(), n);
    // The top channels' conditional maps in one call: one forward pass, one masked sweep per channel.
    req.method = "crp";
    req.crp.joint = false;
    req.crp.channels.assign(order.begin(), order.begin() + std::min(std::max<int64_t>(job.thumbnails, 1), n));
    a.maps = ex->explain({x}, req).relevance;
    a.map_channels = req.crp.channels;
    a.relevance = std::move(c.relevance);
    a.normalized = std::move(c.normalized);
  } else if (job.kind == ConceptJob::Kind::AtlasSample) {
    a.layer = relevance::layer_sample(*ex, job.input, req);   // target: the sample's own prediction
  } else {
    a.graph = relevance::attribution_graph(*ex, {x}, req, req.crp.layer, job.channel, 2, 3);
    if (job.need_map) {
      req.method = "crp";
      req.crp.joint = true;
      req.crp.channels = {job.channel};
      a.selected_map = ex->explain({x}, req).relevance;
    }
  }
  return a;
}

bool ConceptBrowser::dispatch(AppState& s, ConceptJob job) {
  if (offloader_ && job.key != run_here_key_ && offloader_(job)) {
    pending_ = std::move(job);
    return true;
  }
  run_here_key_.clear();
  pending_ = ConceptJob{};   // whatever was handed out before is superseded by this unit
  ConceptAnswer answer;
  if (attempt(error_, [&] { answer = run_concept_job(s, job); })) {
    apply(job, std::move(answer));
  } else {   // the previous results stay, with the error
    if (job.kind == ConceptJob::Kind::Selection) rebuild_references();
    ++maps_version_;
    ++version_;
  }
  return true;
}

void ConceptBrowser::deliver(const std::string& key, ConceptAnswer answer) {
  if (!key.empty() && key == atlas_pending_.key) {
    atlas_pending_ = ConceptJob{};
    ++delivered_;
    atlas_advance(attempt(error_, [&] { atlas_add(answer.layer); }));   // (an answer of the wrong shape: skipped)
    return;
  }
  if (key.empty() || key != pending_.key) return;   // superseded, or never asked
  const ConceptJob job = std::move(pending_);
  pending_ = ConceptJob{};
  ++delivered_;
  apply(job, std::move(answer));
}

void ConceptBrowser::job_failed(const std::string& key, bool cancelled) {
  if (!key.empty() && key == atlas_pending_.key) {   // the same sample is handed out again, or runs here
    atlas_pending_ = ConceptJob{};
    if (!cancelled) atlas_run_here_key_ = key;
    return;
  }
  if (key.empty() || key != pending_.key) return;
  const bool ranking = pending_.kind == ConceptJob::Kind::Ranking;
  pending_ = ConceptJob{};
  if (!cancelled) run_here_key_ = key;
  (ranking ? ranking_key_ : selection_key_).clear();   // asked again at the next step
}

void ConceptBrowser::apply(const ConceptJob& job, ConceptAnswer a) {
  const bool ok = attempt(error_, [&] {
    if (job.kind == ConceptJob::Kind::Ranking) {
      if (a.relevance.shape.size() != 2 || a.relevance.shape[0] != 1 || a.normalized.shape != a.relevance.shape ||
          a.map_channels.empty() || a.maps.shape.size() < 2 || a.maps.shape[1] != static_cast<int64_t>(a.map_channels.size()))
        fail(ErrorKind::Internal, "concept browser: a ranking answer of the wrong shape");
      const int64_t n = a.relevance.shape[1];
      std::vector<RankedConcept> ranked;
      for (int64_t ch : relevance::rank_channels(a.relevance.f.data(), n))
        ranked.push_back({ch, a.relevance.f[static_cast<size_t>(ch)], a.normalized.f[static_cast<size_t>(ch)]});
      channels_ = n;
      target_ = std::atoll(job.values.at("target").c_str());
      ranking_ = std::move(ranked);
      maps_ = std::move(a.maps);
      map_channels_ = std::move(a.map_channels);
      selected_map_ = Tensor{};
      if (selected_ >= n) selected_ = -1;
      ++computations_;
    } else {
      graph_ = std::move(a.graph);
      selected_map_ = job.need_map ? std::move(a.selected_map) : Tensor{};
    }
    error_.clear();
  });
  (void)ok;   // a failure is in error_
  if (job.kind == ConceptJob::Kind::Selection) rebuild_references();
  ++maps_version_;
  ++version_;
}

}  // namespace relscope::app
