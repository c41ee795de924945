// relscope/kernels/webgpu/conv_backward_data.wgsl — dx = conv^T(dy, w), a gather: one invocation per input
// element dx[n, c, iz, iy, ix] sums dy[n, m, o] * w[m, c % cg, j] over the outputs o whose window holds the
// element at tap j (i = o * stride - pad_begin + j * dilation), m in c's group. No atomics.
// Bindings [dy, w, dx, mult, d]; the forward conv's words (program.h), count = N*C*in. Epilogue (word 25, f word 26):
// 0 dx = sum, 1 dx = f * mult * sum, 2 dx += f * mult * sum (mult: an LRP rule term's input). Prologue (word 27):
// 1 reads dy as dy / (d + (d >= 0 ? e : -e)), e word 28 (an LRP rule's ratio R / stab(z)).
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<f32>;
@group(0) @binding(3) var<storage, read_write> dx : array<f32>;
@group(0) @binding(4) var<storage, read> mult : array<f32>;
@group(0) @binding(5) var<storage, read> d : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= word(0u)) { return; }
  let g = geometry(CONV_GEOMETRY);
  let ch = conv_channels();
  let e = gather_at(g, idx);                 // plane n * C + c
  let c = e.plane % ch.C;
  let n = e.plane / ch.C;
  let grp = c / ch.cg;
  let osz = volume(g.out);
  let ksz = volume(g.k);
  let dy0 = (n * ch.M + grp * ch.mg) * osz;          // the group's first output plane of image n
  let w0 = (grp * ch.mg * ch.cg + c % ch.cg) * ksz;  // w[grp * mg, c % cg, 0]
  let wstep = ch.cg * ksz;                           // next output channel
  let ratio = word(27u) == 1u;
  let eps = word_f32(28u);
  var acc = 0.0;
  for (var jz = 0; jz < g.k.x; jz++) {
    let oz = window_holding(e.p.x, jz, g.dl.x, g.s.x, g.out.x);
    if (oz < 0) { continue; }
    for (var jy = 0; jy < g.k.y; jy++) {
      let oy = window_holding(e.p.y, jy, g.dl.y, g.s.y, g.out.y);
      if (oy < 0) { continue; }
      for (var jx = 0; jx < g.k.z; jx++) {
        let ox = window_holding(e.p.z, jx, g.dl.z, g.s.z, g.out.z);
        if (ox < 0) { continue; }
        var di = dy0 + u32(flat3(vec3<i32>(oz, oy, ox), g.out));
        var wi = w0 + u32(flat3(vec3<i32>(jz, jy, jx), g.k));
        for (var m = 0u; m < ch.mg; m++) {
          var v = dy[di];
          if (ratio) { v = stab_divide(v, d[di], eps); }
          acc += v * w[wi];
          di += osz;
          wi += wstep;
        }
      }
    }
  }
  let epilogue = word(25u);
  let f = word_f32(26u);
  if (epilogue == 1u) { dx[idx] = f * mult[idx] * acc; }
  else if (epilogue == 2u) { dx[idx] += f * mult[idx] * acc; }
  else { dx[idx] = acc; }
}
