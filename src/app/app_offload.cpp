// relscope/app/app_offload.cpp — the canvas' explanations off the page's thread.
//
// Sections: page bridge (EM_JS) | starting | computing here instead | cancelling | results from the page
//           (exported C functions)
//
// Why: an explanation of a large model is seconds of wasm, and on the page's thread the canvas would freeze
// for that long with no way to stop it. The forward pass (one pass, needed for the prediction panel) stays
// here: AppState::begin_compute(). The explanations it asks for go to the page's worker (web/app.mjs:
// createRelscopeWorker(), the same engine built as the JS API), and come back one by one through
// relscope_app_explained(); AppState::finish_compute() then makes them the results. Cancel terminates the
// worker (wasm cannot be interrupted from outside its thread); the heatmap stays the previous one. A worker
// that fails (any error but a cancel) is not trusted with this compute: it runs here instead, so the user
// sees the engine's own message, or the result.
#include <emscripten.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "app/app.h"
#include "app/core/json.h"
#include "core/error.h"

// ---- page bridge (EM_JS) -----------------------------------------------------------------------------
// clang-format off
EM_JS(int, relscope_js_can_offload, (), {
  return typeof Module['relscopeExplainInWorker'] === 'function' ? 1 : 0;
});

// Hands one compute's explanations to the page: the model's bytes when the worker does not hold it yet
// (model_len 0 otherwise), the input tensor (float32 or int64), the requests as JSON (an array of
// relevance::RequestText values), the JS API backend ('auto': WebGPU, else the CPU with the reason;
// 'cpu') and the model's hash (the page notes which model the worker holds). The page copies everything
// before returning.
EM_JS(int, relscope_js_explain, (int job, const uint8_t* model, int model_len, const char* model_name,
                                 const void* input, int count, int is_int64, const char* shape_json,
                                 const char* jobs_json, const char* backend, const char* model_hash), {
  const f = Module['relscopeExplainInWorker'];
  if (typeof f !== 'function') return 0;
  const bytes = model_len > 0 ? HEAPU8.slice(model, model + model_len) : null;
  const data = is_int64 ? new BigInt64Array(HEAPU8.buffer, input, count).slice()
                        : HEAPF32.slice(input >> 2, (input >> 2) + count);
  f(job, bytes, UTF8ToString(model_name), { data: data, shape: JSON.parse(UTF8ToString(shape_json)) },
    JSON.parse(UTF8ToString(jobs_json)), UTF8ToString(backend), UTF8ToString(model_hash));
  return 1;
});

EM_JS(void, relscope_js_cancel_explain, (), {
  if (typeof Module['relscopeCancelExplain'] === 'function') Module['relscopeCancelExplain']();
});
// clang-format on

namespace relscope::app {

// ---- starting ----------------------------------------------------------------------------------------
bool start_offloaded_compute(App& app) {
  if (!relscope_js_can_offload()) return false;
  Offload& o = app.offload;
  AppState::PendingCompute pending;
  if (!app.state.guard([&] { pending = app.state.begin_compute(); })) {
    app.textures_dirty = true;
    return true;
  }
  const Tensor& x = pending.results.input;
  const bool int64 = x.dtype == DType::Int64;
  if (!int64 && x.dtype != DType::Float32) {   // the worker takes float32 and int64 inputs only
    o.pending = std::move(pending);
    compute_here(app, "it takes float32 and int64 inputs only");
    return true;
  }
  JsonWriter shape;
  shape.begin_array();
  for (int64_t d : x.shape) shape.value(static_cast<long long>(d));
  shape.end_array();
  JsonWriter jobs;
  jobs.begin_array();
  for (const auto& j : pending.jobs) {
    jobs.begin_object();
    for (const auto& [k, v] : j.values) jobs.key(k).value(v);
    jobs.end_object();
  }
  jobs.end_array();
  const std::string& hash = app.state.model().hash;
  const bool send_model = o.worker_model != hash;
  const std::vector<uint8_t>& bytes = app.state.model_bytes();
  const int job = o.next_job++;
  o.job = job;
  o.pending = std::move(pending);
  o.got.clear();
  o.got_backend.clear();
  o.got_fallback.clear();
  o.worker_model = hash;   // the page loads it before the first request; a failure clears this again
  const Tensor& in = o.pending.results.input;
  const void* data = int64 ? static_cast<const void*>(in.i.data()) : static_cast<const void*>(in.f.data());
  if (!relscope_js_explain(job, send_model ? bytes.data() : nullptr, send_model ? static_cast<int>(bytes.size()) : 0,
                           app.state.model().label.c_str(), data, static_cast<int>(in.numel()), int64 ? 1 : 0,
                           shape.str().c_str(), jobs.str().c_str(), o.backend == "webgpu" ? "auto" : "cpu", hash.c_str())) {
    o.job = 0;
    compute_here(app, "the page has no worker");
  }
  return true;
}

// ---- computing here instead ---------------------------------------------------------------------------
// The pending compute's explanations, which the worker could not give (any error but a cancel; its model may
// not have loaded), made on this thread with this thread's engine, which reports the same errors the worker
// would have. The forward pass is not repeated.
void compute_here(App& app, const std::string& why) {
  Offload& o = app.offload;
  o.worker_model.clear();   // sent again next time
  o.got.clear();
  if (app.state.dirty()) return;   // stale: the next frame starts the compute that replaces it
  if (app.state.guard([&] { app.state.finish_here(std::move(o.pending)); })) {
    ++app.computes;
    app.state.last_error.clear();
    o.last_in_worker = false;
    o.last_backend = "cpu";
    o.last_fallback = o.backend == "webgpu" ? "the worker: " + why : "";
    app.notice = "explained on the page's thread (the worker: " + why + ")";
  }
  app.textures_dirty = true;
  publish_state(app);
}

// ---- cancelling --------------------------------------------------------------------------------------
void cancel_explanation(App& app, bool quiet) {
  Offload& o = app.offload;
  if (!o.job) return;
  o.job = 0;   // whatever the page reports for it from now on is ignored
  o.got.clear();
  // Superseded (quiet): the worker finishes it unseen and takes the next request after it. Cancelled: the
  // worker is terminated at once, and a fresh one re-loads its files and the model on the next compute.
  if (!quiet) {
    relscope_js_cancel_explain();
    app.notice = "explanation cancelled: the heatmap is the previous one (change a setting to explain again)";
    app.textures_dirty = true;
  }
  publish_state(app);
}

}  // namespace relscope::app

// ---- results from the page (exported C functions) ----------------------------------------------------
using relscope::app::App;
using relscope::app::the_app;

extern "C" {

// The page's WebGPU adapter ("" : none), found while the page loads: with a hardware one the worker explains
// there; a software one (SwiftShader: the GPU emulated on the CPU, far slower than wasm) is offered, not chosen.
EMSCRIPTEN_KEEPALIVE void relscope_app_gpu(const char* adapter, int software) {
  App& app = the_app();
  app.offload.gpu_adapter = adapter;
  app.offload.gpu_software = software != 0;
  app.offload.backend = app.offload.gpu_adapter.empty() || software ? "cpu" : "webgpu";
  relscope::app::publish_state(app);
}

// Where the page writes one explanation's relevance (`count` floats) before relscope_app_explained().
EMSCRIPTEN_KEEPALIVE float* relscope_app_explain_buffer(int count) {
  static std::vector<float> buffer;
  buffer.assign(static_cast<size_t>(count > 0 ? count : 0), 0.0f);
  return buffer.data();
}

// Explanation `index` of `job`: the relevance in the buffer (shape as JSON), the explained target, the
// canonizer notes and the pruning reports (JSON arrays, web/relscope.mjs names), the worker's time, where it
// ran ("webgpu" | "cpu") and, when WebGPU was chosen but could not run it, why.
EMSCRIPTEN_KEEPALIVE void relscope_app_explained(int job, int index, const float* data, int count, const char* shape_json,
                                                 double target, const char* notes_json, const char* pruning_json, double ms,
                                                 const char* backend, const char* fallback) {
  App& app = the_app();
  relscope::app::Offload& o = app.offload;
  if (job != o.job || index != static_cast<int>(o.got.size())) return;   // cancelled or superseded
  // Several explanations (main + compare): on the GPU only if all were; the first reason counts.
  if (o.got_backend.empty() || std::strcmp(backend, "webgpu") != 0) o.got_backend = backend;
  if (o.got_fallback.empty()) o.got_fallback = fallback;
  const bool ok = app.state.guard([&] {
    using relscope::app::Json;
    relscope::relevance::Explanation e;
    relscope::Shape shape;
    for (const auto& d : relscope::app::parse_json(shape_json, "worker shape").items) shape.push_back(static_cast<int64_t>(d.num));
    e.relevance = relscope::Tensor::from_floats(shape, std::vector<float>(data, data + count));
    if (target >= 0) e.targets.push_back(static_cast<int64_t>(target));
    for (const auto& n : relscope::app::parse_json(notes_json, "worker notes").items) e.notes.push_back(n.str);
    for (const auto& p : relscope::app::parse_json(pruning_json, "worker pruning").items) {
      relscope::relevance::LayerPruneReport r;
      auto num = [&](const char* k) { const Json* v = p.get(k); return v && v->is_number() ? v->num : 0.0; };
      if (const Json* n = p.get("node")) r.node = n->str;
      r.zeroed_fraction = num("zeroedFraction");
      r.gini_before = num("giniBefore");
      r.gini_after = num("giniAfter");
      r.kept = num("kept");
      e.pruning.push_back(r);
    }
    o.got.push_back(app.state.explained(o.pending, static_cast<size_t>(index), std::move(e), ms));
  });
  if (!ok) {   // a result this app cannot use: nothing more of this job counts; computed here instead
    o.job = 0;
    relscope::app::compute_here(app, app.state.last_error);
  }
}

// The end of `job`: ok (every explanation delivered) or the worker's message ("cancelled..." after a
// cancel; anything else: the compute runs on this thread instead).
EMSCRIPTEN_KEEPALIVE void relscope_app_explain_done(int job, int ok, const char* message) {
  App& app = the_app();
  relscope::app::Offload& o = app.offload;
  if (job != o.job) return;
  o.job = 0;
  if (app.state.dirty()) {
    // The model, input or a setting changed meanwhile: these results are stale, and the next frame starts
    // the compute that replaces them.
  } else if (ok && o.got.size() == o.pending.jobs.size()) {
    if (app.state.guard([&] { app.state.finish_compute(std::move(o.pending), std::move(o.got)); })) {
      ++app.computes;
      app.state.last_error.clear();
      o.last_in_worker = true;
      o.last_backend = o.got_backend.empty() ? "cpu" : o.got_backend;
      o.last_fallback = o.got_fallback;
    }
  } else if (std::strncmp(message, "cancelled", 9) != 0) {
    relscope::app::compute_here(app, message);
  }
  o.got.clear();
  app.textures_dirty = true;
  relscope::app::publish_state(app);
}

}  // extern "C"
