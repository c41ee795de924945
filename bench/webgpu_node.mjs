// bench/webgpu_node.mjs — issue 7's WebGPU row without a browser: relscope's explanation of MODEL through the
// JS API in node, on WebGPU (Dawn's node binding, the npm package `webgpu`) vs on wasm, interleaved in one
// process, and a per-kernel GPU time profile.
//
// usage: node bench/webgpu_node.mjs --dawn DIR MODEL.onnx [--repeat R] [--shape 1,3,224,224] [--web DIR]
//                                  [--threads N] [--no-profile] [--steps K] [--prune P [--prune-mode lambda|mask]]
//                                  [--method M] [--composite C] [--params JSON]
//   --dawn DIR: the `webgpu` package (index.js + dist/linux-x64/dawn.node); bench/webgpu_node.sh fetches it.
//   --prune P: explain with pruned-lrp (proportion P, PLRP-lambda unless --prune-mode mask) instead of lrp.
//   --method / --composite / --params: another explanation (default lrp, epsilon-plus-flat; params as the JS
//   API's, e.g. '{"low": "-3", "high": "3"}' for epsilon-gamma-box).
//   --web DIR: the wasm build's web folder (default build/wasm/web). --threads: wasm kernel threads (default 1).
// prints "adapter: ...", "wasm explain: X ms", "webgpu explain: Y ms" (medians of R timed runs after one
// warm-up each; each WebGPU one right after a wasm one), "webgpu re-explain: Z ms" (the last input again: its
// forward pass and denominators kept), the same WebGPU explanations back to back and after 1 s of idling (how
// much is the GPU waking up), "webgpu agreement: E" (max |R_gpu - R_wasm| / max |R_wasm|, same target), then, unless
// --no-profile, one more WebGPU run with a timestamp around every dispatch: GPU time per kernel and the
// slowest steps (K of them, default 12; --steps all: every step in program order). Dawn picks its Vulkan
// adapter: on a machine with a GPU that is the GPU; here, where there is none, bench/webgpu_node.sh points
// Vulkan at Mesa's lavapipe (a CPU implementation), which shows that the route works and where the GPU
// program spends its work, not the speed of a real GPU.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// ---- arguments -----------------------------------------------------------------------------------------------
const args = process.argv.slice(2);
const opt = { repeat: 3, shape: '1,3,224,224', web: 'build/wasm/web', threads: 1, profile: true, steps: 12 };
let modelPath = null;
for (let k = 0; k < args.length; k++) {
  const a = args[k];
  if (a === '--dawn') opt.dawn = args[++k];
  else if (a === '--repeat') opt.repeat = Number(args[++k]);
  else if (a === '--shape') opt.shape = args[++k];
  else if (a === '--web') opt.web = args[++k];
  else if (a === '--threads') opt.threads = Number(args[++k]);
  else if (a === '--no-profile') opt.profile = false;
  else if (a === '--steps') {
    const v = args[++k];
    opt.steps = v === 'all' ? Infinity : Number(v);
  }
  else if (a === '--prune') opt.prune = Number(args[++k]);
  else if (a === '--prune-mode') opt.pruneMode = args[++k];
  else if (a === '--method') opt.method = args[++k];
  else if (a === '--composite') opt.composite = args[++k];
  else if (a === '--params') opt.params = JSON.parse(args[++k]);
  else if (!a.startsWith('--') && !modelPath) modelPath = a;
  else throw new Error(`webgpu_node.mjs: unknown argument ${a}`);
}
if (!opt.dawn || !modelPath) throw new Error('usage: node bench/webgpu_node.mjs --dawn DIR MODEL.onnx [--repeat R] ...');
if (!fs.existsSync(modelPath)) throw new Error(`webgpu_node.mjs: no model ${modelPath}`);
if (!(opt.repeat >= 1)) throw new Error('webgpu_node.mjs: --repeat must be >= 1');

// ---- WebGPU from Dawn ----------------------------------------------------------------------------------------------
const dawn = await import(pathToFileURL(path.resolve(opt.dawn, 'index.js')).href);
Object.assign(globalThis, dawn.globals);   // GPUBufferUsage, GPUMapMode, ... as a page has them
// Dawn rounds timestamps to ~65 us unless told otherwise (its timestamp_quantization toggle, a guard against
// timing attacks on the web that a benchmark does not need): per-step GPU times of a fast GPU were mostly 0.
const gpu = dawn.create(['enable-dawn-features=allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization']);

const { createRelscope } = await import(pathToFileURL(path.resolve(opt.web, 'relscope.mjs')).href);
const plain = await createRelscope({ threads: opt.threads, webgpu: { gpu } });
const model = new Uint8Array(fs.readFileSync(modelPath));
await plain.loadModel(model, path.basename(modelPath));
const info = await plain.gpuInfo();
if (!info) throw new Error('webgpu_node.mjs: Dawn found no adapter');
console.log(`adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' / ')}${info.software ? ' (software)' : ''}`);
console.log(`wasm threads: ${plain.threads ?? 1}`);

// ---- timed runs -------------------------------------------------------------------------------------------------------
const shape = opt.shape.split(',').map(Number);
let seed = 7;
const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) },
  () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4);
const composite = opt.composite ?? 'epsilon-plus-flat';
const request = opt.prune === undefined ? { data, shape, method: opt.method ?? 'lrp', composite, params: opt.params ?? {} }
  : { data, shape, method: 'pruned-lrp', composite, params: { ...opt.params, prune: opt.prune, 'prune-mode': opt.pruneMode ?? 'lambda' } };
console.log(`method: ${request.method}, composite ${composite}${opt.prune === undefined ? '' : ` (prune ${opt.prune}, ${opt.pruneMode ?? 'lambda'})`}`);
// The engine keeps the last input's forward pass (a repeated explanation of it is only the backward part):
// timed runs alternate between two inputs, so each wasm run is a whole explanation.
const other = Float32Array.from(data, (v, i) => (i === 0 ? v + 0.5 : v));
const timed = async (rs, backend, input) => {
  const t0 = performance.now();
  const e = await rs.explain({ ...request, backend, ...(input ? { data: input } : {}) });
  return { ms: performance.now() - t0, e };
};
const cpu0 = await timed(plain, 'cpu');
const gpu0 = await timed(plain, 'webgpu');   // warm-up: pipelines exist, the weights go to the GPU here
let top = 1e-30, err = 0;
for (let k = 0; k < cpu0.e.relevance.length; ++k) {
  top = Math.max(top, Math.abs(cpu0.e.relevance[k]));
  err = Math.max(err, Math.abs(gpu0.e.relevance[k] - cpu0.e.relevance[k]));
}
const cpu = [], gpuMs = [], phases = [];
for (let k = 0; k < opt.repeat; ++k) {
  const input = k % 2 ? data : other;   // the warm-up's pass (data) is kept: start with the other
  cpu.push((await timed(plain, 'cpu', input)).ms);
  const g = await timed(plain, 'webgpu', input);
  gpuMs.push(g.ms);
  phases.push(g.e.gpu);
}
// Asked again about the last input (another target, say), the GPU keeps that input's forward pass and the
// rules' denominators on it.
const lastInput = (opt.repeat - 1) % 2 ? data : other;
const again = [], againPhases = [];
let skipped = 0, steps = 0;
for (let k = 0; k < opt.repeat; ++k) {
  const r = await timed(plain, 'webgpu', lastInput);
  again.push(r.ms);
  againPhases.push(r.e.gpu);
  ({ skipped, steps } = r.e.gpu);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`wasm explain: ${med(cpu).toFixed(1)} ms`);
console.log(`webgpu explain: ${med(gpuMs).toFixed(1)} ms (first run, uploads included: ${gpu0.ms.toFixed(1)} ms)`);
const parts = (runs) => {
  const phase = (name) => med(runs.map((p) => p[name] ?? NaN)).toFixed(1);
  return `program ${phase('programMs')}, encode ${phase('encodeMs')}, wait ${phase('waitMs')}, finish ${phase('finishMs')}`;
};
console.log(`webgpu explain's parts (medians, ms): ${parts(phases)} (program: wasm builds it; encode: buffers, uploads, ` +
  'bind groups, submit; wait: GPU work and readback; finish: wasm)');
console.log(`webgpu re-explain: ${med(again).toFixed(1)} ms (same input: the kept forward pass and denominators, ${skipped} of ${steps} steps skipped)`);
console.log(`webgpu re-explain's parts (medians, ms): ${parts(againPhases)}`);
// The explanations above alternate with wasm ones (the GPU idles through each): the same explanations back to
// back, and each after a second of idling, show how much of their wait is the GPU waking up rather than work.
// Each run's input is the other one than its predecessor's (the kept pass): every run is a whole explanation.
let previous = lastInput;
const series = async (pauseMs) => {
  const ms = [], runs = [];
  for (let k = 0; k < opt.repeat; ++k) {
    if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    previous = previous === data ? other : data;
    const r = await timed(plain, 'webgpu', previous);
    ms.push(r.ms);
    runs.push(r.e.gpu);
  }
  return `${med(ms).toFixed(1)} ms (${parts(runs)})`;
};
console.log(`webgpu explain back to back: ${await series(0)}`);
console.log(`webgpu explain after 1 s idle: ${await series(1000)}`);
console.log(`webgpu agreement: ${(err / top).toExponential(2)} (same target: ${gpu0.e.targets[0] === cpu0.e.targets[0]})`);
if (shape[0] > 1) {
  // A batch: each sample's agreement against its own max |R| (how far apart two summation orders land varies
  // from input to input: the rules divide by denominators near zero), and each sample explained alone on the
  // GPU against its row of the batch (the batched program must give every sample what it gives it alone).
  const per = data.length / shape[0], rows = [];
  let alone = 0;
  for (let b = 0; b < shape[0]; ++b) {
    const slice = (a) => a.subarray(b * per, (b + 1) * per);
    const want = slice(cpu0.e.relevance), got = slice(gpu0.e.relevance);
    let t = 1e-30, e = 0;
    for (let k = 0; k < per; ++k) { t = Math.max(t, Math.abs(want[k])); e = Math.max(e, Math.abs(got[k] - want[k])); }
    rows.push((e / t).toExponential(1));
    const one = await plain.explain({ ...request, data: data.slice(b * per, (b + 1) * per), shape: [1, ...shape.slice(1)], backend: 'webgpu' });
    for (let k = 0; k < per; ++k) alone = Math.max(alone, Math.abs(one.relevance[k] - got[k]) / t);
  }
  console.log(`webgpu agreement per sample: ${rows.join(' ')}; each sample alone on webgpu vs its row of the batch: ${alone.toExponential(2)}`);
}
console.log(`webgpu program: ${gpu0.e.gpu.steps} steps, ${gpu0.e.gpu.buffers} buffers, ` +
  `${(gpu0.e.gpu.uploadedBytes / 2 ** 20).toFixed(1)} MiB uploaded by the first run`);

// ---- profile ------------------------------------------------------------------------------------------------------------
if (opt.profile) {
  const profiled = await createRelscope({ threads: 1, webgpu: { gpu, profile: true } });
  await profiled.loadModel(model, path.basename(modelPath));
  await timed(profiled, 'webgpu', other);   // warm-up, on the other input: the profiled run is a whole explanation
  const run = await timed(profiled, 'webgpu');
  const steps = run.e.gpu.profile;
  if (!steps) {
    console.log('profile: the adapter has no timestamp-query');
  } else {
    const total = steps.reduce((a, s) => a + s.ns, 0);
    console.log(`profile: ${steps.length} dispatches, ${(total / 1e6).toFixed(1)} ms of GPU time in them ` +
      `(one pass each: ${run.ms.toFixed(1)} ms wall; ${parts([run.e.gpu])})`);
    const byKernel = new Map();
    for (const s of steps) {
      const k = byKernel.get(s.kernel) ?? { n: 0, ns: 0 };
      k.n += 1;
      k.ns += s.ns;
      byKernel.set(s.kernel, k);
    }
    for (const [name, k] of [...byKernel].sort((a, b) => b[1].ns - a[1].ns)) {
      console.log(`profile kernel: ${name} ${k.n} dispatches ${(k.ns / 1e6).toFixed(2)} ms ` +
        `(${(100 * k.ns / Math.max(total, 1)).toFixed(1)}%)`);
    }
    for (const s of opt.steps === Infinity ? steps : [...steps].sort((a, b) => b.ns - a.ns).slice(0, opt.steps)) {
      console.log(`profile step: ${s.step} ${s.kernel} workgroups ${s.workgroups.join('x')} ${(s.ns / 1e6).toFixed(3)} ms`);
    }
  }
}
process.exit(0);   // Dawn's device threads would keep node alive
