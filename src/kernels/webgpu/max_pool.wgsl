// relscope/kernels/webgpu/max_pool.wgsl — max over each window, one invocation per output element.
// Bindings [x, y, idx]; words: 0 count = planes*out, 1 planes, 2-4 in, 5-7 out, 8-10 kernel, 11-13 stride,
// 14-16 dilation, 17-19 pad_begin. idx (uint32): flat index into x of the first maximum in row-major (d, h, w)
// window order; padding never wins; a window with no tap in the input gives -inf and idx 0xffffffff.
// As the CPU kernel: seeded with the window's first tap, a strict > keeps the first maximum.
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> y : array<f32>;
@group(0) @binding(3) var<storage, read_write> indices : array<u32>;

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
  if (lz >= hz || ly >= hy || lx >= hx) {
    y[idx] = neg_inf();
    indices[idx] = NO_INDEX;
    return;
  }
  let base = plane * u32(inp.x * inp.y * inp.z);
  var at = base + u32(((start.x + lz * dl.x) * inp.y + start.y + ly * dl.y) * inp.z + start.z + lx * dl.z);
  var best = x[at];
  for (var jz = lz; jz < hz; jz++) {
    let iz = start.x + jz * dl.x;
    for (var jy = ly; jy < hy; jy++) {
      let iy = start.y + jy * dl.y;
      let row = base + u32((iz * inp.y + iy) * inp.z + start.z);
      for (var jx = lx; jx < hx; jx++) {
        let i = row + u32(jx * dl.z);
        let v = x[i];
        if (v > best) {
          best = v;
          at = i;
        }
      }
    }
  }
  y[idx] = best;
  indices[idx] = at;
}
