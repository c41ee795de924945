// relscope/graph/graph.h — the model as typed nodes over numbered values.
//
// Sections: Value | Node | Graph | build_graph()
//
// build_graph() turns the decoded ModelProto into this form and validates its
// structure: known ops (unknown ones kept as Op::Unsupported so they can all be
// listed), every input defined, no value produced twice, acyclic (nodes are
// stored in a topological order). Concrete shapes come later, per input shape,
// from the engine's planner (src/engine/plan.h).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/limits.h"
#include "core/tensor.h"
#include "graph/attrs.h"
#include "graph/ops.h"
#include "onnx/model.h"

namespace relscope {

struct Value {
  std::string name;
  int producer = -1;          // node index, -1 for graph inputs and initializers
  bool is_initializer = false;
  // The weights, when is_initializer; shared and never written: a graph's copies (a canonizer's rewrite, an
  // MC-dropout member) hold the same weights, not another copy of them (VGG-16: 528 MiB each).
  std::shared_ptr<const Tensor> initializer;
  onnx::ValueInfo declared;   // declared type/shape (graph inputs/outputs/value_info), if any
};

struct Node {
  std::string name;           // ONNX node name; "#<index>" when the model left it empty
  std::string op_type;        // as written in the model
  Op op = Op::Unsupported;
  std::vector<int> inputs;    // value ids; -1 for an omitted optional input
  std::vector<int> outputs;   // value ids; -1 for an omitted optional output
  Attrs attrs;
};

struct Graph {
  std::string label;          // file name, prefixes messages
  int64_t opset = 0;          // ai.onnx opset version
  int64_t ir_version = 0;
  std::string producer;       // "pytorch 1.13.1", for `relscope info`
  std::vector<Value> values;
  std::vector<Node> nodes;    // topological order
  std::vector<int> inputs;    // real inputs (graph inputs that are not initializers)
  std::vector<int> outputs;
  std::unordered_map<std::string, int> value_index;

  // "model.onnx: node 'conv1' (Conv)" — the prefix of every per-node message.
  std::string node_label(const Node& n) const;
  int find_value(const std::string& name) const;   // -1 when absent
  // Nodes whose op relscope does not implement (for info and for load errors).
  std::vector<const Node*> unsupported_nodes() const;
  // Throws Unsupported naming every unsupported node (with op type and domain).
  void require_supported() const;
};

// Validates structure; throws relscope::Error with the node or field at fault.
Graph build_graph(onnx::ModelProto model, const Limits& limits, std::string_view label);

}  // namespace relscope
