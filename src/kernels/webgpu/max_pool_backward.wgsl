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
  let g = geometry(POOL_GEOMETRY);
  let e = gather_at(g, idx);
  let obase = e.plane * volume(g.out);
  var acc = 0.0;
  // Taps from the last to the first: outputs in ascending order per dim.
  for (var jz = g.k.x - 1; jz >= 0; jz--) {
    let oz = window_holding(e.p.x, jz, g.dl.x, g.s.x, g.out.x);
    if (oz < 0) { continue; }
    for (var jy = g.k.y - 1; jy >= 0; jy--) {
      let oy = window_holding(e.p.y, jy, g.dl.y, g.s.y, g.out.y);
      if (oy < 0) { continue; }
      for (var jx = g.k.z - 1; jx >= 0; jx--) {
        let ox = window_holding(e.p.z, jx, g.dl.z, g.s.z, g.out.z);
        if (ox < 0) { continue; }
        let o = obase + u32(flat3(vec3<i32>(oz, oy, ox), g.out));
        if (indices[o] == idx) { acc += dy[o]; }
      }
    }
  }
  dx[idx] = acc;
}
