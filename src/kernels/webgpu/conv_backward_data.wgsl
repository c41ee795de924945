// relscope/kernels/webgpu/conv_backward_data.wgsl — dx = conv^T(dy, w): dx[n, c, i] sums dy[n, m, o] * w[m, c % cg, j]
// over the outputs o whose window holds input element i at tap j (i = o * stride - pad_begin + j * dilation), m in
// c's group. No atomics: every dx element is computed by one invocation.
// Bindings [dy, w, dx, mult, d]; the forward conv's words (program.h), count = N*C*in. Epilogue (word 25, f word 26):
// 0 dx = sum, 1 dx = f * mult * sum, 2 dx += f * mult * sum (mult: an LRP rule term's input). Prologue (word 27):
// 1 reads dy as dy / (d + (d >= 0 ? e : -e)), e word 28 (an LRP rule's ratio R / stab(z)). Split-K (word 24,
// S = k_splits > 1; epilogue 0): dx holds S slices of count words, which an Ew::SliceSum adds.
//
// Two ways, word 29 says which (the program builder's choice: program.h; bridge.mjs sizes the dispatch by it):
// - Tiled (1; from 16 input channels a group): an implicit GEMM per image, group and stride phase,
//   tiled like conv_forward.wgsl. A stride phase is the inputs i = ph + stride * q of one residue ph per dim: the
//   taps whose outputs hold them are the same for all of them (j * dilation = ph + pad_begin mod stride, every
//   jstep = stride / gcd(stride, dilation) taps from the first), so over a phase the transposed convolution is
//   dense, DX(c, q) = sum_k A(c, k) B(k, q) with k = (m, t) over the phase's taps t, A(c, (m, t)) = w[m, c, j(t)]
//   and B((m, t), q) = dy[m, o(q, t)] (0 past the output's edge), both gathered while staging, never stored.
//   A stride-2 layer thus does the gather's multiply-adds, no more, but reads each value once per 64x64 tile.
//   On an H200 ResNet-18's strided transposed convolutions took 2.1 ms instead of 2.6 (batch 8: 5.0 instead of
//   8.8). The slowest, layer4's first (16 tiles, K = 1152), went from 1.02 to 0.72 ms, and to 0.11 ms with
//   split-K: a phase's K dealt out in S ranges (8 there), a workgroup each, slice s getting range s's sums.
// - Gather (0; fewer channels: a network's first layer, depthwise): one invocation per dx position and block of
//   word 30 (1-4) channels of a group, over its taps' outputs. A 64-row tile would be mostly empty there.
//   Split-K: the whole sum in slice 0, zeros in the others.
// Dispatch: tiled (ceil(max phase positions / 64), ceil(cg / 64), N * group * phases * S), each dimension capped
// (the kernel strides past the grid); gather ceil(N * group * ceil(cg / word 30) * in / 256) workgroups on x
// (y past the x limit).
@group(0) @binding(1) var<storage, read> dy : array<f32>;
@group(0) @binding(2) var<storage, read> w : array<f32>;
@group(0) @binding(3) var<storage, read_write> dx : array<f32>;
@group(0) @binding(4) var<storage, read> mult : array<f32>;
@group(0) @binding(5) var<storage, read> d : array<f32>;

// The tile (common.wgsl): As[kk][i] = A(c0 + i, k0 + kk), Bs[kk][j] = B(k0 + kk, q0 + j).

// dy[di], through the prologue when the step has one.
fn dy_at(di : u32) -> f32 {
  if (word(27u) == 1u) { return stab_divide(dy[di], d[di], word_f32(28u)); }
  return dy[di];
}

// dx[idx] from its sum, through the epilogue.
fn store(idx : u32, acc : f32) {
  let epilogue = word(25u);
  let f = word_f32(26u);
  if (epilogue == 1u) { dx[idx] = f * mult[idx] * acc; }
  else if (epilogue == 2u) { dx[idx] += f * mult[idx] * acc; }
  else { dx[idx] = acc; }
}

// ---- gather: one invocation per dx position and block of channels ------------------------------------------------
// A block is word 30's count (1-4, the program builder's choice: min(cg, 4)) of consecutive input channels of a
// group, the last block of a group maybe fewer. They read the same dy at every tap and output channel, so one
// invocation reads (and, with a prologue, divides) each dy once for all of them instead of once each: a ResNet
// stem's 3 channels in one invocation. idx = ((n * group + grp) * blocks + block) * in + position.
fn gather_invocations(g : Geometry, ch : ConvChannels) -> u32 {
  let cpi = clamp(word(30u), 1u, 4u);
  return word(1u) * word(4u) * ((ch.cg + cpi - 1u) / cpi) * volume(g.inp);
}

fn gather_block(g : Geometry, ch : ConvChannels, idx : u32) {
  let cpi = clamp(word(30u), 1u, 4u);
  let blocks = (ch.cg + cpi - 1u) / cpi;
  let isz = volume(g.inp);
  let b = idx / isz;
  let plane = b / blocks;                        // n * group + grp
  let c0 = (b % blocks) * cpi;                   // the block's first channel in its group
  let nch = min(cpi, ch.cg - c0);
  let n = plane / word(4u);
  let grp = plane % word(4u);
  let e = gather_at(g, idx % isz);               // the position (plane 0)
  let osz = volume(g.out);
  let ksz = volume(g.k);
  let dy0 = (n * ch.M + grp * ch.mg) * osz;      // the group's first output plane of image n
  let w0 = grp * ch.mg * ch.cg * ksz;            // w[grp * mg, 0, 0]
  let wstep = ch.cg * ksz;                       // next output channel
  // Channel c0 + r's weight offset; past the block's last channel its last one again (read, never stored).
  let wc = vec4<u32>(c0, c0 + min(1u, nch - 1u), c0 + min(2u, nch - 1u), c0 + min(3u, nch - 1u)) * ksz;
  var acc = vec4<f32>(0.0);
  for (var jz = 0; jz < g.k.x; jz++) {
    let oz = window_holding(e.p.x, jz, g.dl.x, g.s.x, g.out.x);
    if (oz < 0) { continue; }
    for (var jy = 0; jy < g.k.y; jy++) {
      let oy = window_holding(e.p.y, jy, g.dl.y, g.s.y, g.out.y);
      if (oy < 0) { continue; }
      for (var jx = 0; jx < g.k.z; jx++) {
        let ox = window_holding(e.p.z, jx, g.dl.z, g.s.z, g.out.z);
        if (ox < 0) { continue; }
        var di = dy0 + u32(flat3(vec3<i32>(oz, oy, ox), g.out));
        var wi = w0 + u32(flat3(vec3<i32>(jz, jy, jx), g.k));
        for (var m = 0u; m < ch.mg; m++) {
          acc += dy_at(di) * vec4<f32>(w[wi + wc.x], w[wi + wc.y], w[wi + wc.z], w[wi + wc.w]);
          di += osz;
          wi += wstep;
        }
      }
    }
  }
  let first = (n * ch.C + grp * ch.cg + c0) * isz + idx % isz;
  for (var r = 0u; r < nch; r++) {
    store(first + r * isz, acc[r]);
    for (var s = 1u; s < word(24u); s++) { dx[s * word(0u) + first + r * isz] = 0.0; }   // split-K: zeros past slice 0
  }
}

// ---- tiled: an implicit GEMM per stride phase --------------------------------------------------------------------
fn gcd(a : i32, b : i32) -> i32 {
  var x = a;
  var y = b;
  while (y != 0) { let t = x % y; x = y; y = t; }
  return x;
}

// A stride phase: its residue ph per dim, its positions (np per dim: ph, ph + s, ... below the input's size) and
// its taps (nt per dim: j0, j0 + jstep, ... below the kernel's size; none when no tap lands on the stride).
struct Phase { ph : vec3<i32>, np : vec3<i32>, j0 : vec3<i32>, jstep : vec3<i32>, nt : vec3<i32> }
fn phase_dim(ph : i32, n : i32, k : i32, s : i32, dl : i32, pb : i32) -> vec4<i32> {
  let np = select(0, (n - ph + s - 1) / s, ph < n);
  let jstep = s / gcd(s, dl);
  var j0 = k;
  for (var j = 0; j < min(k, jstep); j++) {
    if ((ph + pb - j * dl) % s == 0) { j0 = j; break; }   // j * dl = ph + pb (mod s): periodic in jstep
  }
  return vec4<i32>(np, j0, jstep, select(0, (k - 1 - j0) / jstep + 1, j0 < k));
}
fn phase_at(g : Geometry, index : u32) -> Phase {
  let s = vec3<u32>(g.s);
  let ph = vec3<i32>(vec3<u32>(index / (s.y * s.z), (index / s.z) % s.y, index % s.z));
  let a = phase_dim(ph.x, g.inp.x, g.k.x, g.s.x, g.dl.x, g.pb.x);
  let b = phase_dim(ph.y, g.inp.y, g.k.y, g.s.y, g.dl.y, g.pb.y);
  let c = phase_dim(ph.z, g.inp.z, g.k.z, g.s.z, g.dl.z, g.pb.z);
  return Phase(ph, vec3<i32>(a.x, b.x, c.x), vec3<i32>(a.y, b.y, c.y), vec3<i32>(a.z, b.z, c.z), vec3<i32>(a.w, b.w, c.w));
}

// B((m, t), q) of a phase: dy at the output whose window holds input ph + s * q at the phase's tap t, 0 where that
// output is past the edge. dybase: the group's first output plane of image n.
fn b_at(g : Geometry, ph : Phase, ntaps : u32, dybase : u32, k : u32, q : u32) -> f32 {
  let m = k / ntaps;
  let j = ph.j0 + element_at(k % ntaps, ph.nt).pos * ph.jstep;
  let i = ph.ph + element_at(q, ph.np).pos * g.s;
  let o = (i + g.pb - j * g.dl) / g.s;   // exact: j is one of the phase's taps
  if (any(o < vec3<i32>(0)) || any(o >= g.out)) { return 0.0; }
  return dy_at(dybase + m * volume(g.out) + u32(flat3(o, g.out)));
}

fn tiled(g : Geometry, ch : ConvChannels, lid : vec3<u32>, wid : vec3<u32>, nwg : vec3<u32>) {
  let groups = word(4u);
  let phases = u32(g.s.x * g.s.y * g.s.z);
  let ksz = volume(g.k);
  let tiles_c = (ch.cg + TILE - 1u) / TILE;
  let t = lid.y * 16u + lid.x;   // 0..255: stages 4 elements of each tile
  let splits = max(word(24u), 1u);
  for (var z = wid.z; z < word(1u) * groups * phases * splits; z += nwg.z) {
    let split = z % splits;
    let plane = z / splits / phases;   // n * groups + grp
    let n = plane / groups;
    let grp = plane % groups;
    let ph = phase_at(g, (z / splits) % phases);
    let npos = volume(ph.np);
    let ntaps = volume(ph.nt);
    let kdim = ch.mg * ntaps;
    let range = split_k_range(kdim, split, splits);
    let tiles_q = (npos + TILE - 1u) / TILE;
    let dybase = (n * ch.M + grp * ch.mg) * volume(g.out);
    let wbase = grp * ch.mg * ch.cg * ksz;   // w[grp * mg, 0, 0]
    let dxbase = split * word(0u) + (n * ch.C + grp * ch.cg) * volume(g.inp);   // in slice `split`
    for (var tc = wid.y; tc < tiles_c; tc += nwg.y) {
      for (var tq = wid.x; tq < tiles_q; tq += nwg.x) {
        let c0 = tc * TILE;
        let q0 = tq * TILE;
        var acc = TileAcc();   // zeros
        for (var k0 = range.x; k0 < range.y; k0 += TK) {
          for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            let ak = e % 16u;
            let ai = e / 16u;
            var av = 0.0;
            if (c0 + ai < ch.cg && k0 + ak < range.y) {
              let k = k0 + ak;
              let j = ph.j0 + element_at(k % ntaps, ph.nt).pos * ph.jstep;
              av = w[wbase + ((k / ntaps) * ch.cg + c0 + ai) * ksz + u32(flat3(j, g.k))];
            }
            As[ak][ai] = av;
            let bk = e / 64u;
            let bj = e % 64u;
            var bv = 0.0;
            if (k0 + bk < range.y && q0 + bj < npos) { bv = b_at(g, ph, ntaps, dybase, k0 + bk, q0 + bj); }
            Bs[bk][bj] = bv;
          }
          workgroupBarrier();
          tile_multiply(&acc, lid);
          workgroupBarrier();
        }
        for (var r = 0u; r < 4u; r++) {
          let c = c0 + lid.y + 16u * r;
          if (c >= ch.cg) { continue; }
          for (var s = 0u; s < 4u; s++) {
            let q = q0 + lid.x + 16u * s;
            if (q >= npos) { continue; }
            let i = ph.ph + element_at(q, ph.np).pos * g.s;
            store(dxbase + c * volume(g.inp) + u32(flat3(i, g.inp)), acc[r][s]);
          }
        }
      }
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid : vec3<u32>, @builtin(workgroup_id) wid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  let g = geometry(CONV_GEOMETRY);
  let ch = conv_channels();
  if (word(29u) == 1u) {
    tiled(g, ch, lid, wid, nwg);
    return;
  }
  let idx = (wid.x + wid.y * nwg.x) * 256u + lid.y * 16u + lid.x;
  if (idx >= gather_invocations(g, ch)) { return; }
  gather_block(g, ch, idx);
}
