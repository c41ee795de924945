// relscope/kernels/webgpu/window.wgsl — occlusion's window over the trailing spatial dims of a batch of inputs,
// one invocation per input element j (program.h: Window).
// Bindings [a, b, c, out]; words: 0 count, 1 per sample, 2 spatial size, 3-5 span (d, h, w), 6-8 window
// origin, 9-11 window extent, 12 mode, 13 f (float), 14 outputs per sample. Element j is at spatial offset
// j % spatial of sample j / per.
//   mode 0 occlude  out = inside ? f : a                            (a: the input)
//   mode 1 drop     out += inside ? a[b*per_out + t] - b[b*per_out + t] : 0, t = c[b]
//                   (a: the plain output, b: the occluded one, c: uint32 targets; out accumulates)
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read> c : array<u32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let j = flat_id(gid, nwg);
  if (j >= word(0u)) { return; }
  let per = max(word(1u), 1u);
  let sp = i32(j % max(word(2u), 1u));
  let span = word3(3u);
  let at = vec3<i32>(sp / (span.y * span.z), (sp / span.z) % span.y, sp % span.z);
  let lo = word3(6u);
  let hi = lo + word3(9u);
  let inside = all(at >= lo) && all(at < hi);
  if (word(12u) == 0u) {
    if (inside) { out[j] = word_f32(13u); } else { out[j] = a[j]; }
    return;
  }
  if (inside) {
    let s = j / per;
    let k = s * word(14u) + c[s];
    out[j] += a[k] - b[k];
  }
}
