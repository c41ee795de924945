// relscope/relevance/explain.h — one call from (model, input, method) to a relevance map.
//
// Sections: ExplainRequest | Explanation | Explainer
//
// Methods: lrp (any composite, per-node overrides), pruned-lrp (lrp + PLRP-lambda, prune.h), crp
// (conditional maps per channel of a layer, crp.h), gradient, gradient-x-input, integrated-gradients,
// smoothgrad, occlusion (METHODS.md gives each formula). Every sample of a batch is explained on its own
// target. The Explainer owns a canonized copy of the model (BatchNorm merged) for LRP and uses the model
// as it is for the gradient baselines, whose answer must not depend on rewrites.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/session.h"
#include "relevance/canonize.h"
#include "relevance/composite.h"
#include "relevance/crp.h"
#include "relevance/prune.h"
#include "relevance/sweep.h"
#include "relevance/variance_options.h"

namespace relscope::relevance {

struct ExplainRequest {
  std::string method = "lrp";
  std::string composite = "epsilon-plus-flat";
  CompositeParams params;
  std::map<std::string, Rule> overrides;   // node name -> rule
  std::vector<int64_t> targets;            // empty: the arg-max per sample; one value: for every sample
  size_t output = 0;                       // position among the graph outputs
  int steps = 20;                          // integrated gradients
  int samples = 20;                        // smoothgrad
  float noise = 0.1f;                      // smoothgrad: sd = noise * (max - min) of the sample
  uint64_t seed = 0;                       // smoothgrad
  int window = 8, stride = 8;              // occlusion, over the trailing spatial dims (features for 2-D input)
  float baseline = 0.0f;                   // occlusion fill value
  PruneOptions prune;                      // pruned-lrp
  ConceptRequest crp;                      // crp (and Explainer::concepts)
  VarianceOptions variance;                // --explain mean|variance (gaussian_head.h), cov-lrp (cov_lrp.h)
};

struct Explanation {
  Tensor relevance;                 // same shape as the (first) input; crp: (N, K, input dims...) unless joint
  Tensor output;                    // the explained graph output, for the whole batch
  std::vector<int64_t> targets;     // per sample, index into the sample's flattened output
  std::vector<std::string> notes;   // what canonizers did, etc.
  std::vector<LayerPruneReport> pruning;   // pruned-lrp: per pruned layer, averaged over the batch
};

// Concept ranking at one layer (CRP): per sample and channel, the LRP relevance at the layer's output
// summed over the channel's positions, and the same divided by the sample's sum of |R| at that layer.
struct ConceptRanking {
  Tensor relevance;                 // (N, C)
  Tensor normalized;                // (N, C)
  Tensor output;
  std::vector<int64_t> targets;
};

// Relevance and activation at one layer's output (CRP reference samples, atlas.h), in the layer's own
// layout: both have the layer's output shape and `axis` is its channel axis.
struct ConceptMaps {
  Tensor relevance;                 // LRP relevance arriving at the layer's output
  Tensor activation;                // the layer's output in the forward pass
  int axis = 1;
  Tensor output;
  std::vector<int64_t> targets;
};

// One unit of a concept layer: a channel and a position, the row-major index over the layer's output dims
// other than batch and channel (e.g. y * W + x for a Conv output).
struct ConceptUnit {
  int64_t channel = 0, position = 0;
};

// A CRP condition: at `layer`'s output only `channels` pass relevance on.
struct ConceptCondition {
  std::string layer;
  std::vector<int64_t> channels;
};

// Conditional concept relevance at one layer, for several condition paths of one sample.
struct ConditionalConcepts {
  Tensor relevance;                 // (paths, C of the captured layer): channel sums under each path
  int64_t target = 0;
  float output = 0;                 // the explained output at the target
};

const std::vector<std::string>& method_names();
// How front ends name an explanation: "lrp (epsilon-plus-flat)" for the methods a composite applies to (lrp,
// pruned-lrp, crp), the method alone otherwise.
std::string method_label(const std::string& method, const std::string& composite);

class Explainer {
 public:
  explicit Explainer(Session& session);
  Explanation explain(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  // request.crp.layer names the layer; method, channels and joint are not used.
  ConceptRanking concepts(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  // request.crp.layer names the layer; the relevance and activation at its output (see ConceptMaps).
  ConceptMaps concept_maps(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  // One sample (batch 1): per unit, the input relevance when the layer's output carries relevance 1 at that
  // unit and 0 elsewhere: the footprint of the unit under the request's rules (receptive-field crops).
  std::vector<Tensor> unit_maps(const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                const std::vector<ConceptUnit>& units);
  // One sample (batch 1), one forward pass: for each path (its conditions applied together, CRP), the
  // relevance reaching `capture_layer` summed per channel. An empty path gives the plain concept relevance.
  ConditionalConcepts conditional_concepts(const std::vector<Tensor>& inputs, const ExplainRequest& request,
                                           const std::vector<std::vector<ConceptCondition>>& paths,
                                           const std::string& capture_layer);
  // The linear layers a concept can live in (Conv, ConvTranspose, Gemm, MatMul with constant weights) of
  // the canonized graph, in topological order, for these input shapes.
  std::vector<std::string> concept_layers(const std::vector<Tensor>& inputs);
  // The rule each node gets, on the canonized graph, for these input shapes.
  std::vector<Rule> rules_for(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  const Graph& canonical_graph() const { return canonical_.graph(); }
  // The session a method runs on: the canonized copy for LRP-family methods, the model as it is otherwise.
  Session& session_for(const std::string& method);
  const CanonizeReport& canonize_report() const { return report_; }
  // Every method records its input's forward pass through Session::recorded, so asking again about the
  // same input (another target, composite, rule, concept or method) runs only the backward part. This
  // frees the kept pass: a benchmark timing whole explanations, a front end done with its input.
  void drop_recorded();

 private:
  std::shared_ptr<const Activations> record(Session& s, const std::vector<Tensor>& inputs);
  Explanation explain_batch(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  ConceptRanking concepts_batch(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  ConceptMaps concept_maps_batch(const std::vector<Tensor>& inputs, const ExplainRequest& request);
  Session& model_;
  CanonizeReport report_;
  Session canonical_;
};

}  // namespace relscope::relevance
