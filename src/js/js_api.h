// relscope/js/js_api.h — the engine as the JavaScript API sees it: one model, plain data in and out.
//
// Sections: plain results | errors | Api
//
// Why a facade without Emscripten types: bindings.cpp only converts between these structs and JS
// values, so everything that decides something (which model is loaded, limits, input checks, errors)
// is ordinary C++ that also compiles natively. Every method throws relscope::Error; the bindings catch
// it with describe_current_exception() and hand JS {error, kind} instead of a C++ exception pointer.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"
#include "engine/session.h"
#include "relevance/attribution.h"
#include "relevance/cov_lrp.h"
#include "relevance/explain.h"
#include "relevance/faithfulness.h"
#include "relevance/gpu_explain.h"
#include "relevance/request.h"

namespace relscope::js {

// ---- plain results ------------------------------------------------------------------------------------
struct ValueDesc {
  std::string name;
  std::string dtype;            // "float32", "int64", ... (onnx::elem_type_name)
  bool has_shape = false;       // false: the model declares no rank
  std::vector<int64_t> dims;    // -1 for a symbolic or unknown dim (JS shows null)
};

struct OpDesc {
  std::string name, op;
  bool has_rule = false;
  std::string rule;             // Rule::describe(), when has_rule
};

struct ModelInfo {
  std::vector<ValueDesc> inputs, outputs;
  std::vector<OpDesc> ops;      // the model's nodes; `rule`: rules({}) of the same name, if it plans
  int64_t opset = 0;
  std::string producer;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct Prediction {
  std::vector<NamedTensor> outputs;   // graph-output order
  double ms = 0;
};

struct ExplainResult {
  Tensor relevance;                   // the input's shape
  NamedTensor output;                 // the explained output, whole batch
  std::vector<int64_t> targets;       // per sample
  std::vector<std::string> notes;     // canonizer notes
  std::vector<relevance::LayerPruneReport> pruning;   // pruned-lrp: per pruned layer
  double ms = 0;
  std::string explained;              // Gaussian heads (explain mean|variance) and cov-lrp: what was explained
  bool has_cov = false;               // method cov-lrp: `relevance` is the chosen CovLRP map (+ aleatoric term)
  relevance::CovExplanation cov;
};

// CRP concept ranking at one layer (Explainer::concepts), as `relscope concepts` prints it.
struct ConceptsResult {
  std::string layer;
  std::vector<std::string> layers;              // every layer a concept can live in, topological order
  Tensor relevance, normalized;                 // (N, C): channel sums; divided by the sample's sum of |R|
  std::vector<std::vector<int64_t>> order;      // per sample: channels by decreasing relevance
  NamedTensor output;                           // the explained output, whole batch
  std::vector<int64_t> targets;                 // per sample
  double ms = 0;
};

// Relevance and activation at one layer's output (Explainer::concept_maps): what CRP's reference samples
// (RelMax, ActMax) are ranked by.
struct ConceptMapsResult {
  std::string layer;
  relevance::ConceptMaps maps;                  // the layer's output shape; `axis` its channel axis
  std::string output_name;                      // of maps.output, the explained output (whole batch)
  double ms = 0;
};

// Pixel flipping of one explanation (relevance/faithfulness.h), as `relscope faithfulness` prints it.
struct FaithfulnessResult {
  ExplainResult explanation;                    // the map that was flipped, and its targets
  std::vector<relevance::FlipCurve> curves;     // per sample
  relevance::FlipOptions options;               // as used (steps may be fewer: see FlipCurve::removed)
  double ms = 0;                                // the flipping, not the explanation
};

// ---- errors -------------------------------------------------------------------------------------------
struct ErrorInfo {
  std::string message;
  std::string kind;   // "bad-input" | "unsupported" | "limit" | "internal"
};
// Call inside catch (...): relscope::Error keeps its message and kind; std::bad_alloc is "limit"
// ("out of memory"); anything else is "internal".
ErrorInfo describe_current_exception();

// ---- Api ----------------------------------------------------------------------------------------------
class Api {
 public:
  explicit Api(const Limits& limits = {});
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  static const char* version();
  const Limits& limits() const { return limits_; }

  // Throws Limit naming `label` when `size` bytes exceed the model size limit: call before copying.
  void check_model_size(size_t size, const std::string& label) const;
  // Replaces the current model only on success: a model that fails to load leaves the previous one.
  ModelInfo load_model(ByteBuffer bytes, const std::string& label);   // consumed while decoding
  bool has_model() const { return session_ != nullptr; }

  // Storage for graph input `slot` (dtype from the model's declaration: int64 or float32), after
  // checking the shape — `rank` dims read through `dim(k)` (JS numbers: non-negative integers), rank
  // and element limits — and that its product equals `length`, the number of values the caller will
  // copy in. Nothing is allocated before every check passed. Throws BadInput/Limit naming the input.
  Tensor new_input(size_t slot, size_t rank, const std::function<double(size_t)>& dim, size_t length);

  // An INPUT file for graph input `slot`, as the CLI reads it: an image (by its signature; decoded, laid
  // out and resized for the input's declared shape, scaled to [0,1]), a .npy, or a .csv (by name). The
  // tensor is non-empty and finite. Throws BadInput/Limit naming `label`.
  Tensor load_input(const uint8_t* bytes, size_t size, const std::string& label, size_t slot);
  // Limits for the next loadModel / loadInput (a loaded model keeps the ones it was loaded with).
  void set_limits(const Limits& limits) { limits_ = limits; }

  // Refuses empty or non-finite inputs and NaN/Inf outputs (BadInput naming the input or output).
  Prediction predict(const std::vector<Tensor>& inputs);
  // cov-lrp ensembles: members besides the model, by name (request `ensemble: 'b.onnx,c.onnx'` names
  // them). Loading the model again clears them. Throws like load_model.
  void load_ensemble_member(ByteBuffer bytes, const std::string& label);
  void clear_ensemble() { members_.clear(); }
  // The explained input is inputs[0] (float32). `request` uses relevance::parse_request's names; method
  // cov-lrp runs relevance::explain_cov over the loaded members or MC-dropout samples.
  ExplainResult explain(const std::vector<Tensor>& inputs, const relevance::RequestText& request);
  // The same explanation as one GPU program (relevance/gpu_explain.h) for a runner to execute (the JS bridge
  // src/kernels/webgpu/bridge.mjs); the program and what it points at stay alive until the next call or
  // gpu_finish. Throws Unsupported for what the GPU path does not run (the caller explains on the CPU), and
  // what explain() throws for bad requests.
  const kernels::gpu::Program& gpu_program(const std::vector<Tensor>& inputs, const relevance::RequestText& request);
  // The result of the program from gpu_program, from its readback buffers.
  ExplainResult gpu_finish(std::vector<std::vector<float>> readback);
  // Concepts of `layer` (request value "layer"; without one, BadInput listing the layers) ranked per sample.
  // Same request as explain (composite, params, target, output; Gaussian heads' explain mean|variance).
  ConceptsResult concepts(const std::vector<Tensor>& inputs, const relevance::RequestText& request);
  // The relevance and activation at `layer`'s output (request as for concepts).
  ConceptMapsResult concept_maps(const std::vector<Tensor>& inputs, const relevance::RequestText& request);
  // (layer, channel)'s attribution graph for a batch-1 input: `depth` layers down, the `top` children of each
  // concept by conditional relevance (relevance/attribution.h).
  relevance::AttributionGraph attribution_graph(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                                int64_t channel, int depth, int top);
  // Explains as explain() does (on the CPU), then flips the map: request values named by
  // relevance::flip_option_names() set the flipping (the rest is explain's request). `channels_last`: the
  // explained input is (N, spatial..., C).
  FaithfulnessResult faithfulness(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                  bool channels_last);
  // The rule each node of the canonized graph gets (symbolic dims planned as 1, like `relscope rules`).
  std::vector<OpDesc> rules(const relevance::RequestText& request);

 private:
  Session& session();
  relevance::Explainer& explainer();
  ExplainResult explain_cov(const std::vector<Tensor>& inputs, const relevance::ExplainRequest& r);
  // explain's parsing plus a required params.layer (BadInput for `what`, listing `layers`, without one).
  relevance::ExplainRequest concept_request(const std::vector<Tensor>& inputs, const relevance::RequestText& request,
                                            const std::string& what, std::vector<std::string>& layers);

  Limits limits_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<relevance::Explainer> explainer_;
  std::unique_ptr<relevance::GpuExplanation> gpu_pending_;   // gpu_program's, until gpu_finish
  std::string gpu_output_name_, gpu_explained_;
  int model_generation_ = 0;   // part of GPU constant keys: a runner never mixes two models' weights
  std::vector<std::pair<std::string, std::unique_ptr<Session>>> members_;   // cov-lrp ensemble members   // made on first use: canonizing copies the weights
};

}  // namespace relscope::js
