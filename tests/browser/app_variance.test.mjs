// relscope browser test — the canvas' Variance window (src/app/app_variance.cpp over
// src/app/core/variance_view.h) on the bundled Gaussian-head model (assets/variance), in headless Chromium.
//
// Sections: setup | helpers | tests
//
// What it checks: with the variance model open (#model=variance), the window's "drives the prediction" and
// "drives the uncertainty" maps are the mean and log-variance explanations the JS API gives for the same
// model and row (1e-5 of max|R|); its mean +- sd is the model's own output (sd = exp(logvar / 2)); the
// variance map lands mostly on the true variance drivers x3, x4 and the mean map on x0..x2. With three
// ensemble members added through the page's file path, the CovLRP section lists every member's prediction,
// reports their variance, and its diag and marg maps (plus the aleatoric term) agree with the JS API's CovLRP. A model
// without a Gaussian head says so instead of drawing maps. The wasm build dir is RELSCOPE_WASM_BUILD.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const VAR = path.join(ROOT, 'assets', 'variance');
const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !fs.existsSync(path.join(ROOT, 'assets', 'catalog.json')) || !fs.existsSync(path.join(VAR, 'gaussian_mlp.onnx'))
    ? 'no bundled variance model (assets/variance, assets/catalog.json)' : false;
const bytesOf = (name) => Array.from(fs.readFileSync(path.join(VAR, name)));

const fx = appFixture(skip);

// ---- helpers ---------------------------------------------------------------------------------------
async function openVarianceModel() {
  // Playwright's screen is the viewport: a canvas the size of the screen once made Emscripten's GLFW ask
  // for fullscreen and pointer lock on every resize (page errors, platform.cpp set_canvas_pixels).
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen = watchPage(page);
  await page.goto(`${fx.server.url}#model=variance`, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.share?.model === 'variance' && s.computes > 0 && !s.busy);
  }, null, { timeout: 120_000 });
  const state = await page.evaluate(() => globalThis.relscopeAppState());
  assert.equal(state.status, 'ready', `app state: ${JSON.stringify(state)}\nconsole:\n${seen.console.join('\n')}`);
  return { page, seen, state };
}

const set = (page, key, value) => page.evaluate(([k, v]) => globalThis.relscopeAppSet(k, v), [key, value]);

// Asks the window for its result (once the current compute is done) and waits for it.
async function varianceResult(page) {
  assert.equal(await set(page, 'variance-compute', '1'), true);
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState();
    return !s.variance.requested && !s.busy && (s.variance.valid || s.lastError !== '');
  }, null, { timeout: 120_000 });
  return page.evaluate(() => {
    const s = globalThis.relscopeAppState();
    const t = (k) => { const m = globalThis.relscopeAppTensor(k); return m ? { data: Array.from(m.data), shape: m.shape } : null; };
    return { s, v: s.variance, mean: t(5), var: t(6), cov: t(7), x: t(1) };
  });
}

// The JS API over the app's own module, on the same model bytes and input row.
async function apiExplain(page, modelBytes, x, params, method = 'lrp') {
  return page.evaluate(async ([bytes, xs, p, m]) => {
    const rs = globalThis.relscope;
    await rs.loadModel(new Uint8Array(bytes), 'gaussian_mlp.onnx');
    const input = { data: new Float32Array(xs.data), shape: xs.shape };
    const y = await rs.predict(input);
    const e = await rs.explain({ ...input, method: m, composite: globalThis.relscopeAppState().composite, params: p });
    return { outputs: Array.from(y.outputs[0].data), relevance: Array.from(e.relevance), explained: e.explained ?? null };
  }, [modelBytes, x, params, method]);
}

const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
function assertClose(got, want, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(maxAbs(want), 1e-30);
  const err = got.reduce((m, v, k) => Math.max(m, Math.abs(v - want[k])), 0) / scale;
  assert.ok(err <= 1e-5, `${what}: normalised max error ${err}`);
}
const share = (r, features) => features.reduce((s, f) => s + Math.abs(r[f]), 0) / r.reduce((s, v) => s + Math.abs(v), 0);

// ---- tests -----------------------------------------------------------------------------------------
test('variance window: mean and uncertainty maps, mean +- sd, and CovLRP over an ensemble',
  { skip, timeout: 300_000 }, async () => {
    const { page, seen, state } = await openVarianceModel();
    try {
      assert.equal(state.inputKind, 'array');
      assert.deepEqual(state.inputShape, [1, 8]);
      assert.equal(await set(page, 'variance', '1'), true, 'the window opens');
      assert.equal(await set(page, 'composite', 'epsilon'), true);
      assert.equal(await set(page, 'row', '3'), true);
      const r = await varianceResult(page);
      assert.equal(r.s.lastError, '', r.s.lastError);
      assert.equal(r.v.open, true);
      assert.equal(r.v.gaussian, true, r.v.headProblem);
      assert.match(r.v.meanText, /^mean of output 'mean_logvar' unit 0/);
      assert.match(r.v.varText, /^log-variance of output 'mean_logvar' unit 1/);
      assert.deepEqual(r.v.mapShape, [1, 8]);
      assert.equal(r.v.hasCov, false, 'no members yet');

      // The same explanations through the JS API (mean, then the log-variance), and the model's outputs.
      const model = bytesOf('gaussian_mlp.onnx');
      const m = await apiExplain(page, model, r.x, { explain: 'mean' });
      const v = await apiExplain(page, model, r.x, { explain: 'variance' });
      assertClose(r.mean.data, m.relevance, 'drives the prediction vs rs.explain(explain: mean)');
      assertClose(r.var.data, v.relevance, 'drives the uncertainty vs rs.explain(explain: variance)');
      assert.ok(Math.abs(r.v.mean - m.outputs[0]) <= 1e-5 * Math.max(1, Math.abs(m.outputs[0])), `mean ${r.v.mean} vs ${m.outputs[0]}`);
      const sd = Math.exp(m.outputs[1] / 2);
      assert.ok(Math.abs(r.v.sd - sd) <= 1e-5 * sd, `sd ${r.v.sd} vs exp(logvar/2) = ${sd}`);
      // Which features drive what (the data-generating process of assets/variance/README.md).
      assert.ok(share(r.mean.data, [0, 1, 2]) > 0.8, `mean map on x0..x2: ${share(r.mean.data, [0, 1, 2])}`);
      assert.ok(share(r.var.data, [3, 4]) > 0.5, `variance map on x3, x4: ${share(r.var.data, [3, 4])}`);

      // Three ensemble members through the page's file path (the window's "Add ensemble member...").
      const members = ['ensemble_1.onnx', 'ensemble_2.onnx', 'ensemble_3.onnx'];
      for (const name of members) {
        assert.equal(await set(page, 'variance-member', '1'), true);
        const ok = await page.evaluate(async ([n, b]) => {
          const [res] = await globalThis.relscopeAppOpen([new File([new Uint8Array(b)], n)]);
          return res.ok;
        }, [name, bytesOf(name)]);
        assert.ok(ok, `${name} opened as a member`);
      }
      let s = await page.evaluate(() => globalThis.relscopeAppState());
      assert.deepEqual(s.variance.members, members);
      assert.equal(s.model, state.model, 'members do not replace the model');

      for (const cov of ['diag', 'marg']) {
        assert.equal(await set(page, 'variance-cov', cov), true);
        const c = await varianceResult(page);
        assert.equal(c.s.lastError, '', c.s.lastError);
        assert.equal(c.v.hasCov, true);
        assert.equal(c.v.memberOutputs.length, 4, 'the model and three members');
        const o = c.v.memberOutputs;
        const mu = o.reduce((a, b) => a + b, 0) / o.length;
        const varOut = o.reduce((a, b) => a + (b - mu) ** 2, 0) / o.length;
        assert.ok(Math.abs(c.v.outputVariance - varOut) <= 1e-4 * Math.max(varOut, 1e-12),
          `reported output variance ${c.v.outputVariance} vs the members' ${varOut}`);
        assert.deepEqual(c.cov.shape, [1, 8]);
        // Gaussian-head members: the map is CovLRP plus the aleatoric term (the members' variance units).
        const total = c.cov.data.reduce((a, b) => a + b, 0);
        const want = c.v.covTotal + c.v.aleatoricTotal;
        assert.ok(c.v.aleatoricTotal > 0, `aleatoric term ${c.v.aleatoricTotal}`);
        assert.ok(Math.abs(total - want) <= 1e-4 * Math.max(Math.abs(want), 1e-12), `map total ${total} vs ${want}`);
        // The JS API's CovLRP over the same members gives the same map, and its diag part is a variance.
        const api = await page.evaluate(async ([modelBytes, mem, xs, kind]) => {
          const rs = globalThis.relscope;
          await rs.loadModel(new Uint8Array(modelBytes), 'gaussian_mlp.onnx');
          for (const [n, b] of mem) await rs.loadEnsembleMember(new Uint8Array(b), n);
          const e = await rs.explain({ data: new Float32Array(xs.data), shape: xs.shape, method: 'cov-lrp',
            composite: globalThis.relscopeAppState().composite, params: { ensemble: mem.map(([n]) => n).join(','), cov: kind } });
          return { relevance: Array.from(e.relevance), diag: Array.from(e.cov.diag.data ?? e.cov.diag) };
        }, [model, members.map((n) => [n, bytesOf(n)]), c.x, cov]);
        assertClose(c.cov.data, api.relevance, `CovLRP-${cov} vs rs.explain(cov-lrp)`);
        assert.ok(api.diag.every((x) => x >= -1e-12), `CovLRP-diag is a variance per feature: ${api.diag}`);
      }

      // Another row: a new compute drops the window's result until it is asked for again.
      assert.equal(await set(page, 'row', '5'), true);
      await page.waitForFunction((n) => {
        const st = globalThis.relscopeAppState();
        return st.computes > n && !st.busy;
      }, s.computes, { timeout: 60_000 });
      s = await page.evaluate(() => globalThis.relscopeAppState());
      assert.equal(s.variance.valid, false, 'a stale result is not shown for a new row');

      // A model without a Gaussian head (the demo classifier): the window says so, and draws no maps.
      assert.equal(await set(page, 'model', 'demo'), true);
      await page.waitForFunction(() => {
        const st = globalThis.relscopeAppState();
        return st.share?.model === 'demo' && st.computes > 0 && !st.busy && st.inputKind === 'image';
      }, null, { timeout: 120_000 });
      const d = await varianceResult(page);
      assert.equal(d.v.valid, true);
      assert.equal(d.v.gaussian, false);
      assert.ok(d.v.headProblem.length > 10, `says why: ${d.v.headProblem}`);
      assert.equal(d.mean, null);
      assert.deepEqual(d.v.members, [], 'a new model drops the members');
      assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
    } finally {
      await page.close();
    }
  });
