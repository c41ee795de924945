// relscope/kernels/webgpu/avg_pool_backward.wgsl — dx[i] = sum of dy[o] / divisor(o) over the windows o holding
// i, a gather: one invocation per input element enumerates those windows (ascending o). Bindings [dy, dx];
// AvgPool's words, count = planes*in. divisor(o) as in avg_pool.wgsl (never 0 for a window holding an input).
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read_write> dx : array<f32>;

// Taps (one dim) of the window starting at `start` in the input, or with `padded` inside
// [-pad_begin, in + pad_end).
fn taps(start : i32, size : i32, k : i32, dl : i32, pe : i32, padded : bool) -> i32 {
  if (padded) { return clamp(ceil_div(size + pe - start, dl), 0, k); }
  let lo = tap_lo(start, dl, k);
  return tap_hi(start, size, dl, lo, k) - lo;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= word(0u)) { return; }
  let g = geometry(POOL_GEOMETRY);
  let pe = word3(20u);
  let padded = word(23u) != 0u;
  let e = gather_at(g, idx);
  let obase = e.plane * volume(g.out);
  var acc = 0.0;
  for (var jz = g.k.x - 1; jz >= 0; jz--) {
    let oz = window_holding(e.p.x, jz, g.dl.x, g.s.x, g.out.x);
    if (oz < 0) { continue; }
    let cz = taps(oz * g.s.x - g.pb.x, g.inp.x, g.k.x, g.dl.x, pe.x, padded);
    for (var jy = g.k.y - 1; jy >= 0; jy--) {
      let oy = window_holding(e.p.y, jy, g.dl.y, g.s.y, g.out.y);
      if (oy < 0) { continue; }
      let cy = taps(oy * g.s.y - g.pb.y, g.inp.y, g.k.y, g.dl.y, pe.y, padded);
      for (var jx = g.k.z - 1; jx >= 0; jx--) {
        let ox = window_holding(e.p.z, jx, g.dl.z, g.s.z, g.out.z);
        if (ox < 0) { continue; }
        let count = cz * cy * taps(ox * g.s.z - g.pb.z, g.inp.z, g.k.z, g.dl.z, pe.z, padded);
        if (count > 0) { acc += dy[obase + u32(flat3(vec3<i32>(oz, oy, ox), g.out))] / f32(count); }
      }
    }
  }
  dx[idx] = acc;
}
