// relscope/kernels/webgpu/conv_forward.wgsl — y = conv(x, w) (+ b), direct: one invocation per output element.
// Bindings [x, w, b, y]; words: 0 count = N*M*out, 1 N, 2 C, 3 M, 4 group, 5-7 in, 8-10 out, 11-13 kernel,
// 14-16 stride, 17-19 dilation, 20-22 pad_begin, 23 has_bias. Geometry triples are (d, h, w).
// The window is clipped to the input once per dim (tap ranges), so the inner loops carry no bounds checks.
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<f32>;
@group(0) @binding(3) var<storage, read> b : array<f32>;
@group(0) @binding(4) var<storage, read_write> y : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let idx = flat_id(gid, nwg);
  if (idx >= word(0u)) { return; }
  let g = geometry(CONV_GEOMETRY);
  let ch = conv_channels();
  let win = output_window(g, idx);           // plane n * M + m
  let m = win.plane % ch.M;
  let n = win.plane / ch.M;
  let t = win.taps;

  let isz = volume(g.inp);
  let ksz = volume(g.k);
  var xc = (n * ch.C + (m / ch.mg) * ch.cg) * isz;   // this group's first input plane
  var wc = m * ch.cg * ksz;                          // this output channel's first weight
  var acc = 0.0;
  for (var c = 0u; c < ch.cg; c++) {
    for (var jz = t.lo.x; jz < t.hi.x; jz++) {
      let iz = win.start.x + jz * g.dl.x;
      for (var jy = t.lo.y; jy < t.hi.y; jy++) {
        let iy = win.start.y + jy * g.dl.y;
        // the row's taps: x[xrow + jx * dilation_w] for t.lo.z <= jx < t.hi.z, all in the input
        let xrow = xc + u32(flat3(vec3<i32>(iz, iy, win.start.z), g.inp));
        let wrow = wc + u32(flat3(vec3<i32>(jz, jy, 0), g.k));
        for (var jx = t.lo.z; jx < t.hi.z; jx++) {
          acc += x[xrow + u32(jx * g.dl.z)] * w[wrow + u32(jx)];
        }
      }
    }
    xc += isz;
    wc += ksz;
  }
  if (word(23u) != 0u) { acc += b[m]; }
  y[idx] = acc;
}
