// bench/webgpu_explain.mjs — one round of issue 7's browser row: relscope's explanation of MODEL in headless
// Chromium on WebGPU vs on wasm (the same page, the same JS API, interleaved), and how far apart they are.
//
// usage: node bench/webgpu_explain.mjs MODEL.onnx REPEAT [C,H,W]
// prints: "adapter: <vendor architecture>", "chromium wasm threads: N" (the page is cross-origin isolated, so
// the JS API runs its threaded module), "chromium wasm explain: X ms (cpu -1 ms)", "webgpu explain: Y ms
// (cpu -1 ms)" (medians of REPEAT timed runs after one warm-up each; wall clock in the page) and
// "webgpu agreement: E" (max |R_gpu - R_wasm| / max |R_wasm|). Here WebGPU runs on SwiftShader, Chromium's CPU
// implementation of Vulkan: the row shows correctness and what the GPU path costs without a GPU, not the
// speed of a real one (bench/RESULTS.md says which adapter it was).
import fs from 'node:fs';
import path from 'node:path';
import { startServer, WASM_BUILD } from '../scripts/serve.mjs';
import { launchChromium } from '../tests/browser/_harness.mjs';

const [modelPath, repeatArg, chwArg = '3,224,224'] = process.argv.slice(2);
const repeat = Number(repeatArg || 3);
if (!modelPath || !fs.existsSync(modelPath)) throw new Error(`usage: webgpu_explain.mjs MODEL.onnx REPEAT (no ${modelPath})`);
if (!fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_webgpu.mjs'))) throw new Error('no wasm build with the WebGPU bridge');

const server = await startServer({ port: 0 });
const browser = await launchChromium({ gpu: true });
try {
  const page = await browser.newPage();
  // The model is not among the served folders: the page fetches it from a route this script answers.
  await page.route('**/bench-model.onnx', (route) => route.fulfill({ status: 200, body: fs.readFileSync(modelPath),
    headers: { 'Content-Type': 'application/octet-stream' } }));
  await page.goto(server.url + 'minimal.html', { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => document.documentElement.dataset.relscope === 'ready', null, { timeout: 120_000 });
  const r = await page.evaluate(async ({ repeat, chw }) => {
    const rs = globalThis.relscope;
    await rs.loadModel(new Uint8Array(await (await fetch('bench-model.onnx')).arrayBuffer()), 'bench.onnx');
    const shape = [1, ...chw];
    let seed = 7;
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) },
      () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4);
    const request = { data, shape, method: 'lrp', composite: 'epsilon-plus-flat' };
    // The engine keeps the last input's forward pass (a repeated explanation of it is only the backward
    // part): timed runs alternate between two inputs, so each wasm run is a whole explanation.
    const other = Float32Array.from(data, (v, i) => (i === 0 ? v + 0.5 : v));
    const timed = async (backend, input) => {
      const t0 = performance.now();
      const e = await rs.explain({ ...request, backend, ...(input ? { data: input } : {}) });
      return { ms: performance.now() - t0, e };
    };
    const cpu0 = await timed('cpu'), gpu0 = await timed('webgpu');   // warm-up (weights go to the GPU here)
    let top = 1e-30, err = 0;
    for (let k = 0; k < cpu0.e.relevance.length; ++k) {
      top = Math.max(top, Math.abs(cpu0.e.relevance[k]));
      err = Math.max(err, Math.abs(gpu0.e.relevance[k] - cpu0.e.relevance[k]));
    }
    const cpu = [], gpu = [];
    for (let k = 0; k < repeat; ++k) {
      const input = k % 2 ? data : other;   // the warm-up's pass (data) is kept: start with the other
      cpu.push((await timed('cpu', input)).ms);
      gpu.push((await timed('webgpu', input)).ms);
    }
    const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const info = await rs.gpuInfo();
    return { threads: rs.threads ?? 1, cpu: med(cpu), gpu: med(gpu), err: err / top, adapter: info ? `${info.vendor} ${info.architecture}`.trim() : 'none',
      steps: gpu0.e.gpu?.steps, sameTarget: gpu0.e.targets[0] === cpu0.e.targets[0] };
  }, { repeat, chw: chwArg.split(',').map(Number) });
  console.log(`adapter: ${r.adapter}`);
  console.log(`chromium wasm threads: ${r.threads}`);
  console.log(`chromium wasm explain: ${r.cpu.toFixed(1)} ms (cpu -1 ms)`);
  console.log(`webgpu explain: ${r.gpu.toFixed(1)} ms (cpu -1 ms)`);
  console.log(`webgpu agreement: ${r.err.toExponential(2)} (${r.steps} GPU steps, same target: ${r.sameTarget})`);
} finally {
  await browser.close();
  await server.close();
}
