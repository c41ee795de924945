// relscope/kernels/webgpu/gather.wgsl — moves elements along an index map made on the CPU (routing ops,
// broadcasting and its adjoint), one invocation per output element j.
// Bindings [src, idx, offsets, out]; words: 0 count, 1 mode (GatherMode), 2 f (float). idx and offsets are
// uint32; NO_INDEX means "no source". Modes (program.h):
//   0 Select  out[j] = idx[j] == NO_INDEX ? f : src[idx[j]]
//   1 Place   out[j] = src[idx[j]] where idx[j] != NO_INDEX; the other elements keep their value (so out is
//             read_write, and a step may fill part of a buffer another step filled)
//   2 Sum     out[j] = sum of src[idx[t]] for t in [offsets[j], offsets[j+1]), in t order (offsets: CSR),
//             Kahan-compensated (an adjoint of Select; also ReduceMean/ReduceSum)
// Select and Place are bit-exact. Sum makes the CPU's adds in the CPU's order, but a shader compiler may contract
// or reassociate them (lavapipe's LLVM was seen to end 1 ulp from the CPU): close to it, not always bit-exact.
@group(0) @binding(1) var<storage, read> src : array<f32>;
@group(0) @binding(2) var<storage, read> indices : array<u32>;
@group(0) @binding(3) var<storage, read> offsets : array<u32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let j = flat_id(gid, nwg);
  if (j >= word(0u)) { return; }
  let mode = word(1u);
  if (mode == 2u) {   // Sum
    var sum = Kahan();
    let to = offsets[j + 1u];
    for (var t = offsets[j]; t < to; t++) { sum = kahan_add(sum, src[indices[t]]); }
    out[j] = sum.sum;
    return;
  }
  let i = indices[j];
  if (i != NO_INDEX) {
    out[j] = src[i];
  } else if (mode == 0u) {   // Select; Place leaves the element alone
    out[j] = word_f32(2u);
  }
}
