// relscope browser test — the app keeps working with the network gone (web/sw.js).
//
// The page is opened once while its server runs; then the server is shut down (connections refused, as
// with no network at all) and the page is reloaded and opened in a new tab: both come up with the
// bundled demo predicted and explained exactly as before, from the service worker's copy; lessons on other
// bundled models (never opened online) open too.
// The wasm build dir is RELSCOPE_WASM_BUILD (default build/wasm, as for scripts/serve.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(ROOT, 'assets', 'demo', 'preprocess.json')) ? 'no bundled demo' : false;

const fx = appFixture(skip);

async function whenReady(page) {
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.prediction && s.heatmapShape);
  }, null, { timeout: 90_000 });
  return page.evaluate(() => {
    const s = globalThis.relscopeAppState();
    const r = globalThis.relscopeAppTensor(0);
    return { status: s.status, prediction: s.prediction, model: s.model, heatmap: Array.from(r.data), offline: globalThis.relscopeOffline };
  });
}

test('with the network gone, the page reloads and opens from the offline copy', { skip, timeout: 240_000 }, async (t) => {
  const context = await fx.browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const seen = watchPage(page);
    await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
    const online = await whenReady(page);
    assert.equal(online.status, 'ready', `console:\n${seen.console.join('\n')}`);
    assert.equal(online.offline.skipped, undefined, `offline copy: ${JSON.stringify(online.offline)}`);
    assert.deepEqual(online.offline.missing, []);
    // page, module, wasm, the catalog and every bundled model's manifest, model, labels and samples
    const catalog = JSON.parse(fs.readFileSync(path.join(ROOT, 'assets', 'catalog.json'), 'utf8'));
    assert.ok(online.offline.stored >= 5 + 3 * catalog.models.length, `stored ${online.offline.stored} files`);
    t.diagnostic(`offline copy: ${online.offline.stored} files`);

    await fx.server.close();   // from here every request to the origin is refused
    fx.server = null;
    await page.reload({ waitUntil: 'load', timeout: 60_000 });
    const reloaded = await whenReady(page);
    assert.equal(reloaded.status, 'ready', `console:\n${seen.console.join('\n')}`);
    assert.deepEqual(reloaded.prediction, online.prediction);
    assert.equal(reloaded.model, online.model);
    assert.deepEqual(reloaded.heatmap, online.heatmap, 'the same relevance, bit for bit');

    const second = await context.newPage();
    await second.goto(page.url(), { waitUntil: 'load', timeout: 60_000 });
    const fresh = await whenReady(second);
    assert.equal(fresh.status, 'ready');
    assert.deepEqual(fresh.prediction, online.prediction);

    // Every bundled model is in the copy, not only the demo the page opened: a lesson on another model
    // (fetched for the first time now) opens, computes and makes its finding with the server gone.
    for (const [lesson, model] of [['dna', 'dna_motif'], ['uncertainty', 'variance']]) {
      assert.equal(await second.evaluate((id) => globalThis.relscopeAppSet('lesson', id), lesson), true);
      await second.waitForFunction((m) => {
        const s = globalThis.relscopeAppState();
        return !s.busy && s.share.model === m && s.lesson.finding && s.lesson.computes === s.computes;
      }, model, { timeout: 90_000 });
      const l = await second.evaluate(() => globalThis.relscopeAppState().lesson);
      assert.ok(l.finding.holds, `${lesson} offline: ${l.finding.sentence}`);
      t.diagnostic(`offline lesson ${lesson}: ${l.finding.sentence}`);
    }
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});
