// relscope/kernels/webgpu/row_mean.wgsl — y[r] = mean of x[r*size .. r*size+size), one invocation per row.
// Bindings [x, y]; words: 0 count = rows, 1 size. Summed in f32 in blocks of 256 (a block's sum, then the
// sum of blocks), so rounding grows with 256 + size/256 rather than size (the CPU sums in double).
// size 0 gives 0, as the CPU's global_pool.
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read_write> y : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let r = flat_id(gid, nwg);
  if (r >= word(0u)) { return; }
  let size = word(1u);
  let base = r * size;
  var total = 0.0;
  for (var b0 = 0u; b0 < size; b0 += 256u) {
    let b1 = min(size, b0 + 256u);
    var block = 0.0;
    for (var i = b0; i < b1; i++) { block += x[base + i]; }
    total += block;
  }
  y[r] = select(0.0, total / f32(size), size > 0u);
}
