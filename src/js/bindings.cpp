// relscope/js/bindings.cpp — embind: the js::Api facade as the JS class `Engine` (wrapped by web/relscope.mjs).
//
// Sections: JS value helpers | request conversion | Engine | EMSCRIPTEN_BINDINGS
//
// Every Engine method returns either its result object or {error, kind}: a C++ exception must never
// cross into JS (with -fexceptions it arrives as a bare pointer number, and the message is lost).
// Nothing here is page-specific, so the ImGui app can link the same bindings.
//
// Copies: model bytes and input data are copied into wasm memory once, straight into their final
// storage (a typed_memory_view's set()); results are copied out once into JS-owned typed arrays, since
// a view into wasm memory dies when memory grows or the tensor is freed.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "js/js_api.h"
#include "relevance/composite.h"
#include "relevance/explain.h"
#include "relevance/spray.h"
#include "kernels/webgpu/program.h"
#include "core/limits.h"
#include "kernels/kernels.h"

using emscripten::val;

namespace relscope::js {

namespace {

// ---- JS value helpers ---------------------------------------------------------------------------------
val js_string_array(const std::vector<std::string>& items) {
  val a = val::array();
  for (const auto& s : items) a.call<void>("push", s);
  return a;
}

val js_shape(const Shape& shape) {
  val a = val::array();
  for (int64_t d : shape) a.call<void>("push", static_cast<double>(d));
  return a;
}

// A JS-owned copy: Float32Array for float32, BigInt64Array for int64.
val js_data(const Tensor& t) {
  if (t.dtype == DType::Float32)
    return val::global("Float32Array").new_(emscripten::typed_memory_view(t.f.size(), t.f.data()));
  std::vector<double> d(t.i.begin(), t.i.end());
  val f64 = val::global("Float64Array").new_(emscripten::typed_memory_view(d.size(), d.data()));
  return val::global("BigInt64Array").call<val>("from", f64, val::global("BigInt"));
}

val js_tensor(const std::string& name, const Tensor& t) {
  val o = val::object();
  if (!name.empty()) o.set("name", name);
  o.set("data", js_data(t));
  o.set("shape", js_shape(t.shape));
  o.set("dtype", std::string(dtype_name(t.dtype)));
  return o;
}

val js_value_desc(const ValueDesc& d) {
  val o = val::object();
  o.set("name", d.name);
  if (d.has_shape) {
    val s = val::array();
    for (int64_t v : d.dims) s.call<void>("push", v < 0 ? val::null() : val(static_cast<double>(v)));
    o.set("shape", s);
  } else {
    o.set("shape", val::null());
  }
  o.set("dtype", d.dtype);
  return o;
}

val js_ops(const std::vector<OpDesc>& ops) {
  val a = val::array();
  for (const auto& op : ops) {
    val o = val::object();
    o.set("name", op.name);
    o.set("op", op.op);
    if (op.has_rule) o.set("rule", op.rule);
    a.call<void>("push", o);
  }
  return a;
}

val js_error() {
  const ErrorInfo e = describe_current_exception();
  val o = val::object();
  o.set("error", e.message);
  o.set("kind", e.kind);
  return o;
}

bool has(const val& o, const char* key) { return !o[key].isUndefined() && !o[key].isNull(); }

// An integer option: a JS number >= `least` and at most 2^31 - 1; with `unbounded`, Infinity too (SIZE_MAX).
size_t count_arg(const val& v, const std::string& what, size_t least, bool unbounded = false) {
  const double d = v.isNumber() ? v.as<double>() : -1.0;
  if (unbounded && d == HUGE_VAL) return SIZE_MAX;
  if (!(d >= static_cast<double>(least) && d <= 2147483647.0) || d != std::floor(d))
    fail_input(what + ": expected an integer >= " + std::to_string(least));
  return static_cast<size_t>(d);
}

// One {data, shape} -> a tensor of the model's input `slot`; the values are copied once.
Tensor read_input(Api& api, size_t slot, const val& in) {
  const val data = in["data"], shape = in["shape"];
  if (!shape.isArray()) fail_input("input " + std::to_string(slot) + ": shape must be an array of integers");
  const bool typed = val::global("ArrayBuffer").call<bool>("isView", data);
  if (!typed) fail_input("input " + std::to_string(slot) + ": data must be a typed array (Float32Array)");
  const auto dim = [&](size_t k) {
    const val d = shape[k];
    return d.isNumber() ? d.as<double>() : -1.0;
  };
  Tensor t = api.new_input(slot, shape["length"].as<size_t>(), dim, data["length"].as<size_t>());
  if (t.dtype == DType::Float32) {
    val view(emscripten::typed_memory_view(t.f.size(), t.f.data()));
    // A Float32Array copies straight in; other typed arrays convert element by element in set().
    view.call<void>("set", data);
  } else {   // int64 input: shape-like values, small; BigInt64Array or any numbers
    std::vector<double> d(t.i.size());
    val view(emscripten::typed_memory_view(d.size(), d.data()));
    view.call<void>("set", val::global("Float64Array").call<val>("from", data, val::global("Number")));
    for (size_t k = 0; k < d.size(); ++k) t.i[k] = static_cast<int64_t>(d[k]);
  }
  return t;
}

// inputs: one {data, shape} or an array of them (one per model input).
std::vector<Tensor> read_inputs(Api& api, const val& inputs) {
  std::vector<Tensor> out;
  if (inputs.isArray()) {
    const size_t n = inputs["length"].as<size_t>();
    for (size_t k = 0; k < n; ++k) out.push_back(read_input(api, k, inputs[k]));
  } else {
    out.push_back(read_input(api, 0, inputs));
  }
  return out;
}

// A request's tensors: `inputs` (one per model input) when given, else its own {data, shape}.
std::vector<Tensor> request_inputs(Api& api, const val& req) { return read_inputs(api, has(req, "inputs") ? req["inputs"] : req); }

// cov-lrp: {diag, marg, mean, aleatoric|null, memberOutputs, memberVariances|null (M x N, member-major),
// outputVariance: number[] per sample, members, membersText, explained, aleatoricExplained}
val js_cov(const relevance::CovExplanation& c) {
  val o = val::object(), var = val::array();
  for (double v : c.output_variance) var.call<void>("push", v);
  o.set("diag", js_data(c.diag));
  o.set("marg", js_data(c.marg));
  o.set("mean", js_data(c.mean));
  o.set("aleatoric", c.aleatoric.f.empty() ? val::null() : js_data(c.aleatoric));
  o.set("memberOutputs", js_data(c.member_outputs));
  o.set("memberVariances", c.member_variances.f.empty() ? val::null() : js_data(c.member_variances));
  o.set("outputVariance", var);
  o.set("members", c.members);
  o.set("membersText", c.members_text);
  o.set("explained", c.explained);
  o.set("aleatoricExplained", c.aleatoric_explained);
  return o;
}

// ---- request conversion -------------------------------------------------------------------------------
// JS parameter value -> the text relevance::parse_request reads: numbers, strings and booleans (joint: true)
// as String() writes them, arrays of numbers comma-joined (low/high, target).
std::string param_text(const val& v, const std::string& name) {
  const std::string type = v.typeOf().as<std::string>();
  if (type == "number" || type == "string" || type == "bigint" || type == "boolean") return val::global("String")(v).as<std::string>();
  if (v.isArray()) {
    const size_t n = v["length"].as<size_t>();
    for (size_t k = 0; k < n; ++k)
      if (!v[k].isNumber()) fail_input(name + ": expected an array of numbers");
    return v.call<std::string>("join", std::string(","));
  }
  fail_input(name + ": expected a number, a string, a boolean or an array of numbers, got " + type);
}

// {method, composite, target, output, params: {epsilon, ..., rules: {node: 'zplus'}}} -> RequestText.
// `extra`: more parameter names this call takes in params (faithfulness: the flip options).
relevance::RequestText read_request(const val& req, const std::set<std::string>& extra = {}) {
  relevance::RequestText text;
  for (const char* key : {"method", "composite", "target", "output"})
    if (has(req, key)) text.values[key] = param_text(req[key], key);
  if (!has(req, "params")) return text;
  const val params = req["params"];
  if (params.typeOf().as<std::string>() != "object" || params.isArray()) fail_input("params: expected an object");
  const val keys = val::global("Object").call<val>("keys", params);
  const size_t n = keys["length"].as<size_t>();
  for (size_t k = 0; k < n; ++k) {
    const std::string key = keys[k].as<std::string>();
    const val v = params[key];
    if (v.isUndefined() || v.isNull()) continue;
    if (key == "rules") {
      if (v.typeOf().as<std::string>() != "object" || v.isArray())
        fail_input("rules: expected an object {nodeName: 'zplus' | 'gamma:0.5' | ...}");
      const val nodes = val::global("Object").call<val>("keys", v);
      const size_t m = nodes["length"].as<size_t>();
      for (size_t j = 0; j < m; ++j) {
        const std::string node = nodes[j].as<std::string>();
        const std::string what = "rules['" + node + "']";
        if (!v[node].isString()) fail_input(what + ": expected a rule string ('zplus', 'gamma:0.5', ...)");
        text.rules.push_back({node, v[node].as<std::string>(), what});
      }
    } else if (key == "method" || key == "composite" || key == "target" || key == "output") {
      fail_input("params." + key + ": give " + key + " next to params, not inside it");
    } else if (!relevance::request_option_names().count(key) && !extra.count(key)) {
      fail_input("unknown parameter '" + key + "'");
    } else {
      text.values[key] = param_text(v, key);
    }
  }
  return text;
}

// ---- GPU programs -----------------------------------------------------------------------------------------
// The result object of explain (and gpuFinish).
val js_explain_result(const ExplainResult& e) {
  val o = val::object(), targets = val::array();
  for (int64_t t : e.targets) targets.call<void>("push", static_cast<double>(t));
  o.set("relevance", js_data(e.relevance));
  o.set("shape", js_shape(e.relevance.shape));
  o.set("output", js_tensor(e.output.name, e.output.tensor));
  o.set("targets", targets);
  o.set("notes", js_string_array(e.notes));
  val pruning = val::array();   // pruned-lrp: what each pruned layer lost (empty otherwise)
  for (const auto& p : e.pruning) {
    val l = val::object();
    l.set("node", p.node);
    l.set("zeroedFraction", p.zeroed_fraction);
    l.set("giniBefore", p.gini_before);
    l.set("giniAfter", p.gini_after);
    l.set("kept", p.kept);
    pruning.call<void>("push", l);
  }
  o.set("pruning", pruning);
  o.set("ms", e.ms);
  if (!e.explained.empty()) o.set("explained", e.explained);
  if (e.has_cov) {
    o.set("output", val::null());   // members each have their own; see cov.memberOutputs
    o.set("cov", js_cov(e.cov));
  }
  return o;
}

constexpr size_t kStepWords = 1 + 32 + kernels::gpu::max_bindings;   // kernel id, 32 words, 5 bindings (0xffffffff: unused)

// {buffers: [{words, data: Float32Array view or null, key}], steps: Uint32Array (kStepWords per step), readback}
// The data views point into wasm memory, and any allocation that grows it detaches them (as does passing a
// std::string to JS, which mallocs): so everything else is built first, the views last, with nothing
// allocated after them.
val js_program(const kernels::gpu::Program& p) {
  val o = val::object(), buffers = val::array(), readback = val::array();
  std::vector<uint32_t> flat(p.steps.size() * kStepWords);
  for (size_t k = 0; k < p.steps.size(); ++k) {
    uint32_t* w = flat.data() + k * kStepWords;
    w[0] = static_cast<uint32_t>(p.steps[k].kernel);
    std::copy(p.steps[k].words.begin(), p.steps[k].words.end(), w + 1);
    for (int b = 0; b < kernels::gpu::max_bindings; ++b) w[33 + b] = static_cast<uint32_t>(p.steps[k].bind[b]);
  }
  o.set("steps", val::global("Uint32Array").new_(emscripten::typed_memory_view(flat.size(), flat.data())));
  for (int id : p.readback) readback.call<void>("push", id);
  o.set("readback", readback);
  val kept = val::array();   // what the runner may keep between runs (program.h: KeptRange)
  for (const auto& r : p.kept) {
    val range = val::object();
    range.set("key", r.key);
    range.set("from", static_cast<double>(r.from));
    range.set("to", static_cast<double>(r.to));
    kept.call<void>("push", range);
  }
  o.set("kept", kept);
  for (const auto& b : p.buffers) {
    val d = val::object();
    d.set("words", static_cast<double>(b.words));
    d.set("key", b.key);
    buffers.call<void>("push", d);
  }
  for (size_t k = 0; k < p.buffers.size(); ++k) {   // no allocation from here on
    const auto& b = p.buffers[k];
    buffers[k].set("data", b.data ? val(emscripten::typed_memory_view(static_cast<size_t>(b.words), b.data)) : val::null());
  }
  o.set("buffers", buffers);
  return o;
}

// A JS typed array copied into `out` (converted to float by Float32Array's set).
// Bytes, not values: a program's index buffers hold uint32 words in float buffers, and no_index (0xffffffff) is
// a NaN pattern that a conversion through JS numbers need not keep.
void copy_words(const val& arr, std::vector<float>& out, const std::string& what) {
  if (!val::global("ArrayBuffer").call<bool>("isView", arr) || arr["BYTES_PER_ELEMENT"].as<double>() != 4)
    fail_input(what + ": expected a Float32Array or Uint32Array");
  const val bytes = val::global("Uint8Array").new_(arr["buffer"], arr["byteOffset"], arr["byteLength"]);
  emscripten::val view(emscripten::typed_memory_view(out.size() * sizeof(float), reinterpret_cast<uint8_t*>(out.data())));
  view.call<void>("set", bytes);
}

std::vector<std::vector<float>> read_float_arrays(const val& arrays, const std::string& what) {
  if (!arrays.isArray()) fail_input(what + ": expected an array of Float32Array");
  std::vector<std::vector<float>> out(arrays["length"].as<size_t>());
  for (size_t k = 0; k < out.size(); ++k) {
    const val a = arrays[k];
    if (!val::global("ArrayBuffer").call<bool>("isView", a)) fail_input(what + "[" + std::to_string(k) + "]: expected a Float32Array");
    out[k].resize(a["length"].as<size_t>());
    emscripten::val view(emscripten::typed_memory_view(out[k].size(), out[k].data()));
    view.call<void>("set", a);
  }
  return out;
}

// The CPU reference of a program in js_program's form (tests compare the WebGPU bridge with it).
val runProgramOnCpu(val prog) {
  try {
    const val buffers = prog["buffers"], steps = prog["steps"], readback = prog["readback"];
    if (!buffers.isArray() || !readback.isArray() || !val::global("ArrayBuffer").call<bool>("isView", steps))
      fail_input("runProgramOnCpu: expected {buffers: [...], steps: Uint32Array, readback: [...]}");
    // The data may be views into this module's memory (js_program's): copied out before anything here
    // allocates, since a memory growth would detach them.
    const size_t nb = buffers["length"].as<size_t>();
    val copies = val::array();
    for (size_t k = 0; k < nb; ++k) {
      const val data = buffers[k]["data"];
      copies.call<void>("push", data.isNull() || data.isUndefined() ? val::null() : data.call<val>("slice"));
    }
    kernels::gpu::Program p;
    std::vector<std::vector<float>> store(nb);
    for (size_t k = 0; k < nb; ++k) {
      const double words = buffers[k]["words"].as<double>();
      if (!(words >= 1 && words <= static_cast<double>(limit_defaults().max_tensor_elements)) || words != std::floor(words))
        fail_input("runProgramOnCpu: buffer " + std::to_string(k) + " has a bad size");
      store[k].assign(static_cast<size_t>(words), 0.0f);
      const val data = copies[k];
      if (!data.isNull()) {
        if (data["length"].as<double>() != words) fail_input("runProgramOnCpu: buffer " + std::to_string(k) + "'s data is not `words` long");
        copy_words(data, store[k], "runProgramOnCpu: buffer " + std::to_string(k));
      }
      p.add_buffer(static_cast<int64_t>(words), store[k].data());
    }
    const size_t nw = steps["length"].as<size_t>();
    if (nw % kStepWords) fail_input("runProgramOnCpu: steps is not a multiple of " + std::to_string(kStepWords) + " words");
    std::vector<uint32_t> flat(nw);
    emscripten::val(emscripten::typed_memory_view(flat.size(), flat.data())).call<void>("set", steps);
    for (size_t k = 0; k < nw / kStepWords; ++k) {
      const uint32_t* w = flat.data() + k * kStepWords;
      kernels::gpu::Step s;
      s.kernel = static_cast<kernels::gpu::Kernel>(w[0]);
      std::copy(w + 1, w + 33, s.words.begin());
      for (int b = 0; b < kernels::gpu::max_bindings; ++b) s.bind[b] = w[33 + b] == 0xffffffffu ? -1 : static_cast<int>(w[33 + b]);
      p.steps.push_back(s);
    }
    for (size_t k = 0; k < readback["length"].as<size_t>(); ++k) p.readback.push_back(readback[k].as<int>());
    val out = val::array();
    for (const auto& r : kernels::gpu::run_on_cpu(p))
      out.call<void>("push", val::global("Float32Array").new_(emscripten::typed_memory_view(r.size(), r.data())));
    return out;
  } catch (...) {
    return js_error();
  }
}

// ---- Engine -------------------------------------------------------------------------------------------
class Engine {
 public:
  // bytes: Uint8Array (any typed array or ArrayBuffer view of the file).
  val loadModel(val bytes, std::string name) {
    try {
      if (name.empty()) name = "model.onnx";
      if (!val::global("ArrayBuffer").call<bool>("isView", bytes)) fail_input(name + ": model bytes must be a Uint8Array");
      const val u8 = val::global("Uint8Array").new_(bytes["buffer"], bytes["byteOffset"], bytes["byteLength"]);
      const size_t size = u8["length"].as<size_t>();
      api_.check_model_size(size, name);
      ByteBuffer copy(size);   // given back while the weights are converted: no second copy of them
      val(emscripten::typed_memory_view(copy.size(), copy.data())).call<void>("set", u8);
      const ModelInfo info = api_.load_model(std::move(copy), name);
      val o = val::object();
      val ins = val::array(), outs = val::array();
      for (const auto& d : info.inputs) ins.call<void>("push", js_value_desc(d));
      for (const auto& d : info.outputs) outs.call<void>("push", js_value_desc(d));
      o.set("name", name);
      o.set("inputs", ins);
      o.set("outputs", outs);
      o.set("ops", js_ops(info.ops));
      o.set("opset", static_cast<double>(info.opset));
      o.set("producer", info.producer);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // bytes of an image, .npy or .csv file for graph input `slot` -> {data, shape, dtype}
  val loadInput(val bytes, std::string name, int slot) {
    try {
      if (name.empty()) name = "input";
      if (!val::global("ArrayBuffer").call<bool>("isView", bytes)) fail_input(name + ": input bytes must be a Uint8Array");
      const val u8 = val::global("Uint8Array").new_(bytes["buffer"], bytes["byteOffset"], bytes["byteLength"]);
      const size_t size = u8["length"].as<size_t>();
      if (size > api_.limits().max_file_bytes)
        fail(ErrorKind::Limit, name + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                                   std::to_string(api_.limits().max_file_bytes));
      if (slot < 0) fail_input(name + ": input slot must be >= 0");
      std::vector<uint8_t> copy(size);
      val(emscripten::typed_memory_view(copy.size(), copy.data())).call<void>("set", u8);
      return js_tensor("", api_.load_input(copy.data(), copy.size(), name, static_cast<size_t>(slot)));
    } catch (...) {
      return js_error();
    }
  }

  // {maxMemoryMB, maxElements, maxFileMB, maxImagePixels} (each optional, positive) -> {} ; for the next
  // loadModel and loadInput.
  val setLimits(val o) {
    try {
      Limits l = api_.limits();
      auto get = [&](const char* key, uint64_t& field, uint64_t unit) {
        if (!has(o, key)) return;
        const double d = o[key].isNumber() ? o[key].as<double>() : -1.0;
        if (!(d >= 1 && d <= 9007199254740992.0 / static_cast<double>(unit)) || d != std::floor(d))
          fail_input(std::string("limits.") + key + ": expected a positive integer");
        field = static_cast<uint64_t>(d) * unit;
      };
      get("maxMemoryMB", l.max_total_bytes, 1ull << 20);
      get("maxElements", l.max_tensor_elements, 1);
      get("maxFileMB", l.max_file_bytes, 1ull << 20);
      get("maxImagePixels", l.max_image_pixels, 1);
      api_.set_limits(l);
      return val::object();
    } catch (...) {
      return js_error();
    }
  }

  // {data, shape} or [{data, shape}, ...] -> {outputs: [{name, data, shape, dtype}], ms}
  val predict(val inputs) {
    try {
      const Prediction p = api_.predict(read_inputs(api_, inputs));
      val o = val::object(), outs = val::array();
      for (const auto& t : p.outputs) outs.call<void>("push", js_tensor(t.name, t.tensor));
      o.set("outputs", outs);
      o.set("ms", p.ms);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // {data, shape, inputs?, method, composite, params, target, output} -> {relevance, shape, output, targets, notes,
  // pruning: [{node, zeroedFraction, giniBefore, giniAfter, kept}], ms}
  val explain(val req) {
    try {
      const auto request = read_request(req);
      return js_explain_result(api_.explain(request_inputs(api_, req), request));
    } catch (...) {
      return js_error();
    }
  }

  // The same request as explain -> the GPU program (js_program) for src/kernels/webgpu/bridge.mjs; its data
  // views are valid until the next call into the engine.
  val gpuProgram(val req) {
    try {
      const auto request = read_request(req);
      return js_program(api_.gpu_program(request_inputs(api_, req), request));
    } catch (...) {
      return js_error();
    }
  }

  // The program's readback (array of Float32Array, in its readback order) -> explain's result.
  val gpuFinish(val arrays) {
    try {
      return js_explain_result(api_.gpu_finish(read_float_arrays(arrays, "gpuFinish")));
    } catch (...) {
      return js_error();
    }
  }

  // bytes of another ensemble member for cov-lrp (named in params.ensemble) -> {} ; clearEnsemble() drops them.
  val loadEnsembleMember(val bytes, std::string name) {
    try {
      if (!val::global("ArrayBuffer").call<bool>("isView", bytes)) fail_input(name + ": model bytes must be a Uint8Array");
      const val u8 = val::global("Uint8Array").new_(bytes["buffer"], bytes["byteOffset"], bytes["byteLength"]);
      const size_t size = u8["length"].as<size_t>();
      api_.check_model_size(size, name);
      ByteBuffer copy(size);
      val(emscripten::typed_memory_view(copy.size(), copy.data())).call<void>("set", u8);
      api_.load_ensemble_member(std::move(copy), name);
      return val::object();
    } catch (...) {
      return js_error();
    }
  }
  void clearEnsemble() { api_.clear_ensemble(); }

  // explain's request with params.layer, and `top` (default: every channel) -> {layer, layers, channels, shape: [N, C],
  // relevance, normalized (Float32Array, N*C), ranking: per sample [{channel, relevance, share}] most relevant
  // first, output, targets, ms}
  val concepts(val req) {
    try {
      const size_t top = has(req, "top") ? count_arg(req["top"], "concepts: top", 1, true) : SIZE_MAX;
      const auto c = api_.concepts(request_inputs(api_, req), read_request(req));
      const int64_t n = c.relevance.shape[0], channels = c.relevance.shape[1];
      val o = val::object(), ranking = val::array(), targets = val::array();
      for (int64_t b = 0; b < n; ++b) {
        val sample = val::array();
        for (size_t k = 0; k < std::min(top, c.order[b].size()); ++k) {
          const int64_t ch = c.order[b][k];
          val e = val::object();
          e.set("channel", static_cast<double>(ch));
          e.set("relevance", c.relevance.f[b * channels + ch]);
          e.set("share", c.normalized.f[b * channels + ch]);
          sample.call<void>("push", e);
        }
        ranking.call<void>("push", sample);
      }
      for (int64_t t : c.targets) targets.call<void>("push", static_cast<double>(t));
      o.set("layer", c.layer);
      o.set("layers", js_string_array(c.layers));
      o.set("channels", static_cast<double>(channels));
      o.set("shape", js_shape(c.relevance.shape));
      o.set("relevance", js_data(c.relevance));
      o.set("normalized", js_data(c.normalized));
      o.set("ranking", ranking);
      o.set("output", js_tensor(c.output.name, c.output.tensor));
      o.set("targets", targets);
      o.set("ms", c.ms);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // explain's request, params also taking flip-steps flip-fraction flip-window flip-baseline random-orders
  // flip-seed, and channelsLast (bool) -> {explanation: explain's result, units, removed: number[] (units
  // removed per point), curves: per sample {target, relevanceFirst, random (number[] per point), aopc,
  // aopcRandom, gini}, options: {steps, fraction, window, baseline, randomOrders, seed}, ms}
  val faithfulness(val req) {
    try {
      const bool channels_last = has(req, "channelsLast") && req["channelsLast"].as<bool>();
      const auto f = api_.faithfulness(request_inputs(api_, req), read_request(req, relevance::flip_option_names()),
                                       channels_last);
      auto numbers = [](const auto& v) {
        val a = val::array();
        for (const auto& x : v) a.call<void>("push", static_cast<double>(x));
        return a;
      };
      val o = val::object(), curves = val::array();
      for (const auto& c : f.curves) {
        val e = val::object();
        e.set("target", static_cast<double>(c.target));
        e.set("relevanceFirst", numbers(c.relevance_first));
        e.set("random", numbers(c.random));
        e.set("aopc", c.aopc);
        e.set("aopcRandom", c.aopc_random);
        e.set("gini", c.gini);
        curves.call<void>("push", e);
      }
      o.set("explanation", js_explain_result(f.explanation));
      o.set("units", f.curves.empty() ? 0.0 : static_cast<double>(f.curves[0].units));
      o.set("removed", f.curves.empty() ? val::array() : numbers(f.curves[0].removed));
      o.set("curves", curves);
      val opts = val::object();
      opts.set("steps", f.options.steps);
      opts.set("fraction", f.options.fraction);
      opts.set("window", f.options.window);
      opts.set("baseline", f.options.baseline);
      opts.set("randomOrders", f.options.random_orders);
      opts.set("seed", static_cast<double>(f.options.seed));
      o.set("options", opts);
      o.set("ms", f.ms);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // {data, shape: n maps of the model input's sample shape (n explanations stacked), size, neighbours, clusters,
  // maxClusters, seed, channelsLast} -> SpRAy (relevance/spray.h): {clusters, eigenvalues, labels, sizes,
  // embedding: [[x, y] per map], centroids: [Float32Array per cluster], featureShape}
  val spray(val req) {
    try {
      const Tensor maps = read_input(api_, 0, req);
      relevance::SprayOptions o;
      if (has(req, "size")) o.size = static_cast<int>(count_arg(req["size"], "spray: size", 1));
      if (has(req, "neighbours")) o.neighbours = static_cast<int>(count_arg(req["neighbours"], "spray: neighbours", 1));
      if (has(req, "clusters")) o.clusters = static_cast<int>(count_arg(req["clusters"], "spray: clusters", 0));
      if (has(req, "maxClusters")) o.max_clusters = static_cast<int>(count_arg(req["maxClusters"], "spray: maxClusters", 1));
      if (has(req, "seed")) o.seed = count_arg(req["seed"], "spray: seed", 0);
      o.channels_last = has(req, "channelsLast") && req["channelsLast"].as<bool>();
      const auto r = relevance::spray(maps, o);
      val out = val::object(), labels = val::array(), embedding = val::array(), centroids = val::array();
      for (int l : r.label) labels.call<void>("push", l);
      for (const auto& e : r.embedding) {
        val xy = val::array();
        xy.call<void>("push", e[0]);
        xy.call<void>("push", e[1]);
        embedding.call<void>("push", xy);
      }
      for (const auto& c : r.centroids) centroids.call<void>("push", js_data(Tensor::from_floats({static_cast<int64_t>(c.size())}, c)));
      val eigen = val::array(), sizes = val::array();
      for (double v : r.eigenvalues) eigen.call<void>("push", v);
      for (int64_t n : r.sizes) sizes.call<void>("push", static_cast<double>(n));
      out.set("clusters", r.clusters);
      out.set("eigenvalues", eigen);
      out.set("labels", labels);
      out.set("sizes", sizes);
      out.set("embedding", embedding);
      out.set("centroids", centroids);
      out.set("featureShape", js_shape(r.feature_shape));
      return out;
    } catch (...) {
      return js_error();
    }
  }

  // explain's request with params.layer -> {layer, axis (the channel axis), shape (the layer's output), relevance,
  // activation (Float32Array), output, targets, ms}
  val conceptMaps(val req) {
    try {
      const auto c = api_.concept_maps(request_inputs(api_, req), read_request(req));
      val o = val::object(), targets = val::array();
      for (int64_t t : c.maps.targets) targets.call<void>("push", static_cast<double>(t));
      o.set("layer", c.layer);
      o.set("axis", c.maps.axis);
      o.set("shape", js_shape(c.maps.relevance.shape));
      o.set("relevance", js_data(c.maps.relevance));
      o.set("activation", js_data(c.maps.activation));
      o.set("output", js_tensor(c.output_name, c.maps.output));
      o.set("targets", targets);
      o.set("ms", c.ms);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // explain's request with params.layer, `channel`, `depth` (default 2), `top` (default 3) -> {target, output,
  // nodes: [{layer, channel, relevance, parent, depth}]} (breadth first; the root is nodes[0], parent -1)
  val attributionGraph(val req) {
    try {
      if (!has(req, "channel")) fail_input("attributionGraph: `channel` names the concept's channel");
      const auto channel = static_cast<int64_t>(count_arg(req["channel"], "attributionGraph: channel", 0));
      const int depth = has(req, "depth") ? static_cast<int>(count_arg(req["depth"], "attributionGraph: depth", 0)) : 2;
      const int top = has(req, "top") ? static_cast<int>(count_arg(req["top"], "attributionGraph: top", 1)) : 3;
      const auto g = api_.attribution_graph(request_inputs(api_, req), read_request(req),
                                            channel, depth, top);
      val o = val::object(), nodes = val::array();
      for (const auto& node : g.nodes) {
        val e = val::object();
        e.set("layer", node.layer);
        e.set("channel", static_cast<double>(node.channel));
        e.set("relevance", node.relevance);
        e.set("parent", node.parent);
        e.set("depth", node.depth);
        nodes.call<void>("push", e);
      }
      o.set("target", static_cast<double>(g.target));
      o.set("output", g.output);
      o.set("nodes", nodes);
      return o;
    } catch (...) {
      return js_error();
    }
  }

  // {composite, params} -> {rules: [{name, op, rule}]}
  val rules(val req) {
    try {
      val o = val::object();
      o.set("rules", js_ops(api_.rules(read_request(req))));
      return o;
    } catch (...) {
      return js_error();
    }
  }

 private:
  Api api_;
};

val methods() {   // the Explainer's methods and cov-lrp (relevance/cov_lrp.h, over members)
  auto names = relevance::method_names();
  names.push_back("cov-lrp");
  return js_string_array(names);
}
val composites() { return js_string_array(relevance::composite_names()); }
std::string version() { return Api::version(); }

}  // namespace
}  // namespace relscope::js

// ---- EMSCRIPTEN_BINDINGS ------------------------------------------------------------------------------
EMSCRIPTEN_BINDINGS(relscope) {
  using namespace relscope::js;
  emscripten::class_<Engine>("Engine")
      .constructor<>()
      .function("loadModel", &Engine::loadModel)
      .function("loadInput", &Engine::loadInput)
      .function("setLimits", &Engine::setLimits)
      .function("predict", &Engine::predict)
      .function("explain", &Engine::explain)
      .function("gpuProgram", &Engine::gpuProgram)
      .function("gpuFinish", &Engine::gpuFinish)
      .function("rules", &Engine::rules)
      .function("concepts", &Engine::concepts)
      .function("attributionGraph", &Engine::attributionGraph)
      .function("conceptMaps", &Engine::conceptMaps)
      .function("faithfulness", &Engine::faithfulness)
      .function("spray", &Engine::spray)
      .function("loadEnsembleMember", &Engine::loadEnsembleMember)
      .function("clearEnsemble", &Engine::clearEnsemble);
  emscripten::function("methods", &methods);
  emscripten::function("composites", &composites);
  emscripten::function("version", &version);
  emscripten::function("runProgramOnCpu", &runProgramOnCpu);
  // CPU kernel threads (web/relscope.mjs sets them once, after loading the module). In a module built
  // without -pthread setThreads() does nothing and threads() stays 1; in relscope_web_mt the caller must
  // not ask for more than the worker pool + 1 (threads beyond it would wait for an event loop turn).
  emscripten::function("setThreads", +[](int n) { relscope::kernels::set_threads(n); });
  emscripten::function("threads", +[]() { return relscope::kernels::threads(); });
}
