// relscope/kernels/webgpu/conv_forward.wgsl — y = conv(x, w) (+ b) as an implicit GEMM, tiled like gemm.wgsl.
// Bindings [x, w, b, y]; words: 0 count = N*M*out (not used), 1 N, 2 C, 3 M, 4 group, 5-7 in, 8-10 out,
// 11-13 kernel, 14-16 stride, 17-19 dilation, 20-22 pad_begin, 23 has_bias, 24 k_splits (0, 1: none),
// 25 epilogue (0 y = sum + bias, 1 y = f * b[j] * sum, 2 y += f * b[j] * sum: b is then an output-sized multiplier,
// an LRP rule term's input), 26 f, 27 prologue (1: x is read as x / (d + (d >= 0 ? e : -e)), e word 28, d at
// binding 5: an LRP rule's ratio R / stab(z)). Geometry triples are (d, h, w).
// Per image n and group g: Y(m, p) = sum_k W(m, k) X(k, p) with m < mg output channels, p < out positions and
// k = (c, tap) < cg * kernel taps: W is the group's weights as they lie (row m, K contiguous), X the im2col
// matrix, gathered while staging (a tap outside the input reads 0), never stored. A 16x16 workgroup computes a
// 64x64 tile of Y (4x4 per invocation) staging 64x16 of W and 16x64 of X per K step in workgroup memory: every
// input value is read from memory once per tile instead of once per output, which is what a GPU needs.
// Split-K: with k_splits = S > 1 each tile's K steps are dealt out in S ranges, one workgroup each, and slice s
// of y (S slices of N*M*out) gets range s's partial sums (the bias in slice 0); an elementwise SliceSum adds
// them. A layer with few output tiles (a ResNet's last stages: 8-16 tiles of 64x64) then keeps more of a
// GPU's cores busy, at the cost of S partial outputs.
// Dispatch (bridge): workgroups (ceil(out/64), ceil(mg/64), N * group * S), each dimension capped at
// maxComputeWorkgroupsPerDimension; the kernel strides over tiles and planes past the grid.
@group(0) @binding(1) var<storage, read> x : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<f32>;
@group(0) @binding(3) var<storage, read> b : array<f32>;
@group(0) @binding(4) var<storage, read_write> y : array<f32>;
@group(0) @binding(5) var<storage, read> d : array<f32>;

// The tile (common.wgsl): As[kk][i] = W(m0 + i, k0 + kk), Bs[kk][j] = X(k0 + kk, p0 + j).

// X(k, p) for image n, group g: tap (c, t) of output position p, 0 outside the input (padding).
fn im2col_at(g : Geometry, xbase : u32, k : u32, p : u32) -> f32 {
  let ksz = volume(g.k);
  let c = k / ksz;
  let tap = element_at(k % ksz, g.k).pos;
  let o = element_at(p, g.out).pos;
  let at = o * g.s - g.pb + tap * g.dl;
  if (any(at < vec3<i32>(0)) || any(at >= g.inp)) { return 0.0; }
  let i = xbase + c * volume(g.inp) + u32(flat3(at, g.inp));
  if (word(27u) == 1u) { return stab_divide(x[i], d[i], word_f32(28u)); }
  return x[i];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid : vec3<u32>, @builtin(workgroup_id) wid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  let g = geometry(CONV_GEOMETRY);
  let ch = conv_channels();
  let groups = word(4u);
  let planes = word(1u) * groups;
  let osz = volume(g.out);
  let kdim = ch.cg * volume(g.k);
  let tiles_p = (osz + TILE - 1u) / TILE;
  let tiles_m = (ch.mg + TILE - 1u) / TILE;
  let t = lid.y * 16u + lid.x;   // 0..255: stages 4 elements of each tile
  let splits = max(word(24u), 1u);
  for (var z = wid.z; z < planes * splits; z += nwg.z) {
    let plane = z / splits;
    let split = z % splits;
    let range = split_k_range(kdim, split, splits);
    let n = plane / groups;
    let grp = plane % groups;
    let xbase = (n * ch.C + grp * ch.cg) * volume(g.inp);
    let wbase = grp * ch.mg * kdim;
    let ybase = split * word(1u) * ch.M * osz + (n * ch.M + grp * ch.mg) * osz;
    for (var tm = wid.y; tm < tiles_m; tm += nwg.y) {
      for (var tp = wid.x; tp < tiles_p; tp += nwg.x) {
        let m0 = tm * TILE;
        let p0 = tp * TILE;
        var acc = TileAcc();   // zeros
        for (var k0 = range.x; k0 < range.y; k0 += TK) {
          // Element e = t + 256 * r of each 16x64 tile: W along k (its rows are contiguous), X along p.
          for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            let wk = e % 16u;
            let wi = e / 16u;
            var wv = 0.0;
            if (m0 + wi < ch.mg && k0 + wk < kdim) { wv = w[wbase + (m0 + wi) * kdim + k0 + wk]; }
            As[wk][wi] = wv;
            let xk = e / 64u;
            let xj = e % 64u;
            var xv = 0.0;
            if (k0 + xk < kdim && p0 + xj < osz) { xv = im2col_at(g, xbase, k0 + xk, p0 + xj); }
            Bs[xk][xj] = xv;
          }
          workgroupBarrier();
          tile_multiply(&acc, lid);
          workgroupBarrier();
        }
        let epilogue = word(25u);
        let f = word_f32(26u);
        for (var r = 0u; r < 4u; r++) {
          let m = m0 + lid.y + 16u * r;
          if (m >= ch.mg) { continue; }
          var bias = 0.0;
          if (word(23u) != 0u && split == 0u) { bias = b[grp * ch.mg + m]; }
          for (var q = 0u; q < 4u; q++) {
            let p = p0 + lid.x + 16u * q;
            if (p >= osz) { continue; }
            let j = ybase + m * osz + p;
            if (epilogue == 1u) { y[j] = f * b[j] * acc[r][q]; }
            else if (epilogue == 2u) { y[j] += f * b[j] * acc[r][q]; }
            else { y[j] = acc[r][q] + bias; }
          }
        }
      }
    }
  }
}
