// relscope/tests/js/variance.test.mjs — variance heatmaps through the JS API (web/relscope.mjs): a Gaussian
// head's variance explanation equals the CLI's, CovLRP over MC-dropout samples and over ensemble members
// loaded with loadEnsembleMember, and the errors naming the field.
//
// Build locations as in api.test.mjs (RELSCOPE_WASM_BUILD, RELSCOPE_NATIVE_BUILD); skips, saying why, when
// a build is missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from './_npy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ASSETS = path.join(ROOT, 'assets', 'variance');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const NATIVE_BUILD = path.resolve(ROOT, process.env.RELSCOPE_NATIVE_BUILD || 'build/native');
const API_MODULE = path.join(WASM_BUILD, 'web', 'relscope.mjs');
const noApi = !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_web.js')) && `no browser module in ${WASM_BUILD}/web`;
const CLI = (() => {
  const native = path.join(NATIVE_BUILD, 'bin', 'relscope');
  if (fs.existsSync(native)) return [native];
  const wasm = path.join(WASM_BUILD, 'bin', 'relscope.js');
  return fs.existsSync(wasm) ? [process.execPath, wasm] : null;
})();

let apiPromise = null;
const api = () => (apiPromise ??= import(pathToFileURL(API_MODULE).href).then((m) => m.createRelscope({ print: () => {}, printErr: () => {} })));
const bytes = (name) => fs.readFileSync(path.join(ASSETS, name));
const samples = () => readNpy(path.join(ASSETS, 'samples.npy'));
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('explain variance of a Gaussian head equals the CLI', { skip: noApi || (!CLI && 'no CLI'), timeout: 120_000 }, async () => {
  const rs = await api();
  await rs.loadModel(bytes('gaussian_mlp.onnx'), 'gaussian_mlp.onnx');
  const x = samples();
  const e = await rs.explain({ data: x.data, shape: x.shape, composite: 'epsilon', params: { explain: 'variance' } });
  assert.equal(e.explained, "log-variance of output 'mean_logvar' unit 1");
  assert.ok(e.targets.every((t) => t === 1));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-var-'));
  try {
    const [cmd, ...lead] = CLI;
    execFileSync(cmd, [...lead, 'explain', path.join(ASSETS, 'gaussian_mlp.onnx'), path.join(ASSETS, 'samples.npy'), '--explain', 'variance',
      '--composite', 'epsilon', '--out', path.join(dir, 'R.npy')], { env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
    const want = readNpy(path.join(dir, 'R.npy'));
    let d = 0;
    for (let k = 0; k < want.data.length; ++k) d = Math.max(d, Math.abs(want.data[k] - e.relevance[k]));
    assert.ok(d <= 1e-5 * maxAbs(want.data), `max |diff| ${d}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cov-lrp over MC-dropout samples and ensemble members', { skip: noApi, timeout: 120_000 }, async () => {
  const rs = await api();
  assert.ok(rs.methods().includes('cov-lrp'));
  const x = samples();
  const first = { data: x.data.slice(0, 16), shape: [2, 8] };
  await rs.loadModel(bytes('mc_dropout_mlp.onnx'), 'mc_dropout_mlp.onnx');
  const mc = await rs.explain({ ...first, method: 'cov-lrp', composite: 'epsilon', params: { 'mc-dropout': 5, seed: 1, cov: 'both' } });
  assert.deepEqual(mc.shape, [2, 2, 8]);
  assert.equal(mc.output, null);
  assert.equal(mc.cov.members, 5);
  assert.equal(mc.cov.memberOutputs.length, 10);
  assert.match(mc.cov.membersText, /5 MC-dropout samples of 2 Dropout node\(s\), seed 1/);
  const again = await rs.explain({ ...first, method: 'cov-lrp', composite: 'epsilon', params: { 'mc-dropout': 5, seed: 1 } });
  assert.deepEqual(Array.from(again.cov.marg), Array.from(mc.cov.marg), 'same seed, same map');

  await rs.loadModel(bytes('ensemble_0.onnx'), 'ensemble_0.onnx');
  await assert.rejects(rs.explain({ ...first, method: 'cov-lrp', params: { ensemble: 'ensemble_1.onnx' } }),
    (err) => err.kind === 'bad-input' && /ensemble: 'ensemble_1.onnx' is not loaded/.test(err.message));
  await rs.loadEnsembleMember(bytes('ensemble_1.onnx'), 'ensemble_1.onnx');
  await rs.loadEnsembleMember(bytes('ensemble_2.onnx'), 'ensemble_2.onnx');
  const ens = await rs.explain({ ...first, method: 'cov-lrp', composite: 'epsilon', params: { ensemble: 'ensemble_1.onnx,ensemble_2.onnx' } });
  assert.equal(ens.cov.members, 3);
  assert.equal(ens.explained, "mean of output 'mean' unit 0");
  assert.ok(ens.cov.aleatoric instanceof Float32Array, 'Gaussian-head members: the aleatoric term');
  assert.equal(ens.cov.outputVariance.length, 2);
  await assert.rejects(rs.explain({ ...first, method: 'cov-lrp', params: { 'mc-dropout': 3 } }),
    (err) => err.kind === 'bad-input' && /ensemble_0.onnx: mc-dropout: the model has no Dropout node/.test(err.message));
});
