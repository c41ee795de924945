// relscope/kernels/webgpu/max_pool_backward.wgsl — dx[i] = sum of dy[o] over the outputs o with idx[o] == i, a
// gather: one invocation per input element enumerates the windows that hold it (ascending o) and checks
// their index. Bindings [dy, idx, dx]; MaxPool's words, count = planes*in.
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read> indices : array<u32>;
@group(0) @binding(3) var<storage, read_write> dx : array<f32>;

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
  // Taps from the last to the first: outputs in ascending order per dim.
  for (var jz = k.x - 1; jz >= 0; jz--) {
    let tz = p.x - jz * dl.x;
    if (tz < 0 || tz % s.x != 0 || tz / s.x >= out.x) { continue; }
    for (var jy = k.y - 1; jy >= 0; jy--) {
      let ty = p.y - jy * dl.y;
      if (ty < 0 || ty % s.y != 0 || ty / s.y >= out.y) { continue; }
      for (var jx = k.z - 1; jx >= 0; jx--) {
        let tx = p.z - jx * dl.z;
        if (tx < 0 || tx % s.z != 0 || tx / s.z >= out.z) { continue; }
        let o = obase + u32(((tz / s.x) * out.y + ty / s.y) * out.z + tx / s.z);
        if (indices[o] == idx) { acc += dy[o]; }
      }
    }
  }
  dx[idx] = acc;
}
