// relscope/app/core/app_state.h — everything the canvas app knows: model, input, settings, results.
//
// Sections: model | input | settings | results | AppState
//
// Pure C++ (no ImGui, no GL, no Emscripten): the panels only read this state and call its methods, so
// every decision (what a dropped file is, how an image becomes a tensor, which request the explainer
// gets, what an export contains) is unit-tested natively (tests/unit/test_app_state.cpp).
//
// Transactions: every method that can fail builds the new thing first and swaps it in at the end, so a
// corrupt file, an unsupported op or an out-of-memory leaves the previous model, input and results as
// they were. Failures are relscope::Error / std::bad_alloc; front ends catch them (see guard()).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"
#include "engine/session.h"
#include "io/image.h"
#include "relevance/explain.h"

namespace relscope::app {

// ---- model -------------------------------------------------------------------------------------------
struct IoDesc {
  std::string name;
  std::string dtype;
  bool has_shape = false;
  std::vector<int64_t> dims;   // -1: symbolic or unknown
  std::string shape_text() const;   // "[N,1,28,28]"
};

struct NodeDesc {
  std::string name, op, rule;   // rule: Rule::describe() under the current composite ("" if none)
};

struct ModelDesc {
  std::string label;            // file name
  std::string hash;             // FNV-1a 64 of the bytes, 16 hex digits
  size_t bytes = 0;
  int64_t opset = 0;
  std::string producer;
  std::vector<IoDesc> inputs, outputs;
  std::vector<NodeDesc> nodes;  // canonized graph (BN merged), with rules for the current input
  std::vector<std::string> canonizer_notes;
  std::vector<std::string> concept_layers;   // linear layers of the canonized graph (crp), after a compute
};

// ---- input -------------------------------------------------------------------------------------------
enum class InputKind { None, Image, Array, Table };

struct Sample {
  std::string name;
  std::vector<uint8_t> bytes;
};

struct Table {                  // a parsed .csv: one row per sample
  std::vector<std::string> header;   // feature names (generated "f0".. when the file has none)
  std::vector<std::vector<float>> rows;
};

struct InputData {
  InputKind kind = InputKind::None;
  std::string label;            // file or sample name
  Image image;                  // Image: as decoded
  Tensor array;                 // Array: the .npy as read
  Table table;                  // Table
  int row = 0;                  // Table: selected row; Array: selected sample along axis 0
};

// ---- settings ----------------------------------------------------------------------------------------
struct ExplainSettings {
  std::string method = "lrp";
  std::string composite = "epsilon-plus-flat";
  float epsilon = 1e-6f, gamma = 0.25f, alpha = 2.0f, beta = 1.0f;
  int steps = 20, samples = 20, window = 8, stride = 8;
  float noise = 0.1f;
  float prune = 0.3f;           // pruned-lrp: proportion of each sign's relevance mass pruned per layer
  bool prune_mask = false;      // pruned-lrp: PLRP-M (mask the pruned activations) instead of PLRP-lambda
  std::string layer;            // crp: the layer whose channels condition (empty: a default, see compute())
  std::string channels = "0";   // crp: "c1,c2,..."
  bool joint = true;            // crp: one map for all channels together; else one per channel
  int concept_view = 0;         // crp, not joint: which channel's map is shown
  int target = -1;              // -1: the predicted class
  bool operator==(const ExplainSettings&) const = default;
};

// ---- results -----------------------------------------------------------------------------------------
struct TopK {
  int64_t index = 0;
  float score = 0;              // probability (softmax of logits, or the output itself when it already is one)
  float raw = 0;                // the output value
};

struct Explained {
  ExplainSettings settings;
  int64_t target = 0;
  Tensor relevance;             // the input's shape (crp per channel: the shown channel's map)
  int64_t maps = 1;             // crp per channel: how many maps the explainer made
  std::vector<std::string> notes;
  std::vector<relevance::LayerPruneReport> pruning;   // pruned-lrp: what each pruned layer lost
  double gini = 0;              // sparsity of the shown map: Gini of |R|
  double ms = 0;
};

struct Results {
  bool valid = false;
  Tensor input;                 // the tensor the model saw
  Tensor output;                // the chosen graph output (AppState::output), batch of 1
  bool output_is_probability = false;
  std::vector<TopK> top;        // best first, up to 5
  double forward_ms = 0;
  Explained main, compare;      // compare.valid only when the compare toggle is on
  bool has_compare = false;
};

// ---- AppState ----------------------------------------------------------------------------------------
class AppState {
 public:
  AppState();
  ~AppState();
  AppState(const AppState&) = delete;
  AppState& operator=(const AppState&) = delete;

  // Open any supported file by its bytes: .onnx model, image (by signature), .npy (by magic), .csv,
  // labels (.txt: one name per line), preprocess (.json). Returns a one-line description of what it
  // did ("model fashion_cnn.onnx (10 outputs)"). Throws relscope::Error on anything unusable.
  std::string open(const std::string& name, std::vector<uint8_t> bytes);

  void load_model(const std::string& label, std::vector<uint8_t> bytes);
  void load_labels(const std::string& text);
  // preprocess.json: {"model","height","width","channels","layout"|"channels_last","bgr","scale","mean",
  // "std","composite","method"}; unknown keys ignored. Applies to the model "model" names (else to the
  // current model or the next one loaded).
  void load_preprocess_json(const std::string& text, const std::string& label);
  void add_sample(const std::string& name, std::vector<uint8_t> bytes);
  void clear_samples();       // before another bundled model's samples are added
  void select_sample(size_t index);   // images, .npy arrays and .csv tables alike
  void set_image(const std::string& label, const std::vector<uint8_t>& bytes);
  void set_array(const std::string& label, const std::vector<uint8_t>& bytes);
  void set_table(const std::string& label, const std::string& text);
  void select_row(int row);   // Table rows, or the samples of a batched .npy
  int input_rows() const;     // rows (Table) or samples (a .npy of N inputs); 1 otherwise

  // Forward pass + explanation(s) for the current model, input and settings. Throws; on failure the
  // previous results stay.
  void compute();
  // compute() in three steps, so the explanations can run elsewhere (the canvas runs them in a worker,
  // web/app.mjs): begin_compute() runs the forward pass and says which explanations are needed (main, then
  // compare), each as request values; explained() post-processes one explanation as compute() does; and
  // finish_compute() makes them the results. Throw like compute(); begin_compute() clears dirty().
  struct ExplainJob {
    ExplainSettings settings;
    std::map<std::string, std::string> values;   // relevance::RequestText values, target resolved
  };
  struct PendingCompute {
    Results results;                 // input, output, top-k: everything but the explanations
    std::vector<ExplainJob> jobs;
  };
  PendingCompute begin_compute();
  Explained explained(const PendingCompute& p, size_t job, relevance::Explanation e, double ms) const;
  void finish_compute(PendingCompute p, std::vector<Explained> explained);
  // The jobs explained with this state's own engine, then finish_compute(): compute() is
  // finish_here(begin_compute()); the canvas falls back to it when its worker cannot take a compute.
  void finish_here(PendingCompute p);
  // The loaded model's file (what a worker loads to explain it).
  const std::vector<uint8_t>& model_bytes() const { return model_bytes_; }
  // True when something changed since the last successful compute() (or failed one: no retry loop).
  bool dirty() const { return dirty_; }
  void mark_dirty() { dirty_ = true; }

  // ---- read access for panels ----
  bool has_model() const { return session_ != nullptr; }
  const ModelDesc& model() const { return model_desc_; }
  const InputData& input() const { return input_; }
  const Results& results() const { return results_; }
  const std::vector<Sample>& samples() const { return samples_; }
  int selected_sample() const { return selected_sample_; }
  const std::vector<std::string>& labels() const { return labels_; }
  std::string label_for(int64_t index) const;
  int64_t num_classes() const;   // elements of output 0 per sample (0 before a forward pass)
  // Layers crp can condition on (Conv, ConvTranspose, Gemm, MatMul with constant weights; canonized graph).
  const std::vector<std::string>& concept_layers() const { return model_desc_.concept_layers; }
  // Inputs the user opened (images, .npy, .csv; not the bundled samples), oldest first, at most 256: with
  // the samples they are the data set of the concept browser's atlas (concept_browser.h).
  const std::vector<Sample>& opened_inputs() const { return opened_; }
  // The model inputs one file of that data set gives, shaped like the input the canvas shows (results().input):
  // an image (the current preprocessing), every sample of a .npy, every row of a .csv. BadInput naming the file
  // when they do not fit the model, or before any results.
  std::vector<Tensor> inputs_of(const Sample& file) const;
  // For panels that make their own engine calls (the concept browser): the current model's explainer
  // (nullptr without one) and plain LRP under the main settings' composite and parameters, no target.
  relevance::Explainer* explainer() { return explainer_.get(); }
  Session* session() { return session_.get(); }   // the variance view's Gaussian head and CovLRP
  relevance::ExplainRequest lrp_request() const;
  // The request text lrp_request() parses (what the page's worker gets: JS API request names), and the
  // parser for such text with this model (the concept browser's jobs).
  std::map<std::string, std::string> lrp_request_values() const;
  relevance::ExplainRequest parse_request_values(const std::map<std::string, std::string>& values) const;

  // ---- settings (panels edit these, then mark_dirty()) ----
  ImagePreprocess& preprocess() { return preprocess_; }
  const ImagePreprocess& preprocess() const { return preprocess_; }
  void remember_preprocess();   // per model hash, in memory
  ExplainSettings settings, compare_settings;
  bool compare = false;
  size_t output = 0;            // which graph output is predicted and explained (0 after a model loads)
  std::string bundle;           // id of the bundled model (assets/catalog.json) now loaded; "" for a user's

  // ---- exports (bytes for a download) ----
  std::vector<uint8_t> relevance_npy(bool compare_side = false) const;
  std::string record_json() const;          // model hash, method, params, target, output, timings
  std::string snapshot_json() const;        // small page-state summary for tests / JS
  // The settings a shared link carries (the page's URL fragment), as relscopeAppSet's key -> value:
  // model (the bundled model's id), sample, method, composite, target, output and the method's own parameters.
  std::map<std::string, std::string> share_settings() const;
  std::string last_error;                   // set by guard()

  // Runs fn; on relscope::Error / std::bad_alloc / std::exception records a one-line message in
  // last_error (kind-prefixed) and returns false. State stays as fn left it (methods are transactional).
  bool guard(const std::function<void()>& fn);

  const Limits& limits() const { return limits_; }
  const std::string& backend() const { return backend_; }
  void set_backend(std::string b) { backend_ = std::move(b); }

  // Request text for the explainer (relevance::parse_request names), e.g. for the JSON record.
  std::map<std::string, std::string> request_values(const ExplainSettings& s) const;

 private:
  Tensor make_input() const;
  Shape declared_input_shape() const;   // graph input 0, unknown dims as 1; empty when undeclared
  void refresh_rules(const Tensor& x);
  void apply_model_layout();

  Limits limits_;
  std::vector<uint8_t> model_bytes_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<relevance::Explainer> explainer_;
  ModelDesc model_desc_;
  std::string rules_key_;       // composite + input shape the node rules were computed for
  // The last forward pass begin_compute ran: changing only the target, composite or method reuses it (the
  // engine keeps its recorded pass likewise), so re-explaining an input never runs the model again.
  struct Prediction {
    Tensor input;
    std::vector<Tensor> outputs;
    double ms = 0;
  };
  Prediction predicted_;

  InputData input_;
  std::vector<Sample> samples_;
  std::vector<Sample> opened_;
  int selected_sample_ = -1;
  std::vector<std::string> labels_;
  bool labels_fresh_ = false;   // loaded since the last model: they belong to the next model loaded
  std::map<std::string, std::vector<std::string>> remembered_labels_;   // model hash -> labels

  ImagePreprocess preprocess_;
  // From preprocess.json. It applies to the model its "model" key names, or (without that key) to the
  // model loaded next / the current one — never to unrelated models opened later.
  ImagePreprocess preset_;
  bool has_preset_ = false;
  bool preset_fresh_ = false;
  std::string preset_model_;
  std::map<std::string, ImagePreprocess> remembered_;   // model hash -> preprocessing

  Results results_;
  bool dirty_ = false;
  std::string backend_ = "cpu";
};

// FNV-1a 64-bit of the bytes, as 16 lowercase hex digits.
std::string fnv1a64_hex(const uint8_t* data, size_t size);
// Parses .csv text: comma-separated numbers, optional header row (any non-numeric cell), "" lines
// skipped. Throws BadInput naming the line.
Table parse_csv(const std::string& text, const std::string& label);

}  // namespace relscope::app
