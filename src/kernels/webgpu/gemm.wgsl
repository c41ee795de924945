// relscope/kernels/webgpu/gemm.wgsl — C[b] = op(A[b]) op(B[b]), tiled: a 16x16 workgroup computes a 64x64 tile
// of C (4x4 per invocation), staging 64x16 of op(A) and 16x64 of op(B) per K step in workgroup memory.
// Bindings [A, B, C]; words: 1 M, 2 N, 3 K, 4 transA, 5 transB, 6 lda, 7 ldb, 8 ldc, 9 batch, 10-12 per-batch
// offsets of A, B, C (0: shared). op(A)(i,k) = transA ? A[k*lda+i] : A[i*lda+k]; op(B)(k,j) = transB ?
// B[j*ldb+k] : B[k*ldb+j]. Dispatch (bridge): workgroups (ceil(N/64), ceil(M/64), batch), each dimension
// capped at maxComputeWorkgroupsPerDimension; the kernel strides over tiles and batches past the grid.
// Word 0 (count) is not used.
@group(0) @binding(1) var<storage, read> A : array<f32>;
@group(0) @binding(2) var<storage, read> B : array<f32>;
@group(0) @binding(3) var<storage, read_write> Cm : array<f32>;

// The tile (common.wgsl): As[kk][i] = op(A)(i0 + i, k0 + kk), Bs[kk][j] = op(B)(k0 + kk, j0 + j).

fn load_a(base : u32, i : u32, k : u32, M : u32, K : u32, ta : bool, lda : u32) -> f32 {
  if (i >= M || k >= K) { return 0.0; }
  if (ta) { return A[base + k * lda + i]; }
  return A[base + i * lda + k];
}
fn load_b(base : u32, k : u32, j : u32, K : u32, N : u32, tb : bool, ldb : u32) -> f32 {
  if (k >= K || j >= N) { return 0.0; }
  if (tb) { return B[base + j * ldb + k]; }
  return B[base + k * ldb + j];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid : vec3<u32>, @builtin(workgroup_id) wid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  let M = word(1u);
  let N = word(2u);
  let K = word(3u);
  let ta = word(4u) != 0u;
  let tb = word(5u) != 0u;
  let lda = word(6u);
  let ldb = word(7u);
  let ldc = word(8u);
  let batch = word(9u);
  let tiles_n = (N + TILE - 1u) / TILE;
  let tiles_m = (M + TILE - 1u) / TILE;
  let t = lid.y * 16u + lid.x;   // 0..255: loads 4 elements of each staged tile
  for (var bt = wid.z; bt < batch; bt += nwg.z) {
    let abase = bt * word(10u);
    let bbase = bt * word(11u);
    let cbase = bt * word(12u);
    for (var tm = wid.y; tm < tiles_m; tm += nwg.y) {
      for (var tn = wid.x; tn < tiles_n; tn += nwg.x) {
        let i0 = tm * TILE;
        let j0 = tn * TILE;
        var acc = TileAcc();   // zeros
        for (var k0 = 0u; k0 < K; k0 += TK) {
          // Stage the tiles. Element e = t + 256 * r of the 16x64 tile: (kk, ii) = (e / 64, e % 64) when the
          // source runs along ii (transA: A's rows are k), else (e % 16, e / 16), so neighbouring invocations
          // read neighbouring addresses either way.
          for (var r = 0u; r < 4u; r++) {
            let e = t + 256u * r;
            var kk : u32;
            var ii : u32;
            if (ta) { kk = e / 64u; ii = e % 64u; } else { kk = e % 16u; ii = e / 16u; }
            As[kk][ii] = load_a(abase, i0 + ii, k0 + kk, M, K, ta, lda);
            if (tb) { kk = e % 16u; ii = e / 16u; } else { kk = e / 64u; ii = e % 64u; }
            Bs[kk][ii] = load_b(bbase, k0 + kk, j0 + ii, K, N, tb, ldb);
          }
          workgroupBarrier();
          tile_multiply(&acc, lid);
          workgroupBarrier();
        }
        for (var r = 0u; r < 4u; r++) {
          let i = i0 + lid.y + 16u * r;
          if (i >= M) { continue; }
          for (var q = 0u; q < 4u; q++) {
            let j = j0 + lid.x + 16u * q;
            if (j < N) { Cm[cbase + i * ldc + j] = acc[r][q]; }
          }
        }
      }
    }
  }
}
