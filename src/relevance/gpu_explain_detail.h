// relscope/relevance/gpu_explain_detail.h — the state and helpers gpu_explain's source files share (not a public API).
//
// Sections: Builder (buffers, steps) | linear layers (gpu_program_builder.cpp) | compile state |
//           forward pass (gpu_forward.cpp) | rules and the sweep (gpu_sweep.cpp) |
//           index maps (gpu_index_maps.cpp) | softmax, layer norm, products (gpu_attention.cpp)
//
// Buffer discipline: every graph value of the forward pass keeps its buffer (the sweep reads them); ops that
// only reshape alias their input's buffer. Relevance buffers and work buffers come from a free list by size,
// and go back to it as soon as the sweep is done with them; the GPU runs steps in order, so reuse is safe.
// A single-pass program's forward buffers and its rules' denominators (and the work buffers of both) leave the
// free list once computed: the runner may keep them, and skip those steps when it is asked about the same
// input again (Program::kept).
#pragma once
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "graph/op_params.h"
#include "relevance/explain_detail.h"
#include "relevance/gpu_explain.h"
#include "relevance/linear_rule.h"

namespace relscope::relevance::gpu_detail {

using kernels::gpu::Ew;
using kernels::gpu::Kernel;
using kernels::gpu::Step;
using kernels::gpu::float_word;

[[noreturn]] inline void unsupported(const std::string& what) { fail(ErrorKind::Unsupported, what + " (the GPU path runs on the CPU instead)"); }

// ---- Builder (buffers, steps) -----------------------------------------------------------------------------------
struct Builder {
  GpuExplanation& gx;
  std::string key_prefix;
  std::map<int64_t, std::vector<int>> free_by_size{};
  std::map<std::string, int> by_key{};
  // Ranges of steps whose results a runner may keep (Program::kept): 0 the forward pass, 1 the rules'
  // denominators. The buffers made without data while a range is open belong to it: recycled within it,
  // never after it (end_range takes them off the free list), so no later step overwrites them.
  int range = -1;                                  // the open range, -1 none
  std::vector<std::vector<int>> range_buffers{};   // per range, in the order they were made
  std::vector<int> range_of{};                     // by buffer id: its range, -1 none

  kernels::gpu::Program& prog() { return gx.program; }

  int fresh(int64_t words, const float* data = nullptr, std::string key = {}) {
    gx.bytes += static_cast<uint64_t>(std::max<int64_t>(words, 1)) * 4;
    const bool mine = range >= 0 && !data && key.empty();
    const int id = prog().add_buffer(words, data, std::move(key));
    range_of.resize(prog().buffers.size(), -1);
    if (mine) range_buffers[static_cast<size_t>(range)].push_back(id), range_of[static_cast<size_t>(id)] = range;
    return id;
  }
  void begin_range(int k) {
    range = k;
    if (range_buffers.size() <= static_cast<size_t>(k)) range_buffers.resize(static_cast<size_t>(k) + 1);
  }
  void end_range() {
    for (auto& [words, ids] : free_by_size)
      ids.erase(std::remove_if(ids.begin(), ids.end(), [&](int id) { return range_of[static_cast<size_t>(id)] >= 0; }), ids.end());
    range = -1;
  }
  int range_of_buffer(int id) const {
    return id >= 0 && static_cast<size_t>(id) < range_of.size() ? range_of[static_cast<size_t>(id)] : -1;
  }
  // A work buffer of `words` words; contents undefined (reused buffers keep old data).
  int temp(int64_t words) {
    auto it = free_by_size.find(words);
    if (it != free_by_size.end()) {   // inside a kept range, only its own buffers: the runner keeps them all
      auto& ids = it->second;
      for (size_t k = ids.size(); k-- > 0;) {
        const int id = ids[k];
        if (range >= 0 && range_of_buffer(id) != range) continue;
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(k));
        return id;
      }
    }
    return fresh(words);
  }
  void release(int id) {
    if (id < 0) return;
    const int r = range_of_buffer(id);
    if (r >= 0 && r != range) return;   // a kept range's buffer outside it: never reused
    free_by_size[prog().buffers[id].words].push_back(id);
  }
  // A constant buffer kept by the runner between runs under key_prefix + key (one buffer per key per program).
  int constant(const std::string& key, const float* data, int64_t words) {
    auto it = by_key.find(key);
    if (it != by_key.end()) return it->second;
    const int id = fresh(words, data, key_prefix + key);
    by_key[key] = id;
    return id;
  }
  // A buffer holding `data`, owned by the GpuExplanation (not kept between runs).
  int owned(std::vector<float> data) {
    auto p = std::make_shared<const std::vector<float>>(std::move(data));
    gx.owned.push_back(p);
    return fresh(static_cast<int64_t>(p->size()), p->data());
  }

  Step& step(Kernel k, int64_t count, std::initializer_list<int> bind) {
    if (count > 0xffffffffll) fail(ErrorKind::Limit, "a GPU step of " + std::to_string(count) + " elements is more than 2^32");
    Step s;
    s.kernel = k;
    s.words[0] = static_cast<uint32_t>(count);
    int i = 0;
    for (int b : bind) s.bind[i++] = b;
    prog().steps.push_back(s);
    return prog().steps.back();
  }
  void ew(Ew op, int64_t count, int a, int b, int c, int out, float f = 0.0f, int64_t inner = 1, int64_t channels = 0,
          uint32_t mode = 0, float f2 = 0.0f) {
    Step& s = step(Kernel::Elementwise, count, {a, b, c, out});
    s.words[1] = static_cast<uint32_t>(op);
    s.words[2] = static_cast<uint32_t>(inner);
    s.words[3] = static_cast<uint32_t>(channels);
    s.words[4] = float_word(f);
    s.words[5] = mode;
    s.words[6] = float_word(f2);
  }
  int copy_of(int src, int64_t n) {
    const int t = temp(n);
    ew(Ew::Copy, n, src, -1, -1, t);
    return t;
  }
  int zeros(int64_t n) {
    const int t = temp(n);
    ew(Ew::Fill, n, -1, -1, -1, t, 0.0f);
    return t;
  }
  // A copy the program never reuses (read back at the end).
  int kept_copy(int src, int64_t n) {
    const int t = fresh(n);
    ew(Ew::Copy, n, src, -1, -1, t);
    return t;
  }
  // Pruned LRP's choice on each of `batch` samples of r: in place (keep < 0), else into the 0/1 mask keep.
  void prune(int r, int keep, int64_t batch, int64_t per, PruneProportion p) {
    Step& s = step(Kernel::Prune, batch, {r, keep});
    s.words[1] = static_cast<uint32_t>(per);
    s.words[2] = float_word(p.pos);
    s.words[3] = float_word(p.neg);
    s.words[4] = keep < 0 ? 0 : 1;
  }
};

void put3(Step& s, int at, const Dims3& d);

// ---- linear layers (gpu_program_builder.cpp) --------------------------------------------------------------------
// What a convolution step does with its sum (program.h's epilogue): 0 writes it (plus the bias), 1 writes
// f * m * sum, 2 adds f * m * sum to out (m: a buffer of out's size).
struct Epilogue {
  uint32_t mode = 0;
  int m = -1;
  float f = 0.0f;
};
// What it reads as its input (program.h's prologue): the input itself (d < 0), or input / stab(d) with the
// stabiliser eps (an LRP rule's ratio R / stab(z), d: the denominator, of the input's size).
struct Prologue {
  int d = -1;
  float eps = 0.0f;
};
void conv_step(Builder& B, Kernel k, const ConvParams& cp, int in, int w, int bias, int out, const Epilogue& ep = {},
               const Prologue& pro = {});
void gemm_step(Builder& B, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int a, int64_t lda, int b, int64_t ldb,
               int c, int64_t ldc, int64_t batch = 1, int64_t off_a = 0, int64_t off_b = 0, int64_t off_c = 0);
// A layer's weight under a parameter modifier: its buffer, and what it is (a transposed convolution may run
// on the flipped kernel instead, made from the same modified weight).
struct Weight {
  int buffer = -1;
  ParamMod mod = ParamMod::Identity;
  float gamma = 0.0f;
};
// y = f(x; w), without bias, or plus the bias buffer `bias` where the kernel adds one (a convolution): returns
// whether it did.
bool linear_forward(Builder& B, const LinearLayer& L, int x, const Weight& w, int y, int bias = -1);
// dx = f^T(dy; w).
void linear_backward(Builder& B, const LinearLayer& L, int dy, const Weight& w, int dx);
// out = coef * x * f^T(dy; w), or out += that (accumulate): a rule term's share of its input's relevance (x: the
// term's input). A convolution does the product in its epilogue, other layers in a Product step after theirs.
// With a prologue (convolutions only: reads_ratio_in_prologue) dy is read as dy / stab(pro.d).
void linear_backward_product(Builder& B, const LinearLayer& L, int dy, const Weight& w, int x, float coef, int out, bool accumulate,
                             const Prologue& pro = {});
// Whether the layer's backward step is a convolution, which can read R / stab(z) in its prologue.
bool reads_ratio_in_prologue(const LinearLayer& L);
Weight weight_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma);
// n ones, a constant made once per plan (Plan::memo) that the runner keeps: Flat's input and weights.
int ones_constant(Builder& B, const Plan& plan, int64_t n);
// The layer's bias under modifier m times `sign`, or -1 when it has none (or m zeroes it).
int bias_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma, float sign);
void add_bias(Builder& B, const LinearLayer& L, int bias, int y);

// ---- compile state -------------------------------------------------------------------------------------------------
struct Compiler {
  Builder B;
  const Graph& g;
  const Plan& p;
  std::vector<int> buf{};      // value id -> forward buffer (-1: none)
  std::vector<bool> nonneg{};  // value id -> known >= 0 (after a ReLU): x- of it is all zero
  std::vector<int> rel{};      // value id -> relevance buffer (-1: none yet)
  std::map<int, Step> pools{}; // output value -> its pool's forward step (the backward reuses the geometry)
  std::map<int, int> bn_scale{};   // output value -> a BatchNormalization's per-channel scale buffer
  std::map<int, std::vector<int>> denoms{};   // linear layer's output value -> its rule's group denominators,
                                              // computed before the seed (precompute_denominators)

  std::vector<int> pass{};     // the buffers of the current forward pass (a multi-pass program releases them)
  // pruned-lrp (null otherwise): where and how the sweep prunes; `batch` samples per buffer.
  const detail::PruneSites* prune = nullptr;
  PruneMode prune_mode = PruneMode::Lambda;
  int64_t batch = 1;

  int64_t numel(int v) const { return shape_numel(p.shapes[v]); }
  // A forward-pass buffer: the output of node value v (new_value), or what a node keeps for its backward
  // (pass_buffer: max-pool indices).
  int pass_buffer(int64_t words) {
    pass.push_back(B.temp(words));
    return pass.back();
  }
  int new_value(int v) { return buf[v] = pass_buffer(numel(v)); }
  bool varying(int v) const { return v >= 0 && !p.is_constant(v) && p.dtypes[v] == DType::Float32; }

  // The buffer of a value: its forward buffer, or a constant's (uploaded once, kept by the runner).
  int value(int v) {
    if (buf[v] >= 0) return buf[v];
    if (!p.is_constant(v)) fail(ErrorKind::Internal, "GPU program: value '" + g.values[v].name + "' has no buffer");
    const Tensor& t = *p.constants[v];
    if (t.dtype != DType::Float32) unsupported("value '" + g.values[v].name + "' is not float32");
    buf[v] = B.constant("v" + std::to_string(v), t.f.data(), t.numel());
    return buf[v];
  }
};

// ---- forward pass (gpu_forward.cpp) -----------------------------------------------------------------------------
// Clip's bounds: attributes before opset 11, optional constant inputs after.
std::pair<float, float> clip_bounds(const Compiler& c, const Node& n);
float pow_exponent(const Compiler& c, const Node& n);   // Pow's exponent: one constant, else Unsupported
// Ops that only give their input another shape: on the GPU their output is their input's buffer.
bool only_reshapes(Op op);
void forward_node(Compiler& c, const Node& n);

// ---- rules and the sweep (gpu_sweep.cpp) ------------------------------------------------------------------------
struct NodeSweep {
  Compiler& c;
  const Node& n;
  const Rule& rule;
  std::string where;
  int R = -1;             // relevance at the node's output
  bool r_moved = false;   // R now belongs to an input

  Builder& B() { return c.B; }
  int64_t nx(size_t slot) const { return c.numel(n.inputs[slot]); }

  // A contribution to input `slot`'s relevance from a buffer this rule made (it is consumed).
  void give_fresh(size_t slot, int b);
  // R itself passed on to input `slot` (the first taker gets the buffer, later ones a copy).
  void give_R(size_t slot);
  // f * a * b (input-shaped buffers) as a contribution to input `slot`'s relevance: written as that relevance
  // when it is the first (Ew::Product), else added to it (AccumulateProduct). Equals give_fresh of a Product
  // buffer (r + 1 * (f*a*b) == r + f*a*b) in one dispatch instead of two.
  void give_product(size_t slot, int a, int b, float f);
  std::vector<size_t> varying_slots() const;
};

// The node's rule applied to s.R: relevance (or gradient) handed to its inputs through give_fresh / give_R.
void apply_rule(NodeSweep& s);
// The group denominators of every linear layer the sweep from `out_value` reaches (they depend on the forward
// pass and the rule, not on the relevance), into c.denoms, in sweep order; nothing when they would need more
// memory than the forward pass itself.
void precompute_denominators(Compiler& c, const std::vector<Rule>& rules, int out_value);
// The gradient of an elementwise Add/Sub/Mul/Div with respect to input `slot` applied to `dy` (output-shaped),
// summed back onto that input's shape when it was broadcast: a fresh buffer.
int binary_vjp(NodeSweep& s, size_t slot, int dy);

// ---- index maps (gpu_index_maps.cpp) --------------------------------------------------------------------------
// A buffer, and whether it is a work buffer the caller releases.
struct Operand {
  int buffer = -1;
  bool temp = false;
};
// Value v broadcast to `shape` (numpy rules): v's own buffer when the shapes agree, else a gathered copy.
Operand broadcast_value(Compiler& c, int v, const Shape& shape);
// The adjoint of broadcasting: `src` (shape `from`) summed onto shape `to`; a fresh work buffer.
int sum_to_shape(Compiler& c, int src, const Shape& from, const Shape& to);
// ReduceMean / ReduceSum over any axes (the sum along the map's inverse), and their gradient (a fresh buffer).
void reduce_forward(Compiler& c, const Node& n);
int reduce_vjp(Compiler& c, const Node& n, int dy);
// Transpose, Slice, Gather, Concat, Split, Pad: moved along the maps routing_sources() gives.
bool is_routing(Op op);
void routing_forward(Compiler& c, const Node& n);
// The gradient of a routing op for the relevance at its outputs (s.R at the first, c.rel at Split's others),
// handed to every varying input.
void routing_vjp(NodeSweep& s);

// ---- softmax, layer norm, products of activations (gpu_attention.cpp) ----------------------------------------
void softmax_forward(Compiler& c, const Node& n);
void layer_norm_forward(Compiler& c, const Node& n);
void matmul_forward(Compiler& c, const Node& n);   // both operands computed (AttnLRP's products)
void softmax_rule(NodeSweep& s);                   // AttnLRP: x * (R - s * sum(R))
void product_rule(NodeSweep& s);                   // AttnLRP: an even share per varying factor
// Gradients (the Gradient rule, and the gradient methods).
void softmax_vjp(NodeSweep& s);
void layer_norm_vjp(NodeSweep& s);
void matmul_vjp(NodeSweep& s);

}  // namespace relscope::relevance::gpu_detail
