// relscope browser test — createRelscopeWorker() (web/relscope_worker.mjs) in a page, as a module Web
// Worker under the app's own CSP and COOP/COEP headers: the same relevance as the page's own JS API, the
// page keeps drawing frames while a long explanation runs, cancel() stops it (kind 'cancelled') and the
// object explains again afterwards with the same model; and the canvas's own explanations run in it and
// can be cancelled. The node side: tests/js/worker.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(ROOT, 'assets', 'demo', 'fashion_cnn.onnx')) ? 'no bundled demo' : false;

const fx = appFixture(skip);

test('worker API in the page: same numbers, frames keep coming, cancel stops a long explanation',
  { skip, timeout: 240_000 }, async () => {
    const page = await fx.browser.newPage({ viewport: { width: 1024, height: 700 } });
    const seen = watchPage(page);
    try {
      await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => document.documentElement.dataset.relscope === 'ready' && globalThis.relscopeAppState?.().prediction,
        null, { timeout: 90_000 });
      const r = await page.evaluate(async () => {
        const { createRelscopeWorker } = await import('./relscope_worker.mjs');
        const bytes = new Uint8Array(await (await fetch('assets/demo/fashion_cnn.onnx')).arrayBuffer());
        const x = globalThis.relscopeAppTensor(1);
        const input = { data: x.data, shape: x.shape };
        const request = { ...input, method: 'lrp', composite: 'epsilon-plus-flat' };
        const rs = await createRelscopeWorker();
        await rs.loadModel(bytes, 'fashion_cnn.onnx');
        await globalThis.relscope.loadModel(bytes, 'fashion_cnn.onnx');
        const want = Array.from((await globalThis.relscope.explain(request)).relevance);
        const got = Array.from((await rs.explain(request)).relevance);

        // A long SmoothGrad in the worker; count animation frames the page draws meanwhile, then cancel.
        const long = rs.explain({ ...input, method: 'smoothgrad', params: { samples: 200000, noise: 0.1, seed: 1 } });
        let settled = false;
        long.then(() => { settled = true; }, () => { settled = true; });
        let frames = 0;
        while (frames < 30 && !settled) {
          await new Promise((res) => requestAnimationFrame(res));
          frames++;
        }
        const stopped = rs.cancel();
        let error = null;
        try { await long; } catch (e) { error = { name: e.name, kind: e.kind, message: e.message }; }
        const again = Array.from((await rs.explain(request)).relevance);
        rs.terminate();
        return { want, got, again, frames, settledEarly: settled && !stopped, stopped, error };
      });
      assert.equal(r.got.length, 28 * 28);
      assert.deepEqual(r.got, r.want, 'the worker computes what the page computes');
      assert.equal(r.settledEarly, false, 'the long explanation was still running');
      assert.equal(r.frames, 30, 'the page drew frames while the worker explained');
      assert.equal(r.stopped, true);
      assert.equal(r.error?.name, 'RelscopeError');
      assert.equal(r.error?.kind, 'cancelled', JSON.stringify(r.error));
      assert.deepEqual(r.again, r.want, 'after cancel() the same model explains again');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });

// The canvas itself: its explanations run in such a worker (src/app/app_offload.cpp), so a long one leaves
// the page drawing and the canvas' Cancel stops it, keeping the previous heatmap.
test('canvas: explanations run in the worker; a long one can be cancelled and the canvas stays live',
  { skip, timeout: 240_000 }, async () => {
    const page = await fx.browser.newPage({ viewport: { width: 1024, height: 700 } });
    const seen = watchPage(page);
    const state = () => page.evaluate(() => globalThis.relscopeAppState());
    try {
      await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => {
        const s = globalThis.relscopeAppState?.();
        return document.documentElement.dataset.relscope === 'ready' && s && s.prediction && s.computes > 0 && !s.busy;
      }, null, { timeout: 90_000 });
      // On the CPU (wasm) in the worker (the default with this software adapter; set anyway), for a bit-for-bit
      // comparison with the page's thread (the WebGPU path agrees to 1e-5: app_webgpu.test.mjs).
      const onGpu = await state();
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('compute-on', 'cpu')), true);
      await page.waitForFunction((n) => {
        const st = globalThis.relscopeAppState();
        return st.computes > n && !st.busy;
      }, onGpu.computes, { timeout: 60_000 });
      const first = await state();
      assert.equal(first.explainedIn, 'worker', 'the heatmap was explained in the worker');
      assert.equal(first.explainedOn, 'cpu');
      // The same numbers as the engine on the page's own thread (the JS API over the app's module).
      const same = await page.evaluate(async () => {
        const s = globalThis.relscopeAppState();
        const x = globalThis.relscopeAppTensor(1);
        const bytes = new Uint8Array(await (await fetch('assets/demo/fashion_cnn.onnx')).arrayBuffer());
        await globalThis.relscope.loadModel(bytes, 'fashion_cnn.onnx');
        const e = await globalThis.relscope.explain({ data: x.data, shape: x.shape, method: s.method, composite: s.composite, target: s.target });
        const shown = globalThis.relscopeAppTensor(0);
        return Array.from(e.relevance).every((v, k) => v === shown.data[k]);
      });
      assert.equal(same, true, 'worker relevance is bit-identical to the page thread\'s');
      const before = await page.evaluate(() => Array.from(globalThis.relscopeAppTensor(0).data));

      // A long SmoothGrad: the page keeps producing animation frames while the worker explains.
      // (both in one turn: a frame between them would explain LRP once more, a new result if it lands first)
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('samples', '200000') &&
        globalThis.relscopeAppSet('method', 'smoothgrad')), true);
      await page.waitForFunction(() => globalThis.relscopeAppState().explaining, null, { timeout: 30_000 });
      const frames = await page.evaluate(async () => {
        let n = 0;
        while (n < 20 && globalThis.relscopeAppState().explaining) {
          await new Promise((r) => requestAnimationFrame(r));
          n++;
        }
        return n;
      });
      assert.equal(frames, 20, 'the page drew 20 frames during the explanation');
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('cancel', '1')), true, 'there was one to cancel');
      let s = await state();
      assert.equal(s.explaining, false);
      assert.equal(s.busy, false);
      assert.match(s.notice, /cancelled/);
      assert.equal(s.computes, first.computes, 'no new result');
      assert.deepEqual(await page.evaluate(() => Array.from(globalThis.relscopeAppTensor(0).data)), before, 'the previous heatmap stays');

      // A shorter one afterwards runs (in a fresh worker) and lands.
      assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('samples', '4')), true);
      await page.waitForFunction((n) => {
        const st = globalThis.relscopeAppState();
        return st.computes > n && !st.busy;
      }, first.computes, { timeout: 60_000 });
      s = await state();
      assert.equal(s.lastError, '');
      assert.equal(s.method, 'smoothgrad');
      assert.equal(s.explainedIn, 'worker');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });
