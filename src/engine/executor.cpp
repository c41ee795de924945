// relscope/engine/executor.cpp — the forward pass: allocate outputs, call each op's kernel.
#include "engine/executor.h"

#include <algorithm>

#include "core/error.h"
#include "engine/op_registry.h"

namespace relscope {

void PassMemo::drop_oldest() {
  const auto old = entries_.find(order_.front());
  bytes_ -= std::visit([](const auto& v) { return static_cast<uint64_t>(v.size() * sizeof(v[0])); }, old->second);
  entries_.erase(old);
  order_.pop_front();
}

// ---- BufferPool --------------------------------------------------------------------------------------------------
bool BufferPool::take(size_t n, std::vector<float>& out) {
  size_t best = kept_.size();
  for (size_t k = 0; k < kept_.size(); ++k)
    if (kept_[k].size() >= n && (best == kept_.size() || kept_[k].size() < kept_[best].size())) best = k;
  if (best == kept_.size()) return false;
  bytes_ -= kept_[best].size() * sizeof(float);
  out = std::move(kept_[best]);
  kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(best));
  out.resize(n);   // shrinking: no element is written
  ++taken_;
  return true;
}

void BufferPool::give(std::vector<float>&& v) {
  const uint64_t size = v.size() * sizeof(float);
  if (v.size() < kMinFloats || bytes_ + size > budget_) return;   // `v` is freed by its owner
  bytes_ += size;
  kept_.push_back(std::move(v));
}

void BufferPool::set_budget(uint64_t bytes) {
  budget_ = bytes;
  while (bytes_ > budget_) {   // the largest leave first
    auto it = std::max_element(kept_.begin(), kept_.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
    bytes_ -= it->size() * sizeof(float);
    kept_.erase(it);
  }
}

// ---- execute() ---------------------------------------------------------------------------------------------------
Activations execute(const Plan& plan, std::vector<Tensor> inputs, bool record, BufferPool* pool) {
  if (record) pool = nullptr;   // a recorded pass frees nothing and must not hold a pool's storage
  const Graph& g = *plan.graph;
  if (inputs.size() != g.inputs.size())
    fail(ErrorKind::Internal, "execute: " + std::to_string(inputs.size()) + " inputs for a plan of " + std::to_string(g.inputs.size()));
  Activations act;
  act.plan = &plan;
  act.values.resize(g.values.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int v = g.inputs[k];
    if (inputs[k].shape != plan.shapes[v] || inputs[k].dtype != plan.dtypes[v])
      fail(ErrorKind::Internal, "execute: input '" + g.values[v].name + "' does not match the plan");
    act.values[v] = std::move(inputs[k]);
  }
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Node& n = g.nodes[plan.steps[s]];
    RunCtx ctx{g, n, g.opset, {}, {}};
    ctx.in.reserve(n.inputs.size());
    for (int v : n.inputs) ctx.in.push_back(v >= 0 ? &act.get(v) : nullptr);
    for (int v : n.outputs) {
      if (v < 0) {
        ctx.out.push_back(nullptr);
        continue;
      }
      Tensor& t = act.values[v];
      t.shape = plan.shapes[v];
      t.dtype = plan.dtypes[v];
      if (!(pool && t.dtype == DType::Float32 && op_impl(n.op).overwrites_outputs &&
            pool->take(static_cast<size_t>(t.numel()), t.f)))
        t.allocate();
      ctx.out.push_back(&t);
    }
    op_impl(n.op).run(ctx);
    if (!record)
      for (int v : n.inputs)
        if (v >= 0 && !plan.constants[v] && plan.last_use[v] == static_cast<int>(s)) {
          if (pool) pool->give(std::move(act.values[v].f));
          act.values[v] = Tensor{};
        }
  }
  return act;
}

}  // namespace relscope
