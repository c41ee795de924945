// relscope/engine/session.h — the engine's front door: load a model, run it.
//
// Sections: Session
//
// A Session owns the validated Graph and caches Plans per input shape (a
// canvas re-explaining the same input must not re-plan). Models exported with
// a fixed batch of 1 still accept a batch of N: the session runs the samples
// one by one and stacks the outputs, because users have batches and most
// PyTorch exports hard-code batch 1.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/limits.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "graph/graph.h"
#include "onnx/model.h"

namespace relscope {

class Session {
 public:
  // `label` names the model in every message (usually its file name).
  static Session load(const uint8_t* bytes, size_t size, const std::string& label, const Limits& limits = {});
  static Session load_file(const std::string& path, const Limits& limits = {});
  // From an already decoded model (tests, models built in code).
  static Session from_model(onnx::ModelProto model, const std::string& label, const Limits& limits = {});
  // From an already built graph (relevance runs a canonized copy).
  static Session from_graph(Graph graph, const Limits& limits = {});

  const Graph& graph() const { return *graph_; }
  const Limits& limits() const { return limits_; }

  // Outputs in graph-output order.
  std::vector<Tensor> predict(const std::vector<Tensor>& inputs);
  // One forward pass keeping every intermediate (for relevance). No batch splitting:
  // the inputs must fit the model's declared batch.
  Activations forward_recorded(const std::vector<Tensor>& inputs);
  // The plan for these inputs: their shapes, and the values of int64 inputs (cached).
  const Plan& plan_for(const std::vector<Tensor>& inputs);

  // True when every input declares a fixed batch of 1 and `inputs` carry N > 1 samples.
  bool needs_batch_split(const std::vector<Tensor>& inputs) const;

 private:
  std::unique_ptr<Graph> graph_;   // heap: plans point into it, sessions move
  Limits limits_;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// Zero tensors of the graph inputs' declared shapes, symbolic dims as 1: what a front end plans for when
// it needs shapes but has no data yet (`relscope rules`, the JS API's op list).
std::vector<Tensor> example_inputs(const Graph& g);

// Rows [begin, begin+count) of a tensor along axis 0, and the inverse.
Tensor slice_batch(const Tensor& t, int64_t begin, int64_t count);
Tensor concat_batch(const std::vector<Tensor>& parts);

}  // namespace relscope
