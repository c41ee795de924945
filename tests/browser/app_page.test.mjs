// relscope browser test — the ImGui canvas app (web/index.html + web/app.mjs + relscope_app.wasm) in
// headless Chromium (WebGL2 on SwiftShader), served by scripts/serve.mjs.
//
// Sections: setup | PNG decoding | helpers | tests
//
// What it checks: with no clicks the bundled demo is predicted and explained and the heatmap is on the
// canvas (pixels, from a screenshot); a corrupt model through the real <input type=file> is a message,
// the previous state stays usable, and files dropped on the canvas open too; the demo model + a sample
// image through the file input give the native CLI's relevance (max abs diff <= 1e-4 max|R|); exports
// are local downloads; after load the page makes no network request at all; .csv tables and .npy
// sequences get bars; the canvas is high-DPI.
// The wasm build dir is RELSCOPE_WASM_BUILD (default build/wasm, as for scripts/serve.mjs); the CLI is
// RELSCOPE_CLI (default build/native/bin/relscope).
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

// ---- setup -----------------------------------------------------------------------------------------
const APP_JS = path.join(WASM_BUILD, 'web', 'relscope_app.js');
const DEMO = path.join(ROOT, 'assets', 'demo');
const CLI = process.env.RELSCOPE_CLI || path.join(ROOT, 'build', 'native', 'bin', 'relscope');
// The demo's preprocess.json is also its manifest (what web/app.mjs hands the app).
const manifest = fs.existsSync(path.join(DEMO, 'preprocess.json'))
  ? JSON.parse(fs.readFileSync(path.join(DEMO, 'preprocess.json'), 'utf8')) : {};
const demoModel = manifest.model;
const demoSamples = (manifest.samples ?? []).filter((f) => fs.existsSync(path.join(DEMO, 'samples', f)));
const defaultSample = manifest.default_sample ?? demoSamples[0];

const skip = !fs.existsSync(APP_JS) ? `no app build (${path.relative(ROOT, APP_JS)})`
  : !demoModel || !fs.existsSync(path.join(DEMO, demoModel)) ? 'no bundled demo model (assets/demo/preprocess.json)'
  : demoSamples.length < 2 ? 'fewer than two demo samples in assets/demo/samples' : false;

const fx = appFixture(skip);

// ---- PNG decoding ----------------------------------------------------------------------------------
// Enough of PNG for Chromium's screenshots: 8-bit RGB/RGBA, non-interlaced, filters 0-4.
function decodePng(buf) {
  assert.equal(buf.subarray(0, 8).toString('latin1'), '\x89PNG\r\n\x1a\n', 'PNG signature');
  let pos = 8;
  let width = 0, height = 0, colorType = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.subarray(pos + 4, pos + 8).toString('latin1');
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      colorType = data[9];
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const bpp = { 2: 3, 6: 4, 0: 1, 4: 2 }[colorType];
  assert.ok(bpp, `color type ${colorType}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; ++y) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; ++x) {
      const a = x >= bpp ? out[y * stride + x - bpp] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? out[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = v & 255;
    }
  }
  return { width, height, bpp, pixels: out };
}

// ---- helpers ---------------------------------------------------------------------------------------
async function openApp() {
  const page = await fx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const seen = watchPage(page);
  await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => {
    const s = globalThis.relscopeAppState?.();
    return document.documentElement.dataset.relscope === 'error' ||
      (document.documentElement.dataset.relscope === 'ready' && s && s.prediction && s.heatmapRect.w > 0);
  }, null, { timeout: 90_000 });
  const state = await page.evaluate(() => globalThis.relscopeAppState());
  assert.equal(state.status, 'ready', `app state: ${JSON.stringify(state)}\nconsole:\n${seen.console.join('\n')}`);
  return { page, seen, state };
}

// Waits until the app has computed more than `computes` times (or recorded an error), returns the state.
async function nextState(page, computes, timeout = 60_000) {
  await page.waitForFunction((n) => {
    const s = globalThis.relscopeAppState();
    return (s.computes > n && !s.busy) || s.lastError !== '';
  }, computes, { timeout });
  return page.evaluate(() => globalThis.relscopeAppState());
}

const fileArg = (file, name = path.basename(file)) => ({ name, mimeType: 'application/octet-stream', buffer: fs.readFileSync(file) });

function readNpyFloat32(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const data = buf.subarray(10 + headerLen);
  return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

function writeNpyFloat32(file, data, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// ---- tests -----------------------------------------------------------------------------------------
test('the demo is predicted and explained with no clicks, and the heatmap is on the canvas',
  { skip, timeout: 120_000 }, async () => {
    const { page, seen, state } = await openApp();
    try {
      assert.equal(state.model, demoModel);
      assert.equal(state.lastError, '');
      assert.equal(state.method, 'lrp');
      assert.ok(state.prediction.label.length > 0 && state.prediction.score > 0, JSON.stringify(state.prediction));
      assert.deepEqual(state.heatmapShape, state.inputShape, 'relevance has the input\'s shape');
      assert.equal(state.input, defaultSample, 'the default sample is the input');
      assert.match(state.backend, /wasm simd128/);

      // window.relscope is the JS API over the app's own module: it predicts the demo the same way.
      const api = await page.evaluate(async () => {
        const bytes = new Uint8Array(await (await fetch('/assets/demo/fashion_cnn.onnx')).arrayBuffer());
        const info = await globalThis.relscope.loadModel(bytes, 'fashion_cnn.onnx');
        const x = globalThis.relscopeAppTensor(1);
        const y = await globalThis.relscope.predict({ data: x.data, shape: x.shape });
        const logits = Array.from(y.outputs[0].data);
        return { inputs: info.inputs.map((i) => i.shape), argmax: logits.indexOf(Math.max(...logits)) };
      });
      assert.deepEqual(api.inputs, [[null, 1, 28, 28]]);
      assert.equal(api.argmax, state.prediction.index, 'window.relscope.predict agrees with the canvas');

      // The pruned-LRP slider: P = 0 is LRP; a larger P makes the heatmap sparser (Gini rises) and the
      // panel reports each pruned layer (the demo has three linear layers after the first).
      let s = await page.evaluate(() => JSON.parse(JSON.stringify(globalThis.relscopeAppState())));
      const gini = {};
      for (const [k, v] of [['method', 'pruned-lrp'], ['prune', '0'], ['prune', '0.6']]) {
        assert.equal(await page.evaluate(([a, b]) => globalThis.relscopeAppSet(a, b), [k, v]), true, `set ${k}`);
        s = await nextState(page, s.computes);
        assert.equal(s.lastError, '', `after ${k}=${v}`);
        if (k === 'prune') gini[v] = s.gini;
      }
      assert.ok(Math.abs(gini['0'] - state.gini) < 1e-9, `P=0 is plain LRP (${gini['0']} vs ${state.gini})`);
      assert.ok(gini['0.6'] > gini['0'] + 0.05, `Gini ${gini['0']} -> ${gini['0.6']}`);
      assert.equal(s.prunedLayers, 3);

      // The heatmap region of a screenshot is not blank: many distinct colours, real variance.
      const r = state.heatmapRect, c = state.canvasRect;
      const clip = { x: c.x + r.x + 2, y: c.y + r.y + 2, width: Math.max(4, r.w - 4), height: Math.max(4, r.h - 4) };
      const png = decodePng(await page.screenshot({ clip, timeout: 30_000 }));
      const colours = new Set();
      let sum = 0, sum2 = 0, n = 0;
      for (let k = 0; k < png.pixels.length; k += png.bpp) {
        const [R, G, B] = [png.pixels[k], png.pixels[k + 1], png.pixels[k + 2]];
        colours.add((R << 16) | (G << 8) | B);
        const l = 0.299 * R + 0.587 * G + 0.114 * B;
        sum += l;
        sum2 += l * l;
        ++n;
      }
      const sd = Math.sqrt(sum2 / n - (sum / n) ** 2);
      assert.ok(colours.size >= 16, `heatmap region has ${colours.size} distinct colours`);
      assert.ok(sd > 8, `heatmap region luminance sd ${sd.toFixed(1)}`);
      // Some pixels are coloured (a diverging colormap, not gray): relevance is visible.
      let tinted = 0;
      for (let k = 0; k < png.pixels.length; k += png.bpp) {
        const [R, G, B] = [png.pixels[k], png.pixels[k + 1], png.pixels[k + 2]];
        if (Math.max(R, G, B) - Math.min(R, G, B) > 40) ++tinted;
      }
      assert.ok(tinted > n / 50, `${tinted} of ${n} pixels are coloured`);
      assert.deepEqual(seen.errors, [], 'no page errors or console errors');
    } finally {
      await page.close();
    }
  });

test('a corrupt model through the file input is a message; the previous state stays usable; drops work',
  { skip, timeout: 120_000 }, async () => {
    const { page, seen, state } = await openApp();
    try {
      const good = fs.readFileSync(path.join(DEMO, demoModel));
      const corrupt = Buffer.concat([good.subarray(0, Math.floor(good.length / 3)), Buffer.from('not protobuf')]);
      await page.setInputFiles('#file-input', { name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: corrupt });
      await page.waitForFunction(() => globalThis.relscopeAppState().lastError !== '', null, { timeout: 30_000 });
      const s = await page.evaluate(() => globalThis.relscopeAppState());
      assert.match(s.lastError, /broken\.onnx/, 'the message names the file');
      assert.match(s.lastError, /^(bad input|unsupported|limit)/, 'the message says what kind of problem it is');
      assert.equal(s.status, 'ready');
      assert.equal(s.model, state.model, 'the previous model stays');
      assert.equal(s.modelHash, state.modelHash);
      assert.deepEqual(s.prediction, state.prediction, 'the previous results stay');

      // Garbage that is not a model at all, and an image that does not decode: messages too.
      await page.setInputFiles('#file-input', { name: 'junk.png', mimeType: 'image/png', buffer: Buffer.from('\x89PNG\r\n\x1a\nxx') });
      await page.waitForFunction(() => /junk\.png/.test(globalThis.relscopeAppState().lastError), null, { timeout: 30_000 });

      // Still works: another sample through the file input is predicted and explained.
      const sample = demoSamples[demoSamples.length - 1];
      await page.setInputFiles('#file-input', fileArg(path.join(DEMO, 'samples', sample)));
      const t = await nextState(page, s.computes);
      assert.equal(t.lastError, '', 'a good file clears the message');
      assert.equal(t.input, sample);
      assert.equal(t.model, state.model);
      assert.ok(t.prediction && t.heatmapShape, JSON.stringify(t));

      // Dropping a file on the canvas goes the same way (a DataTransfer with a File, as a drag from the desktop).
      const dropped = demoSamples.find((f) => f !== sample && f !== defaultSample) ?? defaultSample;
      const bytes = Array.from(fs.readFileSync(path.join(DEMO, 'samples', dropped)));
      const dataTransfer = await page.evaluateHandle(([name, b]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(b)], name, { type: 'image/png' }));
        return dt;
      }, [dropped, bytes]);
      await page.dispatchEvent('#canvas', 'dragenter', { dataTransfer });
      await page.dispatchEvent('#canvas', 'drop', { dataTransfer });
      const u = await nextState(page, t.computes);
      assert.equal(u.lastError, '');
      assert.equal(u.input, dropped);
      assert.deepEqual(seen.errors, [], 'errors are messages in the canvas, not page errors');
    } finally {
      await page.close();
    }
  });

test('demo model + sample through the file input: relevance equals the native CLI\'s',
  { skip: skip || (!fs.existsSync(CLI) && `no native CLI (${CLI})`), timeout: 120_000 }, async (t) => {
    const { page, state } = await openApp();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-app-'));
    try {
      const sample = demoSamples.find((f) => f !== defaultSample);
      await page.setInputFiles('#file-input', [fileArg(path.join(DEMO, 'samples', sample)), fileArg(path.join(DEMO, demoModel))]);
      const s = await nextState(page, state.computes);
      assert.equal(s.lastError, '');
      assert.equal(s.input, sample);
      assert.equal(s.model, demoModel);
      const app = await page.evaluate(() => {
        const r = globalThis.relscopeAppTensor(0), x = globalThis.relscopeAppTensor(1);
        return { r: Array.from(r.data), rShape: r.shape, x: Array.from(x.data), xShape: x.shape };
      });
      assert.deepEqual(app.rShape, app.xShape);

      // The CLI on the same image with the demo's preprocessing (its own decoder and resize); a CLI
      // without image inputs gets the app's input tensor instead.
      const p = manifest.preprocess ?? manifest.image ?? manifest;
      const list = (v) => (Array.isArray(v) ? v : [v]).join(',');
      const common = ['--method', s.method, '--composite', s.composite, '--out', path.join(tmp, 'R.npy')];
      let how = 'image';
      try {
        const imgArgs = [];
        if (p.mean !== undefined) imgArgs.push('--mean', list(p.mean));
        if (p.std !== undefined) imgArgs.push('--std', list(p.std));
        execFileSync(CLI, ['explain', path.join(DEMO, demoModel), path.join(DEMO, 'samples', sample), ...imgArgs, ...common],
          { stdio: 'pipe', timeout: 60_000 });
      } catch (err) {
        how = `npy (the CLI did not take the image: ${String(err.stderr || err.message).trim().split('\n')[0]})`;
        writeNpyFloat32(path.join(tmp, 'x.npy'), Float32Array.from(app.x), app.xShape);
        execFileSync(CLI, ['explain', path.join(DEMO, demoModel), path.join(tmp, 'x.npy'), ...common], { stdio: 'pipe', timeout: 60_000 });
      }
      const cli = readNpyFloat32(path.join(tmp, 'R.npy'));
      assert.equal(cli.length, app.r.length, `relevance sizes (${how})`);
      let maxAbs = 0, maxDiff = 0;
      for (let k = 0; k < cli.length; ++k) {
        maxAbs = Math.max(maxAbs, Math.abs(cli[k]));
        maxDiff = Math.max(maxDiff, Math.abs(cli[k] - app.r[k]));
      }
      assert.ok(maxAbs > 0, 'the relevance is not all zero');
      assert.ok(maxDiff <= 1e-4 * maxAbs, `max |R_app - R_cli| = ${maxDiff} > 1e-4 * ${maxAbs} (${how})`);
      t.diagnostic(`CLI input: ${how}; max |R_app - R_cli| = ${maxDiff.toExponential(2)}, max |R| = ${maxAbs.toExponential(2)}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      await page.close();
    }
  });

test('exports are local downloads, and after load the page makes no requests',
  { skip, timeout: 120_000 }, async () => {
    const { page, seen, state } = await openApp();
    try {
      const offOrigin = seen.requests.filter((u) => !u.startsWith(fx.server.url) && !u.startsWith('data:') && !u.startsWith('blob:'));
      assert.deepEqual(offOrigin, [], 'every load request goes to the page\'s own origin');
      assert.ok(seen.requests.some((u) => u.endsWith('/relscope_app.wasm')), 'the app module was fetched');
      assert.ok(seen.requests.some((u) => u.includes('/assets/demo/')), 'the demo was fetched from this origin');
      const atLoad = seen.requests.length;

      // Use the app: other settings (recompute), compare, mouse over and clicks on the canvas, a file.
      for (const [k, v] of [['method', 'gradient'], ['compare', '1'], ['compare-method', 'lrp'], ['colormap', 'coldnhot']]) {
        assert.equal(await page.evaluate(([a, b]) => globalThis.relscopeAppSet(a, b), [k, v]), true, `set ${k}`);
      }
      const s = await nextState(page, state.computes);
      assert.equal(s.lastError, '');
      assert.equal(s.method, 'gradient');
      assert.equal(s.compare, true);
      await page.mouse.move(640, 400);
      await page.mouse.click(640, 300);
      await page.mouse.wheel(0, 200);
      await page.setInputFiles('#file-input', fileArg(path.join(DEMO, 'samples', demoSamples[0])));
      await nextState(page, s.computes);

      // Exports: browser downloads of Blob URLs made in the page.
      const got = {};
      for (const kind of ['png', 'npy', 'json']) {
        const [download] = await Promise.all([
          page.waitForEvent('download', { timeout: 30_000 }),
          page.evaluate((k) => globalThis.relscope.module.ccall('relscope_app_export', 'number', ['string'], [k]), kind),
        ]);
        assert.match(download.url(), /^blob:/, `${kind} download is a Blob URL`);
        got[kind] = fs.readFileSync(await download.path());
      }
      assert.equal(got.png.subarray(1, 4).toString('latin1'), 'PNG');
      assert.equal(decodePng(got.png).width, s.heatmapShape[s.heatmapShape.length - 1]);
      assert.equal(got.npy.subarray(1, 6).toString('latin1'), 'NUMPY');
      const record = JSON.parse(got.json.toString('utf8'));
      assert.equal(record.model.fnv1a64, state.modelHash);
      assert.equal(record.method, 'gradient');
      assert.equal(record.compare.method, 'lrp');
      assert.ok(record.timings.forwardMs >= 0 && record.timings.explainMs >= 0);
      assert.equal(record.output.values.length > 1, true);

      const late = seen.requests.slice(atLoad).filter((u) => !u.startsWith('blob:'));
      assert.deepEqual(late, [], 'no network request after load');
      assert.deepEqual(seen.errors, []);
    } finally {
      await page.close();
    }
  });

test('tables and sequences get relevance bars; the canvas is high-DPI',
  { skip, timeout: 120_000 }, async () => {
    const MODELS = path.join(ROOT, 'tests', 'data', 'models');
    const page = await fx.browser.newPage({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 2 });
    const seen = watchPage(page);
    try {
      await page.goto(fx.server.url, { waitUntil: 'load', timeout: 60_000 });
      await page.waitForFunction(() => globalThis.relscopeAppState?.().computes > 0, null, { timeout: 90_000 });
      // The backing store is CSS size x devicePixelRatio; the snapshot speaks CSS pixels.
      const dims = await page.evaluate(() => {
        const c = document.getElementById('canvas');
        return { w: c.width, h: c.height, cssW: c.getBoundingClientRect().width, cssH: c.getBoundingClientRect().height };
      });
      assert.deepEqual(dims, { w: 2000, h: 1400, cssW: 1000, cssH: 700 }, 'canvas backing store');
      let s = await page.evaluate(() => globalThis.relscopeAppState());
      assert.ok(s.heatmapRect.w > 0 && s.heatmapRect.x + s.heatmapRect.w <= 1000, JSON.stringify(s.heatmapRect));

      // A .csv with a header (feature names), one row per sample, for a tabular model.
      const csv = 'a,b,c,d,e,f,g,h\n1,2,3,4,5,6,7,8\n0.5,-1,2,0,1,0,3,1\n';
      await page.setInputFiles('#file-input', [fileArg(path.join(MODELS, 'mlp_opset13.onnx'), 'mlp.onnx'),
        { name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) }]);
      s = await nextState(page, s.computes);
      assert.equal(s.lastError, '');
      assert.equal(s.inputKind, 'table');
      assert.equal(s.rows, 2);
      assert.deepEqual(s.heatmapShape, [1, 8], JSON.stringify(s));
      assert.equal(s.heatmapRect.w, 0, 'no image heatmap for a table');
      assert.equal(s.prediction.label, `class ${s.prediction.index}`, 'the demo labels stay with the demo model');
      const row0 = await page.evaluate(() => Array.from(globalThis.relscopeAppTensor(1).data));
      await page.evaluate(() => globalThis.relscopeAppSet('row', 1));
      s = await nextState(page, s.computes);
      const row1 = await page.evaluate(() => Array.from(globalThis.relscopeAppTensor(1).data));
      assert.deepEqual(row0, [1, 2, 3, 4, 5, 6, 7, 8], 'row 0');
      assert.deepEqual(row1, [0.5, -1, 2, 0, 1, 0, 3, 1], 'row 1');

      // A .npy of three sequences ([3,4,40]) for a 1-D CNN: one sample at a time.
      await page.setInputFiles('#file-input', [fileArg(path.join(MODELS, 'dna_cnn_opset13.onnx'), 'dna.onnx'),
        fileArg(path.join(MODELS, 'dna_cnn_opset13_input.npy'), 'dna.npy')]);
      s = await nextState(page, s.computes);
      assert.equal(s.lastError, '');
      assert.equal(s.inputKind, 'array');
      assert.equal(s.rows, 3);
      assert.deepEqual(s.heatmapShape, [1, 4, 40], JSON.stringify(s));
      assert.deepEqual(seen.errors, []);
    } finally {
      await page.close();
    }
  });
