// relscope/app/core/concept_browser.h — the canvas' concept browser (CRP): a layer's channels ranked for the
// current input, their conditional heatmaps, the selected channel's attribution graph, and an atlas of
// reference samples computed in the page over the sample set.
//
// Sections: results | jobs for another thread | ConceptBrowser
// (implemented in concept_browser.cpp: ranking, maps, selection; concept_browser_atlas.cpp: the atlas and
// its crops; concept_browser_json.cpp: the page snapshot)
//
// Pure C++ (no ImGui, no GL), unit-tested natively (tests/unit/test_concept_browser.cpp). The front end
// (src/app/app_concepts.cpp) draws it and calls step() once per frame while the browser is open: every step
// does at most one unit of work (the ranking with its maps, one attribution graph, one atlas sample, or one
// reference crop), so the page stays responsive and the atlas shows its progress. Everything is cached on
// what it depends on (model, input, target, composite and parameters, layer): reopening or redrawing costs
// nothing, and a changed input recomputes the ranking but keeps the atlas, which does not depend on it.
// Failures become `error` (the previous results stay) and are not retried until something they depend on
// changes.
//
// The large units — the ranking with its maps (one LRP sweep, then a CRP sweep per map), a selection
// (attribution graph, map) and each atlas sample (an LRP sweep) — are up to seconds of wasm on a large
// model, too long for a frame. With an offloader set (the canvas: app_concepts_offload.cpp hands them to the
// page's worker, which runs them through the JS API's concepts/explain/attributionGraph/conceptMaps) they
// become jobs: step() hands them out (at most one ranking-or-selection and one atlas sample at a time: the
// atlas waits for its sample's answer, so samples join in order), deliver() applies an answer, a failed job
// runs here at the next step (a cancelled one is asked again). run_concept_job() is what runs here, and what
// a job means. Reference crops (one sweep each, after the atlas) stay in step().
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/core/app_state.h"
#include "relevance/atlas.h"
#include "relevance/attribution.h"

namespace relscope::app {

// ---- results -----------------------------------------------------------------------------------------
struct RankedConcept {
  int64_t channel = 0;
  float relevance = 0;   // the channel's relevance sum at the layer (Explainer::concepts)
  float share = 0;       // relevance / the layer's total |R| (Explainer::concepts' normalized)
};

// One reference sample of the selected channel (RelMax or ActMax entry) and its receptive-field crop.
struct ConceptReference {
  int64_t sample = 0;    // atlas sample id
  std::string name;      // the item's name, with "[row]" for a sample of a batch
  float value = 0;
  int64_t position = 0;  // the unit (row-major over the layer's position dims)
  bool cut = false;      // crop computed (it may still be empty: a non-image input)
  relevance::Box box;    // in the sample's pixels
  Image crop;            // the sample as the model saw it, cut to the unit's footprint
};

struct AtlasStatus {
  int64_t done = 0, total = 0;   // samples fed / known so far
  int64_t skipped = 0;           // items that do not fit the model (a table for an image model)
  bool complete() const { return total > 0 && done == total; }
};

// ---- jobs for another thread ----------------------------------------------------------------------------
struct ConceptJob {
  enum class Kind { Ranking, Selection, AtlasSample };
  Kind kind = Kind::Ranking;
  std::string key;                              // what the answer is for: a stale one is dropped
  std::map<std::string, std::string> values;    // the LRP request (JS API names) with layer and target
  int64_t thumbnails = 0;                       // ranking: maps for the top `thumbnails` channels
  int64_t channel = -1;                         // selection: the channel (attribution graph: depth 2, top 3)
  bool need_map = false;                        // selection: its map too (it is not among the thumbnails)
  Tensor input;                                 // atlas sample: the sample (empty shape: the canvas' current input)
};

struct ConceptAnswer {
  Tensor relevance, normalized;                 // ranking: (1, C) channel sums and shares (Explainer::concepts)
  Tensor maps;                                  // ranking: (1, K, input dims), CRP maps of `map_channels`
  std::vector<int64_t> map_channels;            // the top K channels (relevance::rank_channels order)
  relevance::AttributionGraph graph;            // selection
  Tensor selected_map;                          // selection, when need_map: (1, input dims...)
  relevance::LayerSample layer;                 // atlas sample: relevance and activation at the layer
};

// Runs `job` with the state's engine on its current input: what the worker does through the JS API.
ConceptAnswer run_concept_job(AppState& s, const ConceptJob& job);

// ---- ConceptBrowser ----------------------------------------------------------------------------------
class ConceptBrowser {
 public:
  static constexpr int64_t kAtlasTop = 8;   // reference samples per channel (RelMax and ActMax each)

  // ---- choices (take effect at the next step) ----
  // "" or unknown: the last convolution (else the last layer); `then_select`: the channel selected once the
  // layer is in place (the attribution tree's nodes lead to other layers).
  void set_layer(const std::string& layer, int64_t then_select = -1);
  void select(int64_t channel);               // -1: none
  void set_thumbnails(int64_t n);             // conditional maps for the top n channels (>= 1)
  // Where large units run: the offloader takes a job (true: its answer comes through deliver() or
  // job_failed()) or declines (false: it runs here). Unset: everything runs in step().
  using Offloader = std::function<bool(const ConceptJob&)>;
  void set_offloader(Offloader offloader) { offloader_ = std::move(offloader); }
  // The answer to the job handed out with `key` (anything else is stale and dropped).
  void deliver(const std::string& key, ConceptAnswer answer);
  // The job with `key` did not run there: cancelled (asked again at the next step) or failed (runs here).
  void job_failed(const std::string& key, bool cancelled);
  bool waiting() const { return !pending_.key.empty() || !atlas_pending_.key.empty(); }
  int64_t delivered() const { return delivered_; }   // answers that came through deliver()

  // One unit of work for the state's current model, input and settings. False when there was nothing to
  // do (up to date, or no valid results to work on yet).
  bool step(AppState& state);

  // ---- read access ----
  const std::string& layer() const { return layer_; }
  const std::vector<std::string>& layers() const { return layers_; }
  int64_t channels() const { return channels_; }
  int64_t target() const { return target_; }
  const std::vector<RankedConcept>& ranking() const { return ranking_; }
  int64_t thumbnails() const { return thumbnails_; }
  // Conditional maps, (1, K, input dims...) as Explainer::explain(crp) returns them, for map_channels().
  const Tensor& maps() const { return maps_; }
  const std::vector<int64_t>& map_channels() const { return map_channels_; }
  // Channel c's conditional map with the input's shape; empty when not computed.
  Tensor map_of(int64_t channel) const;
  int64_t selected() const { return selected_; }
  const relevance::AttributionGraph& graph() const { return graph_; }
  const relevance::ConceptAtlas* atlas() const { return atlas_.get(); }
  AtlasStatus atlas_status() const;
  std::vector<std::string> atlas_sample_names() const;   // by sample id
  const std::vector<ConceptReference>& references(bool actmax) const { return actmax ? actmax_refs_ : relmax_refs_; }
  const std::string& error() const { return error_; }
  int64_t computations() const { return computations_; }   // rankings computed (cache tests)
  // Bumped whenever something drawn changes (the front end re-uploads its textures); maps_version() only
  // when the conditional maps or the selected map change (the atlas' steps leave them).
  int64_t version() const { return version_; }
  int64_t maps_version() const { return maps_version_; }
  bool idle() const { return idle_; }
  std::string snapshot_json() const;

 private:
  struct Item {          // one data-set file: a bundled sample or an opened input
    bool opened = false;
    size_t index = 0;    // into AppState::samples() or opened_inputs()
    std::string name;
    int64_t first_id = 0, count = -1;   // count: known once loaded
  };
  struct SampleRef {
    size_t item = 0;
    int64_t row = 0, target = 0;
  };

  std::string pick_default_layer(const AppState& s) const;
  bool refresh_ranking(AppState& s, const std::string& key);
  bool refresh_selection(AppState& s, const std::string& key);
  ConceptJob new_job(const AppState& s, ConceptJob::Kind kind, std::string key) const;   // LRP request + layer
  bool dispatch(AppState& s, ConceptJob job);   // offloaded or run here
  void apply(const ConceptJob& job, ConceptAnswer answer);
  void sync_items(const AppState& s);
  std::vector<Tensor> item_tensors(const AppState& s, const Item& item) const;
  bool atlas_step(AppState& s);
  void atlas_add(const relevance::LayerSample& sample);   // the sample at (next_item_, next_row_)
  void atlas_advance(bool added);                         // past it (past its file when it was refused)
  bool crop_step(AppState& s);
  void rebuild_references();
  void reset_atlas();

  // choices
  std::string layer_, wanted_layer_;
  int64_t selected_ = -1, pending_select_ = -1, thumbnails_ = 16;
  // ranking, maps (cache key: model, input, target, request, layer, thumbnails)
  std::vector<std::string> layers_;
  std::string ranking_key_, selection_key_;
  int64_t channels_ = 0, target_ = 0;
  std::vector<RankedConcept> ranking_;
  Tensor maps_;
  std::vector<int64_t> map_channels_;
  Tensor selected_map_;   // the selected channel's map when it is not among the thumbnails
  relevance::AttributionGraph graph_;
  // atlas (cache key: model, layer, request, preprocessing; grows with the data set)
  std::string atlas_key_;
  std::vector<Item> items_;
  size_t seen_samples_ = 0, seen_opened_ = 0;
  std::vector<uint64_t> item_hashes_;   // duplicates (a bundled sample opened again) are left out
  size_t next_item_ = 0;
  int64_t next_row_ = 0, skipped_ = 0;
  std::vector<Tensor> loaded_;          // the item being fed (one at a time: bounded memory)
  size_t loaded_item_ = static_cast<size_t>(-1);
  std::vector<SampleRef> samples_;
  std::unique_ptr<relevance::ConceptAtlas> atlas_;
  std::vector<ConceptReference> relmax_refs_, actmax_refs_;
  std::map<std::pair<int64_t, int64_t>, ConceptReference> crops_;   // (sample, position) -> crop, selected channel
  std::string crops_key_;
  std::string error_;
  // jobs: the one handed out, and the key of one that failed there (it runs here)
  Offloader offloader_;
  ConceptJob pending_, atlas_pending_;          // ranking or selection; an atlas sample (one of each at most)
  std::string run_here_key_, atlas_run_here_key_;
  int64_t delivered_ = 0;
  int64_t computations_ = 0, version_ = 0, maps_version_ = 0;
  bool idle_ = true;
};

}  // namespace relscope::app
