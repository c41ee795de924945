// relscope/graph/op_params.cpp — attribute resolution for Conv, ConvTranspose, pools, Gemm, MatMul.
//
// Sections: helpers | window attributes (auto_pad, strides, dilations, pads) | Conv | ConvTranspose |
//           pools | Gemm | MatMul | axis helpers
#include "graph/op_params.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "graph/graph.h"

namespace relscope {

namespace {

// ---- helpers ----------------------------------------------------------------------------------------------
[[noreturn]] void bad(std::string_view where, const std::string& msg) { fail_input(std::string(where) + ": " + msg); }
[[noreturn]] void unsup(std::string_view where, const std::string& msg) {
  fail(ErrorKind::Unsupported, std::string(where) + ": " + msg);
}
std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }
std::string s(int64_t v) { return std::to_string(v); }

// Python's floor division: ConvTranspose's total padding may be negative (output_shape larger than the
// natural size) and the ONNX reference splits it with floor semantics (extra zeros land at the end).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceil_div_pos(int64_t a, int64_t b) { return (a + b - 1) / b; }   // a >= 0, b > 0

// Spatial dims 3..5 of an NC... tensor: 1 to 3 spatial dims.
int spatial_rank(const Shape& x, const char* name, std::string_view where) {
  const int r = static_cast<int>(x.size());
  if (r < 3 || r > 2 + kMaxSpatial)
    unsup(where, std::string("input ") + name + " has shape " + shape_str(x) + " (rank " + s(r) +
                     "); relscope supports (N, C, D1[, D2[, D3]]), i.e. rank 3 to 5");
  for (int64_t d : x)
    if (d < 0) bad(where, std::string("input ") + name + " has a negative dimension: " + shape_str(x));
  return r - 2;
}

// Real spatial dim i of ns maps to right-aligned slot 3 - ns + i.
int slot(int ns, int i) { return kMaxSpatial - ns + i; }

// ---- window attributes ------------------------------------------------------------------------------------
enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

AutoPad read_auto_pad(const Node& n, std::string_view where) {
  const std::string a = n.attrs.get_string("auto_pad", "NOTSET");
  if (a == "NOTSET" || a.empty()) return AutoPad::NotSet;
  if (a == "SAME_UPPER") return AutoPad::SameUpper;
  if (a == "SAME_LOWER") return AutoPad::SameLower;
  if (a == "VALID") return AutoPad::Valid;
  bad(where, "attribute auto_pad is '" + a + "'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID");
}

constexpr int64_t kMaxWindowValue = int64_t{1} << 30;

// Reads an ints attribute of exactly `len` entries (default `fallback` each), each >= min_value.
std::vector<int64_t> read_ints(const Node& n, const char* name, size_t len, int64_t fallback, int64_t min_value,
                               std::string_view where) {
  if (!n.attrs.has(name)) return std::vector<int64_t>(len, fallback);
  std::vector<int64_t> v = n.attrs.get_ints(name);
  if (v.size() != len)
    bad(where, std::string("attribute ") + name + " = " + ints_str(v) + " has " + s(static_cast<int64_t>(v.size())) +
                   " entries; expected " + s(static_cast<int64_t>(len)) + " for this input's spatial rank");
  for (int64_t x : v) {
    if (x < min_value)
      bad(where, std::string("attribute ") + name + " = " + ints_str(v) + " has an entry below " + s(min_value));
    // Keeps every later size product (stride * extent, dilation * kernel) far from int64 overflow.
    if (x > kMaxWindowValue)
      bad(where, std::string("attribute ") + name + " = " + ints_str(v) + " has an entry above " + s(kMaxWindowValue));
  }
  return v;
}

// kernel_shape: optional for Conv (from W), required for pools; must agree with W when both are given.
std::vector<int64_t> read_kernel(const Node& n, int ns, const Shape* w, std::string_view where) {
  if (!n.attrs.has("kernel_shape")) {
    if (!w) bad(where, "attribute kernel_shape is required");
    return std::vector<int64_t>(w->begin() + 2, w->end());
  }
  std::vector<int64_t> k = read_ints(n, "kernel_shape", ns, 1, 1, where);
  if (w)
    for (int i = 0; i < ns; ++i)
      if (k[i] != (*w)[2 + i])
        bad(where, "attribute kernel_shape = " + ints_str(k) + " disagrees with W's shape " + shape_str(*w));
  return k;
}

struct Window {
  std::vector<int64_t> stride, dilation, pads;   // pads: begins then ends
  AutoPad auto_pad;
};

Window read_window(const Node& n, int ns, std::string_view where) {
  Window w;
  w.auto_pad = read_auto_pad(n, where);
  w.stride = read_ints(n, "strides", ns, 1, 1, where);
  w.dilation = read_ints(n, "dilations", ns, 1, 1, where);
  // With auto_pad set, explicit pads are ignored (as onnxruntime does): the two are not meant to be combined.
  w.pads = read_ints(n, "pads", 2 * ns, 0, 0, where);
  if (w.auto_pad != AutoPad::NotSet) w.pads.assign(2 * ns, 0);
  return w;
}

// Output size of one forward window dim (Conv, pools); fills pad_begin/pad_end for auto_pad.
int64_t window_out(const Window& w, int i, int ns, int64_t in, int64_t k, bool ceil_mode, int64_t& pb, int64_t& pe,
                   std::string_view where) {
  const int64_t st = w.stride[i], dk = (k - 1) * w.dilation[i] + 1;
  pb = w.pads[i];
  pe = w.pads[i + ns];
  const std::string dim = "spatial dim " + s(i) + " (size " + s(in) + ")";
  if (w.auto_pad == AutoPad::SameUpper || w.auto_pad == AutoPad::SameLower) {
    const int64_t out = ceil_div_pos(in, st);
    const int64_t total = std::max<int64_t>(0, (out - 1) * st + dk - in);
    const int64_t small = total / 2, big = total - small;
    pb = w.auto_pad == AutoPad::SameUpper ? small : big;   // SAME_UPPER: the odd pad goes at the end
    pe = total - pb;
    if (in == 0) bad(where, dim + " is empty");
    return out;
  }
  const int64_t span = in + pb + pe - dk;
  if (span < 0)
    bad(where, dim + ": kernel " + s(k) + (w.dilation[i] > 1 ? " (dilated extent " + s(dk) + ")" : std::string()) +
                   " is larger than the padded input " + s(in) + " + " + s(pb) + " + " + s(pe));
  if (!ceil_mode) return span / st + 1;
  int64_t out = ceil_div_pos(span, st) + 1;
  // A last window that would start inside the end padding is dropped (PyTorch, onnxruntime and the
  // current ONNX spec agree: "sliding windows that would start in the right padded region are ignored").
  if ((out - 1) * st >= in + pb) --out;
  return out;
}

}  // namespace

// ---- ConvParams / PoolParams members ------------------------------------------------------------------
bool ConvParams::is_pointwise() const {
  for (int d = 0; d < kMaxSpatial; ++d)
    if (kernel[d] != 1 || stride[d] != 1 || pad_begin[d] != 0 || pad_end[d] != 0 || in[d] != out[d]) return false;
  return true;
}

namespace {
Shape nc_shape(int64_t n, int64_t c, const Dims3& sp, int ns) {
  Shape out{n, c};
  for (int i = 0; i < ns; ++i) out.push_back(sp[slot(ns, i)]);
  return out;
}
}  // namespace

Shape ConvParams::x_shape() const { return nc_shape(N, C, in, nspatial); }
Shape ConvParams::y_shape() const { return nc_shape(N, M, out, nspatial); }
Shape ConvParams::w_shape() const { return nc_shape(M, C_per_group(), kernel, nspatial); }
Shape PoolParams::y_shape() const { return nc_shape(N, C, out, nspatial); }

// ---- Conv ---------------------------------------------------------------------------------------------------
ConvParams resolve_conv(const Node& n, const Shape& x, const Shape& w, std::string_view where) {
  ConvParams p;
  const int ns = spatial_rank(x, "X", where);
  if (w.size() != x.size())
    bad(where, "W has shape " + shape_str(w) + " (rank " + s(static_cast<int64_t>(w.size())) + ") but X has shape " +
                   shape_str(x) + "; W must be (M, C/group, k1..k" + s(ns) + ")");
  for (int64_t d : w)
    if (d <= 0) bad(where, "W has shape " + shape_str(w) + "; every dimension must be positive");
  const int64_t group = n.attrs.get_int("group", 1);
  if (group < 1 || group > std::max<int64_t>(x[1], 1))
    bad(where, "attribute group = " + s(group) + " must be between 1 and the " + s(x[1]) + " input channels");
  p.nspatial = ns;
  p.N = x[0];
  p.C = x[1];
  p.M = w[0];
  p.group = group;
  if (x[1] % group != 0)
    bad(where, "input X has " + s(x[1]) + " channels, not divisible by group=" + s(group));
  if (x[1] != w[1] * group)
    bad(where, "input X has " + s(x[1]) + " channels but W expects " + s(w[1] * group) + " (W " + shape_str(w) +
                   ", group=" + s(group) + ")");
  if (w[0] % group != 0)
    bad(where, "W has " + s(w[0]) + " output channels, not divisible by group=" + s(group));
  const std::vector<int64_t> k = read_kernel(n, ns, &w, where);
  const Window win = read_window(n, ns, where);
  for (int i = 0; i < ns; ++i) {
    const int d = slot(ns, i);
    p.in[d] = x[2 + i];
    p.kernel[d] = k[i];
    p.stride[d] = win.stride[i];
    p.dilation[d] = win.dilation[i];
    p.out[d] = window_out(win, i, ns, x[2 + i], k[i], false, p.pad_begin[d], p.pad_end[d], where);
  }
  return p;
}

// ---- ConvTranspose ----------------------------------------------------------------------------------------
ConvParams resolve_conv_transpose(const Node& n, const Shape& x, const Shape& w, std::string_view where) {
  ConvParams p;
  const int ns = spatial_rank(x, "X", where);
  if (w.size() != x.size())
    bad(where, "W has shape " + shape_str(w) + " but X has shape " + shape_str(x) +
                   "; W must be (C_in, C_out/group, k1..k" + s(ns) + ")");
  for (int64_t d : w)
    if (d <= 0) bad(where, "W has shape " + shape_str(w) + "; every dimension must be positive");
  const int64_t group = n.attrs.get_int("group", 1);
  if (group < 1 || group > std::max<int64_t>(x[1], 1))
    bad(where, "attribute group = " + s(group) + " must be between 1 and the " + s(x[1]) + " input channels");
  if (x[1] != w[0])
    bad(where, "input X has " + s(x[1]) + " channels but W " + shape_str(w) + " expects " + s(w[0]));
  if (x[1] % group != 0)
    bad(where, "input X has " + s(x[1]) + " channels, not divisible by group=" + s(group));
  const std::vector<int64_t> k = read_kernel(n, ns, &w, where);
  const Window win = read_window(n, ns, where);
  const std::vector<int64_t> out_pad = read_ints(n, "output_padding", ns, 0, 0, where);
  std::vector<int64_t> out_shape = n.attrs.get_ints("output_shape", {});
  if (!out_shape.empty()) {
    if (out_shape.size() == static_cast<size_t>(ns) + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_shape.size() != static_cast<size_t>(ns))
      bad(where, "attribute output_shape = " + ints_str(n.attrs.get_ints("output_shape")) + " must have " + s(ns) +
                     " spatial entries");
    for (int64_t v : out_shape)
      if (v < 1 || v > kMaxWindowValue)
        bad(where, "attribute output_shape = " + ints_str(n.attrs.get_ints("output_shape")) + " has an entry out of range");
  }
  // The adjoint forward conv: x side = ConvTranspose's output, y side = its input.
  p.nspatial = ns;
  p.N = x[0];
  p.C = w[1] * group;
  p.M = x[1];
  p.group = group;
  for (int i = 0; i < ns; ++i) {
    const int d = slot(ns, i);
    const int64_t in = x[2 + i], st = win.stride[i], dil = win.dilation[i];
    const int64_t natural = st * (in - 1) + out_pad[i] + (k[i] - 1) * dil + 1;   // size with zero pads
    int64_t pb = win.pads[i], pe = win.pads[i + ns], out;
    if (!out_shape.empty() || win.auto_pad == AutoPad::SameUpper || win.auto_pad == AutoPad::SameLower) {
      out = !out_shape.empty() ? out_shape[i] : in * st;
      const int64_t total = natural - out;
      // ONNX spec: SAME_UPPER puts the larger half at the end, anything else at the beginning.
      if (win.auto_pad == AutoPad::SameUpper) {
        pb = floor_div(total, 2);
        pe = total - pb;
      } else {
        pe = floor_div(total, 2);
        pb = total - pe;
      }
    } else {
      out = natural - pb - pe;
    }
    if (out < 1)
      bad(where, "spatial dim " + s(i) + ": output size would be " + s(out) + " (input " + s(in) + ", stride " + s(st) +
                     ", kernel " + s(k[i]) + ", pads " + s(pb) + "+" + s(pe) + ")");
    p.in[d] = out;
    p.out[d] = in;
    p.kernel[d] = k[i];
    p.stride[d] = st;
    p.dilation[d] = dil;
    p.pad_begin[d] = pb;
    p.pad_end[d] = pe;
  }
  return p;
}

// ---- pools ------------------------------------------------------------------------------------------------
PoolParams resolve_pool(const Node& n, const Shape& x, PoolKind kind, std::string_view where) {
  PoolParams p;
  const int ns = spatial_rank(x, "X", where);
  p.nspatial = ns;
  p.N = x[0];
  p.C = x[1];
  const std::vector<int64_t> k = read_kernel(n, ns, nullptr, where);
  const Window win = read_window(n, ns, where);
  const int64_t ceil_mode = n.attrs.get_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) bad(where, "attribute ceil_mode = " + s(ceil_mode) + " must be 0 or 1");
  if (kind == PoolKind::Average) {
    const int64_t cip = n.attrs.get_int("count_include_pad", 0);
    if (cip != 0 && cip != 1) bad(where, "attribute count_include_pad = " + s(cip) + " must be 0 or 1");
    p.count_include_pad = cip == 1;
  } else {
    p.storage_order = static_cast<int>(n.attrs.get_int("storage_order", 0));
    if (p.storage_order != 0 && p.storage_order != 1)
      bad(where, "attribute storage_order = " + s(p.storage_order) + " must be 0 or 1");
  }
  for (int i = 0; i < ns; ++i) {
    // A pad as large as the kernel would allow windows made only of padding (onnxruntime refuses too).
    if (win.pads[i] >= k[i] || win.pads[i + ns] >= k[i])
      bad(where, "attribute pads = " + ints_str(win.pads) + ": each pad must be smaller than the kernel (kernel_shape = " +
                     ints_str(k) + ")");
    const int d = slot(ns, i);
    p.in[d] = x[2 + i];
    p.kernel[d] = k[i];
    p.stride[d] = win.stride[i];
    p.dilation[d] = win.dilation[i];
    p.out[d] = window_out(win, i, ns, x[2 + i], k[i], ceil_mode == 1, p.pad_begin[d], p.pad_end[d], where);
  }
  return p;
}

// ---- Gemm ---------------------------------------------------------------------------------------------------
GemmParams resolve_gemm(const Node& n, const Shape& a, const Shape& b, const Shape* c, std::string_view where) {
  GemmParams p;
  if (a.size() != 2) bad(where, "input A has shape " + shape_str(a) + "; Gemm needs a 2-D A");
  if (b.size() != 2) bad(where, "input B has shape " + shape_str(b) + "; Gemm needs a 2-D B");
  const int64_t ta = n.attrs.get_int("transA", 0), tb = n.attrs.get_int("transB", 0);
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) bad(where, "attributes transA/transB must be 0 or 1");
  p.transA = ta == 1;
  p.transB = tb == 1;
  p.alpha = n.attrs.get_float("alpha", 1.0f);
  p.beta = n.attrs.get_float("beta", 1.0f);
  p.M = p.transA ? a[1] : a[0];
  p.K = p.transA ? a[0] : a[1];
  const int64_t kb = p.transB ? b[1] : b[0];
  p.N = p.transB ? b[0] : b[1];
  if (kb != p.K)
    bad(where, "inner dimensions differ: A " + shape_str(a) + (p.transA ? " (transposed)" : "") + " gives K=" + s(p.K) +
                   " but B " + shape_str(b) + (p.transB ? " (transposed)" : "") + " gives K=" + s(kb));
  if (c) {
    p.has_c = true;
    const Shape& cs = *c;
    const Shape mn{p.M, p.N};
    bool ok = cs.size() <= 2;
    for (size_t i = 0; ok && i < cs.size(); ++i) {
      const int64_t target = mn[2 - cs.size() + i];
      ok = cs[i] == 1 || cs[i] == target;
    }
    if (!ok) bad(where, "input C has shape " + shape_str(cs) + ", not broadcastable to (M, N) = " + shape_str(mn));
  }
  return p;
}

// ---- MatMul ---------------------------------------------------------------------------------------------------
MatMulParams resolve_matmul(const Shape& a0, const Shape& b0, std::string_view where) {
  if (a0.empty() || b0.empty())
    bad(where, "MatMul needs inputs of rank >= 1; got A " + shape_str(a0) + " and B " + shape_str(b0));
  Shape a = a0, b = b0;
  if (a0.size() == 1) a.insert(a.begin(), 1);
  if (b0.size() == 1) b.push_back(1);
  MatMulParams p;
  p.M = a[a.size() - 2];
  p.K = a.back();
  p.N = b.back();
  if (b[b.size() - 2] != p.K)
    bad(where, "inner dimensions differ: A " + shape_str(a0) + " has K=" + s(p.K) + " but B " + shape_str(b0) + " has K=" +
                   s(b[b.size() - 2]));
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  const size_t r = std::max(ab.size(), bb.size());
  Shape batch(r), sa(r, 1), sb(r, 1);   // right-aligned batch dims
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i + ab.size() >= r ? ab[i + ab.size() - r] : 1;
    const int64_t db = i + bb.size() >= r ? bb[i + bb.size() - r] : 1;
    if (da != db && da != 1 && db != 1)
      bad(where, "batch dimensions of A " + shape_str(a0) + " and B " + shape_str(b0) + " do not broadcast");
    batch[i] = da == 1 ? db : da;
    sa[i] = da;
    sb[i] = db;
  }
  p.out_shape = batch;
  if (a0.size() > 1) p.out_shape.push_back(p.M);
  if (b0.size() > 1) p.out_shape.push_back(p.N);
  p.b_shared = shape_numel(bb) == 1;
  const int64_t count = shape_numel(batch);
  if (count > (int64_t{1} << 28))   // offsets are materialised; an empty M or N would not stop a huge batch
    fail(ErrorKind::Limit, std::string(where) + ": MatMul batch of " + s(count) + " matrices is over the limit");
  p.a_offset.resize(count);
  p.b_offset.resize(count);
  const std::vector<int64_t> stra = shape_strides(sa), strb = shape_strides(sb);
  std::vector<int64_t> idx(r, 0);
  for (int64_t t = 0; t < count; ++t) {
    int64_t oa = 0, ob = 0;
    for (size_t i = 0; i < r; ++i) {
      if (sa[i] != 1) oa += idx[i] * stra[i];
      if (sb[i] != 1) ob += idx[i] * strb[i];
    }
    p.a_offset[t] = oa;
    p.b_offset[t] = ob;
    for (size_t i = r; i-- > 0;) {   // odometer over the broadcast batch shape
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
  return p;
}

// ---- axis helpers -----------------------------------------------------------------------------------------------
int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view what, std::string_view where) {
  if (axis < -rank || axis >= rank)
    bad(where, std::string(what) + " = " + s(axis) + " is out of range for an input of rank " + s(rank) + " (allowed " +
                   s(-rank) + " to " + s(rank - 1) + ")");
  return axis < 0 ? axis + rank : axis;
}

// ---- reductions ----------------------------------------------------------------------------------------------
static int64_t reduce_axes_input_opset(Op op) { return op == Op::ReduceSum ? 13 : 18; }

ReduceParams resolve_reduce(const Node& n, int64_t opset, const Shape& x, const Tensor* axes_input, std::string_view where) {
  const std::string w(where);
  auto bad = [&](const std::string& m) -> void { fail_input(w + ": " + m); };
  std::vector<int64_t> axes;
  const int64_t from = reduce_axes_input_opset(n.op);
  if (opset >= from) {
    if (n.attrs.has("axes")) bad("attribute axes is not allowed from opset " + std::to_string(from) + " on; axes is input 1");
    if (axes_input) {
      if (axes_input->dtype != DType::Int64 || axes_input->shape.size() > 1)
        bad("input axes must be a 1-D int64 tensor; got " + std::string(dtype_name(axes_input->dtype)) + " " +
            shape_str(axes_input->shape));
      axes = axes_input->i;
    }
  } else {
    if (axes_input) bad("axes as an input needs opset " + std::to_string(from) + "; this model is opset " + std::to_string(opset));
    axes = n.attrs.get_ints("axes", {});
  }
  const int64_t keepdims = n.attrs.get_int("keepdims", 1);
  if (keepdims != 0 && keepdims != 1) bad("attribute keepdims = " + std::to_string(keepdims) + " must be 0 or 1");
  ReduceParams p;
  const int64_t r = static_cast<int64_t>(x.size());
  if (axes.empty() && opset >= from && n.attrs.get_int("noop_with_empty_axes", 0) != 0) {
    p.noop = true;
    p.out = x;
    return p;
  }
  p.mask.assign(static_cast<size_t>(r), axes.empty());
  for (int64_t a : axes) {
    const int64_t k = normalize_axis(a, r, "axes entry", w);
    if (p.mask[k]) bad("axes " + shape_str(axes) + " names dimension " + std::to_string(k) + " twice");
    p.mask[k] = true;
  }
  for (int64_t k = 0; k < r; ++k)
    if (!p.mask[k])
      p.out.push_back(x[k]);
    else if (keepdims)
      p.out.push_back(1);
  return p;
}

}  // namespace relscope
