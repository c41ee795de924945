// relscope browser test — shared links: the URL fragment sets the demo sample, method and parameters at
// start, follows what the canvas shows, and a fragment pasted into an open tab applies too.
// The wasm build dir is RELSCOPE_WASM_BUILD (default build/wasm, as for scripts/serve.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const DEMO = path.join(ROOT, 'assets', 'demo');
const manifest = fs.existsSync(path.join(DEMO, 'preprocess.json'))
  ? JSON.parse(fs.readFileSync(path.join(DEMO, 'preprocess.json'), 'utf8')) : {};
const samples = manifest.samples ?? [];
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : samples.length < 3 ? 'fewer than three demo samples' : false;

const fx = appFixture(skip);

// Waits until the app is ready and idle with `check(state)` true; returns the state.
async function settled(page, check = 's => true') {
  await page.waitForFunction((fn) => {
    const s = globalThis.relscopeAppState?.();
    // eslint-disable-next-line no-eval
    return s && document.documentElement.dataset.relscope === 'ready' && s.prediction && !s.busy && (0, eval)(fn)(s);
  }, check, { timeout: 90_000 });
  return page.evaluate(() => globalThis.relscopeAppState());
}

test('a link opens the page as it was shared, and the fragment follows the canvas', { skip, timeout: 180_000 }, async () => {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watchPage(page);
  try {
    const link = '#sample=2&method=pruned-lrp&prune=0.5&prune-mode=mask&colormap=coldnhot&target=3';
    await page.goto(fx.server.url + link, { waitUntil: 'load', timeout: 60_000 });
    let s = await settled(page, "s => s.method === 'pruned-lrp'");
    assert.equal(s.input, samples[2], 'the linked demo sample');
    assert.equal(s.method, 'pruned-lrp');
    assert.equal(s.colormap, 'coldnhot');
    assert.equal(s.target, 3, 'the linked target is explained');
    assert.ok(s.prunedLayers > 0, 'pruning ran');
    assert.deepEqual(
      { prune: s.share.prune, mode: s.share['prune-mode'] }, { prune: '0.5', mode: 'mask' });

    // The canvas changes -> the fragment says so (no reload, no request).
    const before = seen.requests.length;
    assert.equal(await page.evaluate(() => globalThis.relscopeAppSet('method', 'gradient')), true);
    s = await settled(page, "s => s.method === 'gradient'");
    await page.waitForFunction(() => location.hash.includes('method=gradient'));
    const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
    assert.equal(hash.get('method'), 'gradient');
    assert.equal(hash.get('sample'), '2');
    assert.equal(hash.get('prune'), null, 'parameters of other methods are left out');
    assert.deepEqual(seen.requests.slice(before), []);

    // A fragment pasted into the open tab applies without a reload.
    await page.evaluate(() => { location.hash = '#sample=0&method=lrp&composite=epsilon-plus'; });
    s = await settled(page, "s => s.method === 'lrp' && s.composite === 'epsilon-plus'");
    assert.equal(s.input, samples[0]);
    assert.deepEqual(seen.errors, []);
  } finally {
    await page.close();
  }
});
