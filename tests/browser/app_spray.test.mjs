// relscope browser test — the canvas' Strategies window (src/app/app_spray.cpp over
// src/app/core/spray_view.h) on the bundled Clever Hans model, in headless Chromium.
//
// Sections: setup | tests
//
// What it checks: with #model=clever_hans open (six samples: three with the watermark, three without; the
// marked shirt shown, predicted Shirt), "Find strategies" explains every sample at Shirt between frames and
// clusters the heatmaps into two strategies: exactly the marked samples and exactly the clean ones. Opening
// another bundled model drops the result. The wasm build dir is RELSCOPE_WASM_BUILD.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(ROOT, 'assets', 'clever_hans', 'model.onnx')) ? 'no bundled Clever Hans model' : false;
const fx = appFixture(skip);
const set = (page, key, value) => page.evaluate(([k, v]) => globalThis.relscopeAppSet(k, v), [key, value]);
const state = (page) => page.evaluate(() => globalThis.relscopeAppState());

// ---- tests -----------------------------------------------------------------------------------------
test('Strategies finds the watermark among the Clever Hans samples', { skip, timeout: 240_000 }, async () => {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen = watchPage(page);
  await page.goto(`${fx.server.url}#model=clever_hans`, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.share?.model === 'clever_hans' && s.computes > 0 && !s.busy);
  }, null, { timeout: 120_000 });
  let s = await state(page);
  assert.equal(s.status, 'ready', `app state: ${JSON.stringify(s)}\nconsole:\n${seen.console.join('\n')}`);

  for (const [k, v] of [['spray', '1'], ['spray-neighbours', '2'], ['spray-size', '7']]) assert.equal(await set(page, k, v), true, k);
  assert.equal(await set(page, 'spray-run', '1'), true);
  await page.waitForFunction(() => {
    const x = globalThis.relscopeAppState();
    return (!x.spray.running && x.spray.hasResult) || x.lastError !== '';
  }, null, { timeout: 120_000 });
  s = await state(page);
  assert.equal(s.lastError, '');
  assert.equal(s.spray.target, 6);   // Shirt: what the marked default sample is predicted as
  assert.equal(s.spray.clusters, 2, `eigenvalues ${s.spray.eigenvalues}`);
  const groups = s.spray.members.map((m) => [...m].sort());
  const marked = groups.find((g) => g.some((n) => n.includes('marked')));
  const clean = groups.find((g) => g !== marked);
  assert.deepEqual(marked, ['19_t_shirt_top_marked.png', '4_shirt_marked.png', '6_coat_marked.png']);
  assert.deepEqual(clean, ['19_t_shirt_top.png', '4_shirt.png', '6_coat.png']);

  // Another model: the strategies of the old one are gone.
  await page.evaluate(() => { location.hash = '#model=demo'; });
  await page.waitForFunction(() => {
    const x = globalThis.relscopeAppState();
    return x.share?.model === 'demo' && x.computes > 0 && !x.busy;
  }, null, { timeout: 120_000 });
  assert.equal(await set(page, 'spray-run', '1'), true);   // a run on the new model replaces the result
  await page.waitForFunction(() => !globalThis.relscopeAppState().spray.running, null, { timeout: 120_000 });
  s = await state(page);
  assert.ok(!s.spray.hasResult || !s.spray.members.flat().some((n) => n.includes('marked')), JSON.stringify(s.spray));
  assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
  await page.close();
});
