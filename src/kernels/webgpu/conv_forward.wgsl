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
  let C = word(2u);
  let M = word(3u);
  let group = word(4u);
  let inp = word3(5u);
  let out = word3(8u);
  let k = word3(11u);
  let s = word3(14u);
  let dl = word3(17u);
  let pb = word3(20u);

  // idx = ((n * M + m) * out_d + oz) * out_h + oy) * out_w + ox
  let osz = u32(out.x * out.y * out.z);
  let o = idx % osz;
  let nm = idx / osz;
  let m = nm % M;
  let n = nm / M;
  let ox = i32(o % u32(out.z));
  let oy = i32((o / u32(out.z)) % u32(out.y));
  let oz = i32(o / u32(out.z * out.y));

  let cg = C / group;
  let mg = M / group;
  let g = m / mg;
  let start = vec3<i32>(oz, oy, ox) * s - pb;
  let lz = tap_lo(start.x, dl.x, k.x);
  let hz = tap_hi(start.x, inp.x, dl.x, lz, k.x);
  let ly = tap_lo(start.y, dl.y, k.y);
  let hy = tap_hi(start.y, inp.y, dl.y, ly, k.y);
  let lx = tap_lo(start.z, dl.z, k.z);
  let hx = tap_hi(start.z, inp.z, dl.z, lx, k.z);

  let isz = u32(inp.x * inp.y * inp.z);
  let ksz = u32(k.x * k.y * k.z);
  var xc = (n * C + g * cg) * isz;           // this group's first input plane
  var wc = m * cg * ksz;                     // this output channel's first weight
  var acc = 0.0;
  for (var c = 0u; c < cg; c++) {
    for (var jz = lz; jz < hz; jz++) {
      let iz = start.x + jz * dl.x;
      for (var jy = ly; jy < hy; jy++) {
        let iy = start.y + jy * dl.y;
        let xrow = xc + u32((iz * inp.y + iy) * inp.z + start.z);   // + jx * dl.x, in the row for lx <= jx < hx
        let wrow = wc + u32((jz * k.y + jy) * k.z);
        for (var jx = lx; jx < hx; jx++) {
          acc += x[xrow + u32(jx * dl.z)] * w[wrow + u32(jx)];
        }
      }
    }
    xc += isz;
    wc += ksz;
  }
  if (word(23u) != 0u) { acc += b[m]; }
  y[idx] = acc;
}
