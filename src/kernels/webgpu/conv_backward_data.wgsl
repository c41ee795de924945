// relscope/kernels/webgpu/conv_backward_data.wgsl — dx = conv^T(dy, w), a gather: one invocation per input
// element dx[n, c, iz, iy, ix] sums dy[n, m, o] * w[m, c % cg, j] over the outputs o whose window holds the
// element at tap j (i = o * stride - pad_begin + j * dilation), m in c's group. No atomics.
// Bindings [dy, w, dx]; the forward conv's words (program.h), count = N*C*in.
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<f32>;
@group(0) @binding(3) var<storage, read_write> dx : array<f32>;

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

  let isz = u32(inp.x * inp.y * inp.z);
  let i = idx % isz;
  let nc = idx / isz;
  let c = nc % C;
  let n = nc / C;
  let ix = i32(i % u32(inp.z));
  let iy = i32((i / u32(inp.z)) % u32(inp.y));
  let iz = i32(i / u32(inp.z * inp.y));

  let cg = C / group;
  let mg = M / group;
  let g = c / cg;
  let osz = u32(out.x * out.y * out.z);
  let ksz = u32(k.x * k.y * k.z);
  let dy0 = (n * M + g * mg) * osz;          // the group's first output plane of image n
  let w0 = (g * mg * cg + c % cg) * ksz;     // w[g * mg, c % cg, 0]
  let wstep = cg * ksz;                      // next output channel
  let p = vec3<i32>(iz, iy, ix) + pb;        // i + pad_begin = o * stride + j * dilation
  var acc = 0.0;
  for (var jz = 0; jz < k.x; jz++) {
    let tz = p.x - jz * dl.x;
    if (tz < 0 || tz % s.x != 0 || tz / s.x >= out.x) { continue; }
    for (var jy = 0; jy < k.y; jy++) {
      let ty = p.y - jy * dl.y;
      if (ty < 0 || ty % s.y != 0 || ty / s.y >= out.y) { continue; }
      for (var jx = 0; jx < k.z; jx++) {
        let tx = p.z - jx * dl.z;
        if (tx < 0 || tx % s.z != 0 || tx / s.z >= out.z) { continue; }
        let o = u32(((tz / s.x) * out.y + ty / s.y) * out.z + tx / s.z);
        var di = dy0 + o;
        var wi = w0 + u32((jz * k.y + jy) * k.z + jx);
        for (var m = 0u; m < mg; m++) {
          acc += dy[di] * w[wi];
          di += osz;
          wi += wstep;
        }
      }
    }
  }
  dx[idx] = acc;
}
