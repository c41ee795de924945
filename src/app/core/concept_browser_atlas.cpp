// relscope/app/core/concept_browser_atlas.cpp — the concept browser's in-page atlas (see concept_browser.h):
// the data set (bundled samples and opened inputs), one sample per step into a ConceptAtlas, and the
// selected channel's reference samples with receptive-field crops, one crop per step.
//
// Sections: helpers | atlas data set | atlas steps | reference crops | read access
#include <algorithm>
#include <cctype>
#include <cstring>

#include "app/core/concept_browser.h"
#include "app/core/concept_browser_detail.h"
#include "app/core/view.h"
#include "core/error.h"
#include "io/npy.h"

namespace relscope::app {

using detail::attempt;

// ---- helpers -----------------------------------------------------------------------------------------
namespace {

// Cuts `box` (rows [top, bottom), columns [left, right)) out of an 8-bit image.
Image cut(const Image& img, const relevance::Box& box) {
  Image out;
  out.width = static_cast<int>(box.right - box.left);
  out.height = static_cast<int>(box.bottom - box.top);
  out.channels = img.channels;
  for (int64_t y = box.top; y < box.bottom; ++y) {
    const auto row = img.pixels.begin() + (y * img.width + box.left) * img.channels;
    out.pixels.insert(out.pixels.end(), row, row + out.width * img.channels);
  }
  return out;
}

}  // namespace

// ---- atlas data set ----------------------------------------------------------------------------------
void ConceptBrowser::reset_atlas() {
  for (Item& it : items_) it.count = -1;
  next_item_ = 0;
  next_row_ = 0;
  skipped_ = 0;
  loaded_.clear();
  loaded_item_ = static_cast<size_t>(-1);
  samples_.clear();
  atlas_.reset();
  crops_.clear();
  crops_key_.clear();
  atlas_pending_ = ConceptJob{};   // an answer for the old atlas is stale
  atlas_run_here_key_.clear();
  rebuild_references();
  ++version_;
}

// New bundled samples and opened inputs join the data set in the order they arrived; a file whose bytes
// are already in it (a bundled sample opened again) is left out, so no sample appears twice.
void ConceptBrowser::sync_items(const AppState& s) {
  auto add = [&](bool opened, size_t index, const Sample& sample) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : sample.bytes) h = (h ^ b) * 0x100000001b3ull;
    if (std::find(item_hashes_.begin(), item_hashes_.end(), h) != item_hashes_.end()) return;
    item_hashes_.push_back(h);
    items_.push_back({opened, index, sample.name});
  };
  for (; seen_samples_ < s.samples().size(); ++seen_samples_) add(false, seen_samples_, s.samples()[seen_samples_]);
  for (; seen_opened_ < s.opened_inputs().size(); ++seen_opened_) add(true, seen_opened_, s.opened_inputs()[seen_opened_]);
}

// The model inputs one file gives (AppState::inputs_of).
std::vector<Tensor> ConceptBrowser::item_tensors(const AppState& s, const Item& item) const {
  return s.inputs_of(item.opened ? s.opened_inputs()[item.index] : s.samples()[item.index]);
}

// ---- atlas steps -------------------------------------------------------------------------------------
// One sample per call: the page draws a frame (and the progress bar) between two samples. With an offloader
// the sample goes out as a job and the atlas waits for its answer (samples join in order).
bool ConceptBrowser::atlas_step(AppState& s) {
  if (next_item_ >= items_.size() || !atlas_pending_.key.empty()) return false;
  Item& item = items_[next_item_];
  if (loaded_item_ != next_item_) {
    std::string why;
    if (!attempt(why, [&] { loaded_ = item_tensors(s, item); })) loaded_.clear();   // does not fit: skipped
    if (loaded_.empty()) ++skipped_;
    loaded_item_ = next_item_;
    item.first_id = static_cast<int64_t>(samples_.size());
    item.count = static_cast<int64_t>(loaded_.size());
  }
  if (next_row_ >= item.count) {   // a file that does not fit the model: nothing to add
    atlas_advance(false);
    return true;
  }
  // No target: every sample on its own prediction.
  ConceptJob job = new_job(s, ConceptJob::Kind::AtlasSample,
                           atlas_key_ + "|" + std::to_string(samples_.size()) + "|" + item.name + "|" + std::to_string(next_row_));
  job.input = loaded_[static_cast<size_t>(next_row_)];
  if (offloader_ && job.key != atlas_run_here_key_ && offloader_(job)) {
    atlas_pending_ = std::move(job);
    return true;
  }
  atlas_run_here_key_.clear();
  ConceptAnswer a;
  const bool ok = attempt(error_, [&] {
    a = run_concept_job(s, job);
    atlas_add(a.layer);
  });
  atlas_advance(ok);   // a sample the explainer refuses: the rest of its file is skipped
  return true;
}

void ConceptBrowser::atlas_add(const relevance::LayerSample& ls) {
  if (!atlas_) atlas_ = std::make_unique<relevance::ConceptAtlas>(ls.relevance.shape[0], kAtlasTop);
  atlas_->add(static_cast<int64_t>(samples_.size()), ls.relevance, ls.activation);
  samples_.push_back({next_item_, next_row_, ls.target});
}

void ConceptBrowser::atlas_advance(bool added) {
  if (!added) next_row_ = items_[next_item_].count;
  else ++next_row_;
  if (next_row_ >= items_[next_item_].count) {
    ++next_item_;
    next_row_ = 0;
    loaded_.clear();
    loaded_item_ = static_cast<size_t>(-1);
  }
  rebuild_references();
  ++version_;
}

// ---- reference crops ---------------------------------------------------------------------------------
// Once the atlas is complete: the selected channel's reference samples cut to the footprint of their
// unit (Explainer::unit_maps), one crop per call.
bool ConceptBrowser::crop_step(AppState& s) {
  if (!atlas_ || !atlas_status().complete() || selected_ < 0 || selected_ >= atlas_->channels()) return false;
  const std::string key = atlas_key_ + "|" + std::to_string(selected_);
  if (key != crops_key_) {
    crops_.clear();
    crops_key_ = key;
    rebuild_references();
  }
  for (auto* list : {&relmax_refs_, &actmax_refs_})
    for (ConceptReference& ref : *list) {
      if (ref.cut) continue;
      const SampleRef& sr = samples_[static_cast<size_t>(ref.sample)];
      const Item& item = items_[sr.item];
      attempt(error_, [&] {
        const Tensor x = item_tensors(s, item)[static_cast<size_t>(sr.row)];
        const Sample& file = item.opened ? s.opened_inputs()[item.index] : s.samples()[item.index];
        const bool from_image = looks_like_image(file.bytes.data(), file.bytes.size());
        const Image view = model_view(x, s.preprocess(), from_image);
        if (view.pixels.empty()) return;   // not an image: the reference is its name and value
        relevance::Box box;
        if (x.shape.size() == 4) {
          relevance::ExplainRequest req = s.lrp_request();
          req.crp.layer = layer_;
          req.targets = {sr.target};   // the target the sample was ranked on
          const auto maps = s.explainer()->unit_maps({x}, req, {{selected_, ref.position}});
          const bool last = from_image ? s.preprocess().channels_last : (x.shape[3] <= 4 && x.shape[1] > 4);
          box = relevance::footprint_box(maps[0], last);
        }
        if (box.empty()) box = {0, 0, view.height, view.width};   // no footprint: the whole sample
        ref.box = box;
        ref.crop = cut(view, box);
      });
      ref.cut = true;   // also after a failure: not retried
      crops_[{ref.sample, ref.position}] = ref;
      rebuild_references();
      ++version_;
      return true;
    }
  return false;
}

void ConceptBrowser::rebuild_references() {
  relmax_refs_.clear();
  actmax_refs_.clear();
  if (!atlas_ || selected_ < 0 || selected_ >= atlas_->channels()) return;
  const auto names = atlas_sample_names();
  for (int act = 0; act < 2; ++act)
    for (const auto& e : act ? atlas_->actmax(selected_) : atlas_->relmax(selected_)) {
      ConceptReference ref;
      const auto it = crops_.find({e.sample, e.position});
      if (it != crops_.end()) ref = it->second;
      ref.sample = e.sample;
      ref.name = names[static_cast<size_t>(e.sample)];
      ref.value = e.value;
      ref.position = e.position;
      (act ? actmax_refs_ : relmax_refs_).push_back(std::move(ref));
    }
}

// ---- read access -------------------------------------------------------------------------------------
AtlasStatus ConceptBrowser::atlas_status() const {
  AtlasStatus st;
  st.done = static_cast<int64_t>(samples_.size());
  st.skipped = skipped_;
  st.total = st.done;
  for (size_t k = next_item_; k < items_.size(); ++k) {
    const Item& it = items_[k];
    if (k == loaded_item_) st.total += it.count - next_row_;
    else st.total += it.count >= 0 ? it.count : 1;   // not read yet: one sample (an image) until it is
  }
  return st;
}

std::vector<std::string> ConceptBrowser::atlas_sample_names() const {
  std::vector<std::string> names;
  for (const SampleRef& sr : samples_) {
    const Item& it = items_[sr.item];
    names.push_back(it.count > 1 ? it.name + "[" + std::to_string(sr.row) + "]" : it.name);
  }
  return names;
}
}  // namespace relscope::app
