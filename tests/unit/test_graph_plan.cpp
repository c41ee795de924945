// Graph validation, planning (shapes, folding, limits) and sessions, on models built as structs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "core/error.h"
#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/session.h"
#include "graph/graph.h"
#include "op_test_util.h"

namespace relscope {
namespace {

onnx::NodeProto node(const std::string& name, const std::string& op, std::vector<std::string> in,
                     std::vector<std::string> out, std::vector<onnx::Attribute> attrs = {}) {
  onnx::NodeProto n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.attributes = std::move(attrs);
  return n;
}

onnx::ValueInfo info(const std::string& name, std::vector<onnx::Dim> dims, int32_t type = onnx::kFloat) {
  onnx::ValueInfo v;
  v.name = name;
  v.elem_type = type;
  v.has_shape = true;
  v.dims = std::move(dims);
  return v;
}

onnx::ModelProto relu_chain() {   // x -> Relu(a) -> Relu(b) -> y
  onnx::ModelProto m;
  m.opsets[""] = 13;
  m.graph.inputs.push_back(info("x", {{-1, "N"}, {4, ""}}));
  m.graph.outputs.push_back(info("y", {{-1, "N"}, {4, ""}}));
  m.graph.nodes.push_back(node("b", "Relu", {"h"}, {"y"}));   // deliberately out of order
  m.graph.nodes.push_back(node("a", "Relu", {"x"}, {"h"}));
  return m;
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

// Planning m for one float input of shape x fails as BadInput naming the node and saying `text`.
void expect_plan_refuses(const onnx::ModelProto& m, const Shape& x, const char* node_label, const char* text) {
  Graph g = build_graph(m, Limits{}, "m.onnx");
  ErrorKind kind = ErrorKind::Internal;
  const std::string msg = error_of([&] { make_plan(g, {x}, {DType::Float32}, Limits{}); }, &kind);
  EXPECT_EQ(kind, ErrorKind::BadInput) << msg;
  EXPECT_NE(msg.find(node_label), std::string::npos) << msg;
  EXPECT_NE(msg.find(text), std::string::npos) << msg;
}

TEST(GraphBuild, SortsNodesTopologically) {
  Graph g = build_graph(relu_chain(), Limits{}, "m.onnx");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "a");
  EXPECT_EQ(g.nodes[1].name, "b");
  EXPECT_EQ(g.values[g.find_value("y")].producer, 1);
}

TEST(GraphBuild, RefusesCycles) {
  auto m = relu_chain();
  m.graph.nodes[1].inputs = {"y"};   // a reads b's output, b reads a's
  const auto msg = error_of([&] { build_graph(m, Limits{}, "m.onnx"); });
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("m.onnx: node '"), std::string::npos) << msg;
}

TEST(GraphBuild, RefusesUndefinedInput) {
  auto m = relu_chain();
  m.graph.nodes[1].inputs = {"nowhere"};
  const auto msg = error_of([&] { build_graph(m, Limits{}, "m.onnx"); });
  EXPECT_EQ(msg, "m.onnx: node 'a' (Relu): input 'nowhere' is not produced by any node, initializer or graph input");
}

TEST(GraphBuild, RefusesValueDefinedTwice) {
  auto m = relu_chain();
  m.graph.nodes[0].outputs = {"h"};
  const auto msg = error_of([&] { build_graph(m, Limits{}, "m.onnx"); });
  EXPECT_NE(msg.find("value 'h' is defined twice"), std::string::npos) << msg;
}

TEST(GraphBuild, RefusesDuplicateNodeNames) {
  auto m = relu_chain();
  m.graph.nodes[0].name = "a";
  EXPECT_NE(error_of([&] { build_graph(m, Limits{}, "m.onnx"); }).find("two nodes are named 'a'"), std::string::npos);
}

TEST(GraphBuild, ListsEveryUnsupportedOp) {
  auto m = relu_chain();
  m.graph.nodes[0].op_type = "NonMaxSuppression";
  m.graph.nodes[1].op_type = "FusedConv";
  m.graph.nodes[1].domain = "com.microsoft";
  Graph g = build_graph(m, Limits{}, "m.onnx");
  ASSERT_EQ(g.unsupported_nodes().size(), 2u);
  ErrorKind kind{};
  const auto msg = error_of([&] { g.require_supported(); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(msg.find("'b' (NonMaxSuppression)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a' (com.microsoft.FusedConv)"), std::string::npos) << msg;
}

TEST(GraphBuild, RefusesMissingOrAncientOpset) {
  auto m = relu_chain();
  m.opsets.clear();
  EXPECT_NE(error_of([&] { build_graph(m, Limits{}, "m.onnx"); }).find("imports no ai.onnx opset"), std::string::npos);
  m.opsets[""] = 3;
  ErrorKind kind{};
  EXPECT_NE(error_of([&] { build_graph(m, Limits{}, "m.onnx"); }, &kind).find("opset 3 is not supported"), std::string::npos);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
}

TEST(Plan, BindsSymbolicBatchAndChecksFixedDims) {
  Graph g = build_graph(relu_chain(), Limits{}, "m.onnx");
  Plan p = make_plan(g, {{3, 4}}, {DType::Float32}, Limits{});
  EXPECT_EQ(p.shapes[g.find_value("y")], (Shape{3, 4}));
  EXPECT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.activation_bytes, 2u * 3 * 4 * 4);
  const auto msg = error_of([&] { make_plan(g, {{3, 5}}, {DType::Float32}, Limits{}); });
  EXPECT_EQ(msg, "m.onnx: input 'x' expects shape [N,4], got [3,5] (axis 1)");
  EXPECT_NE(error_of([&] { make_plan(g, {{3, 4, 1}}, {DType::Float32}, Limits{}); }).find("expects rank 2"), std::string::npos);
  EXPECT_NE(error_of([&] { make_plan(g, {}, {}, Limits{}); }).find("takes 1 input(s) (x), 0 given"), std::string::npos);
  EXPECT_NE(error_of([&] { make_plan(g, {{3, 4}}, {DType::Int64}, Limits{}); }).find("is float32 but int64 data was given"),
            std::string::npos);
}

TEST(Plan, ChecksWorkingMemoryBeforeAllocating) {
  Graph g = build_graph(relu_chain(), Limits{}, "m.onnx");
  Limits tight;
  tight.max_total_bytes = 1 << 20;
  ErrorKind kind{};
  const auto msg = error_of([&] { make_plan(g, {{100000, 4}}, {DType::Float32}, tight); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Limit);
  EXPECT_NE(msg.find("needs 5 MiB of working memory, over the limit of 1 MiB"), std::string::npos) << msg;
  Limits few;
  few.max_tensor_elements = 1000;
  EXPECT_NE(error_of([&] { make_plan(g, {{1000, 4}}, {DType::Float32}, few); }).find("the limit of 1000"), std::string::npos);
}

TEST(Plan, FoldsShapeSubgraphIntoConstants) {
  // y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) : PyTorch's x.view(x.size(0), -1)
  onnx::ModelProto m;
  m.opsets[""] = 13;
  m.graph.inputs.push_back(info("x", {{-1, "N"}, {2, ""}, {3, ""}}));
  m.graph.outputs.push_back(info("y", {{-1, "N"}, {6, ""}}));
  m.graph.initializers.push_back({"zero", Tensor::from_ints({}, {0})});
  m.graph.initializers.push_back({"minus1", Tensor::from_ints({1}, {-1})});
  m.graph.initializers.push_back({"axes0", Tensor::from_ints({1}, {0})});
  m.graph.nodes.push_back(node("shape", "Shape", {"x"}, {"s"}));
  m.graph.nodes.push_back(node("gather", "Gather", {"s", "zero"}, {"n"}, {testing::attr_int("axis", 0)}));
  m.graph.nodes.push_back(node("unsq", "Unsqueeze", {"n", "axes0"}, {"n1"}));
  m.graph.nodes.push_back(node("concat", "Concat", {"n1", "minus1"}, {"target"}, {testing::attr_int("axis", 0)}));
  m.graph.nodes.push_back(node("reshape", "Reshape", {"x", "target"}, {"y"}));
  Graph g = build_graph(m, Limits{}, "m.onnx");
  Plan p = make_plan(g, {{5, 2, 3}}, {DType::Float32}, Limits{});
  ASSERT_EQ(p.steps.size(), 1u);   // only the Reshape runs
  EXPECT_EQ(g.nodes[p.steps[0]].name, "reshape");
  EXPECT_EQ(p.shapes[g.find_value("y")], (Shape{5, 6}));
  ASSERT_TRUE(p.is_constant(g.find_value("target")));
  EXPECT_EQ(p.constants[g.find_value("target")]->i, (std::vector<int64_t>{5, -1}));
}

TEST(Plan, RefusesReshapeTargetWhoseProductOverflows) {
  // A hostile target shape (found by the explain fuzzer): 2^40 * 2^40 wraps int64 before any size check.
  for (const std::vector<int64_t>& target : {std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40, -1},
                                             std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40, 0}}) {
    onnx::ModelProto m;
    m.opsets[""] = 13;
    m.graph.inputs.push_back(info("x", {{2, ""}, {3, ""}}));
    m.graph.outputs.push_back(info("y", {}));
    m.graph.outputs[0].has_shape = false;
    m.graph.initializers.push_back({"target", Tensor::from_ints({3}, target)});
    m.graph.nodes.push_back(node("reshape", "Reshape", {"x", "target"}, {"y"}));
    expect_plan_refuses(m, {2, 3}, "node 'reshape'", "product overflows int64");
  }
}

TEST(Session, SliceWithExtremeStepsTakesOneElement) {
  // Found by the explain fuzzer: steps of +-2^63 overflowed the element count (UB). ONNX semantics: a step
  // longer than the axis takes only the first element from the clamped start.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  struct Case {
    int64_t start, end, step;
    std::vector<float> want;
  };
  for (const Case& c : {Case{0, kMax, kMax, {1, 6}}, Case{-1, kMin, kMin, {5, 10}}, Case{1, 5, int64_t{1} << 62, {2, 7}},
                        Case{kMax, kMin, -(int64_t{1} << 62), {5, 10}}, Case{kMin, kMax, 2, {1, 3, 5, 6, 8, 10}}}) {
    onnx::ModelProto m;
    m.opsets[""] = 13;
    m.graph.inputs.push_back(info("x", {{2, ""}, {5, ""}}));
    m.graph.outputs.push_back(info("y", {}));
    m.graph.outputs[0].has_shape = false;
    m.graph.initializers.push_back({"starts", Tensor::from_ints({1}, {c.start})});
    m.graph.initializers.push_back({"ends", Tensor::from_ints({1}, {c.end})});
    m.graph.initializers.push_back({"axes", Tensor::from_ints({1}, {1})});
    m.graph.initializers.push_back({"steps", Tensor::from_ints({1}, {c.step})});
    m.graph.nodes.push_back(node("slice", "Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"}));
    Session s = Session::from_model(m, "m.onnx");
    const auto y = s.predict({Tensor::from_floats({2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})});
    ASSERT_EQ(y.size(), 1u);
    EXPECT_EQ(y[0].shape, (Shape{2, static_cast<int64_t>(c.want.size() / 2)})) << "step " << c.step;
    EXPECT_EQ(y[0].f, c.want) << "step " << c.step;
  }
}

TEST(Plan, RefusesSplitSizesWhoseSumWrapsToTheDimension) {
  // Four sizes of 2^62 and one of 4 sum to 2^64 + 4, which wraps to 4 in int64 arithmetic (undefined
  // behaviour) and would have passed as a split of a dimension of 4; the sum now saturates past it.
  onnx::ModelProto m;
  m.opsets[""] = 13;
  m.graph.inputs.push_back(info("x", {{1, ""}, {4, ""}}));
  const int64_t big = int64_t{1} << 62;
  m.graph.initializers.push_back({"sizes", Tensor::from_ints({5}, {big, big, big, big, 4})});
  std::vector<std::string> outs;
  for (int k = 0; k < 5; ++k) {
    outs.push_back("y" + std::to_string(k));
    m.graph.outputs.push_back(info(outs.back(), {}));
    m.graph.outputs.back().has_shape = false;
  }
  m.graph.nodes.push_back(node("split", "Split", {"x", "sizes"}, outs, {testing::attr_int("axis", 1)}));
  expect_plan_refuses(m, {1, 4}, "node 'split'", "does not divide a dimension of 4");
}

TEST(Session, SplitsBatchForModelsExportedWithBatchOne) {
  auto m = relu_chain();
  m.graph.inputs[0].dims[0] = {1, ""};
  m.graph.outputs[0].dims[0] = {1, ""};
  onnx::ModelProto copy = m;
  Graph g = build_graph(copy, Limits{}, "m.onnx");
  Tensor x = Tensor::from_floats({3, 4}, {-1, 2, -3, 4, 5, -6, 7, -8, 0, 1, -1, 0});
  // Plain planning refuses batch 3 ...
  EXPECT_NE(error_of([&] { make_plan(g, {x.shape}, {DType::Float32}, Limits{}); }).find("expects shape [1,4]"), std::string::npos);
  // ... the session runs the three samples one by one and stacks them.
  Session s = Session::from_model(m, "m.onnx");
  ASSERT_TRUE(s.needs_batch_split({x}));
  const auto y = s.predict({x});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape, (Shape{3, 4}));
  EXPECT_EQ(y[0].f, (std::vector<float>{0, 2, 0, 4, 5, 0, 7, 0, 0, 1, 0, 0}));
}

TEST(Session, RecordedForwardKeepsIntermediatesPlainForwardFreesThem) {
  Session s = Session::from_model(relu_chain(), "m.onnx");
  Tensor x = Tensor::from_floats({1, 4}, {-1, 2, -3, 4});
  Activations rec = s.forward_recorded({x});
  const int h = s.graph().find_value("h");
  EXPECT_EQ(rec.get(h).f, (std::vector<float>{0, 2, 0, 4}));
  const Plan& p = s.plan_for({x});
  Activations plain = execute(p, {x}, false);
  EXPECT_TRUE(plain.values[h].f.empty());   // freed after its last reader
  EXPECT_EQ(plain.get(s.graph().find_value("y")).f, (std::vector<float>{0, 2, 0, 4}));
}

// The bundled models through a plain pass whose outputs get recycled storage (executor.h's BufferPool): first
// storage full of NaN for every value (an element an op flagged overwrites_outputs failed to write would stay
// NaN), then a Session's own pool across two inputs. Outputs must equal a pass on fresh zero-filled storage bit
// for bit, and the pools must actually have served outputs.
TEST(Session, PlainPassesOnRecycledStorageEqualFreshOnes) {
  const std::string assets = std::string(RELSCOPE_SOURCE_DIR) + "/assets/";
  // The small models' values are all under the pool's 4096-float minimum: they only take the NaN storage.
  const std::pair<const char*, bool> models[] = {{"demo/fashion_cnn.onnx", true},   {"fashion_resnet/model.onnx", true},
                                                 {"clever_hans/model.onnx", true},  {"dna_motif/model.onnx", false},
                                                 {"attention/model.onnx", false},   {"variance/ensemble_0.onnx", false}};
  for (const auto& [file, large] : models) {
    SCOPED_TRACE(file);
    auto fill = [](std::vector<Tensor> in, uint32_t seed) {   // floats in [-1, 1); int64 inputs (tokens) stay 0
      for (Tensor& t : in)
        for (float& v : t.f) v = static_cast<float>((seed = seed * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
      return in;
    };
    Session fresh = Session::load_file(assets + file);
    const auto x1 = fill(example_inputs(fresh.graph()), 1), x2 = fill(example_inputs(fresh.graph()), 2);
    const Plan& plan = fresh.plan_for(x1);
    const Activations want = execute(plan, x1, false);
    BufferPool nan_pool;
    std::vector<int> all_values(plan.shapes.size());
    for (size_t v = 0; v < all_values.size(); ++v) all_values[v] = static_cast<int>(v);
    testing::give_nan_storage(nan_pool, plan, all_values);
    const Activations got = execute(plan, x1, false, &nan_pool);
    EXPECT_GT(nan_pool.taken(), 0u);
    for (int v : fresh.graph().outputs) EXPECT_TRUE(same_bits(got.get(v), want.get(v))) << "output " << v;

    Session reused = Session::load_file(assets + file);
    reused.predict(x1);   // leaves its freed storage in the session's pool for the next pass
    const uint64_t before = reused.pooled_outputs();
    const auto second = reused.predict(x2);
    const Activations expected = execute(fresh.plan_for(x2), x2, false);   // no pool: zero-filled storage
    if (large) {
      EXPECT_GT(reused.pooled_outputs(), before);
    }
    const auto& outputs = fresh.graph().outputs;
    ASSERT_EQ(second.size(), outputs.size());
    for (size_t k = 0; k < second.size(); ++k)
      EXPECT_TRUE(same_bits(second[k], expected.get(outputs[k]))) << "output " << k;
  }
}

}  // namespace
}  // namespace relscope
