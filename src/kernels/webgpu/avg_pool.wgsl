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
  let g = geometry(POOL_GEOMETRY);
  let win = output_window(g, idx);
  let t = win.taps;
  let base = win.plane * volume(g.inp);
  var sum = 0.0;
  for (var jz = t.lo.x; jz < t.hi.x; jz++) {
    let iz = win.start.x + jz * g.dl.x;
    for (var jy = t.lo.y; jy < t.hi.y; jy++) {
      let row = base + u32(flat3(vec3<i32>(iz, win.start.y + jy * g.dl.y, win.start.z), g.inp));
      for (var jx = t.lo.z; jx < t.hi.z; jx++) { sum += x[row + u32(jx * g.dl.z)]; }
    }
  }
  let n = t.hi - t.lo;
  var count = n.x * n.y * n.z;
  if (word(23u) != 0u) {
    // taps inside the padded input: [0, ceil((in + pad_end - start) / dil)) clipped to [0, k)
    let end = g.inp + word3(20u) - win.start;   // in + pad_end - start
    count = clamp(ceil_div(end.x, g.dl.x), 0, g.k.x) * clamp(ceil_div(end.y, g.dl.y), 0, g.k.y) *
            clamp(ceil_div(end.z, g.dl.z), 0, g.k.z);
  }
  y[idx] = select(0.0, sum / f32(count), count > 0);
}
