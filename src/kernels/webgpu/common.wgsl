// relscope/kernels/webgpu/common.wgsl — prepended to every kernel by embed_shaders.mjs.
//
// The step's 32 uniform words (program.h) sit at binding 0: word i is P[i / 4][i % 4]; floats are bit-cast.
// Every kernel but gemm runs one invocation per element of word 0 (`count`) on a 1-D or 2-D grid of
// 64-wide workgroups: idx = gid.x + gid.y * (num_workgroups.x * 64) (the bridge splits a count too large for
// one grid row over gid.y), and invocations past count return at once.
@group(0) @binding(0) var<uniform> P : array<vec4<u32>, 8>;

fn word(i : u32) -> u32 { return P[i / 4u][i % 4u]; }
fn word_f32(i : u32) -> f32 { return bitcast<f32>(word(i)); }
fn word_i32(i : u32) -> i32 { return bitcast<i32>(word(i)); }
fn word3(i : u32) -> vec3<i32> { return vec3<i32>(word_i32(i), word_i32(i + 1u), word_i32(i + 2u)); }

fn flat_id(gid : vec3<u32>, nwg : vec3<u32>) -> u32 { return gid.x + gid.y * (nwg.x * 64u); }

const NO_INDEX : u32 = 0xffffffffu;

// An LRP rule's ratio: r / (z + (z >= 0 ? e : -e)), as Ew::StabDivide (mode 0) computes it; the convolutions'
// prologue reads their input through it.
fn stab_divide(r : f32, z : f32, e : f32) -> f32 { return r / (z + select(-e, e, z >= 0.0)); }

// -inf. Not bitcast<f32>(0xff800000u): that is a const-expression, and WGSL makes a const-expression that
// evaluates to an infinity a shader-creation error; through a `var` the bitcast happens at run time.
fn neg_inf() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// A compensated (Kahan) f32 sum, exactly as program_cpu.cpp's KahanSum (gather's Sum and the row ops: the CPU
// engine sums those statistics in double, the GPU has none). Use: var s = Kahan(); s = kahan_add(s, v); s.sum.
// WGSL does not forbid a compiler to reassociate floats: where one simplifies (t - sum) - y away, this is a plain
// sum (lavapipe ends within an ulp of the CPU's; SwiftShader matches it bit for bit).
struct Kahan { sum : f32, carry : f32 }
fn kahan_add(k : Kahan, v : f32) -> Kahan {
  let y = v - k.carry;
  let t = k.sum + y;
  return Kahan(t, (t - k.sum) - y);
}

// Floor-free integer ceil(a / b) for b > 0 (a may be negative), as in src/kernels/cpu.
fn ceil_div(a : i32, b : i32) -> i32 {
  if (a <= 0) { return -((-a) / b); }
  return (a + b - 1) / b;
}

// ---- flat indices ------------------------------------------------------------------------------------------
// Volumes are (d, h, w) triples, row-major: position p sits at (p.x * h + p.y) * w + p.z.
fn volume(dims : vec3<i32>) -> u32 { return u32(dims.x * dims.y * dims.z); }
fn flat3(p : vec3<i32>, dims : vec3<i32>) -> i32 { return (p.x * dims.y + p.y) * dims.z + p.z; }

// Element `idx` of a stack of volumes of `dims`: idx = plane * volume(dims) + flat3(pos, dims).
struct Element { plane : u32, pos : vec3<i32> }
fn element_at(idx : u32, dims : vec3<i32>) -> Element {
  let vol = volume(dims);
  let o = idx % vol;
  let w = u32(dims.z);
  return Element(idx / vol, vec3<i32>(i32(o / (w * u32(dims.y))), i32((o / w) % u32(dims.y)), i32(o % w)));
}

// ---- windows (conv and pool) -------------------------------------------------------------------------------
// The geometry words of a conv or pool step (program.h): the in, out, kernel, stride, dilation and pad_begin
// triples, one after another from word CONV_GEOMETRY or POOL_GEOMETRY.
struct Geometry { inp : vec3<i32>, out : vec3<i32>, k : vec3<i32>, s : vec3<i32>, dl : vec3<i32>, pb : vec3<i32> }
const CONV_GEOMETRY : u32 = 5u;
const POOL_GEOMETRY : u32 = 2u;
fn geometry(first : u32) -> Geometry {
  return Geometry(word3(first), word3(first + 3u), word3(first + 6u), word3(first + 9u), word3(first + 12u),
                  word3(first + 15u));
}

// Kernel taps [lo, hi) of a window starting at `start` (= o * stride - pad_begin) that land in [0, size):
// start + j * dil in [0, size) for j in [0, k).
fn tap_lo(start : i32, dil : i32, k : i32) -> i32 { return clamp(ceil_div(-start, dil), 0, k); }
fn tap_hi(start : i32, size : i32, dil : i32, lo : i32, k : i32) -> i32 {
  return clamp(ceil_div(size - start, dil), lo, k);
}
// The same for all three dims. Clipping the window once per dim is what keeps the loops over taps free of
// bounds checks.
struct Taps { lo : vec3<i32>, hi : vec3<i32> }
fn window_taps(start : vec3<i32>, size : vec3<i32>, dil : vec3<i32>, k : vec3<i32>) -> Taps {
  let lo = vec3<i32>(tap_lo(start.x, dil.x, k.x), tap_lo(start.y, dil.y, k.y), tap_lo(start.z, dil.z, k.z));
  let hi = vec3<i32>(tap_hi(start.x, size.x, dil.x, lo.x, k.x), tap_hi(start.y, size.y, dil.y, lo.y, k.y),
                     tap_hi(start.z, size.z, dil.z, lo.z, k.z));
  return Taps(lo, hi);
}

// The window of output element `idx` (kernels with one invocation per output element): its plane, where it
// starts in the input (tap j sits at start + j * dilation) and its taps in the input.
struct Window { plane : u32, start : vec3<i32>, taps : Taps }
fn output_window(g : Geometry, idx : u32) -> Window {
  let e = element_at(idx, g.out);
  let start = e.pos * g.s - g.pb;
  return Window(e.plane, start, window_taps(start, g.inp, g.dl, g.k));
}

// The gathers of the backward kernels run one invocation per input element and sum over the windows that
// hold it. gather_at: input element `idx`'s plane and p = its position + pad_begin, which is
// o * stride + j * dilation for every output o whose window holds it at tap j.
struct Gather { plane : u32, p : vec3<i32> }
fn gather_at(g : Geometry, idx : u32) -> Gather {
  let e = element_at(idx, g.inp);
  return Gather(e.plane, e.pos + g.pb);
}
// One dim: the output whose window holds the input at p as its tap j, or -1 when there is none (p - j * dil is
// negative, off the stride, or past the last output).
fn window_holding(p : i32, j : i32, dil : i32, stride : i32, out : i32) -> i32 {
  let t = p - j * dil;
  if (t < 0 || t % stride != 0) { return -1; }
  return select(-1, t / stride, t / stride < out);
}

// A conv step's channels: words 2 C, 3 M, 4 group; cg = C / group inputs and mg = M / group outputs a group.
struct ConvChannels { C : u32, M : u32, cg : u32, mg : u32 }
fn conv_channels() -> ConvChannels {
  let group = word(4u);
  return ConvChannels(word(2u), word(3u), word(2u) / group, word(3u) / group);
}

// ---- 64x64 tiles (gemm, conv_forward, conv_backward_data) ---------------------------------------------------------
// A 16x16 workgroup computes a 64x64 tile of C = A B, 4x4 per invocation (rows lid.y + 16 r, columns lid.x + 16 q),
// staging 64x16 of A and 16x64 of B per K step of TK in workgroup memory: each value is read from memory once per
// tile instead of once per output. Only the kernels that use these have them (workgroup memory is per entry
// point's use).
const TILE : u32 = 64u;
const TK : u32 = 16u;
var<workgroup> As : array<array<f32, 64>, 16>;   // As[kk][i]: A(tile row i, k0 + kk)
var<workgroup> Bs : array<array<f32, 64>, 16>;   // Bs[kk][j]: B(k0 + kk, tile column j)
alias TileAcc = array<array<f32, 4>, 4>;

// Split-K: the K range [begin, end) of range `split` of `splits` over kdim, whole TK steps each (the last ranges
// may be short or empty; an empty one still writes its slice, zeros).
fn split_k_range(kdim : u32, split : u32, splits : u32) -> vec2<u32> {
  let per = ((kdim + TK - 1u) / TK + splits - 1u) / splits * TK;
  let begin = min(kdim, split * per);
  return vec2<u32>(begin, min(kdim, begin + per));
}

// acc += this invocation's 4x4 of the staged step's product (between the two barriers around it).
fn tile_multiply(acc : ptr<function, TileAcc>, lid : vec3<u32>) {
  for (var kk = 0u; kk < TK; kk++) {
    var av : array<f32, 4>;
    var bv : array<f32, 4>;
    for (var r = 0u; r < 4u; r++) {
      av[r] = As[kk][lid.y + 16u * r];
      bv[r] = Bs[kk][lid.x + 16u * r];
    }
    for (var r = 0u; r < 4u; r++) {
      for (var q = 0u; q < 4u; q++) { (*acc)[r][q] += av[r] * bv[q]; }
    }
  }
}
