// relscope/kernels/webgpu/rows.wgsl — ops on whole rows (softmax, log-softmax, layer norm and their backward
// passes), one invocation per row.
// Bindings [a, b, c, out]; words: 0 count = rows (outer*inner), 1 op (RowOp), 2 len, 3 inner, 4 f (float),
// 5 has_c. Row r = (o, i), o = r / inner, i = r % inner, holds the elements (o*len + l)*inner + i, l < len;
// b[l] and c[l] (LayerNorm's scale and bias) are indexed by l alone.
//
// Sections: rows | softmax ops | layer norm ops | main
//
// Every sum runs over l in order and is Kahan-compensated (common.wgsl), and every value comes from the same
// expression as in the CPU reference (program_cpu.cpp's row_op), so the two agree to a few ulp (exp, log and
// sqrt may round differently). Bindings an op does not read are the bridge's dummies: ops branch with if,
// not select(), so that they never read them.
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<storage, read> b : array<f32>;
@group(0) @binding(3) var<storage, read> c : array<f32>;
@group(0) @binding(4) var<storage, read_write> out : array<f32>;

// ---- rows ------------------------------------------------------------------------------------------------
struct Row { base : u32, len : u32, inner : u32 }
fn row_at(r : u32, len : u32, inner : u32) -> Row { return Row((r / inner) * len * inner + r % inner, len, inner); }
// The flat index of element l of the row.
fn at(row : Row, l : u32) -> u32 { return row.base + l * row.inner; }

// ---- softmax ops --------------------------------------------------------------------------------------------
// max_l a and sum_l exp(a - max_l a): subtracting the max keeps exp from overflowing.
struct Exps { mx : f32, sum : f32 }
fn exps(row : Row) -> Exps {
  var mx = neg_inf();
  for (var l = 0u; l < row.len; l++) { mx = max(mx, a[at(row, l)]); }
  var sum = Kahan();
  for (var l = 0u; l < row.len; l++) { sum = kahan_add(sum, exp(a[at(row, l)] - mx)); }
  return Exps(mx, sum.sum);
}

// Softmax: out = exp(a - max) * (1 / sum), times the reciprocal as the CPU engine's softmax.
fn softmax(row : Row) {
  let e = exps(row);
  let inv = 1.0 / e.sum;
  for (var l = 0u; l < row.len; l++) { out[at(row, l)] = exp(a[at(row, l)] - e.mx) * inv; }
}

// LogSoftmax: out = (a - max) - log(sum); adding the max back first would lose digits.
fn log_softmax(row : Row) {
  let e = exps(row);
  let ls = log(e.sum);
  for (var l = 0u; l < row.len; l++) { out[at(row, l)] = (a[at(row, l)] - e.mx) - ls; }
}

// SoftmaxGrad (rule false): out = b * (c - sum_l c*b), b the softmax output, c dy.
// SoftmaxRule (rule true, AttnLRP): out = a * (c - b * sum_l c), a x, b the softmax output, c R.
fn softmax_backward(row : Row, rule : bool) {
  var dot = Kahan();
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    if (rule) { dot = kahan_add(dot, c[k]); } else { dot = kahan_add(dot, c[k] * b[k]); }
  }
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    if (rule) { out[k] = a[k] * (c[k] - b[k] * dot.sum); } else { out[k] = b[k] * (c[k] - dot.sum); }
  }
}

// LogSoftmaxGrad: out = c - exp(b) * sum_l c, b the log-softmax output, c dy.
fn log_softmax_grad(row : Row) {
  var total = Kahan();
  for (var l = 0u; l < row.len; l++) { total = kahan_add(total, c[at(row, l)]); }
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    out[k] = c[k] - exp(b[k]) * total.sum;
  }
}

// ---- layer norm ops ---------------------------------------------------------------------------------------
// The row's mean and 1 / sqrt(biased variance + eps) (not inverseSqrt: the CPU divides by sqrt).
struct Moments { mean : f32, rstd : f32 }
fn moments(row : Row, eps : f32) -> Moments {
  var sum = Kahan();
  for (var l = 0u; l < row.len; l++) { sum = kahan_add(sum, a[at(row, l)]); }
  let mean = sum.sum / f32(row.len);
  var sq = Kahan();
  for (var l = 0u; l < row.len; l++) {
    let d = a[at(row, l)] - mean;
    sq = kahan_add(sq, d * d);
  }
  return Moments(mean, 1.0 / sqrt(sq.sum / f32(row.len) + eps));
}

// LayerNorm: out = (a - mean) * rstd * b[l] + (has_c ? c[l] : 0).
fn layer_norm(row : Row, eps : f32, has_c : bool) {
  let m = moments(row, eps);
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    var bias = 0.0;
    if (has_c) { bias = c[l]; }
    out[k] = (a[k] - m.mean) * m.rstd * b[l] + bias;
  }
}

// LayerNormGrad, the gradient of LayerNorm with respect to its input (a x, b scale, c dy): with g = c * b[l]
// and xh = (a - mean) * rstd, out = rstd * (g - mean_l g - xh * mean_l(g * xh)).
fn layer_norm_grad(row : Row, eps : f32) {
  let m = moments(row, eps);
  var sg = Kahan();
  var sgx = Kahan();
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    let g = c[k] * b[l];
    let xh = (a[k] - m.mean) * m.rstd;
    sg = kahan_add(sg, g);
    sgx = kahan_add(sgx, g * xh);
  }
  let mg = sg.sum / f32(row.len);
  let mgx = sgx.sum / f32(row.len);
  for (var l = 0u; l < row.len; l++) {
    let k = at(row, l);
    let g = c[k] * b[l];
    let xh = (a[k] - m.mean) * m.rstd;
    out[k] = m.rstd * (g - mg - xh * mgx);
  }
}

// ---- main -------------------------------------------------------------------------------------------------
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  let r = flat_id(gid, nwg);
  if (r >= word(0u)) { return; }
  let row = row_at(r, word(2u), max(word(3u), 1u));
  let f = word_f32(4u);
  switch (word(1u)) {
    case 0u: { softmax(row); }                              // Softmax
    case 1u: { softmax_backward(row, false); }              // SoftmaxGrad
    case 2u: { softmax_backward(row, true); }               // SoftmaxRule
    case 3u: { layer_norm(row, f, word(5u) != 0u); }        // LayerNorm
    case 4u: { layer_norm_grad(row, f); }                   // LayerNormGrad
    case 5u: { log_softmax(row); }                          // LogSoftmax
    case 6u: { log_softmax_grad(row); }                     // LogSoftmaxGrad
    default: { }
  }
}
