// relscope/engine/executor.cpp — the forward pass: allocate outputs, call each op's kernel.
#include "engine/executor.h"

#include "core/error.h"
#include "engine/op_registry.h"

namespace relscope {

void PassMemo::drop_oldest() {
  const auto old = entries_.find(order_.front());
  bytes_ -= std::visit([](const auto& v) { return static_cast<uint64_t>(v.size() * sizeof(v[0])); }, old->second);
  entries_.erase(old);
  order_.pop_front();
}

Activations execute(const Plan& plan, std::vector<Tensor> inputs, bool record) {
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
      t.allocate();
      ctx.out.push_back(&t);
    }
    op_impl(n.op).run(ctx);
    if (!record)
      for (int v : n.inputs)
        if (v >= 0 && !plan.constants[v] && plan.last_use[v] == static_cast<int>(s)) act.values[v] = Tensor{};
  }
  return act;
}

}  // namespace relscope
