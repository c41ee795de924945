// relscope browser test — the threaded JS API module (issue 7; built with -DRELSCOPE_WASM_THREADS=ON:
// relscope_web_mt.{js,wasm,worker.js} beside relscope_web.js). On a cross-origin isolated page (scripts/serve.mjs
// sends COOP/COEP) createRelscope({threads: 2}) loads the threaded module and runs 2 threads, in the page and
// in a module Web Worker (createRelscopeWorker), and its explanations equal the single-threaded module's
// (normalised max error <= 1e-5); under node the same. Skipped when the threaded build is missing.
// Another build folder: RELSCOPE_WASM_BUILD=build/wasm-mt node --test tests/browser/wasm_threads.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const WEB = path.join(WASM_BUILD, 'web');
const MODELS = ['assets/demo/fashion_cnn.onnx', 'assets/fashion_resnet/model.onnx'];
const skip = !fs.existsSync(path.join(WEB, 'relscope_web_mt.js'))
  ? `no threaded wasm build (${path.relative(ROOT, path.join(WEB, 'relscope_web_mt.js'))}: -DRELSCOPE_WASM_THREADS=ON)`
  : !fs.existsSync(path.join(WEB, 'relscope_web.js')) ? `no single-threaded module beside it (${path.relative(ROOT, WEB)})`
  : MODELS.some((m) => !fs.existsSync(path.join(ROOT, m))) ? 'no bundled models' : false;

const fx = appFixture(skip);

// Runs in the page, in a worker's message handler, and in node: explains each model's deterministic random
// input with both APIs given, returns {threads, errors: [normalised max error per model]}.
async function compare(single, threaded, models, load) {
  let seed = 4242;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  const errors = [];
  for (const file of models) {
    const bytes = await load(file);
    const info = await threaded.loadModel(bytes, file.split('/').pop());
    await single.loadModel(bytes, file.split('/').pop());
    const shape = info.inputs[0].shape.map((d) => d ?? 1);
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rand);
    const request = { data, shape, method: 'lrp', composite: 'epsilon-plus-flat' };
    const want = (await single.explain(request)).relevance, got = (await threaded.explain(request)).relevance;
    if (want.length !== got.length) throw new Error(`${file}: ${got.length} relevance values, want ${want.length}`);
    let scale = 0, diff = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      diff = Math.max(diff, Math.abs(want[i] - got[i]));
    }
    errors.push(scale > 0 ? diff / scale : diff);
  }
  return { threads: threaded.threads, singleThreads: single.threads, errors };
}

function assertSame(r, where) {
  assert.ok(r.threads >= 2, `${where}: threads ${r.threads}`);
  assert.equal(r.singleThreads, 1, `${where}: the single-threaded module runs 1 thread`);
  assert.equal(r.errors.length, MODELS.length);
  for (const [k, e] of r.errors.entries()) assert.ok(e <= 1e-5, `${where}: ${MODELS[k]}: normalised max error ${e}`);
}

test('cross-origin isolated page: createRelscope({threads: 2}) loads the threaded module, same relevance',
  { skip, timeout: 300_000 }, async () => {
    const page = await fx.browser.newPage();
    const seen = watchPage(page);
    try {
      await page.goto(fx.server.url + 'minimal.html', { waitUntil: 'load', timeout: 60_000 });
      const r = await page.evaluate(async ({ src, models }) => {
        const compare = (0, eval)(`(${src})`);
        const { createRelscope } = await import('./relscope.mjs');
        const load = async (f) => new Uint8Array(await (await fetch(f)).arrayBuffer());
        const threaded = await createRelscope({ threads: 2 });
        const single = await createRelscope({ threads: 1 });
        const byDefault = await createRelscope();
        return { isolated: globalThis.crossOriginIsolated, sab: typeof SharedArrayBuffer, defaultThreads: byDefault.threads,
          hardware: navigator.hardwareConcurrency, ...(await compare(single, threaded, models, load)) };
      }, { src: compare.toString(), models: MODELS });
      assert.equal(r.isolated, true, 'scripts/serve.mjs makes the page cross-origin isolated');
      assert.equal(r.sab, 'function');
      assert.equal(r.defaultThreads, Math.max(1, Math.min(r.hardware, 4)), 'default: min(hardwareConcurrency, 4)');
      assertSame(r, 'page');
      assert.ok(seen.requests.some((u) => u.endsWith('/relscope_web_mt.js')), 'the threaded module was requested');
      assert.ok(seen.requests.some((u) => u.endsWith('/relscope_web_mt.worker.js')), 'its pthread workers were started');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });

test('module Web Worker (createRelscopeWorker) runs the threaded module: same relevance',
  { skip, timeout: 300_000 }, async () => {
    const page = await fx.browser.newPage();
    const seen = watchPage(page);
    try {
      await page.goto(fx.server.url + 'minimal.html', { waitUntil: 'load', timeout: 60_000 });
      const r = await page.evaluate(async ({ src, models }) => {
        const compare = (0, eval)(`(${src})`);
        const { createRelscopeWorker } = await import('./relscope_worker.mjs');
        const load = async (f) => new Uint8Array(await (await fetch(f)).arrayBuffer());
        const threaded = await createRelscopeWorker({ threads: 2 });
        const single = await createRelscopeWorker({ threads: 1 });
        try {
          return await compare(single, threaded, models, load);
        } finally {
          threaded.terminate();
          single.terminate();
        }
      }, { src: compare.toString(), models: MODELS });
      assertSame(r, 'worker');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });

test('node: createRelscope({threads: 2}) loads the threaded module, same relevance', { skip, timeout: 300_000 }, async () => {
  const { createRelscope } = await import(pathToFileURL(path.join(WEB, 'relscope.mjs')).href);
  const load = async (f) => fs.readFileSync(path.join(ROOT, f));
  const threaded = await createRelscope({ threads: 2 });
  const single = await createRelscope();
  assert.equal(single.threads, 1, 'node: single-threaded unless asked');
  assertSame(await compare(single, threaded, MODELS, load), 'node');
});
