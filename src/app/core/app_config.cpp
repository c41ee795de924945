// relscope/app/core/app_config.cpp — what configures a model's input: preprocess.json, the model's
// declared layout, per-model memory, and .csv tables (see app_state.h).
//
// Sections: .csv | preprocessing
#include <algorithm>
#include <sstream>

#include "app/core/app_state.h"
#include "app/core/json.h"
#include "core/error.h"
#include "io/csv.h"

namespace relscope::app {

// ---- .csv --------------------------------------------------------------------------------------------
// The engine's strict reader (io/csv.h): the CLI, the JS API and the canvas refuse the same cells alike.
Table parse_csv(const std::string& text, const std::string& label) {
  CsvTable t = read_csv(text, label, Limits{});
  return Table{std::move(t.header), std::move(t.rows)};
}

// ---- preprocessing -----------------------------------------------------------------------------------
void AppState::load_preprocess_json(const std::string& text, const std::string& label) {
  const Json root = parse_json(text, label);
  if (!root.is_object()) fail_input(label + ": expected a JSON object");
  // Accept the fields at the top level or inside "preprocess" / "image".
  const Json* p = root.get("preprocess") ? root.get("preprocess") : root.get("image") ? root.get("image") : &root;
  if (!p->is_object()) fail_input(label + ": 'preprocess' must be an object");
  ImagePreprocess pre;
  auto num = [&](const char* key, double fallback) {
    const Json* v = p->get(key);
    if (!v) v = root.get(key);
    if (!v) return fallback;
    if (!v->is_number()) fail_input(label + ": '" + key + "' must be a number");
    return v->num;
  };
  auto list = [&](const char* key) {
    std::vector<float> out;
    const Json* v = p->get(key);
    if (!v) v = root.get(key);
    if (!v) return out;
    if (v->is_number()) return std::vector<float>{static_cast<float>(v->num)};
    if (!v->is_array()) fail_input(label + ": '" + key + "' must be a number or a list of numbers");
    for (const auto& x : v->items) {
      if (!x.is_number()) fail_input(label + ": '" + key + "' must be a list of numbers");
      out.push_back(static_cast<float>(x.num));
    }
    return out;
  };
  pre.height = static_cast<int64_t>(num("height", 0));
  pre.width = static_cast<int64_t>(num("width", 0));
  if (const Json* size = p->get("size"); size && size->is_array() && size->items.size() == 2) {
    pre.height = static_cast<int64_t>(size->items[0].num);
    pre.width = static_cast<int64_t>(size->items[1].num);
  }
  pre.channels = static_cast<int64_t>(num("channels", 0));
  pre.scale = static_cast<float>(num("scale", 1.0 / 255));
  pre.mean = list("mean");
  pre.std = list("std");
  if (const Json* v = p->get("channels_last"); v && v->type == Json::Type::Bool) pre.channels_last = v->b;
  if (const Json* v = p->get("layout"); v && v->is_string()) pre.channels_last = v->str == "NHWC" || v->str == "nhwc";
  if (const Json* v = p->get("bgr"); v && v->type == Json::Type::Bool) pre.bgr = v->b;
  if (pre.channels != 0 && pre.channels != 1 && pre.channels != 3) fail_input(label + ": 'channels' must be 1 or 3");
  for (float s : pre.std)
    if (s == 0) fail_input(label + ": 'std' has a zero");

  preset_ = pre;
  has_preset_ = true;
  preset_fresh_ = true;
  preset_model_.clear();
  if (const Json* m = root.get("model"); m && m->is_string()) preset_model_ = m->str;
  if (const Json* c = root.get("composite"); c && c->is_string()) settings.composite = c->str;
  if (const Json* m = root.get("method"); m && m->is_string()) settings.method = m->str;
  if (has_model() && (preset_model_.empty() || preset_model_ == model_desc_.label)) {
    remembered_.erase(model_desc_.hash);
    apply_model_layout();
  }
  dirty_ = true;
}

void AppState::remember_preprocess() {
  if (!model_desc_.hash.empty()) remembered_[model_desc_.hash] = preprocess_;
}

// The model's declared input fixes layout and size where it declares them; a preset (preprocess.json)
// supplies scale/mean/std when its channel count fits; a remembered setting for this model wins.
void AppState::apply_model_layout() {
  if (const auto it = remembered_.find(model_desc_.hash); it != remembered_.end()) {
    preprocess_ = it->second;
    return;
  }
  ImagePreprocess pre;
  bool image_like = false;
  const Graph& g = session_->graph();
  const Value& in = g.values[g.inputs[0]];
  if (in.declared.has_shape) {
    Shape declared;
    for (const auto& d : in.declared.dims) declared.push_back(d.value >= 0 ? d.value : -1);
    try {
      pre = image_layout_for(declared, g.label + ": input '" + in.name + "'");
      image_like = true;
    } catch (const Error&) {
      // not an image input: arrays and tables only
    }
  }
  const bool preset_applies = has_preset_ && (preset_model_.empty() ? preset_fresh_ : preset_model_ == model_desc_.label);
  preset_fresh_ = false;
  if (preset_applies && (!image_like || preset_.channels == 0 || preset_.channels == pre.channels)) {
    pre.scale = preset_.scale;
    pre.mean = preset_.mean;
    pre.std = preset_.std;
    pre.bgr = preset_.bgr;
    if (!image_like) {
      pre.channels = preset_.channels ? preset_.channels : pre.channels;
      pre.channels_last = preset_.channels_last;
    }
    if (pre.height == 0) pre.height = preset_.height;
    if (pre.width == 0) pre.width = preset_.width;
  }
  preprocess_ = pre;
}

}  // namespace relscope::app
