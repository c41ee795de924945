// relscope/engine/session.h — the engine's front door: load a model, run it.
//
// Sections: Session
//
// A Session owns the validated Graph and caches Plans per input shape (a
// canvas re-explaining the same input must not re-plan), and keeps the last
// recorded forward pass (`recorded`): re-explaining the same input with another
// target, composite, rule or concept is then only the backward sweep. Models exported with
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
  // Consuming the bytes: they are given back while the weights are converted (onnx::decode_model), so
  // loading peaks near the file's size, not twice it. load_file reads into such a buffer.
  static Session load(ByteBuffer bytes, const std::string& label, const Limits& limits = {});
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
  // The same pass, kept: while the inputs are bit for bit those of the last call, the kept pass is returned
  // instead of running the model again. One pass is kept, never more: a forward pass (recorded or not) on
  // other inputs drops it first, so the memory at the peak is what an uncached run needs.
  std::shared_ptr<const Activations> recorded(const std::vector<Tensor>& inputs);
  // Frees the kept pass (benchmarks timing a first explanation; a front end done with an input).
  void drop_recorded() { kept_.reset(); }
  bool has_recorded() const { return kept_ != nullptr; }
  // Forward passes this session has run, recorded (kept or not) and plain: what tests count.
  uint64_t recorded_runs() const { return recorded_runs_; }
  uint64_t predict_runs() const { return predict_runs_; }
  // Outputs of plain passes that got recycled storage instead of a zero-filled vector (executor.h's BufferPool).
  uint64_t pooled_outputs() const { return pool_.taken(); }
  // The plan for these inputs: their shapes, and the values of int64 inputs (cached).
  const Plan& plan_for(const std::vector<Tensor>& inputs);

  // True when every input declares a fixed batch of 1 and `inputs` carry N > 1 samples.
  bool needs_batch_split(const std::vector<Tensor>& inputs) const;

 private:
  struct Kept {                           // a recorded pass (its inputs are in act.values)
    std::shared_ptr<const Plan> plan;     // alive while the pass is, even after the plan cache lets go
    Activations act;
  };
  bool is_kept(const std::vector<Tensor>& inputs) const;
  void drop_kept_unless(const std::vector<Tensor>& inputs);

  std::unique_ptr<Graph> graph_;   // heap: plans point into it, sessions move
  Limits limits_;
  std::vector<std::shared_ptr<Plan>> plans_;
  std::shared_ptr<const Kept> kept_;
  BufferPool pool_;   // plain passes' freed float storage, for the next outputs (executor.h)
  uint64_t recorded_runs_ = 0, predict_runs_ = 0;
};

// Zero tensors of the graph inputs' declared shapes, symbolic dims as 1: what a front end plans for when
// it needs shapes but has no data yet (`relscope rules`, the JS API's op list).
std::vector<Tensor> example_inputs(const Graph& g);

// Rows [begin, begin+count) of a tensor along axis 0, and the inverse.
Tensor slice_batch(const Tensor& t, int64_t begin, int64_t count);
Tensor concat_batch(const std::vector<Tensor>& parts);

}  // namespace relscope
