// relscope/graph/graph.cpp — ModelProto -> Graph, with structural validation.
//
// Sections: helpers | opset | values (initializers, inputs, node outputs) | node inputs |
//           topological order (cycles refused) | Graph methods
#include "graph/graph.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "core/error.h"

namespace relscope {

namespace {

constexpr int64_t kMinOpset = 7;    // older models use semantics relscope does not implement
constexpr int64_t kMaxOpset = 22;

std::string quote(const std::string& s) { return "'" + s + "'"; }

int64_t ai_onnx_opset(const onnx::ModelProto& m, const std::string& label) {
  int64_t v = -1;
  for (const auto& [domain, version] : m.opsets)
    if (domain.empty() || domain == "ai.onnx") v = std::max(v, version);
  if (v < 0) fail_input(label + ": the model imports no ai.onnx opset (opset_import is missing)");
  if (v < kMinOpset || v > kMaxOpset)
    fail(ErrorKind::Unsupported, label + ": ai.onnx opset " + std::to_string(v) + " is not supported (relscope reads opsets " +
                                     std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  return v;
}

}  // namespace

std::string Graph::node_label(const Node& n) const {
  return label + ": node " + quote(n.name) + " (" + n.op_type + ")";
}

int Graph::find_value(const std::string& name) const {
  auto it = value_index.find(name);
  return it == value_index.end() ? -1 : it->second;
}

std::vector<const Node*> Graph::unsupported_nodes() const {
  std::vector<const Node*> out;
  for (const auto& n : nodes)
    if (n.op == Op::Unsupported) out.push_back(&n);
  return out;
}

void Graph::require_supported() const {
  const auto bad = unsupported_nodes();
  if (bad.empty()) return;
  std::string msg = label + ": " + std::to_string(bad.size()) + " unsupported node" + (bad.size() > 1 ? "s" : "") + ": ";
  for (size_t k = 0; k < bad.size() && k < 8; ++k) {
    if (k) msg += ", ";
    msg += quote(bad[k]->name) + " (" + (bad[k]->op_type.empty() ? "<empty op_type>" : bad[k]->op_type) + ")";
  }
  if (bad.size() > 8) msg += ", ...";
  fail(ErrorKind::Unsupported, msg);
}

Graph build_graph(onnx::ModelProto model, const Limits& limits, std::string_view label_view) {
  Graph g;
  g.label = std::string(label_view);
  const std::string& label = g.label;
  g.opset = ai_onnx_opset(model, label);
  g.ir_version = model.ir_version;
  g.producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  auto& mg = model.graph;
  if (mg.nodes.size() > limits.max_nodes)
    fail(ErrorKind::Limit, label + ": " + std::to_string(mg.nodes.size()) + " nodes exceed the limit of " +
                               std::to_string(limits.max_nodes));

  // ---- values: initializers, then graph inputs, then node outputs ----
  auto define = [&](const std::string& name, const std::string& by) -> int {
    if (name.empty()) fail_input(label + ": " + by + " defines a value with an empty name");
    if (g.value_index.count(name))
      fail_input(label + ": value " + quote(name) + " is defined twice (again by " + by + ")");
    g.values.push_back(Value{});
    g.values.back().name = name;
    const int id = static_cast<int>(g.values.size()) - 1;
    g.value_index[name] = id;
    return id;
  };
  for (auto& init : mg.initializers) {
    const int id = define(init.name, "initializer " + quote(init.name));
    g.values[id].is_initializer = true;
    g.values[id].initializer = std::make_shared<const Tensor>(std::move(init.tensor));
  }
  for (const auto& in : mg.inputs) {
    const int existing = g.find_value(in.name);
    if (existing >= 0 && g.values[existing].is_initializer) {
      g.values[existing].declared = in;   // an input with a default (old exporters): a constant here
      continue;
    }
    const int id = define(in.name, "graph input " + quote(in.name));
    g.values[id].declared = in;
    if (in.elem_type != onnx::kFloat && in.elem_type != onnx::kInt64)
      fail(ErrorKind::Unsupported, label + ": graph input " + quote(in.name) + " has element type " +
                                       onnx::elem_type_name(in.elem_type) + "; relscope reads float32 and int64 inputs");
    g.inputs.push_back(id);
  }

  // ---- nodes: op lookup, names, outputs ----
  g.nodes.resize(mg.nodes.size());
  std::unordered_map<std::string, size_t> node_names;
  for (size_t k = 0; k < mg.nodes.size(); ++k) {
    auto& p = mg.nodes[k];
    Node& n = g.nodes[k];
    n.name = p.name.empty() ? "#" + std::to_string(k) : p.name;
    if (!p.name.empty()) {
      auto [it, fresh] = node_names.emplace(p.name, k);
      if (!fresh) fail_input(label + ": two nodes are named " + quote(p.name) + " (nodes " + std::to_string(it->second) +
                             " and " + std::to_string(k) + ")");
    }
    n.op_type = p.op_type;
    const bool onnx_domain = p.domain.empty() || p.domain == "ai.onnx";
    n.op = onnx_domain ? op_from_name(p.op_type) : Op::Unsupported;
    if (!onnx_domain) n.op_type = p.domain + "." + p.op_type;
    n.attrs = Attrs(std::move(p.attributes), g.node_label(n));
    for (const auto& out : p.outputs) {
      if (out.empty()) {
        n.outputs.push_back(-1);
        continue;
      }
      const int id = define(out, g.node_label(n));
      g.values[id].producer = static_cast<int>(k);
      n.outputs.push_back(id);
    }
  }
  for (auto& vi : mg.value_info) {
    const int id = g.find_value(vi.name);
    if (id >= 0 && !g.values[id].declared.has_shape) g.values[id].declared = vi;
  }

  // ---- node inputs must be defined somewhere ----
  for (size_t k = 0; k < mg.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    for (const auto& in : mg.nodes[k].inputs) {
      if (in.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      const int id = g.find_value(in);
      if (id < 0)
        fail_input(g.node_label(n) + ": input " + quote(in) + " is not produced by any node, initializer or graph input");
      n.inputs.push_back(id);
    }
  }
  for (const auto& out : mg.outputs) {
    const int id = g.find_value(out.name);
    if (id < 0) fail_input(label + ": graph output " + quote(out.name) + " is not produced by any node");
    if (!g.values[id].declared.has_shape) g.values[id].declared = out;
    g.outputs.push_back(id);
  }
  if (g.outputs.empty()) fail_input(label + ": the graph declares no outputs");

  // ---- weights must be finite ----
  // NaN in a constant is never meaningful, and ReLU or max-pooling can swallow it, so the run would give a
  // finite, wrong answer: refuse it. +-Inf is legitimate in masks and clip bounds (attention masks use
  // -inf), but not in the weights or statistics of a linear or normalization layer.
  auto first_bad = [](const Tensor& t, bool inf_too) -> int64_t {
    for (size_t k = 0; k < t.f.size(); ++k)
      if (std::isnan(t.f[k]) || (inf_too && std::isinf(t.f[k]))) return static_cast<int64_t>(k);
    return -1;
  };
  auto describe = [](float v) { return std::string(std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"); };
  for (const Value& v : g.values)
    if (v.is_initializer && v.initializer->dtype == DType::Float32)
      if (const int64_t k = first_bad(*v.initializer, false); k >= 0)
        fail_input(label + ": initializer " + quote(v.name) + " " + shape_str(v.initializer->shape) + " holds NaN at element " +
                   std::to_string(k) + "; the model's weights are corrupt");
  for (const Node& n : g.nodes) {
    const bool weighted = n.op == Op::Conv || n.op == Op::ConvTranspose || n.op == Op::Gemm || n.op == Op::MatMul ||
                          n.op == Op::BatchNormalization || n.op == Op::LayerNormalization;
    for (int v : n.inputs)
      if (weighted && v >= 0 && g.values[v].is_initializer && g.values[v].initializer->dtype == DType::Float32)
        if (const int64_t k = first_bad(*g.values[v].initializer, true); k >= 0)
          fail_input(g.node_label(n) + ": weight " + quote(g.values[v].name) + " holds " +
                     describe(g.values[v].initializer->f[k]) + " at element " + std::to_string(k) +
                     "; a layer with infinite weights has no meaningful output");
    if (n.op == Op::Constant)
      if (const Tensor* t = n.attrs.get_tensor("value"); t && t->dtype == DType::Float32 && first_bad(*t, false) >= 0)
        fail_input(g.node_label(n) + ": its value holds NaN at element " + std::to_string(first_bad(*t, false)) +
                   "; the model's constants are corrupt");
  }

  // ---- topological order (Kahn); leftovers form a cycle ----
  const size_t n_nodes = g.nodes.size();
  std::vector<int> pending(n_nodes, 0);
  std::vector<std::vector<int>> consumers(n_nodes);
  for (size_t k = 0; k < n_nodes; ++k)
    for (int v : g.nodes[k].inputs)
      if (v >= 0 && g.values[v].producer >= 0) {
        ++pending[k];
        consumers[g.values[v].producer].push_back(static_cast<int>(k));
      }
  std::queue<int> ready;
  for (size_t k = 0; k < n_nodes; ++k)
    if (pending[k] == 0) ready.push(static_cast<int>(k));
  std::vector<int> order;
  order.reserve(n_nodes);
  while (!ready.empty()) {
    const int k = ready.front();
    ready.pop();
    order.push_back(k);
    for (int c : consumers[k])
      if (--pending[c] == 0) ready.push(c);
  }
  if (order.size() != n_nodes) {
    for (size_t k = 0; k < n_nodes; ++k)
      if (pending[k] > 0) fail_input(g.node_label(g.nodes[k]) + ": the graph has a cycle through this node");
  }
  // Reorder nodes and remap producers.
  std::vector<Node> sorted;
  sorted.reserve(n_nodes);
  for (int k : order) sorted.push_back(std::move(g.nodes[k]));
  g.nodes = std::move(sorted);
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int v : g.nodes[k].outputs)
      if (v >= 0) g.values[v].producer = static_cast<int>(k);
  return g;
}

}  // namespace relscope
