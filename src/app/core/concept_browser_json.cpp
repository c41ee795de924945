// relscope/app/core/concept_browser_json.cpp — the concept browser's state as JSON for the page and its
// tests (relscopeAppState().concepts): ranking, maps, attribution graph, atlas progress and lists.
//
// Lists are capped (256 ranked channels, 64 channels of atlas lists, 256 sample names) so that a wide layer
// cannot make every published snapshot large.
#include "app/core/concept_browser.h"
#include "app/core/json.h"

namespace relscope::app {

namespace {

void write_reference(JsonWriter& w, const ConceptReference& r) {
  w.begin_object().key("sample").value(static_cast<long long>(r.sample)).key("name").value(r.name);
  w.key("value").value(static_cast<double>(r.value)).key("position").value(static_cast<long long>(r.position));
  w.key("cut").value(r.cut);
  if (r.cut && !r.crop.pixels.empty()) {
    w.key("box").begin_array().value(static_cast<long long>(r.box.top)).value(static_cast<long long>(r.box.left));
    w.value(static_cast<long long>(r.box.bottom)).value(static_cast<long long>(r.box.right)).end_array();
    w.key("crop").begin_array().value(r.crop.width).value(r.crop.height).end_array();
  }
  w.end_object();
}

}  // namespace

std::string ConceptBrowser::snapshot_json() const {
  JsonWriter w;
  w.begin_object();
  w.key("layer").value(layer_);
  w.key("layers").begin_array();
  for (const auto& l : layers_) w.value(l);
  w.end_array();
  w.key("channels").value(static_cast<long long>(channels_));
  w.key("target").value(static_cast<long long>(target_));
  w.key("thumbnails").value(static_cast<long long>(thumbnails_));
  w.key("selected").value(static_cast<long long>(selected_));
  w.key("computations").value(static_cast<long long>(computations_));
  w.key("idle").value(idle_);
  w.key("waiting").value(waiting());
  w.key("delivered").value(static_cast<long long>(delivered_));
  w.key("error").value(error_);
  w.key("ranking").begin_array();
  for (size_t k = 0; k < ranking_.size() && k < 256; ++k)
    w.begin_object().key("channel").value(static_cast<long long>(ranking_[k].channel))
        .key("relevance").value(static_cast<double>(ranking_[k].relevance))
        .key("share").value(static_cast<double>(ranking_[k].share)).end_object();
  w.end_array();
  w.key("mapChannels").begin_array();
  for (int64_t c : map_channels_) w.value(static_cast<long long>(c));
  w.end_array();
  w.key("mapsShape").begin_array();
  for (int64_t d : maps_.shape) w.value(static_cast<long long>(d));
  w.end_array();
  w.key("graph").begin_array();
  for (const auto& n : graph_.nodes)
    w.begin_object().key("layer").value(n.layer).key("channel").value(static_cast<long long>(n.channel))
        .key("relevance").value(static_cast<double>(n.relevance)).key("parent").value(n.parent)
        .key("depth").value(n.depth).end_object();
  w.end_array();

  const AtlasStatus st = atlas_status();
  w.key("atlas").begin_object();
  w.key("done").value(static_cast<long long>(st.done)).key("total").value(static_cast<long long>(st.total));
  w.key("skipped").value(static_cast<long long>(st.skipped)).key("complete").value(st.complete());
  w.key("k").value(static_cast<long long>(kAtlasTop));
  const auto names = atlas_sample_names();
  w.key("samples").begin_array();
  for (size_t k = 0; k < names.size() && k < 256; ++k) w.value(names[k]);
  w.end_array();
  for (int act = 0; act < 2; ++act) {
    w.key(act ? "actmax" : "relmax").begin_array();   // per channel: [[sample, value], ...] best first
    for (int64_t c = 0; atlas_ && c < atlas_->channels() && c < 64; ++c) {
      w.begin_array();
      for (const auto& e : act ? atlas_->actmax(c) : atlas_->relmax(c))
        w.begin_array().value(static_cast<long long>(e.sample)).value(static_cast<double>(e.value)).end_array();
      w.end_array();
    }
    w.end_array();
  }
  w.end_object();

  w.key("references").begin_object();
  for (int act = 0; act < 2; ++act) {
    w.key(act ? "actmax" : "relmax").begin_array();
    for (const auto& r : references(act == 1)) write_reference(w, r);
    w.end_array();
  }
  w.end_object();
  w.end_object();
  return w.str();
}

}  // namespace relscope::app
