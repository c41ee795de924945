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

// -inf. Not bitcast<f32>(0xff800000u): that is a const-expression, and WGSL makes a const-expression that
// evaluates to an infinity a shader-creation error; through a `var` the bitcast happens at run time.
fn neg_inf() -> f32 {
  var bits = 0xff800000u;
  return bitcast<f32>(bits);
}

// Floor-free integer ceil(a / b) for b > 0 (a may be negative), as in src/kernels/cpu.
fn ceil_div(a : i32, b : i32) -> i32 {
  if (a <= 0) { return -((-a) / b); }
  return (a + b - 1) / b;
}

// Kernel taps [lo, hi) of a window starting at `start` (= o * stride - pad_begin) that land in [0, size):
// start + j * dil in [0, size) for j in [0, k).
fn tap_lo(start : i32, dil : i32, k : i32) -> i32 { return clamp(ceil_div(-start, dil), 0, k); }
fn tap_hi(start : i32, size : i32, dil : i32, lo : i32, k : i32) -> i32 {
  return clamp(ceil_div(size - start, dil), lo, k);
}
