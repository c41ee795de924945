// relscope/cli/cmd_info.cpp — `relscope info MODEL.onnx`: what is in a model, and what relscope can't run.
#include <cstdio>
#include <map>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "engine/plan.h"
#include "engine/session.h"

namespace relscope::cli {

namespace {

std::string declared_shape(const onnx::ValueInfo& vi) {
  if (!vi.has_shape) return "[?]";
  std::string s = "[";
  for (size_t k = 0; k < vi.dims.size(); ++k) {
    if (k) s += ",";
    s += vi.dims[k].value >= 0 ? std::to_string(vi.dims[k].value) : (vi.dims[k].param.empty() ? "?" : vi.dims[k].param);
  }
  return s + "]";
}

// Symbolic and unknown dims become 1: enough to show what the model computes.
Shape example_shape(const onnx::ValueInfo& vi) {
  Shape s;
  for (const auto& d : vi.dims) s.push_back(d.value >= 0 ? d.value : 1);
  return s;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  const Args a = parse_args(argc, argv, 2, {});
  if (a.positional.size() != 1) fail_input("usage: relscope info MODEL.onnx");
  Session s = Session::load_file(a.positional[0]);
  const Graph& g = s.graph();

  std::printf("model: %s\n", g.label.c_str());
  std::printf("producer: %s, ir_version %lld, opset %lld\n", g.producer.empty() ? "unknown" : g.producer.c_str(),
              static_cast<long long>(g.ir_version), static_cast<long long>(g.opset));
  std::printf("inputs:\n");
  for (int v : g.inputs) {
    const auto& d = g.values[v].declared;
    std::printf("  %s %s %s\n", g.values[v].name.c_str(), onnx::elem_type_name(d.elem_type), declared_shape(d).c_str());
  }
  std::printf("outputs:\n");
  for (int v : g.outputs) {
    const auto& d = g.values[v].declared;
    std::printf("  %s %s %s\n", g.values[v].name.c_str(), onnx::elem_type_name(d.elem_type), declared_shape(d).c_str());
  }

  std::map<std::string, int> histogram;
  for (const auto& n : g.nodes) ++histogram[n.op_type];
  std::printf("ops: %zu nodes, %zu kinds\n", g.nodes.size(), histogram.size());
  for (const auto& [op, count] : histogram) std::printf("  %-22s %d\n", op.c_str(), count);

  long long params = 0;
  for (const auto& v : g.values)
    if (v.is_initializer && v.initializer->dtype == DType::Float32) params += v.initializer->numel();
  std::printf("parameters: %lld (%.2f MiB as float32)\n", params, params * 4.0 / (1 << 20));

  const auto bad = g.unsupported_nodes();
  if (!bad.empty()) {
    std::printf("unsupported: %zu node(s)\n", bad.size());
    for (const Node* n : bad) std::printf("  %s (%s)\n", n->name.c_str(), n->op_type.c_str());
    std::fprintf(stderr, "relscope info: %s: %zu unsupported node(s); relscope cannot run this model\n", g.label.c_str(),
                 bad.size());
    return 2;
  }
  std::printf("unsupported: none\n");

  // Inferred shapes for batch 1: proves the model plans, and shows what the outputs are. int64 inputs
  // carry data that shapes may depend on; without real values there is nothing honest to show.
  std::vector<Tensor> inputs;
  for (int v : g.inputs) {
    if (g.values[v].declared.elem_type == onnx::kInt64) {
      std::printf("inferred: depends on the values of int64 input '%s'\n", g.values[v].name.c_str());
      return 0;
    }
    inputs.push_back(Tensor::zeros(example_shape(g.values[v].declared)));
  }
  const Plan& p = s.plan_for(inputs);
  std::printf("inferred (symbolic dims = 1): ");
  for (size_t k = 0; k < g.outputs.size(); ++k)
    std::printf("%s%s %s", k ? ", " : "", g.values[g.outputs[k]].name.c_str(), shape_str(p.shapes[g.outputs[k]]).c_str());
  std::printf("; %zu nodes to run, %zu folded, %.2f MiB of activations\n", p.steps.size(), g.nodes.size() - p.steps.size(),
              p.activation_bytes / double(1 << 20));
  return 0;
}

}  // namespace relscope::cli
