// relscope JS API test — createRelscopeWorker() (web/relscope_worker.mjs): the API in a worker thread gives
// the same numbers as createRelscope() on the calling thread, leaves the calling thread's event loop free
// while it explains, stops a running explanation on cancel() (kind 'cancelled') and stays usable with the
// same model afterwards; errors keep their kind; terminate() ends it. The browser side (a Web Worker) is
// tested in tests/browser/app_page.test.mjs.
//
// Imports build/wasm/web/relscope_worker.mjs (RELSCOPE_WASM_BUILD names another build).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from './_npy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const WORKER = path.join(WASM_BUILD, 'web', 'relscope_worker.mjs');
const MODEL = path.join(ROOT, 'tests', 'data', 'models', 'cnn_opset13.onnx');
const skip = !fs.existsSync(WORKER) ? `no ${path.relative(ROOT, WORKER)} (build the wasm target)` : false;

// Event-loop turns of the calling thread while `promise` runs (a blocked thread gives none).
async function turnsWhile(promise, until = () => false) {
  let turns = 0, done = false;
  promise.then(() => { done = true; }, () => { done = true; });
  while (!done && !until(turns)) {
    await new Promise((r) => setTimeout(r, 5));
    turns++;
  }
  return turns;
}

test('worker API: same numbers as on the calling thread, a free event loop, cancel, errors', { skip, timeout: 180_000 }, async () => {
  const { createRelscopeWorker } = await import(pathToFileURL(WORKER).href);
  const { createRelscope } = await import(pathToFileURL(path.join(WASM_BUILD, 'web', 'relscope.mjs')).href);
  const bytes = fs.readFileSync(MODEL);
  const x = readNpy(MODEL.replace('.onnx', '_input.npy'));
  const input = { data: x.data, shape: x.shape };
  const rs = await createRelscopeWorker();
  try {
    assert.match(rs.version, /^\d+\.\d+\.\d+/);
    assert.ok(rs.methods().includes('smoothgrad'));
    const local = await createRelscope();
    await local.loadModel(bytes, 'cnn.onnx');
    const info = await rs.loadModel(bytes, 'cnn.onnx');
    assert.equal(info.name, 'cnn.onnx');

    // The same engine, so the same numbers, bit for bit.
    const request = { ...input, method: 'lrp', composite: 'epsilon-plus-flat' };
    const want = await local.explain(request);
    const got = await rs.explain(request);
    assert.deepEqual(got.shape, want.shape);
    assert.deepEqual(Array.from(got.relevance), Array.from(want.relevance));
    assert.deepEqual(Array.from((await rs.predict(input)).outputs[0].data), Array.from((await local.predict(input)).outputs[0].data));

    // A long explanation (SmoothGrad, many samples): the calling thread keeps turning, and cancel() stops it.
    const long = rs.explain({ ...input, method: 'smoothgrad', params: { samples: 100000, noise: 0.1, seed: 1 } });
    const turns = await turnsWhile(long, (n) => n >= 20);
    assert.equal(turns, 20, 'the event loop turned while the worker explained');
    assert.equal(rs.cancel(), true, 'something was running');
    await assert.rejects(long, (e) => e.name === 'RelscopeError' && e.kind === 'cancelled' && /cancel/.test(e.message));
    assert.equal(rs.cancel(), false, 'nothing left to stop');

    // Usable again with the same model (a fresh worker re-loads it).
    const again = await rs.explain(request);
    assert.deepEqual(Array.from(again.relevance), Array.from(want.relevance));

    // Errors keep their kind; the object stays usable; a failed load keeps the previous model.
    await assert.rejects(rs.loadModel(new Uint8Array([1, 2, 3]), 'junk.onnx'), (e) => e.kind === 'bad-input' && /junk\.onnx/.test(e.message));
    await assert.rejects(rs.explain({ data: new Float32Array(3), shape: [1, 3], method: 'lrp' }), (e) => e.kind === 'bad-input');
    assert.deepEqual(Array.from((await rs.explain(request)).relevance), Array.from(want.relevance));
  } finally {
    rs.terminate();
  }
  await assert.rejects(rs.predict(input), (e) => e.kind === 'internal' && /terminated/.test(e.message));
});
