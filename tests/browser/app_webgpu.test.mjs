// relscope browser test — the canvas offers WebGPU when the page has an adapter (SwiftShader here: a software
// one, so not chosen by default; a hardware adapter would be): on WebGPU the worker's GPU path gives the
// heatmap the CPU engine gives (normalised max error <= 1e-5), the Compute-on
// choice switches to the CPU (wasm) and back, SmoothGrad and pruned LRP run on the GPU too, a model the GPU
// path does not run (a Pow whose exponent is an activation) is explained on the CPU with the reason shown, and the page fetches nothing after it said 'ready' (the bridge loads with the page).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_webgpu.mjs')) ? 'no WebGPU bridge in the build' : false;
const fx = appFixture(skip);

test('canvas: WebGPU offered (software adapter: not by default), the same heatmap as the CPU, fallback with a reason',
  { skip, timeout: 240_000 }, async () => {
    const page = await fx.browser.newPage({ viewport: { width: 1024, height: 700 } });
    const seen = watchPage(page);
    const state = () => page.evaluate(() => globalThis.relscopeAppState());
    const settled = (n) => page.waitForFunction((k) => {
      const s = globalThis.relscopeAppState();
      return s.computes > k && !s.busy;
    }, n, { timeout: 90_000 });
    // The CPU engine's relevance for what the canvas shows, against the canvas' heatmap.
    const errorVsCpu = (params = {}) => page.evaluate(async (params) => {
      const s = globalThis.relscopeAppState();
      const x = globalThis.relscopeAppTensor(1);
      const e = await globalThis.relscope.explain({ data: x.data, shape: x.shape, method: s.method, composite: s.composite,
        target: s.target, params, backend: 'cpu' });
      const shown = globalThis.relscopeAppTensor(0).data;
      let top = 1e-30, err = 0;
      for (let k = 0; k < e.relevance.length; ++k) {
        top = Math.max(top, Math.abs(e.relevance[k]));
        err = Math.max(err, Math.abs(shown[k] - e.relevance[k]));
      }
      return err / top;
    }, params);
    try {
      await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => {
        const s = globalThis.relscopeAppState?.();
        return document.documentElement.dataset.relscope === 'ready' && s && s.prediction && s.computes > 0 && !s.busy;
      }, null, { timeout: 120_000 });
      // (the test's own fetch of the model for the page-thread JS API, before counting the page's requests)
      await page.evaluate(async () => {
        const bytes = new Uint8Array(await (await fetch('assets/demo/fashion_cnn.onnx')).arrayBuffer());
        await globalThis.relscope.loadModel(bytes, 'fashion_cnn.onnx');
      });
      const requestsAtReady = seen.requests.length;
      let s = await state();
      assert.match(s.gpuAdapter, /swiftshader/, 'the worker found the SwiftShader adapter');
      assert.equal(s.gpuSoftware, true, 'SwiftShader is a software adapter');
      assert.equal(s.computeOn, 'cpu', 'a software adapter is offered, not chosen');
      assert.equal(s.explainedOn, 'cpu');
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('compute-on', 'webgpu')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(s.explainedOn, 'webgpu', `fallback: ${s.fallback}`);
      assert.equal(s.fallback, '');
      const gpuErr = await errorVsCpu();
      assert.ok(gpuErr <= 1e-5, `WebGPU heatmap vs CPU: normalised max error ${gpuErr}`);

      // The CPU, then WebGPU again: each recomputes where it says.
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('compute-on', 'cpu')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(s.explainedOn, 'cpu');
      assert.equal(await errorVsCpu(), 0, 'the CPU path is the CPU engine, bit for bit');
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('compute-on', 'metal')), false, 'unknown back-ends are refused');
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('composite', 'epsilon-alpha2-beta1')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('compute-on', 'webgpu')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(s.explainedOn, 'webgpu');
      assert.ok(await errorVsCpu() <= 1e-5);

      // SmoothGrad runs on the GPU (a pass per noisy copy in one program) with the CPU's heatmap.
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('samples', '3')), true);
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('method', 'smoothgrad')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(s.lastError, '');
      assert.equal(s.explainedOn, 'webgpu', `fallback: ${s.fallback}`);
      assert.ok(await errorVsCpu({ samples: 3 }) <= 1e-5);

      // Pruned LRP runs on the GPU too (the kernel prunes each sample on the GPU) with the CPU's heatmap.
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('prune', '0.5')), true);
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('method', 'pruned-lrp')), true);
      await settled(s.computes);
      s = await state();
      assert.equal(s.lastError, '');
      assert.equal(s.explainedOn, 'webgpu', `fallback: ${s.fallback}`);
      assert.ok(await errorVsCpu({ prune: 0.5 }) <= 1e-5);
      assert.ok(s.prunedLayers > 0, 'the GPU result brings its pruning report to the canvas');

      // A model the GPU path cannot run (a Pow whose exponent is an activation): the CPU explains it and the
      // canvas says why.
      await page.setInputFiles('#file-input', [
        { name: 'pow.onnx', mimeType: 'application/octet-stream', buffer: fs.readFileSync(path.join(ROOT, 'tests/hostile/files/pow_of_activations.onnx')) },
        { name: 'row.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b,c,d\n1,2,3,4\n') }]);
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('method', 'lrp')), true);
      await page.waitForFunction(() => {
        const st = globalThis.relscopeAppState();
        return st.model === 'pow.onnx' && !st.busy && st.explainedOn === 'cpu';
      }, null, { timeout: 90_000 });
      s = await state();
      assert.equal(s.lastError, '');
      assert.match(s.fallback, /node 'pow' \(Pow\): Pow with an exponent that is not one constant/);
      assert.deepEqual(seen.requests.slice(requestsAtReady).filter((u) => !u.startsWith('data:')), [],
        'no request after ready');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });
