// relscope browser test — the Lessons menu: every lesson step opens its bundled model, sample, method and
// parameters, and its live finding holds; the key numbers are recomputed here from the relevance the page
// exposes, against the regions the models recorded (assets/*/samples/expected.json). A link with
// #lesson=...&lesson-step=... opens a lesson directly.
// The wasm build dir is RELSCOPE_WASM_BUILD (default build/wasm, as for scripts/serve.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const readJson = (p) => JSON.parse(fs.readFileSync(path.join(ROOT, p), 'utf8'));
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(ROOT, 'assets', 'catalog.json')) ? 'no assets/catalog.json' : false;
const hans = skip ? null : readJson('assets/clever_hans/samples/expected.json');
const dna = skip ? null : readJson('assets/dna_motif/samples/expected.json');

const fx = appFixture(skip);

// Waits until the open lesson's step is applied, computed and its finding made for the latest compute.
async function lessonSettled(page, id, step) {
  await page.waitForFunction(([lid, lstep]) => {
    const s = globalThis.relscopeAppState?.();
    if (!s || document.documentElement.dataset.relscope !== 'ready' || s.busy) return false;
    const l = s.lesson;
    if (l.error) return true;   // reported below
    return l.id === lid && l.step === lstep && !l.waiting && l.finding && l.computes === s.computes && s.share.model === l.model;
  }, [id, step], { timeout: 120_000 });
  return page.evaluate(() => {
    const s = globalThis.relscopeAppState();
    const r = globalThis.relscopeAppTensor(0);
    return { s, r: { data: Array.from(r.data), shape: r.shape } };
  });
}

// Positive share of a [1,C,H,W] map inside rows/cols (inclusive), summed over channels.
function boxShare({ data, shape }, r0, r1, c0, c1) {
  const [, c, h, w] = shape;
  let inside = 0, all = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = 0; k < c; k++) v += data[(k * h + y) * w + x];
      v = Math.max(0, v);
      all += v;
      if (y >= r0 && y <= r1 && x >= c0 && x <= c1) inside += v;
    }
  }
  return inside / all;
}

// Per-position relevance of a [1,C,L] map.
function positions({ data, shape }) {
  const [, c, l] = shape;
  return Array.from({ length: l }, (_, p) => { let v = 0; for (let k = 0; k < c; k++) v += data[k * l + p]; return v; });
}

// Total variation of a [1,C,H,W] map (channels summed) over its sum of |R|.
function roughness({ data, shape }) {
  const [, c, h, w] = shape;
  const m = Array.from({ length: h * w }, (_, p) => { let v = 0; for (let k = 0; k < c; k++) v += data[k * h * w + p]; return v; });
  let tv = 0, all = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = m[y * w + x];
      all += Math.abs(v);
      if (x + 1 < w) tv += Math.abs(m[y * w + x + 1] - v);
      if (y + 1 < h) tv += Math.abs(m[(y + 1) * w + x] - v);
    }
  }
  return tv / all;
}

// What each step must show, beyond finding.holds, checked on the page's own numbers.
const region = () => [hans.region.top, hans.region.top + hans.region.height - 1, hans.region.left, hans.region.left + hans.region.width - 1];
const CHECKS = {
  'heatmap/1': ({ s, f }) => {
    assert.equal(s.compare, true, 'gradient on the right');
    assert.ok(f.value > 0.5 && f.value < 1.2, `LRP conserves most of the score: ${f.value}`);
    assert.ok(Math.abs(f.value - f.other) > 0.3, `the gradient's sum differs: ${f.other}`);
  },
  'composites/1': ({ f, r }) => {
    assert.ok(f.value <= 0.8 * f.other, `Flat's map is smoother: roughness ${f.value} vs ${f.other}`);
    const tv = roughness(r);
    assert.ok(Math.abs(tv - f.value) < 1e-4 * tv, `the panel's number is the map's: ${f.value} vs ${tv}`);
  },
  'clever-hans/1': ({ s, f, r }) => {
    assert.equal(s.input, '4_shirt_marked.png');
    assert.equal(s.prediction.label, 'Shirt');
    const share = boxShare(r, ...region());
    assert.ok(share >= 0.5, `>= 50% of the positive relevance in the watermark region: ${share}`);
    assert.ok(Math.abs(share - f.value) < 1e-4, `the panel's number is the map's: ${f.value} vs ${share}`);
  },
  'clever-hans/2': ({ s, r }) => {
    assert.equal(s.input, '4_shirt.png');
    assert.ok(boxShare(r, ...region()) < 0.2, 'without the mark the region is nearly empty');
  },
  'clever-hans/3': ({ f }) => {
    const marked = hans.samples.filter((x) => x.marked).length;
    assert.equal(f.count, marked, 'every marked sample is surveyed');
    assert.ok(f.min >= 0.5, `every marked sample: >= 50% in the region (min ${f.min})`);
  },
  'concepts/1': ({ s, f, r }) => {
    assert.equal(s.method, 'crp');
    assert.ok(boxShare(r, ...region()) >= 0.5, 'the concept map sits on the watermark');
    assert.ok(f.other > 0.1 && f.other < 0.6, `the concept carries a part of all relevance: ${f.other}`);
  },
  'pruned/1': ({ s, f }) => {
    assert.equal(s.method, 'pruned-lrp');
    assert.ok(Math.abs(s.gini - f.value) < 1e-9, 'the finding is the heatmap\'s Gini');
    assert.ok(f.value > f.other + 0.05, `pruning raises the Gini: ${f.other} -> ${f.value}`);
  },
  'uncertainty/1': ({ s, f }) => {
    assert.equal(s.inputKind, 'array', 'the 64 test rows of assets/variance/samples.npy');
    assert.equal(s.target, 0);
    assert.equal(f.count, s.rows);
    assert.ok(f.value >= 0.8, `>= 80% of |R| of the mean on x0..x2 (mean ${f.value}, min ${f.min})`);
  },
  'uncertainty/2': ({ s, f }) => {
    assert.equal(s.target, 1, 'the log-variance unit');
    assert.equal(f.count, s.rows);
    assert.ok(f.value >= 0.8, `>= 80% of |R| of the log-variance on x3, x4 (mean ${f.value}, min ${f.min})`);
  },
  'dna/1': ({ s, r, f }) => {
    const rec = dna.samples.find((x) => x.file === s.input);
    const len = dna.motif.length;
    const pos = positions(r);
    const top = pos.indexOf(Math.max(...pos));
    assert.ok(top >= rec.motif_start && top < rec.motif_start + len, `top position ${top} inside the motif at ${rec.motif_start}`);
    const top8 = pos.map((v, p) => [v, p]).sort((a, b) => b[0] - a[0]).slice(0, len).map(([, p]) => p);
    assert.ok(top8.every((p) => p >= rec.motif_start && p < rec.motif_start + len), `top ${len} positions: ${top8}`);
    assert.equal(f.other, len);
  },
  'dna/2': ({ f }) => assert.ok(f.value <= 0.1, `the decoy gets almost nothing: ${f.value}`),
  'faithfulness/1': ({ s, f }) => {
    assert.equal(s.compare, true, 'the gradient on the right');
    assert.equal(f.count, 6, 'every demo sample is surveyed');
    assert.ok(f.min >= 0.5, `LRP's AOPC beats the gradient's on every sample: smallest gain ${f.min}`);
    assert.equal(s.input, '0_ankle_boot.png', 'the survey puts the shown sample back');
  },
};

test('every lesson step opens its model and settings, and its finding holds', { skip, timeout: 600_000 }, async (t) => {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watchPage(page);
  try {
    await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => document.documentElement.dataset.relscope === 'ready' && globalThis.relscopeAppState?.().prediction, null, { timeout: 90_000 });
    const all = await page.evaluate(() => globalThis.relscopeAppState().lesson.all);
    assert.ok(all.length >= 7, 'seven lessons');
    const walked = [];
    for (const lesson of all) {
      assert.equal(await page.evaluate((id) => globalThis.relscopeAppSet('lesson', id), lesson.id), true);
      for (let step = 1; step <= lesson.steps; step++) {
        if (step > 1) assert.equal(await page.evaluate((n) => globalThis.relscopeAppSet('lesson-step', n), step), true);
        const { s, r } = await lessonSettled(page, lesson.id, step);
        const f = s.lesson.finding;
        assert.equal(s.lesson.error, '', `${lesson.id}/${step}: ${s.lesson.error}`);
        assert.ok(f.holds, `${lesson.id}/${step}: ${f.sentence}`);
        const check = CHECKS[`${lesson.id}/${step}`];
        assert.ok(check, `a check for ${lesson.id}/${step}`);
        check({ s, f, r });
        t.diagnostic(`${lesson.id}/${step} (${s.share.model}): value ${f.value.toFixed(4)} other ${f.other.toFixed(4)} min ${f.min.toFixed(4)} n ${f.count} - ${f.sentence}`);
        walked.push(`${lesson.id}/${step}`);
      }
    }
    assert.deepEqual(walked.sort(), Object.keys(CHECKS).sort(), 'every step was walked');
    // The fragment names the lesson: a link to it.
    const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
    assert.equal(hash.get('lesson'), all[all.length - 1].id);
    assert.equal(hash.get('model') ?? 'demo', all[all.length - 1].model);   // the demo is the default: left out
    assert.deepEqual(seen.errors, []);
  } finally {
    await page.close();
  }
});

test('a link opens a lesson step on its model directly', { skip, timeout: 240_000 }, async () => {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watchPage(page);
  try {
    await page.goto(`${fx.server.url}#lesson=clever-hans&lesson-step=2`, { waitUntil: 'load', timeout: 60_000 });
    const { s } = await lessonSettled(page, 'clever-hans', 2);
    assert.equal(s.share.model, 'clever_hans');
    assert.equal(s.input, '4_shirt.png');
    assert.ok(s.lesson.finding.holds);
    // #model=<id> alone opens a bundled model (its default sample).
    await page.evaluate(() => { location.hash = '#model=dna_motif'; });
    await page.waitForFunction(() => {
      const st = globalThis.relscopeAppState();
      return st.share.model === 'dna_motif' && st.prediction && !st.busy && st.inputKind === 'array';
    }, null, { timeout: 60_000 });
    assert.deepEqual(seen.errors, []);
  } finally {
    await page.close();
  }
});
