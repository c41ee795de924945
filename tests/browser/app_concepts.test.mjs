// relscope browser test — the canvas' concept browser (src/app/app_concepts.cpp over
// src/app/core/concept_browser.h) on the bundled demo, in headless Chromium (WebGL2 on SwiftShader).
//
// Sections: setup | helpers | tests
//
// What it checks: opened, the browser ranks the channels of a layer best first and its conditional maps
// (all channels) add up to the LRP heatmap the canvas shows (1e-5 of max|R|); a real mouse click on a
// thumbnail selects that channel, which gets its map (the crp map of that channel alone), an attribution
// tree rooted at it and cropped reference samples; the in-page atlas completes over the bundled samples,
// one sample at a time, with every channel's RelMax list in non-increasing order; the ranking, the atlas
// samples and the selection come from the page's worker; no network request after load; no page errors. The wasm build dir is RELSCOPE_WASM_BUILD (default build/wasm).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const DEMO = path.join(ROOT, 'assets', 'demo');
const manifest = fs.existsSync(path.join(DEMO, 'preprocess.json'))
  ? JSON.parse(fs.readFileSync(path.join(DEMO, 'preprocess.json'), 'utf8')) : {};
const demoSamples = (manifest.samples ?? []).filter((f) => fs.existsSync(path.join(DEMO, 'samples', f)));
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !manifest.model || demoSamples.length < 2 ? 'no bundled demo (assets/demo)' : false;

const fx = appFixture(skip);

// ---- helpers ---------------------------------------------------------------------------------------
async function openApp() {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watchPage(page);
  await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.prediction && s.computes > 0);
  }, null, { timeout: 90_000 });
  const state = await page.evaluate(() => globalThis.relscopeAppState());
  assert.equal(state.status, 'ready', `app state: ${JSON.stringify(state)}\nconsole:\n${seen.console.join('\n')}`);
  return { page, seen, state };
}

// The concept browser's state once `ready(c)` holds (checked in the page, as a function body over c).
async function conceptsWhen(page, body, timeout = 90_000) {
  await page.waitForFunction((src) => {
    const c = globalThis.relscopeAppState().concepts;
    return new Function('c', src)(c);
  }, body, { timeout });
  return page.evaluate(() => globalThis.relscopeAppState().concepts);
}

const nonIncreasing = (values) => values.every((v, k) => k === 0 || values[k - 1] >= v);

// ---- tests -----------------------------------------------------------------------------------------
test('concept browser: ranked channels whose maps add up to the LRP heatmap; click selects; the atlas completes',
  { skip, timeout: 240_000 }, async (t) => {
    const { page, seen, state } = await openApp();
    try {
      const atLoad = seen.requests.length;
      assert.equal(state.method, 'lrp');
      assert.equal(state.concepts.open, false, 'closed at start: it costs nothing until opened');
      for (const [k, v] of [['concept-maps', '1000'], ['concepts', '1']]) {
        assert.equal(await page.evaluate(([a, b]) => globalThis.relscopeAppSet(a, b), [k, v]), true, `set ${k}`);
      }
      // Ranked, every channel mapped, and the atlas done over the bundled samples.
      let c = await conceptsWhen(page, 'return c.error !== "" || (c.idle && c.atlas.complete && c.ranking.length > 0)');
      assert.equal(c.error, '');
      assert.ok(c.layers.includes(c.layer), `layer ${c.layer} is one of ${c.layers}`);
      assert.equal(c.ranking.length, c.channels);
      assert.ok(c.channels > 1);
      assert.equal(c.target, state.target, 'ranked for the class the canvas explains');
      assert.ok(nonIncreasing(c.ranking.map((r) => r.relevance)), 'ranked best first');
      assert.deepEqual([...c.mapChannels].sort((a, b) => a - b), [...Array(c.channels).keys()], 'a map per channel');
      assert.deepEqual(c.mapChannels, c.ranking.map((r) => r.channel), 'maps in ranking order');

      // The conditional maps add up to the canvas' LRP heatmap.
      const sums = await page.evaluate(() => {
        const maps = globalThis.relscopeAppTensor(3), lrp = globalThis.relscopeAppTensor(0);
        const per = lrp.data.length, k = maps.data.length / per;
        let maxAbs = 0, maxDiff = 0;
        for (let i = 0; i < per; ++i) {
          let s = 0;
          for (let j = 0; j < k; ++j) s += maps.data[j * per + i];
          maxAbs = Math.max(maxAbs, Math.abs(lrp.data[i]));
          maxDiff = Math.max(maxDiff, Math.abs(s - lrp.data[i]));
        }
        return { maxAbs, maxDiff, k, mapsShape: maps.shape, lrpShape: lrp.shape };
      });
      assert.equal(sums.k, c.channels);
      assert.deepEqual(sums.mapsShape, [1, c.channels, ...sums.lrpShape.slice(1)]);
      assert.ok(sums.maxAbs > 0);
      assert.ok(sums.maxDiff <= 1e-5 * sums.maxAbs, `max |sum of maps - LRP| = ${sums.maxDiff} > 1e-5 * ${sums.maxAbs}`);
      t.diagnostic(`${c.layer}: ${c.channels} channels; max |sum of maps - LRP| = ${sums.maxDiff.toExponential(2)} of max|R| ${sums.maxAbs.toExponential(2)}`);

      // The atlas over the bundled samples: every sample once, RelMax lists best first.
      assert.equal(c.atlas.done, demoSamples.length);
      assert.equal(c.atlas.total, demoSamples.length);
      assert.deepEqual([...c.atlas.samples].sort(), [...demoSamples].sort());
      assert.equal(c.atlas.relmax.length, Math.min(64, c.channels));
      for (const [ch, list] of c.atlas.relmax.entries()) {
        assert.equal(list.length, Math.min(c.atlas.k, demoSamples.length), `channel ${ch}: top k`);
        assert.ok(nonIncreasing(list.map(([, v]) => v)), `channel ${ch} RelMax order: ${JSON.stringify(list)}`);
        assert.equal(new Set(list.map(([id]) => id)).size, list.length, `channel ${ch}: no sample twice`);
      }
      for (const list of c.atlas.actmax) assert.ok(nonIncreasing(list.map(([, v]) => v)));

      // A real click on the second thumbnail selects its channel.
      await conceptsWhen(page, 'return c.thumbRects.length >= 2');
      c = await page.evaluate(() => globalThis.relscopeAppState().concepts);
      const rect = c.thumbRects[1];
      const canvasRect = (await page.evaluate(() => globalThis.relscopeAppState())).canvasRect;
      const x = canvasRect.x + rect.x + rect.w / 2, y = canvasRect.y + rect.y + rect.h / 2;
      await page.mouse.move(x, y);
      await page.waitForTimeout(100);
      await page.mouse.down();
      await page.waitForTimeout(100);
      await page.mouse.up();
      c = await conceptsWhen(page, `return c.selected === ${rect.channel} && c.idle && c.graph.length > 0 &&
        c.references.relmax.length > 0 && c.references.relmax.every((r) => r.cut)`);
      assert.equal(c.selected, c.ranking[1].channel, 'the second thumbnail is the second-ranked channel');
      // The ranking, the atlas samples and the selection were computed in the page's worker
      // (app_concepts_offload.cpp), not in a frame.
      assert.ok(c.delivered >= 2 + demoSamples.length,
        `answers from the worker: ${c.delivered}; ${seen.console.filter((l) => /concept/.test(l)).join(" / ")}`);
      assert.equal(c.waiting, false);
      assert.equal(c.graph[0].layer, c.layer);
      assert.equal(c.graph[0].channel, c.selected);
      assert.ok(Math.abs(c.graph[0].relevance - c.ranking[1].relevance) <= 1e-6 * Math.abs(c.ranking[1].relevance) + 1e-12);
      assert.ok(c.graph.every((n, k) => k === 0 || (n.depth <= 2 && n.parent >= 0)));
      assert.ok(nonIncreasing(c.references.relmax.map((r) => r.value)), 'references best first');
      for (const r of c.references.relmax) {
        assert.ok(r.crop && r.crop[0] > 0 && r.crop[1] > 0, `crop of ${r.name}: ${JSON.stringify(r)}`);
        assert.equal(r.crop[0], r.box[3] - r.box[1]);
        assert.equal(r.crop[1], r.box[2] - r.box[0]);
      }
      // The selected channel's large map is its slice of the maps.
      const same = await page.evaluate((k) => {
        const maps = globalThis.relscopeAppTensor(3), one = globalThis.relscopeAppTensor(4);
        const per = one.data.length;
        for (let i = 0; i < per; ++i) if (one.data[i] !== maps.data[k * per + i]) return false;
        return true;
      }, 1);
      assert.ok(same, 'the large map is the selected channel\'s conditional map');

      const late = seen.requests.slice(atLoad).filter((u) => !u.startsWith('blob:') && !u.startsWith('data:'));
      assert.deepEqual(late, [], 'no network request after load');
      assert.deepEqual(seen.errors, [], 'no page errors or console errors');
    } finally {
      await page.close();
    }
  });
