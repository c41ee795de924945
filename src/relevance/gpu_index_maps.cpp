// relscope/relevance/gpu_index_maps.cpp — moving elements on the GPU along index maps made on the CPU:
// routing ops (Transpose, Slice, Gather, Concat, Split, Pad), numpy broadcasting, and their adjoints.
//
// Sections: index buffers | broadcasting and its adjoint | reductions | routing ops
//
// Why index maps: the shape logic of these ops (negative steps, clamped ends, opset-dependent inputs,
// broadcasting rules) already lives in the CPU kernels; routing_sources() runs an op's own kernel on source
// ids, and the GPU only follows the resulting map (one Gather step). The adjoint of a map is its inverse as
// a CSR list (for each source element the outputs that read it), summed by the same kernel, so a source read
// many times (broadcast) adds up without atomics and in a fixed order.
#include <cstring>

#include "relevance/gpu_explain_detail.h"
#include "relevance/vjp.h"

namespace relscope::relevance::gpu_detail {

using kernels::gpu::GatherMode;
using kernels::gpu::no_index;

namespace {

// ---- index buffers -------------------------------------------------------------------------------------------------
int word_buffer(Builder& B, const std::vector<uint32_t>& words) {
  std::vector<float> f(std::max<size_t>(words.size(), 1), 0.0f);
  if (!words.empty()) std::memcpy(f.data(), words.data(), words.size() * sizeof(uint32_t));
  return B.owned(std::move(f));
}

uint32_t index_word(int64_t i) {
  if (i < 0 || i >= static_cast<int64_t>(no_index)) fail(ErrorKind::Limit, "a GPU index map past 2^32 elements");
  return static_cast<uint32_t>(i);
}

void gather_step(Builder& B, GatherMode mode, int64_t count, int src, int idx, int offsets, int out, float fill = 0.0f) {
  Step& s = B.step(Kernel::Gather, count, {src, idx, offsets, out});
  s.words[1] = static_cast<uint32_t>(mode);
  s.words[2] = float_word(fill);
}

// out (n_out elements) = for every source element i < n_src, the sum of src[j] over the j with map[j] == i
// (map[j] < 0: j feeds no source element).
void sum_along_inverse(Builder& B, const std::vector<int64_t>& map, int64_t n_src, int src, int out) {
  std::vector<uint32_t> offsets(static_cast<size_t>(n_src) + 1, 0);
  for (int64_t i : map)
    if (i >= 0) ++offsets[static_cast<size_t>(i) + 1];
  for (size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
  std::vector<uint32_t> list(offsets.back()), fill(offsets.begin(), offsets.end() - 1);
  for (size_t j = 0; j < map.size(); ++j)
    if (map[j] >= 0) list[fill[static_cast<size_t>(map[j])]++] = index_word(static_cast<int64_t>(j));
  gather_step(B, GatherMode::Sum, n_src, src, word_buffer(B, list), word_buffer(B, offsets), out);
}

}  // namespace

// ---- broadcasting and its adjoint ---------------------------------------------------------------------------------
Operand broadcast_value(Compiler& c, int v, const Shape& shape) {
  const int src = c.value(v);
  if (c.p.shapes[v] == shape) return {src, false};
  const std::vector<int64_t> map = broadcast_map(shape, c.p.shapes[v]);
  std::vector<uint32_t> idx(map.size());
  for (size_t j = 0; j < map.size(); ++j) idx[j] = index_word(map[j]);
  const int out = c.B.temp(shape_numel(shape));
  gather_step(c.B, GatherMode::Select, shape_numel(shape), src, word_buffer(c.B, idx), -1, out);
  return {out, true};
}

int sum_to_shape(Compiler& c, int src, const Shape& from, const Shape& to) {
  const int out = c.B.temp(shape_numel(to));
  if (from == to) {
    c.B.ew(Ew::Copy, shape_numel(to), src, -1, -1, out);
    return out;
  }
  sum_along_inverse(c.B, broadcast_map(from, to), shape_numel(to), src, out);
  return out;
}

// ---- reductions ---------------------------------------------------------------------------------------------------
namespace {

// For every input element, the output element a ReduceMean/ReduceSum adds it to; and the scale (1/count or 1).
std::vector<int64_t> reduce_map(const Compiler& c, const Node& n, float& scale) {
  const Shape& xs = c.p.shapes[n.inputs[0]];
  const Tensor* axes = n.inputs.size() > 1 && n.inputs[1] >= 0 ? c.p.constants[n.inputs[1]] : nullptr;
  const ReduceParams rp = resolve_reduce(n, c.g.opset, xs, axes, c.g.node_label(n));
  Shape kept = xs;
  int64_t count = 1;
  for (size_t d = 0; d < kept.size(); ++d)
    if (rp.mask[d]) count *= kept[d], kept[d] = 1;
  scale = n.op == Op::ReduceMean ? 1.0f / static_cast<float>(std::max<int64_t>(count, 1)) : 1.0f;
  return broadcast_map(xs, kept);
}

}  // namespace

void reduce_forward(Compiler& c, const Node& n) {
  float scale = 1.0f;
  const std::vector<int64_t> map = reduce_map(c, n, scale);
  const int out = n.outputs[0];
  const int64_t ny = c.numel(out);
  const int sum = c.B.temp(ny);
  sum_along_inverse(c.B, map, ny, c.value(n.inputs[0]), sum);
  c.new_value(out);
  c.B.ew(Ew::Expand, ny, sum, -1, -1, c.buf[out], scale);
  c.B.release(sum);
  c.nonneg[out] = c.nonneg[n.inputs[0]];
}

int reduce_vjp(Compiler& c, const Node& n, int dy) {
  float scale = 1.0f;
  const std::vector<int64_t> map = reduce_map(c, n, scale);
  std::vector<uint32_t> idx(map.size());
  for (size_t j = 0; j < map.size(); ++j) idx[j] = index_word(map[j]);
  const int64_t nx = c.numel(n.inputs[0]);
  const int spread = c.B.temp(nx), dx = c.B.temp(nx);
  gather_step(c.B, GatherMode::Select, nx, dy, word_buffer(c.B, idx), -1, spread);
  c.B.ew(Ew::Expand, nx, spread, -1, -1, dx, scale);
  c.B.release(spread);
  return dx;
}

// ---- routing ops ----------------------------------------------------------------------------------------------------
bool is_routing(Op op) {
  return op == Op::Transpose || op == Op::Slice || op == Op::Gather || op == Op::Concat || op == Op::Split || op == Op::Pad;
}

// Per output: one Select step from the first source slot (with the fill value where no input feeds the
// output), then a Place step per further slot; float constants (a Concat's learned token, say) are sources
// like the rest. Pad's modes need nothing else: reflect/edge positions map to sources, only constant fill has
// none. Split's outputs are each such a map.
void routing_forward(Compiler& c, const Node& n) {
  float fill = 0.0f;
  if (n.op == Op::Pad) {
    if (c.g.opset < 11) fill = n.attrs.get_float("value", 0.0f);
    else if (n.inputs.size() > 2 && n.inputs[2] >= 0) fill = c.p.constants[n.inputs[2]]->as_floats()[0];
  }
  const std::vector<Tensor> ids = routing_sources(c.g, c.p, n);
  for (size_t o = 0; o < n.outputs.size(); ++o) {
    const int out = n.outputs[o];
    if (out < 0) continue;
    const int64_t ny = c.numel(out);
    std::map<size_t, std::vector<uint32_t>> per_slot;
    for (int64_t j = 0; j < ny; ++j) {
      const int64_t v = ids[o].i[static_cast<size_t>(j)];
      if (v <= 0) continue;
      auto& idx = per_slot[routing_slot(v)];
      if (idx.empty()) idx.assign(static_cast<size_t>(ny), no_index);
      idx[static_cast<size_t>(j)] = index_word(routing_index(v));
    }
    bool nonneg = fill >= 0.0f;
    for (const auto& [slot, idx] : per_slot) nonneg = nonneg && c.nonneg[n.inputs[slot]];
    const int y = c.new_value(out);
    bool first = true;
    for (const auto& [slot, idx] : per_slot) {
      gather_step(c.B, first ? GatherMode::Select : GatherMode::Place, ny, c.value(n.inputs[slot]), word_buffer(c.B, idx), -1, y, fill);
      first = false;
    }
    if (first) c.B.ew(Ew::Fill, ny, -1, -1, -1, y, fill);
    c.nonneg[out] = nonneg;
  }
}

// The relevance of every output that has some (Split's several), summed back along each output's map.
void routing_vjp(NodeSweep& s) {
  Compiler& c = s.c;
  const std::vector<Tensor> ids = routing_sources(c.g, c.p, s.n);
  for (size_t slot : s.varying_slots()) {
    int dx = -1;
    for (size_t o = 0; o < s.n.outputs.size(); ++o) {
      const int out = s.n.outputs[o];
      const int r = o == 0 ? s.R : out >= 0 ? c.rel[out] : -1;
      if (r < 0) continue;
      std::vector<int64_t> map(ids[o].i.size(), -1);
      for (size_t j = 0; j < map.size(); ++j)
        if (ids[o].i[j] > 0 && routing_slot(ids[o].i[j]) == slot) map[j] = routing_index(ids[o].i[j]);
      const int part = s.B().temp(s.nx(slot));
      sum_along_inverse(s.B(), map, s.nx(slot), r, part);
      if (dx < 0) {
        dx = part;
      } else {
        s.B().ew(Ew::Accumulate, s.nx(slot), part, -1, -1, dx, 1.0f);
        s.B().release(part);
      }
    }
    if (dx >= 0) s.give_fresh(slot, dx);
  }
}

}  // namespace relscope::relevance::gpu_detail
