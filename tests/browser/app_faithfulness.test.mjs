// relscope browser test — the canvas' Faithfulness section (src/app/app_faithfulness.cpp over
// src/app/core/faithfulness_view.h) on the bundled demo, in headless Chromium.
//
// Sections: setup | helpers | tests
//
// What it checks: with the demo's heatmap and a compare heatmap (gradient) on screen, "Flip both heatmaps"
// runs between frames to the end and reports, per heatmap, the curve the JS API's faithfulness() gives for
// the same model, input and options (1e-5 of the largest output); LRP's AOPC beats the random orders and the
// gradient's on the demo; and the outcome disappears as soon as another target is explained. The wasm build
// dir is RELSCOPE_WASM_BUILD.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const DEMO = path.join(ROOT, 'assets', 'demo');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})` : false;
const fx = appFixture(skip);

// ---- helpers ---------------------------------------------------------------------------------------
const set = (page, key, value) => page.evaluate(([k, v]) => globalThis.relscopeAppSet(k, v), [key, value]);
const state = (page) => page.evaluate(() => globalThis.relscopeAppState());

async function nextState(page, computes) {
  await page.waitForFunction((n) => {
    const s = globalThis.relscopeAppState();
    return (s.computes > n && !s.busy) || s.lastError !== '';
  }, computes, { timeout: 60_000 });
  return state(page);
}

function assertCurve(got, want, scale, what) {
  assert.equal(got.length, want.length, `${what}: points`);
  const err = got.reduce((m, v, k) => Math.max(m, Math.abs(v - want[k])), 0);
  assert.ok(err <= 1e-5 * scale, `${what}: max difference ${err} (scale ${scale})`);
}

// ---- tests -----------------------------------------------------------------------------------------
test('Faithfulness flips both heatmaps between frames, as the JS API does', { skip, timeout: 240_000 }, async () => {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen = watchPage(page);
  await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.computes > 0 && !s.busy);
  }, null, { timeout: 120_000 });
  let s = await state(page);
  assert.equal(s.status, 'ready', `app state: ${JSON.stringify(s)}\nconsole:\n${seen.console.join('\n')}`);

  assert.equal(await set(page, 'compare-method', 'gradient'), true);
  assert.equal(await set(page, 'compare', '1'), true);
  s = await nextState(page, s.computes);
  assert.equal(s.lastError, '');
  for (const [k, v] of [['faithfulness-steps', '10'], ['faithfulness-window', '2'], ['faithfulness-orders', '2']])
    assert.equal(await set(page, k, v), true, k);
  assert.equal(await set(page, 'faithfulness-run', '1'), true);
  await page.waitForFunction(() => {
    const f = globalThis.relscopeAppState().faithfulness;
    return (!f.running && f.outcomes.length > 0) || globalThis.relscopeAppState().lastError !== '';
  }, null, { timeout: 120_000 });
  s = await state(page);
  assert.equal(s.lastError, '');
  const [main, compare] = s.faithfulness.outcomes;
  assert.equal(s.faithfulness.outcomes.length, 2);
  assert.equal(main.label, 'lrp (epsilon-plus-flat)');
  assert.equal(compare.label, 'compare: gradient');
  assert.equal(main.units, 196);   // 28x28 in windows of 2
  assert.deepEqual(main.removed.slice(0, 3), [0, 20, 39]);
  assert.ok(main.aopc > main.aopcRandom, `LRP ${main.aopc} vs random ${main.aopcRandom}`);
  assert.ok(main.aopc > compare.aopc, `LRP ${main.aopc} vs gradient ${compare.aopc}`);

  // The JS API over the app's module, on the demo model and the input the app explained.
  const api = await page.evaluate(async (bytes) => {
    const rs = globalThis.relscope;
    const x = globalThis.relscopeAppTensor(1);
    await rs.loadModel(new Uint8Array(bytes), 'fashion_cnn.onnx');
    const params = { 'flip-steps': 10, 'flip-window': 2, 'random-orders': 2 };
    const input = { data: new Float32Array(x.data), shape: x.shape, params };
    const lrp = await rs.faithfulness({ ...input, composite: 'epsilon-plus-flat' });
    const grad = await rs.faithfulness({ ...input, method: 'gradient' });
    return [lrp, grad].map((f) => ({ removed: f.removed, first: f.curves[0].relevanceFirst, random: f.curves[0].random }));
  }, Array.from(fs.readFileSync(path.join(DEMO, 'fashion_cnn.onnx'))));
  const scale = Math.max(...main.relevanceFirst.map(Math.abs));
  assert.deepEqual(api[0].removed, main.removed);
  assertCurve(main.relevanceFirst, api[0].first, scale, 'lrp, most relevant first');
  assertCurve(main.random, api[0].random, scale, 'lrp, random orders');
  assertCurve(compare.relevanceFirst, api[1].first, scale, 'gradient, most relevant first');

  // Another target: the outcome describes maps no longer on screen, so it goes.
  assert.equal(await set(page, 'target', '3'), true);
  s = await nextState(page, s.computes);
  assert.equal(s.faithfulness.outcomes.length, 0);
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
  await page.close();
});
