// relscope browser test — every WGSL kernel (src/kernels/webgpu/*.wgsl) through the JS bridge
// (relscope_webgpu.mjs) on WebGPU (SwiftShader in headless Chromium) against the engine's C++ CPU kernels
// (the wasm module's runProgramOnCpu(program): src/kernels/webgpu/program_cpu.cpp).
//
// Sections: setup | random cases (conv, gemm, elementwise, pooling, row mean, prune, seed, gather, rows) | the page
// side | tests
//
// What it checks: for every kernel and every elementwise op, programs of one step (pooling: forward then
// backward, so the backward kernels read the forward's indices) on random shapes — odd sizes, strides,
// dilations, padding (asymmetric pad_end, ceil-mode overhang, windows entirely in the padding), groups and
// depthwise, 1-D/2-D/3-D, transposed GEMMs with leading dimensions and batch offsets, a count past one grid
// row, gathers along random index maps with holes and CSR sums with empty rows, row ops over odd lengths
// with strided rows (inner > 1) — agree with the CPU: max|gpu - cpu| / max|cpu| <= 1e-5 (a reference that is
// all zero by cancellation: over the size of the terms that cancel);
// max-pool values and indices, the seed's targets, Select/Place gathers and prune masks exactly. And the bridge's contract: its error
// kinds, constants kept by key across runs, multi-step programs, readback order.
// RELSCOPE_DAWN=DIR (the npm package `webgpu`: Dawn's node binding) runs the same cases in node on Dawn's adapter
// instead of in Chromium: how a machine with a GPU and no browser checks them (bench/device_webgpu.sh run,
// RELSCOPE_DEVICE_TESTS=1); the bridge-contract test, which needs a page (Worker, Blob URLs), is skipped there.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SECURITY_HEADERS, WASM_BUILD, startServer } from '../../scripts/serve.mjs';
import { launchChromium, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const WEB = path.join(WASM_BUILD, 'web');
const need = ['relscope_web.js', 'relscope_webgpu.mjs', 'relscope_webgpu_shaders.mjs'];
const missing = need.filter((f) => !fs.existsSync(path.join(WEB, f)));
const skip = missing.length ? `no WebGPU build output (${missing.map((f) => path.relative(ROOT, path.join(WEB, f))).join(', ')})` : false;
const DAWN = process.env.RELSCOPE_DAWN ? path.resolve(process.env.RELSCOPE_DAWN) : null;

const TOL = 1e-5;
const NO_INDEX = 0xffffffff;
const K = { conv: 0, convBack: 1, gemm: 2, ew: 3, maxPool: 4, maxPoolBack: 5, avgPool: 6, avgPoolBack: 7, rowMean: 8, seed: 9,
  gather: 10, rows: 11, window: 12, prune: 13 };
const EW = ['Copy', 'Fill', 'Relu', 'Negative', 'Add', 'Mul', 'Broadcast', 'ChannelAffine', 'StabDivide', 'Accumulate',
  'AccumulateProduct', 'AccumulateBias', 'ReluGrad', 'Expand', 'LeakyRelu', 'LeakyReluGrad', 'Sigmoid', 'Tanh', 'SigmoidGrad',
  'TanhGrad', 'Clip', 'ClipGrad', 'Divide', 'Sqrt', 'Erf', 'Pow', 'ErfGrad', 'PowGrad', 'SliceSum', 'Product'];
const GATHER = ['Select', 'Place', 'Sum'];
const ROW_OPS = ['Softmax', 'SoftmaxGrad', 'SoftmaxRule', 'LayerNorm', 'LayerNormGrad', 'LogSoftmax', 'LogSoftmaxGrad'];

// Deterministic: the same cases every run, whichever tests run (each generator reseeds).
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
let rng = null;
let dataSeed = 1;
function reseed(n) {
  rng = mulberry32(20240601 + n);
  dataSeed = 1 + n * 100000;
}
const int = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));   // inclusive
const pick = (xs) => xs[Math.floor(rng() * xs.length)];
const f32bits = (f) => new Uint32Array(new Float32Array([f]).buffer)[0];

// A buffer: `fill` says how the page fills it ('uniform' in [-1,1), 'int' small integers for ties, 'signed0':
// uniform with exact zeros, 'positive' in [0.5,1.5), 'apart' +-[0.5,1.5), 'spread' in [-3,3), 'wide' in
// [60,120) (exp overflows unless a softmax subtracts the row max), null: zero-filled by the program).
// wordBuf: given uint32 words (index maps).
const buf = (words, fill = 'uniform', key = '') => ({ words: Math.max(1, words), fill, seed: dataSeed++, key });
const wordBuf = (values) => ({ words: Math.max(1, values.length), fill: 'words', values, seed: dataSeed++, key: '' });
function step(kernel, wordList, bind) {
  const words = new Array(32).fill(0);
  wordList.forEach((w, i) => { words[i] = w >>> 0; });
  return { kernel, words, bind: [0, 1, 2, 3, 4].map((i) => (bind[i] === undefined || bind[i] < 0 ? NO_INDEX : bind[i])) };
}
// Pad a 1-/2-/3-D triple to (d, h, w): sizes with 1s, paddings with 0s.
const dhw = (v, fill = 1) => [...new Array(3 - v.length).fill(fill), ...v];
const outSize = (n, k, s, dl, pb, pe, ceil = false) => {
  const span = n + pb + pe - dl * (k - 1) - 1;
  return span < 0 ? 0 : (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
};

// Whether, in every dim, some window has a tap in the input (else a conv's result is all bias or zero).
function reaches(inp, out, k, s, dl, pb) {
  return inp.every((n, d) => {
    for (let o = 0; o < out[d]; o++) for (let j = 0; j < k[d]; j++) {
      const i = o * s[d] - pb[d] + j * dl[d];
      if (i >= 0 && i < n) return true;
    }
    return false;
  });
}

// ---- random cases: convolutions ------------------------------------------------------------------------
// wide: 16-80 input channels a group; tiled: conv_backward_data's tiled path (word 29, as the program builder sets
// it from 16 channels a group), else its gather, one invocation per `block` channels of a group (word 30; default
// min(cg, 4) as the builder sets it); stride/dilation: every dim's, else random.
function convCase(nd, { depthwise = false, groups = 1, bias = true, big = false, wide = false, tiled = wide, block, stride, dilation } = {}) {
  for (;;) {
    const N = int(1, 2);
    const g = depthwise ? int(2, 5) : groups;
    const cpg = depthwise ? 1 : wide ? int(16, 80) : int(1, big ? 8 : 4), mpg = depthwise ? 1 : wide ? int(1, 24) : int(1, big ? 8 : 4);
    const C = g * cpg, M = g * mpg;
    const inp = [], out = [], k = [], s = [], dl = [], pb = [];
    for (let d = 0; d < nd; d++) {
      const n = nd === 3 ? int(2, 6) : nd === 2 ? int(3, big ? 17 : 11) : int(4, 29);
      const kk = int(1, Math.min(nd === 3 ? 3 : 5, n)), ss = stride ?? int(1, 3), dd = dilation ?? int(1, 2), p0 = int(0, kk), p1 = int(0, kk);
      const o = outSize(n, kk, ss, dd, p0, p1);
      inp.push(n); k.push(kk); s.push(ss); dl.push(dd); pb.push(p0); out.push(o);
    }
    if (out.some((o) => o < 1) || !reaches(inp, out, k, s, dl, pb)) continue;
    const isz = inp.reduce((a, b) => a * b, 1), osz = out.reduce((a, b) => a * b, 1), ksz = k.reduce((a, b) => a * b, 1);
    const geo = [N, C, M, g, ...dhw(inp), ...dhw(out), ...dhw(k), ...dhw(s), ...dhw(dl), ...dhw(pb, 0)];
    const label = `${nd}-D N${N} C${C} M${M} g${g} in ${inp} k ${k} s ${s} dl ${dl} pb ${pb} out ${out}${bias ? ' +b' : ''}`;
    const fwd = {
      name: `conv_forward ${label}`,
      buffers: [buf(N * C * isz), buf(M * cpg * ksz), bias ? buf(M) : buf(1), buf(N * M * osz, null)],
      steps: [step(K.conv, [N * M * osz, ...geo, bias ? 1 : 0], [0, 1, bias ? 2 : -1, 3])],
      readback: [3], exact: [false],
    };
    if (!bias) fwd.buffers[2] = buf(1, null);
    const backWords = [N * C * isz, ...geo, 0];
    backWords[29] = tiled ? 1 : 0;
    backWords[30] = tiled ? 0 : block ?? Math.min(cpg, 4);
    const back = {
      name: `conv_backward_data${tiled ? ' tiled' : ` gather ${backWords[30]}`} ${label}`,
      buffers: [buf(N * M * osz), buf(M * cpg * ksz), buf(N * C * isz, null)],
      steps: [step(K.convBack, backWords, [0, 1, 2])],
      readback: [2], exact: [false],
    };
    return [fwd, back];
  }
}

// Split-K: the forward conv's K ranges in S slices of a dirty buffer, added by SliceSum (the CPU reference puts
// the whole sum in slice 0, so only the sum is compared), S up to more ranges than K has steps.
// With an epilogue (mode 1-2, below) the SliceSum multiplies by a fifth buffer.
// The same for conv_backward_data (its dx, binding 3, gets the slices): tiled it deals out each stride phase's
// K, as a gather it puts the whole sum in slice 0 and zeros in the others.
function splitK(conv, S, mode = 0) {
  const count = conv.steps[0].words[0];
  const fwd = conv.steps[0].kernel === K.conv;
  const f = mode ? pick([1, -0.5, 0.37]) : 0;
  const kept = fwd ? 3 : 2;   // x, w, b or dy, w
  const buffers = [...conv.buffers.slice(0, kept), buf(S * count, 'uniform'), buf(count, mode === 2 ? 'uniform' : null)];
  if (mode) buffers.push(buf(count));
  const kernel = fwd ? 'conv_forward' : 'conv_backward_data';
  return {
    name: conv.name.replace(kernel, `${kernel} split-K ${S}`) + (mode ? ` epilogue ${mode} f ${f}` : ''),
    buffers,
    steps: [{ ...conv.steps[0], words: conv.steps[0].words.map((w, i) => (i === 24 ? S : w)) },
      step(K.ew, [count, 28, S, 0, f32bits(f), mode], [kept, mode ? kept + 2 : -1, -1, kept + 1])],
    readback: [kept + 1], exact: [false],
  };
}

// A rule term's product in a convolution's epilogue (program.h): out = f * m * sum (mode 1), or out += f * m * sum
// (mode 2, out starting from data), m output-sized at the bias binding (forward) or the fourth (adjoint).
function withEpilogue(c, mode) {
  const f = pick([1, -0.5, 0.37]);
  const s = c.steps[0];
  const fwd = s.kernel === K.conv;
  const out = fwd ? 3 : 2;
  const buffers = c.buffers.slice();
  buffers[out] = buf(buffers[out].words, mode === 2 ? 'uniform' : null);
  buffers.push(buf(buffers[out].words));
  const words = s.words.slice();
  words[25] = mode;
  words[26] = f32bits(f);
  const bind = s.bind.slice();
  bind[fwd ? 2 : 3] = buffers.length - 1;
  return { ...c, name: `${c.name} epilogue ${mode} f ${f}`, buffers, steps: [{ ...s, words, bind }] };
}

// An LRP rule's ratio read in a convolution's prologue: the step reads x / (d + (d >= 0 ? e : -e)) instead of x
// (binding 5, x-sized; d with exact zeros for the sign's branch). In a split-K case, only the first step.
function withPrologue(c) {
  const e = pick([1e-6, 0.25]);
  const s = c.steps[0];
  const buffers = [...c.buffers, buf(c.buffers[0].words, 'signed0')];
  const words = s.words.slice();
  words[27] = 1;
  words[28] = f32bits(e);
  const bind = s.bind.slice();
  bind[4] = buffers.length - 1;
  return { ...c, name: `${c.name} prologue e ${e}`, buffers, steps: [{ ...s, words, bind }, ...c.steps.slice(1)] };
}

function convCases() {
  reseed(1);
  const cases = [];
  for (let i = 0; i < 4; i++) cases.push(...convCase(2, { groups: pick([1, 1, 2, 3]), bias: i % 2 === 0 }));
  cases.push(...convCase(2, { big: true }));
  for (let i = 0; i < 2; i++) cases.push(...convCase(2, { depthwise: true }));
  for (let i = 0; i < 3; i++) cases.push(...convCase(1, { groups: pick([1, 2]), bias: i !== 1 }));
  for (let i = 0; i < 3; i++) cases.push(...convCase(3, { groups: pick([1, 2]), bias: i !== 2 }));
  cases.push(...convCase(3, { depthwise: true }));
  for (const [S, nd, opts] of [[2, 2, { big: true }], [3, 2, { groups: 2 }], [7, 1, {}], [4, 3, { depthwise: true }]]) {
    cases.push(splitK(convCase(nd, opts)[0], S));
  }
  for (const mode of [1, 2]) {
    const [fwd, back] = convCase(pick([1, 2, 3]), { groups: pick([1, 2]), bias: false });
    cases.push(withEpilogue(fwd, mode), withEpilogue(back, mode), splitK(convCase(2, { bias: false })[0], 3, mode));
  }
  {
    const [fwd, back] = convCase(2, { groups: pick([1, 2]), bias: false });
    cases.push(withPrologue(fwd), withPrologue(back), withPrologue(withEpilogue(convCase(2, { bias: false })[1], 2)),
      withPrologue(splitK(convCase(2, { big: true, bias: false })[0], 2, 1)));
  }
  // Wide groups: conv_backward_data as an implicit GEMM per stride phase (cg >= 16), with more than one channel
  // tile (cg > 64) and K step, phases without a tap (stride 2, dilation 2: odd residues), 1-D to 3-D, groups,
  // and its prologue and epilogue.
  for (const opts of [{}, { groups: 2 }, { stride: 2 }, { stride: 2, dilation: 2 }, { stride: 3, dilation: 2 }]) {
    cases.push(convCase(2, { ...opts, wide: true })[1]);
  }
  cases.push(convCase(1, { wide: true, groups: 2 })[1], convCase(3, { wide: true })[1], convCase(3, { wide: true, stride: 2 })[1]);
  // Either path takes any geometry: few channels tiled (a mostly empty row tile), many gathered.
  cases.push(convCase(2, { tiled: true, groups: 3 })[1], convCase(3, { depthwise: true, tiled: true })[1],
    convCase(2, { wide: true, tiled: false, stride: 2 })[1]);
  cases.push(withPrologue(withEpilogue(convCase(2, { wide: true, stride: 2, bias: false })[1], 2)),
    withEpilogue(convCase(2, { wide: true, bias: false })[1], 1));
  // ... with split-K: more ranges than a phase has K steps, an epilogue in the SliceSum, a prologue, a gather.
  cases.push(splitK(convCase(2, { wide: true, stride: 2 })[1], 3), splitK(convCase(3, { wide: true, stride: 2 })[1], 9),
    splitK(convCase(1, { wide: true, groups: 2, stride: 3 })[1], 2, 1),
    withPrologue(splitK(convCase(2, { wide: true, stride: 2, bias: false })[1], 4, 2)), splitK(convCase(2)[1], 2),
    splitK(convCase(2, { tiled: true, stride: 2 })[1], 3));
  // The gather's channel blocks: a group's last block short (3 of 4-8 channels), one channel an invocation where
  // four fit, two with stride, groups, prologue, epilogue and split-K.
  cases.push(convCase(2, { big: true, block: 3 })[1], convCase(3, { groups: 2, block: 3 })[1],
    convCase(1, { big: true, groups: 2, block: 1 })[1], convCase(2, { big: true, stride: 2, block: 2 })[1],
    withPrologue(withEpilogue(convCase(2, { big: true, stride: 2, block: 3, bias: false })[1], 2)),
    splitK(convCase(2, { big: true, groups: 2, stride: 2, block: 3 })[1], 3));
  // Pointwise (the CPU's GEMM-only path): 1x1, stride 1, no padding.
  const N = 2, C = 5, M = 7, H = 6, W = 9;
  const geo = [N, C, M, 1, 1, H, W, 1, H, W, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
  cases.push({
    name: 'conv_forward pointwise 2-D', buffers: [buf(N * C * H * W), buf(M * C), buf(M), buf(N * M * H * W, null)],
    steps: [step(K.conv, [N * M * H * W, ...geo, 1], [0, 1, 2, 3])], readback: [3], exact: [false],
  });
  cases.push({
    name: 'conv_backward_data pointwise 2-D', buffers: [buf(N * M * H * W), buf(M * C), buf(N * C * H * W, null)],
    steps: [step(K.convBack, Object.assign([N * C * H * W, ...geo, 0], { 30: 4 }), [0, 1, 2])], readback: [2], exact: [false],
  });
  return cases;
}

// ---- random cases: GEMM -------------------------------------------------------------------------------------
function gemmCase(M, N, Kd, tA, tB, batch, { pad = 0, shareA = false, shareB = false } = {}) {
  const lda = (tA ? M : Kd) + pad, ldb = (tB ? Kd : N) + pad, ldc = N + pad;
  const aExt = tA ? (Kd - 1) * lda + M : (M - 1) * lda + Kd;
  const bExt = tB ? (N - 1) * ldb + Kd : (Kd - 1) * ldb + N;
  const cExt = (M - 1) * ldc + N;
  const oa = shareA ? 0 : aExt + int(0, 3), ob = shareB ? 0 : bExt + int(0, 3), oc = cExt + int(0, 3);
  return {
    name: `gemm M${M} N${N} K${Kd} tA${+tA} tB${+tB} batch ${batch} lda ${lda} ldb ${ldb} ldc ${ldc} offsets ${oa},${ob},${oc}`,
    buffers: [buf((batch - 1) * oa + aExt), buf((batch - 1) * ob + bExt), buf((batch - 1) * oc + cExt, null)],
    steps: [step(K.gemm, [batch * M * N, M, N, Kd, +tA, +tB, lda, ldb, ldc, batch, oa, ob, oc], [0, 1, 2])],
    readback: [2], exact: [false],
  };
}

function gemmCases() {
  reseed(2);
  const cases = [];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      cases.push(gemmCase(int(1, 9), int(1, 9), int(1, 9), tA, tB, 1));
      cases.push(gemmCase(int(60, 140), int(60, 140), int(15, 70), tA, tB, 1, { pad: int(1, 5) }));
      cases.push(gemmCase(int(2, 40), int(2, 70), int(1, 40), tA, tB, int(2, 3), { pad: int(0, 2), shareA: rng() < 0.3, shareB: rng() < 0.3 }));
    }
  }
  cases.push(gemmCase(1, 131, 257, false, true, 1));    // a dense layer's row
  cases.push(gemmCase(129, 1, 33, true, false, 2));     // a column
  cases.push(gemmCase(65, 65, 1, false, false, 1));     // K = 1
  cases.push(gemmCase(200, 190, 300, false, false, 1)); // several tiles and K steps
  return cases;
}

// ---- random cases: elementwise --------------------------------------------------------------------------------
// Fills for the ops with a restricted domain: a divisor away from 0, square roots of positives, erf's tails.
const EW_FILL_A = { 23: 'positive', 24: 'spread' };
const EW_FILL_B = { 8: 'signed0', 12: 'signed0', 22: 'positive', 26: 'spread' };
const POW = 25, POW_GRAD = 27;

// base: the fill of Pow's and PowGrad's base (a, b), for the exponent f they are given.
function ewCase(op, { count = int(1, 700), mode = 0, f: given, base = 'uniform' } = {}) {
  const inner = int(1, 13), channels = int(1, 7), f = given ?? pick([1, -0.5, 0.37, 1e-3, 2.5]), f2 = f + pick([0.25, 2]);
  const name = `elementwise ${EW[op]}${op === 8 || mode ? ` mode ${mode}` : ''} count ${count} inner ${inner} channels ${channels} f ${f} f2 ${f2}` +
    `${base !== 'uniform' ? ` (${base} base)` : ''}`;
  const perChannel = [6, 7, 11].includes(op);
  const a = op === 13 ? buf(Math.ceil(count / inner)) : op === 28 ? buf(count * inner)   // SliceSum: inner slices
    : buf(count, op === POW ? base : EW_FILL_A[op] || 'uniform');
  const b = perChannel ? buf(channels) : buf(count, op === POW_GRAD ? base : EW_FILL_B[op] || 'uniform');
  const c = op === 7 ? buf(channels) : buf(count, 'signed0');
  const adds = [9, 10, 11].includes(op) || (op === 28 && mode === 2);
  const out = buf(count, adds ? 'uniform' : null);   // `out +=` ops start from data
  return {
    name, buffers: [a, b, c, out],
    steps: [step(K.ew, [count, op, inner, channels, f32bits(f), mode, f32bits(f2)], [0, 1, 2, 3])],
    readback: [3], exact: [false],
  };
}

function ewCases() {
  reseed(3);
  const cases = [];
  for (let op = 0; op < EW.length; op++) {
    if (op === 8) {
      for (const mode of [0, 1, 2]) cases.push(ewCase(op, { mode }), ewCase(op, { mode }));
    } else if (op === POW || op === POW_GRAD) {
      // Integral exponents of signed bases (the sign by parity; Pow's f = 0 gives 1), others of positive ones.
      cases.push(ewCase(op, { f: pick(op === POW ? [0, 2, 3, -2, 5] : [1, 2, 3, -2, 5]), base: 'apart' }),
        ewCase(op, { f: 3, base: 'apart', count: int(1, 5) }), ewCase(op, { f: pick([0.37, 2.5, -0.5]), base: 'positive' }));
    } else {
      cases.push(ewCase(op), ewCase(op, { count: int(1, 5) }));
    }
  }
  // SliceSum as a convolution's epilogue: out = f * b * sum, out += f * b * sum.
  cases.push(ewCase(28, { mode: 1 }), ewCase(28, { mode: 2 }));
  // Past one grid row (65535 workgroups of 64): invocations on gid.y. out += 0.5 * a.
  const count = 65535 * 64 + 1000;
  cases.push({
    name: `elementwise Accumulate count ${count} (a 2-D grid)`, buffers: [buf(count), buf(count, 'uniform')],
    steps: [step(K.ew, [count, 9, 1, 1, f32bits(0.5), 0], [0, -1, -1, 1])], readback: [1], exact: [false],
  });
  return cases;
}

// ---- random cases: pooling --------------------------------------------------------------------------------------
// Forward then backward in one program; readback [y, idx, dx] (max) or [y, dx] (avg).
function poolCase(kind, nd, { empty = false, ceil = false, includePad = false } = {}) {
  for (;;) {
    const planes = int(1, 6);
    const inp = [], out = [], k = [], s = [], dl = [], pb = [], pe = [];
    for (let d = 0; d < nd; d++) {
      const n = nd === 3 ? int(2, 7) : nd === 2 ? int(2, 13) : int(3, 31);
      const kk = int(1, Math.min(4, n + 1)), ss = int(1, 3), dd = kind === 'max' ? int(1, 2) : int(1, 2);
      // empty: a begin padding past the kernel's reach, so the first windows hold no input tap
      const p0 = empty && d === nd - 1 ? (kk - 1) * dd + 1 + int(0, 1) : int(0, Math.max(0, kk - 1));
      const p1 = int(0, Math.max(0, kk - 1));
      const o = outSize(n, kk, ss, dd, p0, p1, ceil);
      inp.push(n); k.push(kk); s.push(ss); dl.push(dd); pb.push(p0); pe.push(p1); out.push(o);
    }
    if (out.some((o) => o < 1)) continue;
    const isz = inp.reduce((a, b) => a * b, 1), osz = out.reduce((a, b) => a * b, 1);
    const geo = [planes, ...dhw(inp), ...dhw(out), ...dhw(k), ...dhw(s), ...dhw(dl), ...dhw(pb, 0)];
    const label = `${nd}-D planes ${planes} in ${inp} k ${k} s ${s} dl ${dl} pb ${pb} pe ${pe} out ${out}` +
      `${ceil ? ' ceil' : ''}${empty ? ' empty windows' : ''}`;
    if (kind === 'max') {
      return {
        name: `max_pool + max_pool_backward ${label}`,
        // 'int': small integers, so windows hold ties and the first maximum must win
        buffers: [buf(planes * isz, 'int'), buf(planes * osz, null), buf(planes * osz, null), buf(planes * osz), buf(planes * isz, null)],
        steps: [step(K.maxPool, [planes * osz, ...geo], [0, 1, 2]), step(K.maxPoolBack, [planes * isz, ...geo], [3, 2, 4])],
        readback: [1, 2, 4], exact: [true, true, false],
      };
    }
    const words = [...geo, ...dhw(pe, 0), includePad ? 1 : 0];
    return {
      name: `avg_pool + avg_pool_backward ${label}${includePad ? ' count_include_pad' : ''}`,
      buffers: [buf(planes * isz), buf(planes * osz, null), buf(planes * osz), buf(planes * isz, null)],
      steps: [step(K.avgPool, [planes * osz, ...words], [0, 1]), step(K.avgPoolBack, [planes * isz, ...words], [2, 3])],
      readback: [1, 3], exact: [false, false],
    };
  }
}

function poolCases() {
  reseed(4);
  const cases = [];
  for (const kind of ['max', 'avg']) {
    for (const nd of [1, 2, 3]) {
      cases.push(poolCase(kind, nd), poolCase(kind, nd, { ceil: true, includePad: true }));
    }
    cases.push(poolCase(kind, 2, { ceil: true }), poolCase(kind, 2, { includePad: true }));
    cases.push(poolCase(kind, 2, { empty: true }), poolCase(kind, 1, { empty: true, ceil: true, includePad: true }));
  }
  return cases;
}

// ---- random cases: row mean, seed ------------------------------------------------------------------------------
function rowMeanCases() {
  reseed(5);
  return [[1, 1], [7, 49], [13, 3], [3, 5000], [64, 197], [70, 1]].map(([rows, size]) => ({
    name: `row_mean rows ${rows} size ${size}`,
    buffers: [buf(rows * size, 'positive'), buf(rows, null)],
    steps: [step(K.rowMean, [rows, size], [0, 1])], readback: [1], exact: [false],
  }));
}

// Pruned LRP's choice per sample, in both modes on the same data: PLRP-M's keep mask exactly (the chosen set,
// ties in index order, at least one entry kept per sign), PLRP-lambda's rescaled survivors within TOL (the
// GPU's double-float scale may round the last bit differently). Data: small integers (ties everywhere),
// uniform with zeros, one sign only, and magnitudes 2^-60..2^60 (the kernel's power-of-two scaling).
function pruneCases() {
  reseed(7);
  const spread = (n) => wordBuf(Array.from({ length: n }, () => f32bits((rng() < 0.5 ? -1 : 1) * 2 ** int(-60, 60) * pick([1, 1.5, 1.25]))));
  const cases = [];
  for (const [batch, per, pos, neg, fill] of [
    [1, 1, 0.5, 0.5, 'uniform'], [3, 7, 0.5, 0.5, 'int'], [2, 1000, 0.3, 0.7, 'int'], [1, 5000, 0.5, 0.5, 'uniform'],
    [4, 333, 1, 1, 'signed0'], [2, 97, 0.9, 0, 'positive'], [70, 5, 0.25, 0.6, 'uniform'], [2, 2000, 0.5, 0.5, 'spread'],
    [3, 130, 0, 0, 'uniform'], [1, 64, 0.999, 0.001, 'apart']]) {
    const data = () => (fill === 'spread' ? spread(batch * per) : buf(batch * per, fill));
    const label = `batch ${batch} per ${per} p ${pos}/${neg} (${fill})`;
    const words = (mode) => [batch, per, f32bits(pos), f32bits(neg), mode];
    cases.push({
      name: `prune lambda ${label}`, buffers: [data()],
      steps: [step(K.prune, words(0), [0])], readback: [0], exact: [false],
    });
    cases.push({
      name: `prune mask ${label}`, buffers: [data(), buf(batch * per, 'uniform')],   // keep starts dirty
      steps: [step(K.prune, words(1), [0, 1])], readback: [1, 0], exact: [true, true],
    });
  }
  return cases;
}

function seedCases() {
  reseed(6);
  const cases = [];
  for (const [batch, per, target, multiply, fill] of [
    [1, 10, NO_INDEX, 1, 'uniform'], [3, 7, NO_INDEX, 0, 'int'], [5, 1, NO_INDEX, 1, 'uniform'],
    [2, 1000, NO_INDEX, 1, 'int'], [4, 9, 3, 1, 'uniform'], [70, 5, 0, 0, 'uniform'], [3, 11, 10, 1, 'int']]) {
    cases.push({
      name: `seed batch ${batch} per ${per} target ${target === NO_INDEX ? 'argmax' : target} multiply ${multiply} (${fill})`,
      // the seed buffer starts dirty: every word of it must be written
      buffers: [buf(batch * per, fill), buf(batch * per, 'uniform'), buf(batch, null)],
      steps: [step(K.seed, [batch, per, target, multiply], [0, 1, 2])], readback: [1, 2], exact: [true, true],
    });
  }
  // Targets read from the buffer (word 4): given per sample, or found by an earlier seed of the same program
  // (integrated gradients' and SmoothGrad's later passes seed with the first pass's targets).
  for (const [batch, per, multiply] of [[4, 6, 1], [3, 17, 0]]) {
    cases.push({
      name: `seed batch ${batch} per ${per} targets given per sample, multiply ${multiply}`,
      buffers: [buf(batch * per, 'uniform'), buf(batch * per, 'uniform'), wordBuf(Array.from({ length: batch }, () => int(0, per - 1)))],
      steps: [step(K.seed, [batch, per, NO_INDEX, multiply, 1], [0, 1, 2])], readback: [1, 2], exact: [true, true],
    });
    cases.push({
      name: `seed batch ${batch} per ${per} argmax, then a second seed of another output from those targets`,
      buffers: [buf(batch * per, 'uniform'), buf(batch * per, 'uniform'), buf(batch, null), buf(batch * per, 'uniform'),
        buf(batch * per, 'uniform')],
      steps: [step(K.seed, [batch, per, NO_INDEX, 1], [0, 1, 2]), step(K.seed, [batch, per, NO_INDEX, multiply, 1], [3, 4, 2])],
      readback: [4, 2], exact: [true, true],
    });
  }
  return cases;
}

// ---- random cases: gather ------------------------------------------------------------------------------------
// An index map of `count` entries into `n` sources, about a fifth of them NO_INDEX.
const indexMap = (count, n) => Array.from({ length: count }, () => (rng() < 0.2 ? NO_INDEX : int(0, n - 1)));

// Select and Place: out starts dirty, so Select must write every element and Place exactly the mapped ones.
function gatherCase(mode, count, n) {
  const f = pick([0.75, -2.5, 1e-3]);
  return {
    name: `gather ${GATHER[mode]} count ${count} src ${n} f ${f}`,
    buffers: [buf(n), wordBuf(indexMap(count, n)), buf(1, null), buf(count)],
    steps: [step(K.gather, [count, mode, f32bits(f)], [0, 1, -1, 3])], readback: [3], exact: [true],
  };
}

// Sum over CSR rows: `lists[j]` the sources of out[j] (empty rows included); the offsets are their prefix sums.
function gatherSumCase(lists, n, label) {
  const offsets = [0];
  for (const l of lists) offsets.push(offsets[offsets.length - 1] + l.length);
  return {
    name: `gather Sum count ${lists.length} src ${n} terms ${offsets[lists.length]} (${label})`,
    buffers: [buf(n), wordBuf(lists.flat()), wordBuf(offsets), buf(lists.length)],
    // close, not exact: a shader compiler may reassociate Kahan's compensation away (gather.wgsl)
    steps: [step(K.gather, [lists.length, 2, 0], [0, 1, 2, 3])], readback: [3], exact: [false], zeroScale: lists.every((l) => !l.length) ? 1 : undefined,
  };
}

function gatherCases() {
  reseed(7);
  const cases = [];
  for (const mode of [0, 1]) {
    cases.push(gatherCase(mode, int(200, 700), int(1, 300)), gatherCase(mode, int(1, 5), int(1, 5)));
  }
  // Random lists (a fifth of them empty, repeats allowed), and the adjoint of a Select map: source i of
  // Select's out becomes row i here, holding the out elements that read it.
  const n = int(20, 200);
  cases.push(gatherSumCase(Array.from({ length: int(100, 400) }, () => (rng() < 0.2 ? []
    : Array.from({ length: int(1, 9) }, () => int(0, n - 1)))), n, 'random lists'));
  const map = indexMap(int(300, 600), n), adjoint = Array.from({ length: n }, () => []);
  map.forEach((i, j) => { if (i !== NO_INDEX) adjoint[i].push(j); });
  cases.push(gatherSumCase(adjoint, map.length, 'the adjoint of a Select'));
  cases.push(gatherSumCase([[], [0, 0, 0], []], 1, 'tiny'));
  return cases;
}

// ---- random cases: rows -------------------------------------------------------------------------------------
// What each row op reads (program.h): the forward softmaxes a alone; the layer norms' scale and bias (b, c) are
// indexed by l alone.
const ROW_FORWARD = [0, 5], ROW_NO_A = [1, 6], ROW_PER_L = [3, 4];

// One row op on outer*inner rows of `len`; out starts dirty (every element must be written). A (log-)softmax or
// layer norm of rows of one element is all zero (its bias), and so is the layer norm's gradient: `zeroScale` lets
// such a reference through and is what its error is measured against, the size of the terms that cancel. For
// the gradient, rstd * (g - mean g) with rstd = 1/sqrt(eps) and |g| = |dy * scale| <= 1: a GPU that fuses
// g - mean g into fma(dy, scale, -mean g) leaves g's rounding error times rstd (NVIDIA: -6e-6 at eps 1e-5).
function rowsCase(op, len, inner, { hasC = false, outer = int(1, 4), fill = 'uniform' } = {}) {
  const rows = outer * inner, total = rows * len, f = pick([1e-5, 1e-3, 0.5]);
  const perL = ROW_PER_L.includes(op);
  const readsA = !ROW_NO_A.includes(op), readsB = !ROW_FORWARD.includes(op), readsC = op === 3 ? hasC : readsB;
  const a = readsA ? buf(total, fill) : buf(1, null);
  const b = readsB ? buf(perL ? len : total) : buf(1, null);
  const c = readsC ? buf(op === 3 ? len : total) : buf(1, null);
  return {
    name: `rows ${ROW_OPS[op]} outer ${outer} len ${len} inner ${inner}${perL ? ` eps ${f}` : ''}${hasC ? ' +c' : ''}` +
      `${fill !== 'uniform' ? ` (${fill})` : ''}`,
    buffers: [a, b, c, buf(total)],
    steps: [step(K.rows, [rows, op, len, inner, f32bits(f), hasC ? 1 : 0], [readsA ? 0 : -1, readsB ? 1 : -1, readsC ? 2 : -1, 3])],
    readback: [3], exact: [false],
    zeroScale: len === 1 && [3, 4, 5].includes(op) && !hasC ? (op === 4 ? 1 / Math.sqrt(f) : 1) : undefined,
  };
}

function rowsCases() {
  reseed(8);
  const cases = [];
  for (let op = 0; op < ROW_OPS.length; op++) {
    for (const len of [1, 7, 33]) {
      for (const inner of [1, int(2, 5)]) {
        const fill = ROW_FORWARD.includes(op) && inner > 1 ? 'wide' : 'uniform';
        for (const hasC of op === 3 ? [false, true] : [false]) cases.push(rowsCase(op, len, inner, { hasC, fill }));
      }
    }
  }
  // Transformer-sized rows: attention scores (rows of 197), a layer norm over 384 features.
  cases.push(rowsCase(0, 197, 1, { outer: 64, fill: 'wide' }), rowsCase(2, 197, 1, { outer: 64 }));
  cases.push(rowsCase(3, 384, 1, { outer: 16, hasC: true }), rowsCase(4, 384, 1, { outer: 16 }));
  return cases;
}

// ---- the page side ------------------------------------------------------------------------------------------------
// Runs in the page: builds each case's program (data from its seeds), runs it on the GPU and on the CPU
// reference, and returns per readback the normalised max error (or the number of differing words).
async function runCasesInPage(cases) {
  const fillData = (b) => {
    if (!b.fill) return null;
    if (b.fill === 'words') {
      const u = new Uint32Array(b.words);
      u.set(b.values);
      return new Float32Array(u.buffer);
    }
    let a = (b.seed * 2654435761) >>> 0;
    const next = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const d = new Float32Array(b.words);
    for (let i = 0; i < d.length; i++) {
      const r = next();
      d[i] = b.fill === 'int' ? Math.floor(r * 7) - 3 : b.fill === 'positive' ? r + 0.5 : b.fill === 'wide' ? 60 + r * 60
        : b.fill === 'apart' ? (r < 0.5 ? -1.5 + r * 2 : r * 2 - 0.5) : b.fill === 'spread' ? r * 6 - 3
          : b.fill === 'signed0' ? (r < 0.25 ? 0 : r * 2 - 1) : r * 2 - 1;
    }
    return d;
  };
  const results = [];
  for (const c of cases) {
    const steps = new Uint32Array(c.steps.length * 38);
    c.steps.forEach((s, i) => {
      steps[i * 38] = s.kernel;
      steps.set(s.words, i * 38 + 1);
      steps.set(s.bind, i * 38 + 33);
    });
    const program = { buffers: c.buffers.map((b) => ({ words: b.words, data: fillData(b), key: b.key })), steps, readback: c.readback };
    let gpu, cpu;
    try {
      gpu = await globalThis.gpuRunner.run(program);
      cpu = await globalThis.cpuReference(program);
    } catch (e) {
      results.push({ name: c.name, error: `${e.kind || e.name}: ${e.message}` });
      continue;
    }
    if (!Array.isArray(cpu) || cpu.length !== c.readback.length || gpu.length !== c.readback.length) {
      results.push({ name: c.name, error: `readback: gpu ${gpu?.length} arrays, cpu ${JSON.stringify(cpu)?.slice(0, 200)}` });
      continue;
    }
    const out = { name: c.name, errors: [], mismatches: [], firstBad: [] };
    c.readback.forEach((id, r) => {
      const g = gpu[r], w = cpu[r];
      if (g.length !== w.length) {
        out.errors.push(Infinity);
        out.mismatches.push(-1);
        out.firstBad.push(`length ${g.length} vs ${w.length}`);
        return;
      }
      if (c.exact[r]) {
        const gb = new Uint32Array(g.buffer, g.byteOffset, g.length), wb = new Uint32Array(w.buffer, w.byteOffset, w.length);
        let bad = 0, first = '';
        for (let i = 0; i < gb.length; i++) {
          if (gb[i] !== wb[i]) {
            if (!bad) first = `[${i}] gpu ${g[i]} (0x${gb[i].toString(16)}) cpu ${w[i]} (0x${wb[i].toString(16)})`;
            bad++;
          }
        }
        out.mismatches.push(bad);
        out.firstBad.push(first);
        out.errors.push(0);
      } else {
        let scale = 0, err = 0, at = -1;
        for (let i = 0; i < w.length; i++) scale = Math.max(scale, Math.abs(w[i]));
        if (!(scale > 0) && !(c.zeroScale > 0)) out.degenerate = true;   // an all-zero reference would test nothing
        for (let i = 0; i < w.length; i++) {
          const e = Math.abs(g[i] - w[i]);
          if (!(e <= err)) { err = e; at = i; }   // NaN counts as the worst
        }
        const rel = err / (scale > 0 ? scale : c.zeroScale ?? 1e-30);
        out.errors.push(Number.isNaN(rel) ? Infinity : rel);
        out.mismatches.push(0);
        out.firstBad.push(at >= 0 ? `[${at}] gpu ${g[at]} cpu ${w[at]}` : '');
      }
    });
    results.push(out);
  }
  return results;
}

// ---- tests ------------------------------------------------------------------------------------------------------
let server = null, browser = null, page = null, seen = null, runnerInfo = null;
const stats = { cases: 0, maxError: 0, byKernel: new Map() };   // byKernel: a case name's first word -> max error

// The page's globals, set up by setUpRunner in the page, or in node where `globalThis.relscopeModules` holds the
// modules (imported from WEB, their runner bound to Dawn's GPU) and `page` only calls the function.
async function setUpRunner() {
  const mods = globalThis.relscopeModules ?? { ...(await import('./relscope.mjs')), ...(await import('./relscope_webgpu.mjs')) };
  const rs = await mods.createRelscope();
  const M = rs.module;
  if (typeof M.runProgramOnCpu !== 'function') throw new Error('the wasm module has no runProgramOnCpu(): an old wasm build?');
  globalThis.cpuReference = (program) => {
    const r = M.runProgramOnCpu(program);
    if (r && typeof r.error === 'string') throw new Error(`CPU reference: ${r.error}`);
    return r;
  };
  globalThis.gpuRunner = await mods.createGpuRunner();
  // One elementwise step (kernel 3): out = op(a, b) over `count` elements, scalar f (the bridge tests' programs).
  globalThis.ewStep = (op, a, b, o, count, f = 0) => {
    const s = new Uint32Array(38);
    s[0] = 3; s[1] = count; s[2] = op; s[3] = 1; s[4] = 1;
    s[5] = new Uint32Array(new Float32Array([f]).buffer)[0];
    s.set([a, b, 0xffffffff, o, 0xffffffff], 33);
    return s;
  };
  return { info: globalThis.gpuRunner.info, limits: globalThis.gpuRunner.limits };
}

before(async () => {
  if (skip) return;
  if (DAWN) {
    const dawn = await import(pathToFileURL(path.join(DAWN, 'index.js')).href);
    Object.assign(globalThis, dawn.globals);   // GPUBufferUsage, GPUMapMode, ... as a page has them
    const gpu = dawn.create([]);
    const { createGpuRunner } = await import(pathToFileURL(path.join(WEB, 'relscope_webgpu.mjs')).href);
    globalThis.relscopeModules = {
      ...(await import(pathToFileURL(path.join(WEB, 'relscope.mjs')).href)),
      createGpuRunner: (options = {}) => createGpuRunner({ gpu, ...options }),
    };
    page = { evaluate: async (f, arg) => f(arg) };
    seen = { errors: [] };
    runnerInfo = await setUpRunner();
    console.log(`# webgpu kernels on Dawn in node: ${JSON.stringify(runnerInfo.info)}`);
    return;
  }
  server = await startServer({ port: 0 });
  browser = await launchChromium({ gpu: true });
  page = await browser.newPage();
  seen = watchPage(page);
  // An empty page of the server's origin, with its headers (CSP, COOP/COEP); the modules come from the server.
  const blank = `${server.url}webgpu-kernels-test.html`;
  await page.route(blank, (route) => route.fulfill({
    status: 200, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8' },
    body: '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>WebGPU kernels</title></head></html>',
  }));
  await page.goto(blank, { waitUntil: 'load' });
  runnerInfo = await page.evaluate(setUpRunner);
});

after(async () => {
  if (stats.cases) {
    const per = [...stats.byKernel].map(([k, e]) => `${k} ${e.toExponential(1)}`).join(', ');
    console.log(`# webgpu kernels: ${stats.cases} cases, max normalised error ${stats.maxError.toExponential(2)} on ${runnerInfo?.info?.architecture || '?'} (${per})`);
  }
  await browser?.close();
  await server?.close();
});

async function check(cases) {
  const results = await page.evaluate(runCasesInPage, cases);
  const failures = [];
  for (const r of results) {
    stats.cases++;
    if (r.error) { failures.push(`${r.name}: ${r.error}`); continue; }
    if (r.degenerate) failures.push(`${r.name}: the CPU reference is all zero (a degenerate case)`);
    r.errors.forEach((e, i) => {
      stats.maxError = Math.max(stats.maxError, e);
      const kernel = r.name.split(' ')[0];
      stats.byKernel.set(kernel, Math.max(stats.byKernel.get(kernel) ?? 0, e));
      if (!(e <= TOL) || r.mismatches[i] !== 0) {
        failures.push(`${r.name}: readback ${i}: ${r.mismatches[i] ? `${r.mismatches[i]} words differ` : `error ${e}`} ${r.firstBad[i]}`);
      }
    });
  }
  assert.deepEqual(failures, [], `${failures.length} of ${results.length} cases failed:\n${failures.join('\n')}`);
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
}

test('the runner reports its adapter and the limits it asked for', { skip }, () => {
  assert.equal(typeof runnerInfo.info.vendor, 'string');
  assert.equal(typeof runnerInfo.info.architecture, 'string');
  assert.ok(runnerInfo.limits.maxStorageBufferBindingSize >= 128 << 20, JSON.stringify(runnerInfo.limits));
  assert.ok(runnerInfo.limits.maxComputeWorkgroupsPerDimension >= 65535);
});

test('conv_forward and conv_backward_data: 1-D/2-D/3-D, groups, depthwise, stride, dilation, padding', { skip, timeout: 120_000 },
  () => check(convCases()));
test('gemm: transposes, odd sizes, leading dimensions, batch offsets (shared operands)', { skip, timeout: 120_000 },
  () => check(gemmCases()));
test('elementwise: every op (StabDivide in every mode), a count past one grid row', { skip, timeout: 120_000 },
  () => check(ewCases()));
test('max_pool (+ backward) and avg_pool (+ backward): padding, overhang, empty windows, count_include_pad', { skip, timeout: 120_000 },
  () => check(poolCases()));
test('row_mean and seed', { skip, timeout: 60_000 }, () => check([...rowMeanCases(), ...seedCases()]));
test('prune: PLRP-lambda and PLRP-M choices per sample, ties, one sign, wide magnitudes', { skip, timeout: 120_000 },
  () => check(pruneCases()));
test('gather: Select and Place with holes, CSR sums with empty rows', { skip, timeout: 60_000 }, () => check(gatherCases()));
test('rows: every row op, odd lengths, strided rows, layer norm with and without bias', { skip, timeout: 60_000 },
  () => check(rowsCases()));

test('profile: a timestamp pass around every dispatch, the same results as an unprofiled run', { skip, timeout: 60_000 }, async () => {
  const r = await page.evaluate(async () => {
    const { createGpuRunner } = globalThis.relscopeModules ?? await import('./relscope_webgpu.mjs');
    const ew = globalThis.ewStep;
    // Fill, then a count-0 step (nothing to dispatch: not timed), then two accumulates: 4 steps, 3 dispatches.
    const steps = new Uint32Array(4 * 38);
    steps.set(ew(1, 0xffffffff, 0xffffffff, 0, 5000, 2), 0);   // b0 = 2
    steps.set(ew(1, 0xffffffff, 0xffffffff, 1, 0, 9), 38);     // (count 0)
    steps.set(ew(9, 0, 0xffffffff, 1, 5000, 3), 76);           // b1 += 3 * b0
    steps.set(ew(10, 0, 1, 2, 5000, 0.5), 114);                // b2 += 0.5 * b0 * b1
    const program = () => ({
      buffers: [{ words: 5000, data: null, key: '' }, { words: 5000, data: new Float32Array(5000).fill(1), key: '' },
        { words: 5000, data: null, key: '' }],
      steps, readback: [2, 1],
    });
    const profiled = await createGpuRunner({ profile: true });
    const out = { profiling: profiled.profiling };
    out.plain = (await globalThis.gpuRunner.run(program())).map((a) => Array.from(a.subarray(0, 3)));
    out.timed = (await profiled.run(program())).map((a) => Array.from(a.subarray(0, 3)));
    out.profile = profiled.lastRun.profile;
    out.plainProfile = globalThis.gpuRunner.lastRun.profile ?? null;
    profiled.destroy();
    return out;
  });
  assert.equal(r.profiling, true, 'this Chromium offers timestamp-query');
  assert.deepEqual(r.timed, r.plain);
  assert.deepEqual(r.timed, [[7, 7, 7], [7, 7, 7]]);   // b1 = 1 + 3 * 2, b2 = 0.5 * 2 * 7
  assert.deepEqual(r.profile.map((p) => [p.step, p.kernel, p.workgroups]),
    [[0, 'elementwise', [79, 1, 1]], [2, 'elementwise', [79, 1, 1]], [3, 'elementwise', [79, 1, 1]]]);
  for (const p of r.profile) assert.ok(Number.isFinite(p.ns) && p.ns >= 0, JSON.stringify(p));
  assert.equal(r.plainProfile, null, 'an unprofiled runner adds no timestamps');
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
});

test('buffers and bind groups are reused between runs, and a reused buffer starts zero-filled again', { skip, timeout: 60_000 }, async () => {
  const r = await page.evaluate(async () => {
    const ew = globalThis.ewStep;
    const gpu = globalThis.gpuRunner;
    const head = async (program) => {
      const y = await gpu.run(program);
      return { y: y.map((a) => Array.from(a.subarray(0, 2))), created: gpu.lastRun.created, bindGroups: gpu.lastRun.bindGroups };
    };
    // b0 = 7 everywhere; then a program whose b0 (no data: zeros) gets that buffer back: b0 += 2 * b1 (b1 = 1.5)
    const fill = { buffers: [{ words: 300, data: null, key: '' }], steps: ew(1, 0xffffffff, 0xffffffff, 0, 300, 7), readback: [0] };
    const accumulate = () => ({ buffers: [{ words: 300, data: null, key: '' }, { words: 300, data: new Float32Array(300).fill(1.5), key: '' }],
      steps: ew(9, 1, 0xffffffff, 0, 300, 2), readback: [0, 1] });
    return { fill: await head(fill), first: await head(accumulate()), again: await head(accumulate()) };
  });
  assert.deepEqual(r.fill.y, [[7, 7]]);
  assert.deepEqual(r.first.y, [[3, 3], [1.5, 1.5]], 'the reused buffer was cleared before the accumulation');
  assert.equal(r.first.created, 1, 'b0 reused the fill\'s buffer, b1 is new');
  assert.deepEqual(r.again, { y: [[3, 3], [1.5, 1.5]], created: 0, bindGroups: 0 }, 'the same program again: its buffers and bind group');
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
});

// ---- random cases: window (occlusion) ---------------------------------------------------------------------------
// Inputs of N samples x channels x span (1-3 spatial dims, padded to (d, h, w)); windows anywhere, clipped at
// the far edge. Mode 0 occludes with f; mode 1 adds the target's drop (per sample) inside the window to a dirty
// accumulator.
function windowCases() {
  reseed(9);
  const cases = [];
  for (const span of [[1, 1, 10], [1, 7, 9], [3, 4, 5]]) {
    const N = int(1, 3), channels = int(1, 3), spatial = span[0] * span[1] * span[2], per = channels * spatial, count = N * per;
    const origin = span.map((d) => int(0, d - 1)), extent = span.map((d, i) => int(1, d - origin[i]));
    const geometry = [per, spatial, ...span, ...origin, ...extent];
    cases.push({
      name: `window occlude span ${span} origin ${origin} extent ${extent} N ${N}`,
      buffers: [buf(count, 'uniform'), buf(count, 'uniform')],
      steps: [step(K.window, [count, ...geometry, 0, f32bits(0.25), 0], [0, -1, -1, 1])], readback: [1], exact: [true],
    });
    const perOut = int(2, 6);
    cases.push({
      name: `window drop span ${span} origin ${origin} extent ${extent} N ${N} outputs ${perOut}`,
      buffers: [buf(N * perOut, 'uniform'), buf(N * perOut, 'uniform'), wordBuf(Array.from({ length: N }, () => int(0, perOut - 1))),
        buf(count, 'uniform')],
      steps: [step(K.window, [count, ...geometry, 1, 0, perOut], [0, 1, 2, 3])], readback: [3], exact: [true],
    });
  }
  return cases;
}
test('window: occlusion over 1-3 spatial dims, drops per sample added to a dirty accumulator', { skip, timeout: 60_000 },
  () => check(windowCases()));

test('bridge contract: errors by kind, constants by key, multi-step programs, readback order, in a worker',
  { skip: skip || (DAWN ? 'a page\'s test (Worker, Blob URLs): not on Dawn in node' : false), timeout: 60_000 }, async () => {
  const r = await page.evaluate(async () => {
    const { createGpuRunner } = await import('./relscope_webgpu.mjs');
    const kindOf = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.kind}: ${e.message}`; } };
    const gpu = globalThis.gpuRunner;
    const out = {};
    out.noGpu = await kindOf(() => createGpuRunner({ gpu: null }));
    out.noAdapter = await kindOf(() => createGpuRunner({ gpu: { requestAdapter: async () => null } }));
    const words = Math.floor(gpu.limits.maxStorageBufferBindingSize / 4) + 1;
    out.limit = await kindOf(() => gpu.run({ buffers: [{ words: 4, data: null, key: '' }, { words, data: null, key: '' }], steps: new Uint32Array(0), readback: [0] }));
    out.badProgram = await kindOf(() => gpu.run({ buffers: [{ words: 4, data: null, key: '' }], steps: new Uint32Array(36), readback: [0] }));

    // y = a + w: a per-run buffer and a constant `w`; the second run's different data under the same key is
    // not uploaded (the device keeps the first), after dropConstants() it is.
    const ew = globalThis.ewStep;
    const program = (wv) => ({
      buffers: [{ words: 3, data: new Float32Array([1, 2, 3]), key: '' }, { words: 3, data: new Float32Array(wv), key: 'test-w' },
        { words: 3, data: null, key: '' }],
      steps: ew(4, 0, 1, 2, 3), readback: [2, 1],
    });
    out.first = (await gpu.run(program([10, 20, 30]))).map((a) => Array.from(a));
    out.kept = (await gpu.run(program([100, 200, 300]))).map((a) => Array.from(a));
    gpu.dropConstants();
    out.dropped = (await gpu.run(program([100, 200, 300]))).map((a) => Array.from(a));
    gpu.dropConstants();

    // Kept ranges: step 0 (range 'kp:A') doubles the input into a buffer the runner keeps; step 1 adds the input
    // again. Asked again under the same key, step 0 is skipped and the kept buffer still holds the first run's
    // result (the key promises the same input: here it is deliberately not, to see the skip); another key
    // computes it again. Malformed ranges are refused.
    const keptProgram = (x, key) => {
      const steps = new Uint32Array(2 * 38);
      steps.set(ew(4, 0, 0, 1, 3), 0);     // b1 = b0 + b0
      steps.set(ew(4, 1, 0, 2, 3), 38);    // b2 = b1 + b0
      return {
        buffers: [{ words: 3, data: new Float32Array(x), key: '' }, { words: 3, data: null, key: `${key}/0` },
          { words: 3, data: null, key: '' }],
        steps, readback: [2], kept: [{ key, from: 0, to: 1 }],
      };
    };
    out.keptRuns = [];
    for (const [x, key] of [[[1, 2, 3], 'kp:A'], [[10, 20, 30], 'kp:A'], [[10, 20, 30], 'kp:B']]) {
      const [y] = await gpu.run(keptProgram(x, key));
      out.keptRuns.push({ y: Array.from(y), skipped: gpu.lastRun.skipped });
    }
    // Sets of denominators on a kept pass: kept[1] scales the pass's buffer by its own factor. The runner keeps
    // the two most recently used sets: A, B, A again (both skipped), C (B, the least recently used, leaves),
    // B (computed again), C (skipped).
    const setsProgram = (name, factor) => {
      const steps = new Uint32Array(3 * 38);
      steps.set(ew(4, 0, 0, 1, 3), 0);     // the pass: b1 = b0 + b0
      steps.set(ew(5, 1, 4, 2, 3), 38);    // its denominators: b2 = b1 * b4 (b4: the set's factor)
      steps.set(ew(4, 2, 0, 3, 3), 76);    // b3 = b2 + b0
      return {
        buffers: [{ words: 3, data: new Float32Array([1, 2, 3]), key: '' }, { words: 3, data: null, key: 'kp:P/0' },
          { words: 3, data: null, key: `kp:P/d${name}/0` }, { words: 3, data: null, key: '' },
          { words: 3, data: new Float32Array([factor, factor, factor]), key: '' }],
        steps, readback: [3], kept: [{ key: 'kp:P', from: 0, to: 1 }, { key: `kp:P/d${name}`, from: 1, to: 2 }],
      };
    };
    out.sets = [];
    for (const [name, factor] of [['A', 2], ['B', 3], ['A', 2], ['C', 4], ['B', 3], ['C', 4]]) {
      const [y] = await gpu.run(setsProgram(name, factor));
      out.sets.push(`${name} ${Array.from(y).join(',')} skipped ${gpu.lastRun.skipped}`);
    }
    gpu.dropConstants();
    const badRange = { ...keptProgram([1, 2, 3], 'kp:C'), kept: [{ key: 'kp:C', from: 0, to: 3 }] };
    out.badRange = await kindOf(() => gpu.run(badRange));
    const badKey = { ...keptProgram([1, 2, 3], 'kp:C'), kept: [{ key: 'kp:C', from: 0, to: 1 }, { key: 'other', from: 1, to: 2 }] };
    out.badKey = await kindOf(() => gpu.run(badKey));
    gpu.dropConstants();

    // Three steps, each reading the previous one's output; readback in the caller's order, a buffer twice.
    const steps = new Uint32Array(3 * 38);
    steps.set(ew(1, 0xffffffff, 0xffffffff, 0, 5, 2), 0);      // b0 = 2
    steps.set(ew(9, 0, 0xffffffff, 1, 5, 3), 38);              // b1 += 3 * b0
    steps.set(ew(10, 0, 1, 2, 5, 0.5), 76);                    // b2 += 0.5 * b0 * b1
    out.chain = (await gpu.run({
      buffers: [{ words: 5, data: null, key: '' }, { words: 5, data: new Float32Array([1, 1, 1, 1, 1]), key: '' },
        { words: 5, data: null, key: '' }],
      steps, readback: [2, 0, 2],
    })).map((a) => Array.from(a));

    // In a module Web Worker: out = 1.5 (Fill) there.
    const workerSource = `import { createGpuRunner } from '${location.origin}/relscope_webgpu.mjs';
      const gpu = await createGpuRunner();
      const steps = new Uint32Array(38);
      steps.set([3, 5, 1, 1, 1, 0x3fc00000], 0);
      steps.set([0xffffffff, 0xffffffff, 0xffffffff, 0, 0xffffffff], 33);
      const [y] = await gpu.run({ buffers: [{ words: 5, data: null, key: '' }], steps, readback: [0] });
      postMessage({ y: Array.from(y), vendor: gpu.info.vendor });`;
    const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
    const worker = new Worker(url, { type: 'module' });
    out.worker = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => resolve({ error: e.message || 'worker error' });
      setTimeout(() => resolve({ error: 'no answer from the worker in 30 s' }), 30_000);
    });
    worker.terminate();
    URL.revokeObjectURL(url);

    // A second runner: destroy() makes it unusable, run() says so.
    const other = await createGpuRunner();
    other.destroy();
    out.lost = await kindOf(() => other.run(program([1, 2, 3])));
    out.lostFlag = other.lost;
    return out;
  });
  assert.match(r.noGpu, /^gpu-unavailable: .*navigator\.gpu/);
  assert.match(r.noAdapter, /^gpu-unavailable: .*adapter/);
  assert.match(r.limit, /^gpu-limit: .*buffer 1 needs \d+ bytes.*maxStorageBufferBindingSize \d+/);
  assert.match(r.badProgram, /^bad-program: /);
  assert.deepEqual(r.first, [[11, 22, 33], [10, 20, 30]]);
  assert.deepEqual(r.kept, [[11, 22, 33], [10, 20, 30]], 'a constant stays on the device under its key');
  assert.deepEqual(r.dropped, [[101, 202, 303], [100, 200, 300]], 'dropConstants() forgets it');
  assert.deepEqual(r.keptRuns, [{ y: [3, 6, 9], skipped: 0 }, { y: [12, 24, 36], skipped: 1 }, { y: [30, 60, 90], skipped: 0 }],
    'a kept range is skipped under its key and computed again under another');
  assert.deepEqual(r.sets, ['A 5,10,15 skipped 0', 'B 7,14,21 skipped 1', 'A 5,10,15 skipped 2', 'C 9,18,27 skipped 1',
    'B 7,14,21 skipped 1', 'C 9,18,27 skipped 2'], 'the two most recently used sets of denominators are kept');
  assert.match(r.badRange, /^bad-program: GPU program: kept\[0\]: steps \[0, 3\)/);
  assert.match(r.badKey, /^bad-program: GPU program: kept\[1\]\.key/);
  assert.deepEqual(r.chain, [[7, 7, 7, 7, 7], [2, 2, 2, 2, 2], [7, 7, 7, 7, 7]]);   // b1 = 1 + 3 * 2, b2 = 0.5 * 2 * 7
  assert.deepEqual(r.worker.y, [1.5, 1.5, 1.5, 1.5, 1.5], `in a worker: ${JSON.stringify(r.worker)}`);
  assert.equal(r.worker.vendor, runnerInfo.info.vendor);
  assert.match(r.lost, /^gpu-lost: /);
  assert.equal(r.lostFlag, true);
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
});
