// relscope/app/app_concepts_offload.cpp — the concept browser's large units in the page's worker.
//
// Sections: page bridge (EM_JS) | handing a job out | answers from the page (exported C functions)
//
// Why: the browser's ranking is an LRP sweep plus a CRP sweep per map, and a selection an attribution graph
// (a conditional sweep per node): on a large model seconds of wasm, which on the page's thread would freeze
// the canvas. ConceptBrowser (app/core/concept_browser.h) hands them out as ConceptJobs through the offloader
// installed here; web/app.mjs runs them in the explanations' worker through the JS API (concepts, explain with
// method crp, attributionGraph) and answers through the functions below. The worker holds a model only after
// the page loaded it there: the model's bytes go with a job when it may not (as with explanations), and the
// page refuses a job for a model it does not hold, which then runs here.
#include <emscripten.h>

#include <cstdint>
#include <string>
#include <vector>

#include "app/app.h"
#include "app/core/json.h"
#include "core/error.h"

// ---- page bridge (EM_JS) -----------------------------------------------------------------------------
// clang-format off
EM_JS(int, relscope_js_can_offload_concepts, (), {
  return typeof Module['relscopeConceptsInWorker'] === 'function' ? 1 : 0;
});

// One job: its key, kind (0 ranking, 1 selection, 2 atlas sample), the model's bytes when the worker may not hold it
// (model_len 0 otherwise) with its name and hash, the input (float32 or int64), the request values as a JSON
// object and the job's numbers. The page copies everything before returning.
EM_JS(int, relscope_js_concepts, (const char* key, int kind, const uint8_t* model, int model_len, const char* model_name,
                                  const char* model_hash, const void* input, int count, int is_int64, const char* shape_json,
                                  const char* values_json, int thumbnails, int channel, int need_map), {
  const f = Module['relscopeConceptsInWorker'];
  if (typeof f !== 'function') return 0;
  const bytes = model_len > 0 ? HEAPU8.slice(model, model + model_len) : null;
  const data = is_int64 ? new BigInt64Array(HEAPU8.buffer, input, count).slice()
                        : HEAPF32.slice(input >> 2, (input >> 2) + count);
  f({ key: UTF8ToString(key), kind: ['ranking', 'selection', 'atlas'][kind], thumbnails: thumbnails, channel: channel,
      needMap: need_map !== 0 }, { bytes: bytes, name: UTF8ToString(model_name), hash: UTF8ToString(model_hash) },
    { data: data, shape: JSON.parse(UTF8ToString(shape_json)) }, JSON.parse(UTF8ToString(values_json)));
  return 1;
});
// clang-format on

namespace relscope::app {

// ---- handing a job out -------------------------------------------------------------------------------
// The offloader for the browser: true when the page took the job.
bool offload_concept_job(App& app, const ConceptJob& job) {
  if (!relscope_js_can_offload_concepts()) return false;
  const Tensor& x = job.input.shape.empty() ? app.state.results().input : job.input;   // (an atlas sample: its own)
  const bool int64 = x.dtype == DType::Int64;
  if (!int64 && x.dtype != DType::Float32) return false;
  JsonWriter shape, values;
  shape.begin_array();
  for (int64_t d : x.shape) shape.value(static_cast<long long>(d));
  shape.end_array();
  values.begin_object();
  for (const auto& [k, v] : job.values) values.key(k).value(v);
  values.end_object();
  const std::string& hash = app.state.model().hash;
  const bool send_model = app.offload.worker_model != hash;
  const std::vector<uint8_t>& bytes = app.state.model_bytes();
  app.offload.worker_model = hash;   // loaded before the job runs; a refusal clears this again
  const void* data = int64 ? static_cast<const void*>(x.i.data()) : static_cast<const void*>(x.f.data());
  const int kind = job.kind == ConceptJob::Kind::Ranking ? 0 : job.kind == ConceptJob::Kind::Selection ? 1 : 2;
  return relscope_js_concepts(job.key.c_str(), kind, send_model ? bytes.data() : nullptr,
                              send_model ? static_cast<int>(bytes.size()) : 0, app.state.model().label.c_str(), hash.c_str(),
                              data, static_cast<int>(x.numel()), int64 ? 1 : 0, shape.str().c_str(), values.str().c_str(),
                              static_cast<int>(job.thumbnails), static_cast<int>(job.channel), job.need_map ? 1 : 0) != 0;
}

}  // namespace relscope::app

// ---- answers from the page (exported C functions) ----------------------------------------------------
using relscope::app::App;
using relscope::app::the_app;

namespace {

relscope::Shape shape_of(const char* json, const char* what) {
  relscope::Shape shape;
  for (const auto& d : relscope::app::parse_json(json, what).items) shape.push_back(static_cast<int64_t>(d.num));
  return shape;
}

void answered(App& app) {
  app.textures_dirty = true;
  relscope::app::publish_state(app);
}

}  // namespace

extern "C" {

// Where the page writes an answer's arrays before handing it over: 0 channel sums, 1 shares, 2 maps (a
// ranking); 2 the selected map (a selection); 0 relevance, 1 activation, 2 the explained output (an atlas sample).
EMSCRIPTEN_KEEPALIVE float* relscope_app_concept_buffer(int which, int count) {
  static std::vector<float> buffers[3];
  std::vector<float>& b = buffers[which < 0 || which > 2 ? 0 : which];
  b.assign(static_cast<size_t>(count > 0 ? count : 0), 0.0f);
  return b.data();
}

// A ranking job's answer: C channel sums and shares (buffers 0, 1), the maps (buffer 2, `maps_shape`) of the
// channels listed in `channels_json`.
EMSCRIPTEN_KEEPALIVE void relscope_app_concepts_ranked(const char* key, const float* relevance, const float* shares, int channels,
                                                       const float* maps, int map_count, const char* maps_shape,
                                                       const char* channels_json) {
  App& app = the_app();
  relscope::app::ConceptAnswer a;
  const bool ok = app.state.guard([&] {
    a.relevance = relscope::Tensor::from_floats({1, channels}, std::vector<float>(relevance, relevance + channels));
    a.normalized = relscope::Tensor::from_floats({1, channels}, std::vector<float>(shares, shares + channels));
    a.maps = relscope::Tensor::from_floats(shape_of(maps_shape, "worker maps shape"), std::vector<float>(maps, maps + map_count));
    for (const auto& c : relscope::app::parse_json(channels_json, "worker map channels").items)
      a.map_channels.push_back(static_cast<int64_t>(c.num));
  });
  if (ok) app.concepts.deliver(key, std::move(a));
  else app.concepts.job_failed(key, false);
  answered(app);
}

// A selection job's answer: the attribution graph's nodes as JSON (attributionGraph's), and the selected
// channel's map (buffer 2, `map_shape`; map_count 0 when it was not asked for).
EMSCRIPTEN_KEEPALIVE void relscope_app_concept_selected(const char* key, const char* graph_json, const float* map, int map_count,
                                                        const char* map_shape) {
  App& app = the_app();
  relscope::app::ConceptAnswer a;
  const bool ok = app.state.guard([&] {
    const relscope::app::Json g = relscope::app::parse_json(graph_json, "worker attribution graph");
    auto num = [](const relscope::app::Json& o, const char* k) {
      const relscope::app::Json* v = o.get(k);
      if (!v || !v->is_number()) relscope::fail_input(std::string("worker attribution graph: no number '") + k + "'");
      return v->num;
    };
    a.graph.target = static_cast<int64_t>(num(g, "target"));
    a.graph.output = static_cast<float>(num(g, "output"));
    const relscope::app::Json* nodes = g.get("nodes");
    if (!nodes) relscope::fail_input("worker attribution graph: no nodes");
    for (const auto& n : nodes->items) {
      relscope::relevance::AttributionNode node;
      if (const relscope::app::Json* l = n.get("layer")) node.layer = l->str;
      node.channel = static_cast<int64_t>(num(n, "channel"));
      node.relevance = static_cast<float>(num(n, "relevance"));
      node.parent = static_cast<int>(num(n, "parent"));
      node.depth = static_cast<int>(num(n, "depth"));
      a.graph.nodes.push_back(std::move(node));
    }
    if (map_count > 0)
      a.selected_map = relscope::Tensor::from_floats(shape_of(map_shape, "worker map shape"), std::vector<float>(map, map + map_count));
  });
  if (ok) app.concepts.deliver(key, std::move(a));
  else app.concepts.job_failed(key, false);
  answered(app);
}

// An atlas sample's answer: relevance and activation at the layer's output (buffers 0, 1; `layer_shape`,
// channel axis `axis`), the explained output (buffer 2, `output_count` values) and the target.
EMSCRIPTEN_KEEPALIVE void relscope_app_concept_sampled(const char* key, const float* relevance, const float* activation, int count,
                                                       const char* layer_shape, int axis, const float* output, int output_count,
                                                       double target) {
  App& app = the_app();
  relscope::app::ConceptAnswer a;
  const bool ok = app.state.guard([&] {
    relscope::relevance::ConceptMaps m;
    const relscope::Shape shape = shape_of(layer_shape, "worker layer shape");
    m.relevance = relscope::Tensor::from_floats(shape, std::vector<float>(relevance, relevance + count));
    m.activation = relscope::Tensor::from_floats(shape, std::vector<float>(activation, activation + count));
    m.axis = axis;
    m.output = relscope::Tensor::from_floats({1, output_count}, std::vector<float>(output, output + output_count));
    m.targets = {static_cast<int64_t>(target)};
    a.layer = relscope::relevance::layer_sample_from(m);
  });
  if (ok) app.concepts.deliver(key, std::move(a));
  else app.concepts.job_failed(key, false);
  answered(app);
}

// The job did not run in the worker: cancelled (with the explanation it queued behind: asked again) or
// failed (another model there, an error: it runs on the page's thread at the next step).
EMSCRIPTEN_KEEPALIVE void relscope_app_concept_failed(const char* key, int cancelled) {
  App& app = the_app();
  if (!cancelled) app.offload.worker_model.clear();   // maybe not the model it was thought to hold
  app.concepts.job_failed(key, cancelled != 0);
  answered(app);
}

}  // extern "C"
