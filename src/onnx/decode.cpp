// relscope/onnx/decode.cpp — ModelProto bytes to relscope::onnx::ModelProto.
//
// Sections: ValueInfoProto/TypeProto | AttributeProto | NodeProto | GraphProto | decode_model
//
// Field numbers are onnx.proto3's. Unknown fields are skipped (newer ONNX
// versions add fields); fields relscope cannot honour (sparse initializers,
// external data) are refused with Unsupported rather than silently dropped.
// TensorProto conversion lives in tensor_proto.cpp, the checked reader in wire.cpp.
// Initializers are converted last, from the last one in the file to the first, once every other field has
// been read: given the bytes to own (decode_model(ByteBuffer)), the decoder then gives back everything from
// each converted initializer on, so a model's file and its converted weights are never both held whole.
#include <algorithm>

#include "onnx/model.h"
#include "onnx/wire.h"

namespace relscope::onnx {
namespace detail {
namespace {

using protozero::data_view;

// ---- ValueInfoProto / TypeProto -----------------------------------------------------------------

Dim read_dim(const Ctx& ctx, data_view bytes) {
  Dim d;
  Msg m(ctx, "TensorShapeProto.Dimension", bytes);
  while (m.next()) {
    if (m.tag() == 1) d.value = m.int64("dim_value");
    else if (m.tag() == 2) d.param = m.str("dim_param");
    else m.skip();
  }
  // A negative dim_value is not a size; treat it as unknown rather than refuse the model.
  if (d.value < 0) d.value = -1;
  return d;
}

void read_tensor_type(const Ctx& ctx, data_view bytes, ValueInfo& vi) {
  Msg m(ctx, "TypeProto.Tensor", bytes);
  while (m.next()) {
    if (m.tag() == 1) {
      vi.elem_type = static_cast<int32_t>(m.varint("elem_type"));
    } else if (m.tag() == 2) {
      vi.has_shape = true;
      Msg shape(ctx, "TensorShapeProto", m.view("shape"));
      while (shape.next()) {
        if (shape.tag() != 1) { shape.skip(); continue; }
        if (vi.dims.size() >= ctx.limits.max_rank)
          fail(ErrorKind::Limit, ctx.label + ": value '" + vi.name + "': rank exceeds the limit of " +
                                     std::to_string(ctx.limits.max_rank));
        vi.dims.push_back(read_dim(ctx, shape.view("dim")));
      }
    } else {
      m.skip();
    }
  }
}

ValueInfo read_value_info(const Ctx& ctx, data_view bytes) {
  ValueInfo vi;
  Msg m(ctx, "ValueInfoProto", bytes);
  data_view type;
  bool has_type = false;
  while (m.next()) {
    if (m.tag() == 1) vi.name = m.str("name");
    else if (m.tag() == 2) { type = m.view("type"); has_type = true; }
    else m.skip();
  }
  if (!has_type) return vi;
  // Only tensor types carry what relscope uses; sequence/map/optional types stay kUndefined.
  Msg t(ctx, "TypeProto", type);
  while (t.next()) {
    if (t.tag() == 1) read_tensor_type(ctx, t.view("tensor_type"), vi);
    else t.skip();
  }
  return vi;
}

// ---- AttributeProto ---------------------------------------------------------------------------

Attribute read_attribute(Ctx& ctx, data_view bytes, const std::string& node_desc) {
  Attribute a;
  Msg m(ctx, "AttributeProto", bytes);
  const uint64_t max = ctx.limits.max_tensor_elements;
  std::vector<data_view> tensors;   // decoded after the loop, when the attribute's name is known
  bool seen[12] = {};               // which value fields (2..11) appeared, to infer a missing type
  while (m.next()) {
    const uint32_t tag = m.tag();
    if (tag >= 2 && tag <= 11) seen[tag] = true;
    switch (tag) {
      case 1: a.name = m.str("name"); break;
      case 2: a.f = m.float32("f"); break;
      case 3: a.i = m.int64("i"); break;
      case 4: a.s = m.str("s"); break;
      case 5: tensors.push_back(m.view("t")); break;
      case 7: m.floats("floats", a.floats, max); break;
      case 8: m.ints("ints", a.ints, max); break;
      case 9: a.strings.push_back(m.str("strings")); break;
      case 10: tensors.push_back(m.view("tensors")); break;
      // Subgraphs (If/Loop/Scan bodies) are not decoded; the type records them so a later stage can refuse.
      case 20: a.type = static_cast<AttrType>(m.varint("type")); break;
      default: m.skip(); break;
    }
  }
  if (a.type == AttrType::Undefined) {
    // Pre-IR-3 files omit `type`; the field that carries the value says it.
    static constexpr AttrType by_field[12] = {
        AttrType::Undefined, AttrType::Undefined, AttrType::Float,  AttrType::Int,    AttrType::String,
        AttrType::Tensor,    AttrType::Graph,     AttrType::Floats, AttrType::Ints,   AttrType::Strings,
        AttrType::Tensors,   AttrType::Graphs};
    for (int f = 2; f <= 11 && a.type == AttrType::Undefined; ++f)
      if (seen[f]) a.type = by_field[f];
  }
  const std::string role = node_desc + " attribute '" + a.name + "' tensor";
  for (const data_view& t : tensors) a.tensors.push_back(read_tensor(ctx, t, role, nullptr));
  return a;
}

// ---- NodeProto --------------------------------------------------------------------------------

NodeProto read_node(Ctx& ctx, data_view bytes, size_t index) {
  NodeProto n;
  Msg m(ctx, "NodeProto", bytes);
  std::vector<data_view> attrs;   // decoded after the loop so errors can name the node
  while (m.next()) {
    switch (m.tag()) {
      case 1: n.inputs.push_back(m.str("input")); break;
      case 2: n.outputs.push_back(m.str("output")); break;
      case 3: n.name = m.str("name"); break;
      case 4: n.op_type = m.str("op_type"); break;
      case 5: attrs.push_back(m.view("attribute")); break;
      case 7: n.domain = m.str("domain"); break;
      default: m.skip(); break;
    }
  }
  const std::string desc = n.name.empty() ? "node #" + std::to_string(index) + " (" + n.op_type + ")"
                                          : "node '" + n.name + "'";
  for (const data_view& a : attrs) n.attributes.push_back(read_attribute(ctx, a, desc));
  return n;
}

// ---- GraphProto -------------------------------------------------------------------------------

// An initializer read but not yet converted: where its TensorProto lies (an offset: the bytes may move when
// truncated) and which entry of GraphProto::initializers it becomes.
struct PendingInitializer {
  size_t offset, size, index;
};

// `base` is the start of the model's bytes; `owner`, when given, holds them and is truncated as the
// initializers are converted.
GraphProto read_graph(Ctx& ctx, data_view bytes, const char* base, ByteBuffer* owner) {
  GraphProto g;
  std::vector<PendingInitializer> pending;
  Msg m(ctx, "GraphProto", bytes);
  while (m.next()) {
    switch (m.tag()) {
      case 1:
        if (g.nodes.size() >= ctx.limits.max_nodes)
          fail(ErrorKind::Limit, ctx.label + ": graph has more than " + std::to_string(ctx.limits.max_nodes) +
                                     " nodes (limit)");
        g.nodes.push_back(read_node(ctx, m.view("node"), g.nodes.size()));
        break;
      case 2: g.name = m.str("name"); break;
      case 5: {
        const data_view v = m.view("initializer");
        pending.push_back({static_cast<size_t>(v.data() - base), v.size(), g.initializers.size()});
        g.initializers.emplace_back();
        break;
      }
      case 11: g.inputs.push_back(read_value_info(ctx, m.view("input"))); break;
      case 12: g.outputs.push_back(read_value_info(ctx, m.view("output"))); break;
      case 13: g.value_info.push_back(read_value_info(ctx, m.view("value_info"))); break;
      case 15:
        m.view("sparse_initializer");
        fail(ErrorKind::Unsupported, ctx.label + ": graph has a sparse initializer; sparse tensors are not supported");
      default: m.skip(); break;   // doc_string (10), quantization_annotation (14), ...
    }
  }
  // Nothing after the last unconverted initializer is read again: convert it, then give its bytes back.
  std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.offset > b.offset; });
  for (const PendingInitializer& p : pending) {
    const char* at = (owner ? reinterpret_cast<const char*>(owner->data()) : base) + p.offset;
    Initializer& init = g.initializers[p.index];
    init.tensor = read_tensor(ctx, data_view(at, p.size), "initializer", &init.name);
    if (owner) owner->truncate(p.offset);
  }
  return g;
}

void read_opset(const Ctx& ctx, data_view bytes, ModelProto& model) {
  std::string domain;
  int64_t version = 0;
  Msg m(ctx, "OperatorSetIdProto", bytes);
  while (m.next()) {
    if (m.tag() == 1) domain = m.str("domain");
    else if (m.tag() == 2) version = m.int64("version");
    else m.skip();
  }
  if (domain == "ai.onnx") domain.clear();   // both spellings name the default domain
  model.opsets[domain] = version;
}

}  // namespace
}  // namespace detail

// ---- decode_model -----------------------------------------------------------------------------

namespace {

ModelProto decode(const uint8_t* data, size_t size, ByteBuffer* owner, const Limits& limits, std::string_view label) {
  detail::Ctx ctx{std::string(label), limits};
  detail::check_file_size(ctx, size);
  const std::string not_onnx = ctx.label + ": not an ONNX model (";
  if (size == 0) fail_input(not_onnx + "empty file)");

  ModelProto model;
  bool saw_ir_version = false;
  try {
    detail::Msg m(ctx, "ModelProto", protozero::data_view(reinterpret_cast<const char*>(data), size));
    protozero::data_view graph;
    bool has_graph = false;
    while (m.next()) {
      switch (m.tag()) {
        case 1: model.ir_version = m.int64("ir_version"); saw_ir_version = true; break;
        case 2: model.producer_name = m.str("producer_name"); break;
        case 3: model.producer_version = m.str("producer_version"); break;
        case 7: graph = m.view("graph"); has_graph = true; break;
        case 8: detail::read_opset(ctx, m.view("opset_import"), model); break;
        default: m.skip(); break;
      }
    }
    if (!has_graph) fail_input(not_onnx + "no graph)");
    model.graph = detail::read_graph(ctx, graph, reinterpret_cast<const char*>(data), owner);
  } catch (const Error& e) {
    // Every exporter writes ir_version (field 1) first: without it, a decoding
    // failure most likely means the file is something else (an image, an HTML
    // error page, a Git LFS pointer), and saying so helps more than a field name.
    const std::string msg = e.what();
    if (e.kind() != ErrorKind::BadInput || saw_ir_version || msg.rfind(not_onnx, 0) == 0) throw;
    const size_t skip = msg.rfind(ctx.label + ": ", 0) == 0 ? ctx.label.size() + 2 : 0;
    fail_input(not_onnx + msg.substr(skip) + ")");
  }
  return model;
}

}  // namespace

ModelProto decode_model(const uint8_t* data, size_t size, const Limits& limits, std::string_view label) {
  return decode(data, size, nullptr, limits, label);
}

ModelProto decode_model(ByteBuffer bytes, const Limits& limits, std::string_view label) {
  return decode(bytes.data(), bytes.size(), &bytes, limits, label);
}

}  // namespace relscope::onnx
