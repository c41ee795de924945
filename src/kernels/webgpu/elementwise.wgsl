// relscope/kernels/webgpu/elementwise.wgsl — the Ew ops of program.h, one invocation per output element j.
// Bindings [a, b, c, out]; words: 0 count, 1 op, 2 inner, 3 channels, 4 f (float), 5 mode, 6 f2 (float).
// ch(j) = (j / inner) % channels. The `out +=` ops read and write out.
//
// Sections: erf and pow (what WGSL's built-ins lack) | main
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read> c : array<f32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

// ---- erf and pow ----------------------------------------------------------------------------------------
// erf(x) by Abramowitz-Stegun 7.1.26 (|error| <= 1.5e-7): WGSL has no erf.
fn erf_as(x : f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-x * x));
}

// x^e with std::pow's rules where WGSL's pow (exp2(e * log2(x))) has none: x^0 = 1, and a negative base (by its
// sign bit, so -0 too) with an integral e takes its sign from e's parity. Integral |e| <= 32 multiply (by
// squaring), which keeps to a few ulp of the CPU's powf on every GPU; a non-integral e of a negative base is
// undefined (NaN on the CPU).
fn pow_rule(x : f32, e : f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e != trunc(e)) { return pow(x, e); }
  let m = abs(x);
  let n = abs(e);
  var p = 1.0;
  if (n <= 32.0) {
    var k = u32(n);
    var base = m;
    while (k > 0u) {
      if ((k & 1u) == 1u) { p *= base; }
      base *= base;
      k >>= 1u;
    }
    if (e < 0.0) { p = 1.0 / p; }
  } else {
    p = pow(m, e);
  }
  let odd = n < 16777216.0 && (u32(n) & 1u) == 1u;   // past 2^24 every f32 is even
  return select(p, -p, odd && (bitcast<u32>(x) & 0x80000000u) != 0u);
}

// ---- main -------------------------------------------------------------------------------------------------
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
        out[j] = stab_divide(a[j], b[j], f);
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
    case 22u: { out[j] = a[j] / b[j]; }                           // Divide
    case 23u: { out[j] = sqrt(a[j]); }                            // Sqrt
    case 24u: { out[j] = erf_as(a[j]); }                          // Erf
    case 25u: { out[j] = pow_rule(a[j], f); }                     // Pow
    case 26u: { out[j] = a[j] * 1.1283791670955126 * exp(-b[j] * b[j]); }   // ErfGrad (2/sqrt(pi))
    case 27u: { out[j] = a[j] * f * pow_rule(b[j], f - 1.0); }   // PowGrad
    case 28u: {                                                   // SliceSum (split-K's slices, in order)
      var sum = 0.0;
      for (var sl = 0u; sl < inner; sl++) { sum += a[sl * word(0u) + j]; }
      let mode = word(5u);                                        // a convolution's epilogue
      if (mode == 1u) { out[j] = f * b[j] * sum; }
      else if (mode == 2u) { out[j] += f * b[j] * sum; }
      else { out[j] = sum; }
    }
    case 29u: { out[j] = f * a[j] * b[j]; }                       // Product
    default: { }
  }
}
