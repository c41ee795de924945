// relscope/engine/executor.h — runs a Plan on the cpu kernels.
//
// Sections: Activations | execute()
//
// With `record` every intermediate value is kept (the relevance sweep needs the
// inputs of each layer); without it a value is freed after its last reader, so
// a plain forward pass holds only the live tensors.
#pragma once
#include <vector>

#include "engine/plan.h"

namespace relscope {

struct Activations {
  const Plan* plan = nullptr;
  std::vector<Tensor> values;   // per value id; empty for constants and freed values

  // The value's tensor: a constant (initializer/folded) or the computed one.
  const Tensor& get(int value) const { return plan->constants[value] ? *plan->constants[value] : values[value]; }
};

// `inputs` in graph-input order, shapes as the plan was made for.
Activations execute(const Plan& plan, std::vector<Tensor> inputs, bool record);

}  // namespace relscope
