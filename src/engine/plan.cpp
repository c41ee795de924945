// relscope/engine/plan.cpp — shape inference, constant folding and the memory check.
//
// Sections: input binding (declared vs given shapes) | per-node inference + folding |
//           memory check | last use
#include "engine/plan.h"

#include <climits>
#include <map>

#include "core/error.h"
#include "engine/op_registry.h"

namespace relscope {

namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Checks a given input shape against the model's declaration and binds symbolic dims.
void bind_input(const Graph& g, const Value& v, const Shape& given, DType dtype, std::map<std::string, int64_t>& symbols) {
  const std::string what = g.label + ": input '" + v.name + "'";
  const auto& d = v.declared;
  const DType declared_dtype = d.elem_type == onnx::kInt64 ? DType::Int64 : DType::Float32;
  if (dtype != declared_dtype)
    fail_input(what + " is " + dtype_name(declared_dtype) + " but " + dtype_name(dtype) + " data was given");
  if (!d.has_shape) return;
  std::string declared = "[";
  for (size_t k = 0; k < d.dims.size(); ++k)
    declared += (k ? "," : "") + (d.dims[k].value >= 0 ? std::to_string(d.dims[k].value)
                                                         : (d.dims[k].param.empty() ? "?" : d.dims[k].param));
  declared += "]";
  if (given.size() != d.dims.size())
    fail_input(what + " expects rank " + std::to_string(d.dims.size()) + " " + declared + ", got shape " + shape_str(given));
  for (size_t k = 0; k < given.size(); ++k) {
    const auto& dim = d.dims[k];
    if (dim.value >= 0 && dim.value != given[k])
      fail_input(what + " expects shape " + declared + ", got " + shape_str(given) + " (axis " + std::to_string(k) + ")");
    if (dim.value < 0 && !dim.param.empty()) {
      auto [it, fresh] = symbols.emplace(dim.param, given[k]);
      if (!fresh && it->second != given[k])
        fail_input(what + ": dimension '" + dim.param + "' is " + std::to_string(given[k]) + " here but " +
                   std::to_string(it->second) + " in another input");
    }
  }
}

bool is_foldable(const Node& n, const Plan& p) {
  if (n.op == Op::Shape || n.op == Op::Constant) return true;   // need only shapes / nothing
  bool any_input = false;
  for (int v : n.inputs) {
    if (v < 0) continue;
    any_input = true;
    if (!p.is_constant(v)) return false;
  }
  return any_input;
}

}  // namespace

Plan make_plan(const Graph& g, const std::vector<Shape>& input_shapes, const std::vector<DType>& input_dtypes,
               const Limits& limits, const std::vector<const Tensor*>& int_values) {
  g.require_supported();
  if (input_shapes.size() != g.inputs.size()) {
    std::string names;
    for (int v : g.inputs) names += (names.empty() ? "" : ", ") + g.values[v].name;
    fail_input(g.label + ": the model takes " + std::to_string(g.inputs.size()) + " input(s) (" + names + "), " +
               std::to_string(input_shapes.size()) + " given");
  }
  Plan p;
  p.graph = &g;
  p.input_shapes = input_shapes;
  const size_t nv = g.values.size();
  p.shapes.assign(nv, {});
  p.dtypes.assign(nv, DType::Float32);
  p.constants.assign(nv, nullptr);

  uint64_t input_bytes = 0;
  std::map<std::string, int64_t> symbols;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const Value& v = g.values[g.inputs[k]];
    const DType dt = k < input_dtypes.size() ? input_dtypes[k] : DType::Float32;
    bind_input(g, v, input_shapes[k], dt, symbols);
    const int64_t n = checked_numel(input_shapes[k].data(), input_shapes[k].size(), limits, g.label + ": input '" + v.name + "'");
    p.shapes[g.inputs[k]] = input_shapes[k];
    p.dtypes[g.inputs[k]] = dt;
    input_bytes += static_cast<uint64_t>(n) * (dt == DType::Float32 ? 4 : 8);
    p.input_ints.emplace_back();
    if (dt == DType::Int64) {
      if (k >= int_values.size() || !int_values[k] || int_values[k]->shape != input_shapes[k] || int_values[k]->dtype != DType::Int64)
        fail(ErrorKind::Internal, g.label + ": make_plan needs the values of int64 input '" + v.name + "'");
      p.input_ints.back() = int_values[k]->i;
      p.folded.push_back(std::make_unique<Tensor>(*int_values[k]));
      p.constants[g.inputs[k]] = p.folded.back().get();
    }
  }
  for (size_t v = 0; v < nv; ++v)
    if (g.values[v].is_initializer) {
      p.constants[v] = g.values[v].initializer.get();
      p.shapes[v] = g.values[v].initializer->shape;
      p.dtypes[v] = g.values[v].initializer->dtype;
    }

  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    const OpImpl& impl = op_impl(n.op);
    if (!impl.infer || !impl.run) fail(ErrorKind::Unsupported, g.node_label(n) + ": this op is not implemented yet");
    const int given = static_cast<int>(n.inputs.size());
    if (given < impl.min_inputs || given > impl.max_inputs)
      fail_input(g.node_label(n) + ": takes " + std::to_string(impl.min_inputs) +
                 (impl.max_inputs != impl.min_inputs ? " to " + std::to_string(impl.max_inputs) : "") + " inputs, " +
                 std::to_string(given) + " given");
    // Every op's first output is required by ONNX (only later ones are optional) and the kernels write it;
    // the explain fuzzer found a Conv whose outputs were dropped entirely.
    if (n.outputs.empty() || n.outputs[0] < 0)
      fail_input(g.node_label(n) + ": has no first output (ONNX requires it; only later outputs may be left out)");
    InferCtx ctx{g, n, g.opset, {}, {}, {}, {}, {}};
    for (int v : n.inputs) {
      ctx.in_shapes.push_back(v >= 0 ? &p.shapes[v] : nullptr);
      ctx.in_dtypes.push_back(v >= 0 ? p.dtypes[v] : DType::Float32);
      ctx.in_values.push_back(v >= 0 ? p.constants[v] : nullptr);
    }
    impl.infer(ctx);
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const int v = n.outputs[o];
      if (v < 0) continue;
      if (o >= ctx.out_shapes.size())
        fail(ErrorKind::Unsupported, g.node_label(n) + ": output " + std::to_string(o) + " ('" + g.values[v].name +
                                         "') is not supported by relscope");
      p.shapes[v] = ctx.out_shapes[o];
      p.dtypes[v] = o < ctx.out_dtypes.size() ? ctx.out_dtypes[o] : DType::Float32;
      checked_numel(p.shapes[v].data(), p.shapes[v].size(), limits, g.node_label(n) + ": output '" + g.values[v].name + "'");
    }

    std::vector<Tensor*> outs;
    if (is_foldable(n, p)) {
      RunCtx run{g, n, g.opset, {}, {}};
      for (size_t j = 0; j < n.inputs.size(); ++j) {
        const int v = n.inputs[j];
        if (v < 0) {
          run.in.push_back(nullptr);
        } else if (p.constants[v]) {
          run.in.push_back(p.constants[v]);
        } else {   // only Shape gets here: it reads the shape alone
          auto shape_only = std::make_unique<Tensor>();
          shape_only->shape = p.shapes[v];
          shape_only->dtype = p.dtypes[v];
          run.in.push_back(shape_only.get());
          p.folded.push_back(std::move(shape_only));
        }
      }
      for (int v : n.outputs) {
        if (v < 0) {
          run.out.push_back(nullptr);
          continue;
        }
        auto t = std::make_unique<Tensor>(Tensor::zeros(p.shapes[v], p.dtypes[v]));
        run.out.push_back(t.get());
        p.constants[v] = t.get();
        p.folded.push_back(std::move(t));
      }
      impl.run(run);
    } else {
      p.steps.push_back(static_cast<int>(k));
      for (int v : n.outputs)
        if (v >= 0) p.activation_bytes += static_cast<uint64_t>(shape_numel(p.shapes[v])) * (p.dtypes[v] == DType::Float32 ? 4 : 8);
    }
  }

  const uint64_t total = p.activation_bytes + input_bytes;
  if (total > limits.max_total_bytes)
    fail(ErrorKind::Limit, g.label + ": a forward pass for input shape " +
                               (input_shapes.empty() ? std::string("[]") : shape_str(input_shapes[0])) + " needs " + mib(total) +
                               " of working memory, over the limit of " + mib(limits.max_total_bytes));

  p.last_use.assign(nv, -1);
  for (size_t s = 0; s < p.steps.size(); ++s)
    for (int v : g.nodes[p.steps[s]].inputs)
      if (v >= 0) p.last_use[v] = static_cast<int>(s);
  for (int v : g.outputs) p.last_use[v] = INT_MAX;
  return p;
}

}  // namespace relscope
