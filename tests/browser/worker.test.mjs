// relscope browser test — createRelscopeWorker() (web/relscope_worker.mjs) in a page, as a module Web
// Worker under the app's own CSP and COOP/COEP headers: the same relevance as the page's own JS API, the
// page keeps drawing frames while a long explanation runs, cancel() stops it (kind 'cancelled') and the
// object explains again afterwards with the same model. The node side: tests/js/worker.test.mjs.
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
