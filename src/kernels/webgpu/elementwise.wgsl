// relscope/kernels/webgpu/elementwise.wgsl — the Ew ops of program.h, one invocation per output element j.
// Bindings [a, b, c, out]; words: 0 count, 1 op, 2 inner, 3 channels, 4 f (float), 5 mode, 6 f2 (float).
// ch(j) = (j / inner) % channels. The `out +=` ops read and write out.
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read> c : array<f32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let j = flat_id(gid, nwg);
  if (j >= word(0u)) { return; }
  let op = word(1u);
  let inner = max(word(2u), 1u);
  let channels = max(word(3u), 1u);
  let f = word_f32(4u);
  let ch = (j / inner) % channels;
  switch (op) {
    case 0u: { out[j] = a[j]; }                                   // Copy
    case 1u: { out[j] = f; }                                      // Fill
    case 2u: { out[j] = max(a[j], 0.0); }                         // Relu
    case 3u: { out[j] = min(a[j], 0.0); }                         // Negative
    case 4u: { out[j] = a[j] + b[j]; }                            // Add
    case 5u: { out[j] = a[j] * b[j]; }                            // Mul
    case 6u: { out[j] = b[ch]; }                                  // Broadcast
    case 7u: { out[j] = a[j] * b[ch] + c[ch]; }                   // ChannelAffine
    case 8u: {                                                    // StabDivide
      let mode = word(5u);
      var on = true;
      if (mode == 1u) { on = c[j] > 0.0; } else if (mode == 2u) { on = c[j] < 0.0; }
      if (on) {
        let d = b[j];
        out[j] = a[j] / (d + select(-f, f, d >= 0.0));
      } else {
        out[j] = 0.0;
      }
    }
    case 9u: { out[j] += f * a[j]; }                              // Accumulate
    case 10u: { out[j] += f * a[j] * b[j]; }                      // AccumulateProduct
    case 11u: { out[j] += f * b[ch]; }                            // AccumulateBias
    case 12u: { out[j] = select(0.0, a[j], b[j] > 0.0); }         // ReluGrad
    case 13u: { out[j] = f * a[j / inner]; }                      // Expand
    case 14u: { out[j] = select(a[j], f * a[j], a[j] < 0.0); }    // LeakyRelu
    case 15u: { out[j] = select(f * a[j], a[j], b[j] > 0.0); }    // LeakyReluGrad
    case 16u: { out[j] = 1.0 / (1.0 + exp(-a[j])); }              // Sigmoid
    // Tanh: clamped, as some implementations compute tanh through exp(2x) and give NaN past ~44.
    case 17u: { out[j] = tanh(clamp(a[j], -20.0, 20.0)); }
    case 18u: { out[j] = a[j] * c[j] * (1.0 - c[j]); }            // SigmoidGrad
    case 19u: { out[j] = a[j] * (1.0 - c[j] * c[j]); }            // TanhGrad
    case 20u: { out[j] = min(max(a[j], f), word_f32(6u)); }       // Clip
    case 21u: { out[j] = select(0.0, a[j], f <= b[j] && b[j] <= word_f32(6u)); }   // ClipGrad
    default: { }
  }
}
