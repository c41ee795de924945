// relscope/kernels/webgpu/avg_pool_backward.wgsl — dx[i] = sum of dy[o] / divisor(o) over the windows o holding
// i, a gather: one invocation per input element enumerates those windows (ascending o). Bindings [dy, dx];
// AvgPool's words, count = planes*in. divisor(o) as in avg_pool.wgsl (never 0 for a window holding an input).
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read_write> dx : array<f32>;

// Taps of window o (one dim) in the input, or with `padded` inside [-pad_begin, in + pad_end).
fn taps(o : i32, size : i32, k : i32, s : i32, dl : i32, pb : i32, pe : i32, padded : bool) -> i32 {
  let start = o * s - pb;
  if (padded) { return clamp(ceil_div(size + pe - start, dl), 0, k); }
  let lo = tap_lo(start, dl, k);
  return tap_hi(start, size, dl, lo, k) - lo;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= word(0u)) { return; }
  let inp = word3(2u);
  let out = word3(5u);
  let k = word3(8u);
  let s = word3(11u);
  let dl = word3(14u);
  let pb = word3(17u);
  let pe = word3(20u);
  let padded = word(23u) != 0u;
  let isz = u32(inp.x * inp.y * inp.z);
  let osz = u32(out.x * out.y * out.z);
  let i = idx % isz;
  let plane = idx / isz;
  let ix = i32(i % u32(inp.z));
  let iy = i32((i / u32(inp.z)) % u32(inp.y));
  let iz = i32(i / u32(inp.z * inp.y));
  let p = vec3<i32>(iz, iy, ix) + pb;   // = o * stride + j * dilation
  let obase = plane * osz;
  var acc = 0.0;
  for (var jz = k.x - 1; jz >= 0; jz--) {
    let tz = p.x - jz * dl.x;
    if (tz < 0 || tz % s.x != 0 || tz / s.x >= out.x) { continue; }
    let oz = tz / s.x;
    let cz = taps(oz, inp.x, k.x, s.x, dl.x, pb.x, pe.x, padded);
    for (var jy = k.y - 1; jy >= 0; jy--) {
      let ty = p.y - jy * dl.y;
      if (ty < 0 || ty % s.y != 0 || ty / s.y >= out.y) { continue; }
      let oy = ty / s.y;
      let cy = taps(oy, inp.y, k.y, s.y, dl.y, pb.y, pe.y, padded);
      for (var jx = k.z - 1; jx >= 0; jx--) {
        let tx = p.z - jx * dl.z;
        if (tx < 0 || tx % s.z != 0 || tx / s.z >= out.z) { continue; }
        let ox = tx / s.z;
        let count = cz * cy * taps(ox, inp.z, k.z, s.z, dl.z, pb.z, pe.z, padded);
        if (count > 0) { acc += dy[obase + u32((oz * out.y + oy) * out.z + ox)] / f32(count); }
      }
    }
  }
  dx[idx] = acc;
}
