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
  let g = geometry(POOL_GEOMETRY);
  let win = output_window(g, idx);
  let t = win.taps;
  if (any(t.lo >= t.hi)) {
    y[idx] = neg_inf();
    indices[idx] = NO_INDEX;
    return;
  }
  let base = win.plane * volume(g.inp);
  var at = base + u32(flat3(win.start + t.lo * g.dl, g.inp));
  var best = x[at];
  for (var jz = t.lo.x; jz < t.hi.x; jz++) {
    let iz = win.start.x + jz * g.dl.x;
    for (var jy = t.lo.y; jy < t.hi.y; jy++) {
      let row = base + u32(flat3(vec3<i32>(iz, win.start.y + jy * g.dl.y, win.start.z), g.inp));
      for (var jx = t.lo.z; jx < t.hi.z; jx++) {
        let i = row + u32(jx * g.dl.z);
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
