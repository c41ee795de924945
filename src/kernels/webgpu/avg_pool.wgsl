// relscope/kernels/webgpu/avg_pool.wgsl — mean over each window, one invocation per output element.
// Bindings [x, y]; words: MaxPool's (0 count = planes*out, 1 planes, 2-4 in, 5-7 out, 8-10 kernel, 11-13 stride,
// 14-16 dilation, 17-19 pad_begin), plus 20-22 pad_end, 23 count_include_pad. Divisor: the taps in the input,
// or (count_include_pad) the taps inside [-pad_begin, in + pad_end); a divisor of 0 gives 0.
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> y : array<f32>;

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
  let osz = u32(out.x * out.y * out.z);
  let o = idx % osz;
  let plane = idx / osz;
  let ox = i32(o % u32(out.z));
  let oy = i32((o / u32(out.z)) % u32(out.y));
  let oz = i32(o / u32(out.z * out.y));
  let start = vec3<i32>(oz, oy, ox) * s - pb;
  let lz = tap_lo(start.x, dl.x, k.x);
  let hz = tap_hi(start.x, inp.x, dl.x, lz, k.x);
  let ly = tap_lo(start.y, dl.y, k.y);
  let hy = tap_hi(start.y, inp.y, dl.y, ly, k.y);
  let lx = tap_lo(start.z, dl.z, k.z);
  let hx = tap_hi(start.z, inp.z, dl.z, lx, k.z);
  let base = plane * u32(inp.x * inp.y * inp.z);
  var sum = 0.0;
  for (var jz = lz; jz < hz; jz++) {
    let iz = start.x + jz * dl.x;
    for (var jy = ly; jy < hy; jy++) {
      let iy = start.y + jy * dl.y;
      let row = base + u32((iz * inp.y + iy) * inp.z + start.z);
      for (var jx = lx; jx < hx; jx++) { sum += x[row + u32(jx * dl.z)]; }
    }
  }
  var count = (hz - lz) * (hy - ly) * (hx - lx);
  if (word(23u) != 0u) {
    // taps inside the padded input: [0, ceil((in + pad_end - start) / dil)) clipped to [0, k)
    count = clamp(ceil_div(inp.x + pe.x - start.x, dl.x), 0, k.x) *
            clamp(ceil_div(inp.y + pe.y - start.y, dl.y), 0, k.y) *
            clamp(ceil_div(inp.z + pe.z - start.z, dl.z), 0, k.z);
  }
  y[idx] = select(0.0, sum / f32(count), count > 0);
}
