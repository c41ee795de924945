// relscope browser test — the engine-only page (web/minimal.html + minimal.mjs) loads the JS API
// (web/relscope.mjs over build/wasm/web/relscope_web.js) in headless Chromium, served by scripts/serve.mjs,
// talks to no origin but its own, and the API object it exposes as globalThis.relscope really runs a model.
// The web build is found through RELSCOPE_WASM_BUILD (default build/wasm), as in tests/js/.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { launchChromium, watchPage, ROOT } from './_harness.mjs';

const WEB_BUILD = path.join(path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm'), 'web');
const MODELS = path.join(ROOT, 'tests', 'data', 'models');
const noWebBuild = !fs.existsSync(path.join(WEB_BUILD, 'relscope_web.js')) &&
  `no browser module (${path.relative(ROOT, WEB_BUILD)}/relscope_web.js)`;

// Reads a little-endian float32 .npy (the fixtures) without the tests/js helper: browser tests stand alone.
function npyFloats(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const body = buf.subarray(10 + headerLen);
  return Array.from(new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length)));
}

test('minimal page loads the JS API in Chromium and runs a model', { skip: noWebBuild, timeout: 180_000 }, async () => {
  const server = await startServer({ port: 0, roots: [path.join(ROOT, 'web'), WEB_BUILD] });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const seen = watchPage(page);
    await page.goto(server.url + 'minimal.html', { waitUntil: 'load' });
    await page.waitForFunction(
      () => ['ready', 'error'].includes(document.documentElement.dataset.relscope), null, { timeout: 120_000 });
    const state = await page.evaluate(() => document.documentElement.dataset.relscope);
    const status = await page.textContent('#status');
    assert.equal(state, 'ready', `page status: ${status}\nconsole:\n${seen.console.join('\n')}`);

    const info = await page.evaluate(() => ({
      isolated: globalThis.crossOriginIsolated,
      version: globalThis.relscope?.version ?? null,
      functions: ['loadModel', 'predict', 'explain', 'rules', 'methods', 'composites']
        .filter((f) => typeof globalThis.relscope?.[f] === 'function'),
      hasModule: typeof globalThis.relscope?.module === 'object',
      threads: globalThis.relscope?.threads,
      methods: globalThis.relscope?.methods?.(),
    }));
    assert.match(info.version ?? '', /^\d+\.\d+\.\d+/, 'globalThis.relscope.version');
    assert.deepEqual(info.functions, ['loadModel', 'predict', 'explain', 'rules', 'methods', 'composites']);
    assert.ok(info.hasModule, 'globalThis.relscope.module is the Emscripten module');
    assert.ok(info.methods.includes('lrp'));
    assert.equal(info.isolated, true, 'COOP/COEP make the page cross-origin isolated');

    // The API in the page: a corrupt model is a bad-input Error, then the real model predicts PyTorch's output.
    const model = Array.from(fs.readFileSync(path.join(MODELS, 'cnn_opset13.onnx')));
    const x = npyFloats(path.join(MODELS, 'cnn_opset13_input.npy'));
    const run = await page.evaluate(async ({ model, x }) => {
      const rs = globalThis.relscope;
      let bad = null;
      try {
        await rs.loadModel(new Uint8Array(model.slice(0, 5000)), 'truncated.onnx');
      } catch (e) {
        bad = { isError: e instanceof Error, kind: e.kind, message: e.message };
      }
      const m = await rs.loadModel(new Uint8Array(model), 'cnn_opset13.onnx');
      const y = await rs.predict({ data: new Float32Array(x), shape: [2, 1, 28, 28] });
      const e = await rs.explain({ data: new Float32Array(x), shape: [2, 1, 28, 28], method: 'lrp' });
      return {
        bad, input: m.inputs[0], y: Array.from(y.outputs[0].data), shape: y.outputs[0].shape,
        rShape: e.shape, rIsF32: e.relevance instanceof Float32Array, targets: e.targets,
      };
    }, { model, x });
    assert.deepEqual(run.bad && { isError: run.bad.isError, kind: run.bad.kind }, { isError: true, kind: 'bad-input' });
    assert.match(run.bad.message, /truncated\.onnx/);
    assert.deepEqual(run.input, { name: 'input', shape: [null, 1, 28, 28], dtype: 'float32' });
    assert.deepEqual(run.shape, [2, 10]);
    const want = npyFloats(path.join(MODELS, 'cnn_opset13_output.npy'));
    const diff = Math.max(...run.y.map((v, k) => Math.abs(v - want[k])));
    assert.ok(diff <= 1e-5, `predict in the page matches PyTorch (max |diff| ${diff})`);
    assert.deepEqual(run.rShape, [2, 1, 28, 28]);
    assert.ok(run.rIsF32);
    assert.equal(run.targets.length, 2);

    assert.deepEqual(seen.errors, [], 'no page errors or console errors');
    assert.deepEqual(seen.failed, [], 'no failed requests');
    assert.deepEqual(seen.badStatus, [], 'no HTTP errors');
    const offOrigin = seen.requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('data:'));
    assert.deepEqual(offOrigin, [], 'every request goes to the page\'s own origin');
    assert.ok(seen.requests.some((u) => u.endsWith('/relscope.mjs')), 'the JS API module was fetched');
    // Cross-origin isolated: the threaded module when the build has it and the machine has 2+ cores.
    const wasm = info.threads >= 2 ? '/relscope_web_mt.wasm' : '/relscope_web.wasm';
    assert.ok(seen.requests.some((u) => u.endsWith(wasm)), `${wasm} was fetched (threads: ${info.threads})`);
  } finally {
    await browser.close();
    await server.close();
  }
});
