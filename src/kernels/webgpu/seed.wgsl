// relscope/kernels/webgpu/seed.wgsl — the relevance seed, one invocation per sample b (count = batch).
// Bindings [y, seed, targets]; words: 1 values per sample, 2 target (0xffffffff: the first arg-max of y's
// row b), 3 multiply (nonzero: seed = y at the target, else 1), 4 from targets (nonzero: t = targets[b] as
// given or found by an earlier Seed). seed's row b is 0 but for seed[b*per+t]; targets[b] = t (uint32).
@group(0) @binding(1) var<storage, read> y : array<f32>;
@group(0) @binding(2) var<storage, read_write> seed : array<f32>;
@group(0) @binding(3) var<storage, read_write> targets : array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let b = flat_id(gid, nwg);
  if (b >= word(0u)) { return; }
  let per = word(1u);
  let base = b * per;
  var t = word(2u);
  if (word(4u) != 0u) {
    t = targets[b];
  } else if (t == NO_INDEX) {
    t = 0u;
    var best = y[base];
    for (var i = 1u; i < per; i++) {
      let v = y[base + i];
      if (v > best) {
        best = v;
        t = i;
      }
    }
  }
  for (var i = 0u; i < per; i++) { seed[base + i] = 0.0; }
  if (t < per) { seed[base + t] = select(1.0, y[base + t], word(3u) != 0u); }
  targets[b] = t;
}
