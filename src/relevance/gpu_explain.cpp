// relscope/relevance/gpu_explain.cpp — compiling an explanation into one GPU program.
//
// Sections: Builder (buffers, steps) | linear layers | forward pass | rules | the sweep | compile | finish
//
// Buffer discipline: every graph value of the forward pass keeps its buffer (the sweep reads them); ops that
// only reshape alias their input's buffer. Relevance buffers and work buffers come from a free list by size,
// and go back to it as soon as the sweep is done with them; the GPU runs steps in order, so reuse is safe.
#include "relevance/gpu_explain.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "graph/op_params.h"
#include "relevance/composite.h"
#include "relevance/explain_detail.h"
#include "relevance/linear_rule.h"

namespace relscope::relevance {

namespace {

using kernels::gpu::Ew;
using kernels::gpu::Kernel;
using kernels::gpu::Step;
using kernels::gpu::float_word;

[[noreturn]] void unsupported(const std::string& what) { fail(ErrorKind::Unsupported, what + " (the GPU path runs on the CPU instead)"); }

// ---- Builder (buffers, steps) -----------------------------------------------------------------------------------
struct Builder {
  GpuExplanation& gx;
  std::string key_prefix;
  std::map<int64_t, std::vector<int>> free_by_size;
  std::map<std::string, int> by_key;

  kernels::gpu::Program& prog() { return gx.program; }

  int fresh(int64_t words, const float* data = nullptr, std::string key = {}) {
    gx.bytes += static_cast<uint64_t>(std::max<int64_t>(words, 1)) * 4;
    return prog().add_buffer(words, data, std::move(key));
  }
  // A work buffer of `words` words; contents undefined (reused buffers keep old data).
  int temp(int64_t words) {
    auto it = free_by_size.find(words);
    if (it != free_by_size.end() && !it->second.empty()) {
      const int id = it->second.back();
      it->second.pop_back();
      return id;
    }
    return fresh(words);
  }
  void release(int id) {
    if (id >= 0) free_by_size[prog().buffers[id].words].push_back(id);
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
};

void put3(Step& s, int at, const Dims3& d) {
  for (int k = 0; k < 3; ++k) s.words[at + k] = static_cast<uint32_t>(d[k]);
}

// ---- linear layers ------------------------------------------------------------------------------------------------
void conv_step(Builder& B, Kernel k, const ConvParams& cp, int in, int w, int bias, int out) {
  const int64_t count = k == Kernel::ConvForward ? cp.N * cp.M * cp.out_size() : cp.N * cp.C * cp.in_size();
  Step& s = k == Kernel::ConvForward ? B.step(k, count, {in, w, bias, out}) : B.step(k, count, {in, w, out});
  s.words[1] = static_cast<uint32_t>(cp.N), s.words[2] = static_cast<uint32_t>(cp.C);
  s.words[3] = static_cast<uint32_t>(cp.M), s.words[4] = static_cast<uint32_t>(cp.group);
  put3(s, 5, cp.in), put3(s, 8, cp.out), put3(s, 11, cp.kernel), put3(s, 14, cp.stride), put3(s, 17, cp.dilation);
  put3(s, 20, cp.pad_begin);
  s.words[23] = bias >= 0 ? 1 : 0;
}

void gemm_step(Builder& B, bool tA, bool tB, int64_t M, int64_t N, int64_t K, int a, int64_t lda, int b, int64_t ldb,
               int c, int64_t ldc, int64_t batch = 1, int64_t off_a = 0, int64_t off_b = 0, int64_t off_c = 0) {
  Step& s = B.step(Kernel::Gemm, batch * M * N, {a, b, c});
  const int64_t w[] = {M, N, K, tA, tB, lda, ldb, ldc, batch, off_a, off_b, off_c};
  for (int i = 0; i < 12; ++i) s.words[1 + i] = static_cast<uint32_t>(w[i]);
}

// y = f(x; w) without bias.
void linear_forward(Builder& B, const LinearLayer& L, int x, int w, int y) {
  using F = LinearLayer::Form;
  switch (L.form) {
    case F::Conv: conv_step(B, Kernel::ConvForward, L.conv, x, w, -1, y); return;
    case F::ConvTranspose: conv_step(B, Kernel::ConvBackwardData, L.conv, x, w, -1, y); return;
    case F::Gemm: gemm_step(B, L.trans_x, false, L.M, L.N, L.K, x, L.trans_x ? L.M : L.K, w, L.N, y, L.N); return;
    case F::MatMulRight: gemm_step(B, false, false, L.M, L.N, L.K, x, L.K, w, L.N, y, L.N); return;
    case F::MatMulLeft:
      gemm_step(B, false, false, L.M, L.N, L.K, w, L.K, x, L.N, y, L.N, L.batches, 0, L.K * L.N, L.M * L.N);
      return;
  }
}

// dx = f^T(dy; w).
void linear_backward(Builder& B, const LinearLayer& L, int dy, int w, int dx) {
  using F = LinearLayer::Form;
  switch (L.form) {
    case F::Conv: conv_step(B, Kernel::ConvBackwardData, L.conv, dy, w, -1, dx); return;
    case F::ConvTranspose: conv_step(B, Kernel::ConvForward, L.conv, dy, w, -1, dx); return;
    case F::Gemm:
      if (L.trans_x) gemm_step(B, false, true, L.K, L.M, L.N, w, L.N, dy, L.N, dx, L.M);
      else gemm_step(B, false, true, L.M, L.K, L.N, dy, L.N, w, L.N, dx, L.K);
      return;
    case F::MatMulRight: gemm_step(B, false, true, L.M, L.K, L.N, dy, L.N, w, L.N, dx, L.K); return;
    case F::MatMulLeft:
      gemm_step(B, true, false, L.K, L.N, L.M, w, L.K, dy, L.N, dx, L.N, L.batches, 0, L.M * L.N, L.K * L.N);
      return;
  }
}

int weight_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma) {
  const float* w = modified_weight(L, m, gamma);
  return B.constant("w:" + L.memo_key + "/" + modifier_key(m, gamma), w, static_cast<int64_t>(L.weight_size));
}

// The layer's bias under modifier m times `sign`, or -1 when it has none (or m zeroes it).
int bias_buffer(Builder& B, const LinearLayer& L, ParamMod m, float gamma, float sign) {
  if (L.bias.empty() || m == ParamMod::Zero) return -1;
  std::vector<float> b(L.bias.size());
  for (size_t c = 0; c < b.size(); ++c) b[c] = sign * modify_param(L.bias[c], m, gamma);
  auto p = std::make_shared<const std::vector<float>>(std::move(b));
  B.gx.owned.push_back(p);
  return B.constant("b" + std::to_string(L.output_value) + ":" + modifier_key(m, gamma) + (sign < 0 ? "-" : "+") + ":" +
                        std::to_string(p->size()),
                    p->data(), static_cast<int64_t>(p->size()));
}

void add_bias(Builder& B, const LinearLayer& L, int bias, int y) {
  const int64_t ny = shape_numel(L.y_shape);
  B.ew(Ew::AccumulateBias, ny, -1, bias, -1, y, 1.0f, L.bias_inner, static_cast<int64_t>(L.bias.size()));
}

// ---- compile state -------------------------------------------------------------------------------------------------
struct Compiler {
  Builder B;
  const Graph& g;
  const Plan& p;
  std::vector<int> buf;        // value id -> forward buffer (-1: none)
  std::vector<bool> nonneg;    // value id -> known >= 0 (after a ReLU): x- of it is all zero
  std::vector<int> rel;        // value id -> relevance buffer (-1: none yet)
  std::map<int, Step> pools;   // output value -> its pool's forward step (the backward reuses the geometry)
  std::map<int, int> bn_scale; // output value -> a BatchNormalization's per-channel scale buffer

  int64_t numel(int v) const { return shape_numel(p.shapes[v]); }
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

// ---- forward pass ------------------------------------------------------------------------------------------------
// Clip's bounds: attributes before opset 11, optional constant inputs after.
std::pair<float, float> clip_bounds(const Compiler& c, const Node& n) {
  float lo = -INFINITY, hi = INFINITY;
  if (c.g.opset < 11) return {n.attrs.get_float("min", lo), n.attrs.get_float("max", hi)};
  for (size_t k = 1; k < 3 && k < n.inputs.size(); ++k) {
    const int v = n.inputs[k];
    if (v < 0) continue;
    if (!c.p.is_constant(v)) unsupported(c.g.node_label(n) + ": Clip with computed bounds");
    (k == 1 ? lo : hi) = c.p.constants[v]->as_floats()[0];
  }
  return {lo, hi};
}

// Ops that only give their input another shape: on the GPU their output is their input's buffer.
bool only_reshapes(Op op) {
  return op == Op::Flatten || op == Op::Reshape || op == Op::Squeeze || op == Op::Unsqueeze || op == Op::Identity ||
         op == Op::Dropout;
}

bool same_shapes(const Plan& p, const Node& n) {
  for (int v : n.inputs)
    if (v >= 0 && p.shapes[v] != p.shapes[n.outputs[0]]) return false;
  return true;
}

void forward_node(Compiler& c, const Node& n) {
  Builder& B = c.B;
  const std::string where = c.g.node_label(n);
  const int out = n.outputs[0];
  const int64_t ny = c.numel(out);
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (n.outputs[k] >= 0) unsupported(where + ": a second output");
  auto alias = [&] {
    c.buf[out] = c.value(n.inputs[0]);
    c.nonneg[out] = c.nonneg[n.inputs[0]];
  };
  auto new_out = [&] { return c.buf[out] = B.fresh(ny); };
  if (only_reshapes(n.op)) {
    alias();
    return;
  }
  switch (n.op) {
    case Op::Conv:
    case Op::ConvTranspose:
    case Op::Gemm:
    case Op::MatMul: {
      if (node_role(c.g, c.p, n) != NodeRole::Linear) unsupported(where + ": only constant weights");
      const LinearLayer L = linear_layer(c.g, c.p, n);
      const int x = c.value(n.inputs[L.input_slot]), w = weight_buffer(B, L, ParamMod::Identity, 0.0f);
      const int y = new_out();
      const int bias = bias_buffer(B, L, ParamMod::Identity, 0.0f, 1.0f);
      if (L.form == LinearLayer::Form::Conv) {
        conv_step(B, Kernel::ConvForward, L.conv, x, w, bias, y);
        return;
      }
      linear_forward(B, L, x, w, y);
      if (bias >= 0) add_bias(B, L, bias, y);
      return;
    }
    case Op::Relu:
      B.ew(Ew::Relu, ny, c.value(n.inputs[0]), -1, -1, new_out());
      c.nonneg[out] = true;
      return;
    case Op::LeakyRelu:
      B.ew(Ew::LeakyRelu, ny, c.value(n.inputs[0]), -1, -1, new_out(), n.attrs.get_float("alpha", 0.01f));
      return;
    case Op::Sigmoid:
      B.ew(Ew::Sigmoid, ny, c.value(n.inputs[0]), -1, -1, new_out());
      c.nonneg[out] = true;
      return;
    case Op::Tanh:
      B.ew(Ew::Tanh, ny, c.value(n.inputs[0]), -1, -1, new_out());
      return;
    case Op::Clip: {
      const auto [lo, hi] = clip_bounds(c, n);
      B.ew(Ew::Clip, ny, c.value(n.inputs[0]), -1, -1, new_out(), lo, 1, 0, 0, hi);
      c.nonneg[out] = lo >= 0.0f;
      return;
    }
    case Op::Add:
    case Op::Sub:
    case Op::Mul: {
      if (n.inputs.size() != 2 || !same_shapes(c.p, n)) unsupported(where + ": broadcasting " + std::string(op_name(n.op)));
      const int a = c.value(n.inputs[0]), b = c.value(n.inputs[1]), y = new_out();
      if (n.op == Op::Sub) {   // y = a - b: a copy of a, then y += -1 * b
        B.ew(Ew::Copy, ny, a, -1, -1, y);
        B.ew(Ew::Accumulate, ny, b, -1, -1, y, -1.0f);
        return;
      }
      B.ew(n.op == Op::Add ? Ew::Add : Ew::Mul, ny, a, b, -1, y);
      c.nonneg[out] = c.nonneg[n.inputs[0]] && c.nonneg[n.inputs[1]];
      return;
    }
    case Op::BatchNormalization: {
      for (size_t k = 1; k < 5; ++k)
        if (k >= n.inputs.size() || !c.p.is_constant(n.inputs[k])) unsupported(where + ": BatchNormalization with non-constant statistics");
      const Tensor &gam = *c.p.constants[n.inputs[1]], &beta = *c.p.constants[n.inputs[2]];
      const Tensor &mean = *c.p.constants[n.inputs[3]], &var = *c.p.constants[n.inputs[4]];
      const float eps = n.attrs.get_float("epsilon", 1e-5f);
      const Shape& xs = c.p.shapes[n.inputs[0]];
      const int64_t C = xs.size() > 1 ? xs[1] : 1, inner = ny / std::max<int64_t>(1, xs[0] * C);
      std::vector<float> scale(C), shift(C);
      for (int64_t k = 0; k < C; ++k) {
        scale[k] = gam.f[k] / std::sqrt(var.f[k] + eps);
        shift[k] = beta.f[k] - mean.f[k] * scale[k];
      }
      const int sb = B.owned(std::move(scale)), hb = B.owned(std::move(shift));
      c.bn_scale[out] = sb;
      B.ew(Ew::ChannelAffine, ny, c.value(n.inputs[0]), sb, hb, new_out(), 0.0f, inner, C);
      return;
    }
    case Op::MaxPool:
    case Op::AveragePool: {
      const bool is_max = n.op == Op::MaxPool;
      const PoolParams pp = resolve_pool(n, c.p.shapes[n.inputs[0]], is_max ? PoolKind::Max : PoolKind::Average, where);
      const int x = c.value(n.inputs[0]), y = new_out();
      const int64_t planes = pp.N * pp.C;
      Step& s = is_max ? B.step(Kernel::MaxPool, planes * pp.out_size(), {x, y, B.fresh(ny)})
                       : B.step(Kernel::AvgPool, planes * pp.out_size(), {x, y});
      s.words[1] = static_cast<uint32_t>(planes);
      put3(s, 2, pp.in), put3(s, 5, pp.out), put3(s, 8, pp.kernel), put3(s, 11, pp.stride), put3(s, 14, pp.dilation);
      put3(s, 17, pp.pad_begin), put3(s, 20, pp.pad_end);
      s.words[23] = pp.count_include_pad ? 1 : 0;
      c.pools[out] = s;
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    case Op::GlobalMaxPool:
    case Op::ReduceMax: {
      // The maximum over trailing dims is a max pool whose window is the whole plane (its index routes the
      // gradient, as the CPU's vjp does).
      const Shape& xs = c.p.shapes[n.inputs[0]];
      int64_t planes = ny, size = c.numel(n.inputs[0]) / std::max<int64_t>(ny, 1);
      if (n.op == Op::ReduceMax) {
        const Tensor* axes = n.inputs.size() > 1 && n.inputs[1] >= 0 ? c.p.constants[n.inputs[1]] : nullptr;
        const ReduceParams rp = resolve_reduce(n, c.g.opset, xs, axes, where);
        size_t first = rp.mask.size();
        for (size_t d = 0; d < rp.mask.size(); ++d)
          if (rp.mask[d] && first == rp.mask.size()) first = d;
        for (size_t d = first; d < rp.mask.size(); ++d)
          if (!rp.mask[d]) unsupported(where + ": ReduceMax over dims that are not the trailing ones");
      }
      Step& s = B.step(Kernel::MaxPool, planes, {c.value(n.inputs[0]), new_out(), B.fresh(ny)});
      s.words[1] = static_cast<uint32_t>(planes);
      put3(s, 2, {1, 1, size}), put3(s, 5, {1, 1, 1}), put3(s, 8, {1, 1, size}), put3(s, 11, {1, 1, 1}), put3(s, 14, {1, 1, 1});
      put3(s, 17, {0, 0, 0}), put3(s, 20, {0, 0, 0});
      c.pools[out] = s;
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    case Op::GlobalAveragePool: {
      const Shape& xs = c.p.shapes[n.inputs[0]];
      const int64_t planes = xs[0] * xs[1];
      Step& s = B.step(Kernel::RowMean, planes, {c.value(n.inputs[0]), new_out()});
      s.words[1] = static_cast<uint32_t>(c.numel(n.inputs[0]) / std::max<int64_t>(planes, 1));
      c.nonneg[out] = c.nonneg[n.inputs[0]];
      return;
    }
    default:
      unsupported(where + ": op " + std::string(op_name(n.op)) + " has no GPU kernel yet");
  }
}

}  // namespace

namespace {

// ---- rules ---------------------------------------------------------------------------------------------------------
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
  void give_fresh(size_t slot, int b) {
    int& r = c.rel[n.inputs[slot]];
    if (r < 0) {
      r = b;
      return;
    }
    B().ew(Ew::Accumulate, nx(slot), b, -1, -1, r, 1.0f);
    if (b != R) B().release(b);
  }
  // R itself passed on to input `slot` (the first taker gets the buffer, later ones a copy).
  void give_R(size_t slot) {
    if (!r_moved && c.rel[n.inputs[slot]] < 0) {
      c.rel[n.inputs[slot]] = R;
      r_moved = true;
      return;
    }
    give_fresh(slot, B().copy_of(R, nx(slot)));
  }
  std::vector<size_t> varying_slots() const {
    std::vector<size_t> s;
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (c.varying(n.inputs[k])) s.push_back(k);
    return s;
  }
  void need_same_shapes() const {
    for (size_t k : varying_slots())
      if (c.p.shapes[n.inputs[k]] != c.p.shapes[n.outputs[0]]) unsupported(where + ": relevance through a broadcast");
  }
};

// x under input modifier m: a buffer (x itself, or a work buffer to release), or -1 when it is all zero.
struct TermInput {
  int buffer = -1;
  bool temp = false;
};

TermInput term_input(Compiler& c, const LinearLayer& L, const Rule& r, InputMod m, int xv, const std::string& where) {
  Builder& B = c.B;
  const int x = c.value(xv);
  const int64_t n = c.numel(xv);
  switch (m) {
    case InputMod::Identity: return {x, false};
    case InputMod::Positive:
      if (c.nonneg[xv]) return {x, false};
      break;
    case InputMod::Negative:
      if (c.nonneg[xv]) return {-1, false};   // x- of a ReLU output: the CPU skips this term too
      break;
    case InputMod::Ones: {
      const int t = B.temp(n);
      B.ew(Ew::Fill, n, -1, -1, -1, t, 1.0f);
      return {t, true};
    }
    case InputMod::Low:
    case InputMod::High:
      return {B.owned(bound_tensor(m == InputMod::Low ? r.low : r.high, L.x_shape, L.channel_axis, where)), false};
  }
  const int t = B.temp(n);
  B.ew(m == InputMod::Positive ? Ew::Relu : Ew::Negative, n, x, -1, -1, t);
  return {t, true};
}

// A linear layer's rule (rule.h): per group the stabilised sum of its terms' z, R / that, and each term's
// x_t * f^T(ratio; w_t) summed with its coefficient. Mirrors apply_linear_rule.
int linear_rule(NodeSweep& s) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const Rule& r = s.rule;
  const LinearLayer L = linear_layer(c.g, c.p, s.n);
  const int xv = s.n.inputs[L.input_slot], y = c.value(s.n.outputs[0]);
  const int64_t nx = c.numel(xv), ny = c.numel(s.n.outputs[0]);
  std::vector<int> denom(r.groups.size());
  for (int& d : denom) d = B.zeros(ny);
  std::vector<TermInput> xs(r.terms.size());
  std::vector<int> ws(r.terms.size(), -1);
  for (size_t t = 0; t < r.terms.size(); ++t) {
    const Term& term = r.terms[t];
    xs[t] = term_input(c, L, r, term.input, xv, s.where);
    const int d = denom[term.group];
    if (xs[t].buffer >= 0) {
      ws[t] = weight_buffer(B, L, term.weight, r.gamma);
      const bool reruns = term.input == InputMod::Identity && term.weight == ParamMod::Identity &&
                          (term.bias == ParamMod::Identity || L.bias.empty());
      if (reruns) {   // z is the recorded output, bias included
        B.ew(Ew::Accumulate, ny, y, -1, -1, d, term.denom_sign);
        continue;
      }
      const int z = B.temp(ny);
      linear_forward(B, L, xs[t].buffer, ws[t], z);
      B.ew(Ew::Accumulate, ny, z, -1, -1, d, term.denom_sign);
      B.release(z);
    }
    const int bias = bias_buffer(B, L, term.bias, r.gamma, term.denom_sign);
    if (bias >= 0) add_bias(B, L, bias, d);
  }
  std::vector<int> ratio(r.groups.size());
  for (size_t gi = 0; gi < r.groups.size(); ++gi) {
    const OutputMask mask = r.groups[gi].mask;
    const uint32_t mode = mask == OutputMask::All ? 0 : mask == OutputMask::ZPositive ? 1 : 2;
    ratio[gi] = B.temp(ny);
    B.ew(Ew::StabDivide, ny, s.R, denom[gi], mode ? y : -1, ratio[gi], r.epsilon, 1, 0, mode);
    B.release(denom[gi]);
  }
  const int out = B.zeros(nx);
  const int grad = B.temp(nx);
  for (size_t t = 0; t < r.terms.size(); ++t) {
    if (xs[t].buffer < 0) continue;
    linear_backward(B, L, ratio[r.terms[t].group], ws[t], grad);
    B.ew(Ew::AccumulateProduct, nx, xs[t].buffer, grad, -1, out, r.terms[t].coef);
    if (xs[t].temp) B.release(xs[t].buffer);
  }
  B.release(grad);
  for (int rb : ratio) B.release(rb);
  return out;
}

// The vector-Jacobian product of a pool or GAP applied to `dy` (a fresh buffer of the input's size).
int pool_vjp(NodeSweep& s, int dy) {
  Builder& B = s.B();
  const int64_t nx = s.nx(0);
  const int dx = B.temp(nx);
  if (s.n.op == Op::GlobalAveragePool) {
    const int64_t size = nx / s.c.numel(s.n.outputs[0]);
    B.ew(Ew::Expand, nx, dy, -1, -1, dx, 1.0f / static_cast<float>(size), size);
    return dx;
  }
  Step st = s.c.pools.at(s.n.outputs[0]);
  st.words[0] = static_cast<uint32_t>(nx);
  if (st.kernel == Kernel::MaxPool) {
    st.kernel = Kernel::MaxPoolBackward;
    st.bind = {dy, st.bind[2], dx, -1};
  } else {
    st.kernel = Kernel::AvgPoolBackward;
    st.bind = {dy, dx, -1, -1};
  }
  B.prog().steps.push_back(st);
  return dx;
}

void apply_rule(NodeSweep& s) {
  Compiler& c = s.c;
  Builder& B = c.B;
  const Node& n = s.n;
  const int64_t ny = c.numel(n.outputs[0]);
  switch (s.rule.kind) {
    case RuleKind::Linear:
      s.give_fresh(linear_layer(c.g, c.p, n).input_slot, linear_rule(s));
      return;
    case RuleKind::Pass:
      s.need_same_shapes();
      for (size_t k : s.varying_slots()) s.give_R(k);
      return;
    case RuleKind::Norm: {
      // x * vjp(R / stab(y))
      const int ratio = B.temp(ny);
      B.ew(Ew::StabDivide, ny, s.R, c.value(n.outputs[0]), -1, ratio, s.rule.epsilon);
      if (n.op == Op::Add || n.op == Op::Sub) {
        s.need_same_shapes();
        for (size_t k : s.varying_slots()) {
          const int t = B.zeros(ny);
          B.ew(Ew::AccumulateProduct, ny, c.value(n.inputs[k]), ratio, -1, t, n.op == Op::Sub && k == 1 ? -1.0f : 1.0f);
          s.give_fresh(k, t);
        }
      } else if (n.op == Op::AveragePool || n.op == Op::GlobalAveragePool) {
        const int g = pool_vjp(s, ratio);
        const int t = B.temp(s.nx(0));
        B.ew(Ew::Mul, s.nx(0), c.value(n.inputs[0]), g, -1, t);
        B.release(g);
        s.give_fresh(0, t);
      } else {
        unsupported(s.where + ": the norm rule on " + std::string(op_name(n.op)));
      }
      B.release(ratio);
      return;
    }
    case RuleKind::Gradient:
      if (only_reshapes(n.op)) {
        if (c.varying(n.inputs[0])) s.give_R(0);
        return;
      }
      switch (n.op) {
        case Op::Conv:
        case Op::ConvTranspose:
        case Op::Gemm:
        case Op::MatMul: {
          const LinearLayer L = linear_layer(c.g, c.p, n);
          const int dx = B.temp(c.numel(n.inputs[L.input_slot]));
          linear_backward(B, L, s.R, weight_buffer(B, L, ParamMod::Identity, 0.0f), dx);
          s.give_fresh(L.input_slot, dx);
          return;
        }
        case Op::Relu: {
          const int dx = B.temp(ny);
          B.ew(Ew::ReluGrad, ny, s.R, c.value(n.inputs[0]), -1, dx);
          s.give_fresh(0, dx);
          return;
        }
        case Op::MaxPool:
        case Op::AveragePool:
        case Op::GlobalAveragePool:
        case Op::GlobalMaxPool:
        case Op::ReduceMax:
          s.give_fresh(0, pool_vjp(s, s.R));
          return;
        case Op::LeakyRelu: {
          const int dx = B.temp(ny);
          B.ew(Ew::LeakyReluGrad, ny, s.R, c.value(n.inputs[0]), -1, dx, n.attrs.get_float("alpha", 0.01f));
          s.give_fresh(0, dx);
          return;
        }
        case Op::Clip: {
          const auto [lo, hi] = clip_bounds(c, n);
          const int dx = B.temp(ny);
          B.ew(Ew::ClipGrad, ny, s.R, c.value(n.inputs[0]), -1, dx, lo, 1, 0, 0, hi);
          s.give_fresh(0, dx);
          return;
        }
        case Op::Sigmoid:
        case Op::Tanh: {
          const int dx = B.temp(ny);
          B.ew(n.op == Op::Sigmoid ? Ew::SigmoidGrad : Ew::TanhGrad, ny, s.R, -1, c.value(n.outputs[0]), dx);
          s.give_fresh(0, dx);
          return;
        }
        case Op::Add:
        case Op::Sub:
          s.need_same_shapes();
          for (size_t k : s.varying_slots()) {
            if (n.op == Op::Sub && k == 1) {
              const int t = B.zeros(ny);
              B.ew(Ew::Accumulate, ny, s.R, -1, -1, t, -1.0f);
              s.give_fresh(k, t);
            } else {
              s.give_R(k);
            }
          }
          return;
        case Op::Mul:
          s.need_same_shapes();
          for (size_t k : s.varying_slots()) {
            const int t = B.temp(ny);
            B.ew(Ew::Mul, ny, s.R, c.value(n.inputs[1 - k]), -1, t);
            s.give_fresh(k, t);
          }
          return;
        case Op::BatchNormalization: {
          const Shape& xs = c.p.shapes[n.inputs[0]];
          const int64_t C = xs.size() > 1 ? xs[1] : 1;
          const int zero = B.zeros(C);
          const int dx = B.temp(ny);
          B.ew(Ew::ChannelAffine, ny, s.R, c.bn_scale.at(n.outputs[0]), zero, dx, 0.0f, ny / std::max<int64_t>(1, xs[0] * C), C);
          B.release(zero);
          s.give_fresh(0, dx);
          return;
        }
        default:
          unsupported(s.where + ": the gradient of " + std::string(op_name(n.op)));
      }
    case RuleKind::Softmax:
    case RuleKind::Product:
      unsupported(s.where + ": rule " + s.rule.name);
  }
}

}  // namespace

// ---- compile ---------------------------------------------------------------------------------------------------------
GpuExplanation compile_gpu_explanation(Explainer& explainer, const std::vector<Tensor>& inputs, const ExplainRequest& req,
                                       const std::string& key_prefix) {
  using namespace detail;
  const bool lrp = req.method == "lrp";
  if (!lrp && req.method != "gradient" && req.method != "gradient-x-input")
    unsupported("method " + req.method + ": the GPU path explains with lrp, gradient and gradient-x-input");
  Session& session = explainer.session_for(req.method);
  check_request(session.graph(), inputs, req);
  if (session.needs_batch_split(inputs)) unsupported("a batch of " + std::to_string(batch_of(inputs[0])) + " for a batch-1 export");
  const Plan& plan = session.plan_for(inputs);
  const Graph& g = session.graph();
  const std::vector<Rule> rules = lrp ? explainer.rules_for(inputs, req) : std::vector<Rule>(g.nodes.size(), rule_gradient());

  GpuExplanation gx;
  if (lrp)
    for (const auto& m : explainer.canonize_report().merged) gx.notes.push_back("canonizer: merged BatchNorm " + m);
  Compiler c{Builder{gx, key_prefix + (lrp ? "lrp:" : "model:")}, g, plan};
  c.buf.assign(g.values.size(), -1);
  c.nonneg.assign(g.values.size(), false);
  c.rel.assign(g.values.size(), -1);
  Builder& B = c.B;

  // Inputs: copied (the program outlives the caller's tensors); int64 inputs are plan constants.
  for (size_t k = 0; k < g.inputs.size() && k < inputs.size(); ++k)
    if (inputs[k].dtype == DType::Float32) c.buf[g.inputs[k]] = B.owned(inputs[k].f);
  for (int step : plan.steps) forward_node(c, g.nodes[step]);

  // Seed: onehot(target) (* output for LRP), targets per sample.
  const int out_value = g.outputs[req.output];
  const Shape& ys = plan.shapes[out_value];
  const int64_t n = batch_of(inputs[0]), per = shape_numel(ys) / std::max<int64_t>(n, 1);
  if (plan.dtypes[out_value] != DType::Float32) fail_input("output '" + g.values[out_value].name + "' is not float32; choose another with --output");
  uint32_t target = kernels::gpu::no_target;
  if (!req.targets.empty()) {
    if (req.targets.size() != 1 && static_cast<int64_t>(req.targets.size()) != n)
      fail_input("--target: " + std::to_string(req.targets.size()) + " targets for a batch of " + std::to_string(n) + " (give one, or one per sample)");
    for (int64_t t : req.targets) {
      if (t < 0 || t >= per)
        fail_input("--target " + std::to_string(t) + " is out of range: output '" + g.values[out_value].name + "' has " +
                   std::to_string(per) + " values per sample");
      if (t != req.targets[0]) unsupported("a different target per sample");
    }
    target = static_cast<uint32_t>(req.targets[0]);
  }
  const int y = c.value(out_value), seed = B.fresh(shape_numel(ys)), targets = B.fresh(n);
  Step& s = B.step(Kernel::Seed, n, {y, seed, targets});
  s.words[1] = static_cast<uint32_t>(per), s.words[2] = target, s.words[3] = lrp ? 1 : 0;

  // The sweep, in reverse plan order (backward_sweep's walk).
  c.rel[out_value] = seed;
  for (auto it = plan.steps.rbegin(); it != plan.steps.rend(); ++it) {
    const Node& node = g.nodes[*it];
    const int out0 = node.outputs[0];
    if (c.rel[out0] < 0) continue;
    NodeSweep ns{c, node, rules[*it], g.node_label(node), c.rel[out0]};
    apply_rule(ns);
    if (!ns.r_moved) B.release(ns.R);
    c.rel[out0] = -1;
  }
  const int x0 = g.inputs[0];
  int relevance = c.rel[x0] >= 0 ? c.rel[x0] : B.zeros(c.numel(x0));
  if (req.method == "gradient-x-input") {
    const int t = B.temp(c.numel(x0));
    B.ew(Ew::Mul, c.numel(x0), relevance, c.value(x0), -1, t);
    relevance = t;
  }
  gx.program.readback = {relevance, y, targets};
  gx.relevance_shape = plan.shapes[x0];
  gx.output_shape = ys;
  if (gx.bytes > session.limits().max_total_bytes)
    fail(ErrorKind::Limit, "the GPU program needs " + std::to_string(gx.bytes) + " bytes of buffers, more than the limit of " +
                               std::to_string(session.limits().max_total_bytes));
  return gx;
}

// ---- finish ------------------------------------------------------------------------------------------------------------
Explanation finish_gpu_explanation(const Explainer&, const GpuExplanation& gx, const std::vector<std::vector<float>>& readback) {
  if (readback.size() != 3 || static_cast<int64_t>(readback[0].size()) < shape_numel(gx.relevance_shape) ||
      static_cast<int64_t>(readback[1].size()) < shape_numel(gx.output_shape))
    fail(ErrorKind::Internal, "GPU explanation: the readback does not match the program");
  Explanation e;
  e.notes = gx.notes;
  e.output = Tensor::from_floats(gx.output_shape, std::vector<float>(readback[1].begin(), readback[1].begin() + shape_numel(gx.output_shape)));
  detail::require_finite(e.output, "the explained output");
  e.relevance = Tensor::from_floats(gx.relevance_shape, std::vector<float>(readback[0].begin(), readback[0].begin() + shape_numel(gx.relevance_shape)));
  detail::require_finite(e.relevance, "the relevance computed on the GPU");
  for (float w : readback[2]) {
    uint32_t t;
    std::memcpy(&t, &w, sizeof t);
    e.targets.push_back(t);
  }
  return e;
}

}  // namespace relscope::relevance
