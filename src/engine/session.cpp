// relscope/engine/session.cpp — loading, plan cache, the kept recorded pass, batch splitting.
#include "engine/session.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/file.h"
#include "onnx/model.h"

namespace relscope {

namespace {
constexpr size_t kMaxCachedPlans = 4;

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

Session Session::load(const uint8_t* bytes, size_t size, const std::string& label, const Limits& limits) {
  return from_model(onnx::decode_model(bytes, size, limits, label), label, limits);
}

Session Session::from_model(onnx::ModelProto model, const std::string& label, const Limits& limits) {
  Session s;
  s.limits_ = limits;
  s.graph_ = std::make_unique<Graph>(build_graph(std::move(model), limits, label));
  return s;
}

Session Session::from_graph(Graph graph, const Limits& limits) {
  Session s;
  s.limits_ = limits;
  s.graph_ = std::make_unique<Graph>(std::move(graph));
  return s;
}

Session Session::load(ByteBuffer bytes, const std::string& label, const Limits& limits) {
  return from_model(onnx::decode_model(std::move(bytes), limits, label), label, limits);
}

Session Session::load_file(const std::string& path, const Limits& limits) {
  return load(read_file_buffer(path, limits.max_file_bytes), base_name(path), limits);
}

const Plan& Session::plan_for(const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<const Tensor*> ints;
  for (const auto& t : inputs) {
    shapes.push_back(t.shape);
    dtypes.push_back(t.dtype);
    ints.push_back(t.dtype == DType::Int64 ? &t : nullptr);
  }
  for (auto& p : plans_) {
    bool same = p->input_shapes == shapes && inputs.size() == graph_->inputs.size();
    for (size_t k = 0; same && k < inputs.size(); ++k)
      same = p->dtypes[graph_->inputs[k]] == dtypes[k] && (!ints[k] || p->input_ints[k] == ints[k]->i);
    if (same) return *p;
  }
  if (plans_.size() >= kMaxCachedPlans) {
    if (kept_ && kept_->plan == plans_.front()) kept_.reset();   // its memory goes with the plan's
    plans_.erase(plans_.begin());
  }
  plans_.push_back(std::make_shared<Plan>(make_plan(*graph_, shapes, dtypes, limits_, ints)));
  return *plans_.back();
}

// Bit for bit (same_bits), not ==: -0 and +0 can give different passes.
bool Session::is_kept(const std::vector<Tensor>& inputs) const {
  if (!kept_ || inputs.size() != graph_->inputs.size()) return false;
  for (size_t k = 0; k < inputs.size(); ++k)   // a recorded pass keeps its inputs among its values
    if (!same_bits(kept_->act.values[graph_->inputs[k]], inputs[k])) return false;
  return true;
}

void Session::drop_kept_unless(const std::vector<Tensor>& inputs) {
  if (kept_ && !is_kept(inputs)) kept_.reset();
}

std::shared_ptr<const Activations> Session::recorded(const std::vector<Tensor>& inputs) {
  if (is_kept(inputs)) return {kept_, &kept_->act};
  kept_.reset();   // before the new pass: never two recordings alive on the session's account
  auto kept = std::make_shared<Kept>();
  kept->act = forward_recorded(inputs);
  for (const auto& p : plans_)
    if (p.get() == kept->act.plan) kept->plan = p;
  kept_ = std::move(kept);
  return {kept_, &kept_->act};
}

bool Session::needs_batch_split(const std::vector<Tensor>& inputs) const {
  if (inputs.empty() || inputs.size() != graph_->inputs.size()) return false;
  const int64_t n = inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
  if (n <= 1) return false;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const auto& d = graph_->values[graph_->inputs[k]].declared;
    if (!d.has_shape || d.dims.empty() || d.dims[0].value != 1) return false;
    if (inputs[k].shape.empty() || inputs[k].shape[0] != n) return false;
  }
  return true;
}

std::vector<Tensor> Session::predict(const std::vector<Tensor>& inputs) {
  if (needs_batch_split(inputs)) {
    const int64_t n = inputs[0].shape[0];
    std::vector<std::vector<Tensor>> per_output(graph_->outputs.size());
    for (int64_t b = 0; b < n; ++b) {
      std::vector<Tensor> one;
      for (const auto& t : inputs) one.push_back(slice_batch(t, b, 1));
      auto outs = predict(one);
      for (size_t o = 0; o < outs.size(); ++o) per_output[o].push_back(std::move(outs[o]));
    }
    std::vector<Tensor> outs;
    for (auto& parts : per_output) outs.push_back(concat_batch(parts));
    return outs;
  }
  drop_kept_unless(inputs);
  const Plan& plan = plan_for(inputs);
  ++predict_runs_;
  // Up to one pass's worth of freed storage is kept between calls: the next pass's first outputs (a CNN's
  // largest) then skip their zero-fill too.
  pool_.set_budget(plan.activation_bytes);
  Activations act = execute(plan, inputs, /*record=*/false, &pool_);
  std::vector<Tensor> outs;
  for (int v : graph_->outputs) outs.push_back(plan.constants[v] ? *plan.constants[v] : std::move(act.values[v]));
  return outs;
}

Activations Session::forward_recorded(const std::vector<Tensor>& inputs) {
  drop_kept_unless(inputs);
  const Plan& plan = plan_for(inputs);
  // Relevance keeps every intermediate of the forward pass and, during the sweep, a relevance tensor of
  // the same size for each: twice what the plan counted for one pass. Refused before the pass runs.
  uint64_t input_bytes = 0;
  for (const auto& t : inputs) input_bytes += t.byte_size();
  const uint64_t need = 2 * (plan.activation_bytes + input_bytes);
  if (need > limits_.max_total_bytes)
    fail(ErrorKind::Limit, graph_->label + ": explaining input shape " + (inputs.empty() ? "[]" : shape_str(inputs[0].shape)) +
                               " needs " + std::to_string((need + (1 << 20) - 1) >> 20) +
                               " MiB of working memory (the recorded forward pass and its relevance), over the limit of " +
                               std::to_string((limits_.max_total_bytes + (1 << 20) - 1) >> 20) + " MiB");
  ++recorded_runs_;
  pool_.set_budget(0);   // a recorded pass keeps every value: plain passes' spare storage would only add to its peak
  Activations act = execute(plan, inputs, /*record=*/true);
  // What sweeps over this pass may keep (PassMemo): up to one more pass's worth, within the limit.
  act.memo.set_budget(std::min<uint64_t>(plan.activation_bytes, limits_.max_total_bytes - need));
  return act;
}

Tensor slice_batch(const Tensor& t, int64_t begin, int64_t count) {
  if (t.shape.empty() || begin < 0 || count < 0 || begin + count > t.shape[0])
    fail(ErrorKind::Internal, "slice_batch: rows [" + std::to_string(begin) + "," + std::to_string(begin + count) +
                                  ") of " + shape_str(t.shape));
  Tensor out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.shape[0] = count;
  const int64_t row = t.shape[0] ? t.numel() / t.shape[0] : 0;
  if (t.dtype == DType::Float32)
    out.f.assign(t.f.begin() + begin * row, t.f.begin() + (begin + count) * row);
  else
    out.i.assign(t.i.begin() + begin * row, t.i.begin() + (begin + count) * row);
  return out;
}

Tensor concat_batch(const std::vector<Tensor>& parts) {
  if (parts.empty()) fail(ErrorKind::Internal, "concat_batch: no parts");
  Tensor out;
  out.dtype = parts[0].dtype;
  out.shape = parts[0].shape;
  if (out.shape.empty()) out.shape = {1};
  out.shape[0] = 0;
  for (const auto& p : parts) {
    Shape a = p.shape.empty() ? Shape{1} : p.shape;
    Shape b = out.shape;
    b[0] = a[0];
    if (a != b || p.dtype != out.dtype)
      fail_input("per-sample outputs differ in shape (" + shape_str(p.shape) + "); cannot stack the batch");
    out.shape[0] += a[0];
    out.f.insert(out.f.end(), p.f.begin(), p.f.end());
    out.i.insert(out.i.end(), p.i.begin(), p.i.end());
  }
  return out;
}

std::vector<Tensor> example_inputs(const Graph& g) {
  std::vector<Tensor> in;
  for (int v : g.inputs) {
    Shape s;
    for (const auto& d : g.values[v].declared.dims) s.push_back(d.value >= 0 ? d.value : 1);
    in.push_back(Tensor::zeros(s, g.values[v].declared.elem_type == onnx::kInt64 ? DType::Int64 : DType::Float32));
  }
  return in;
}

}  // namespace relscope
