// relscope/tests/js/api.test.mjs — the JavaScript API (web/relscope.mjs) under node, against PyTorch's
// outputs and the CLI's relevance maps.
//
// Sections: locations | helpers | model info, predict | explain vs CLI | rules | errors | two heads
//
// The build is found through RELSCOPE_WASM_BUILD (default build/wasm: <dir>/web/relscope.mjs next to
// relscope_web.js); the reference CLI through RELSCOPE_NATIVE_BUILD (default build/native:
// <dir>/bin/relscope), else the wasm CLI <wasm dir>/bin/relscope.js under node. Tests skip, saying why,
// when a build is missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from './_npy.mjs';

// ---- locations -----------------------------------------------------------------------------------------
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODELS = path.join(ROOT, 'tests', 'data', 'models');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const NATIVE_BUILD = path.resolve(ROOT, process.env.RELSCOPE_NATIVE_BUILD || 'build/native');
const API_MODULE = path.join(WASM_BUILD, 'web', 'relscope.mjs');

const noApi = !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_web.js'))
  ? `no browser module (${path.relative(ROOT, WASM_BUILD)}/web/relscope_web.js; set RELSCOPE_WASM_BUILD)`
  : !fs.existsSync(API_MODULE) && `${path.relative(ROOT, API_MODULE)} is missing (re-run cmake on the wasm build)`;

// The reference CLI as [command, ...leading args], or null.
const CLI = (() => {
  const native = path.join(NATIVE_BUILD, 'bin', 'relscope');
  if (fs.existsSync(native)) return [native];
  const wasm = path.join(WASM_BUILD, 'bin', 'relscope.js');
  if (fs.existsSync(wasm)) return [process.execPath, wasm];
  return null;
})();
const noCli = noApi || (!CLI && 'no reference CLI (build/native/bin/relscope or build/wasm/bin/relscope.js)');

// ---- helpers -------------------------------------------------------------------------------------------
let apiPromise = null;
async function api() {
  if (!apiPromise) {
    apiPromise = import(pathToFileURL(API_MODULE).href).then((m) => m.createRelscope({ print: () => {}, printErr: () => {} }));
  }
  return apiPromise;
}

const modelBytes = (name) => fs.readFileSync(path.join(MODELS, `${name}.onnx`));
const fixture = (name) => readNpy(path.join(MODELS, `${name}.npy`));

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, 'same number of values');
  let d = 0;
  for (let k = 0; k < a.length; ++k) d = Math.max(d, Math.abs(a[k] - b[k]));
  return d;
}
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// Relevance equality as the brief defines it: max |diff| <= 1e-5 of max |R|.
function assertSameRelevance(actual, expected, what) {
  const tol = 1e-5 * maxAbs(expected);
  const d = maxAbsDiff(actual, expected);
  assert.ok(maxAbs(expected) > 0, `${what}: the reference relevance is not all zero`);
  assert.ok(d <= tol, `${what}: max |diff| ${d} > ${tol} (1e-5 of max |R|)`);
}

// Runs `relscope explain MODEL INPUT --out R.npy ARGS...`; returns {R, targets} (targets from its stdout).
function cliExplain(model, input, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-js-'));
  try {
    const out = path.join(dir, 'R.npy');
    const [cmd, ...lead] = CLI;
    const stdout = execFileSync(cmd, [...lead, 'explain', path.join(MODELS, `${model}.onnx`), path.join(MODELS, `${input}.npy`),
      '--out', out, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
    const targets = [...stdout.matchAll(/^sample \d+: target (\d+)/gm)].map((m) => Number(m[1]));
    return { R: readNpy(out), targets };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function cliRules(model, args) {
  const [cmd, ...lead] = CLI;
  const stdout = execFileSync(cmd, [...lead, 'rules', path.join(MODELS, `${model}.onnx`), ...args],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
  return stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const [name, op, ...rule] = l.trim().split(/\s+/);
    return { name, op, rule: rule.join(' ') };
  });
}

// assert.rejects predicate: a RelscopeError of `kind` whose message matches every pattern.
const relscopeError = (kind, ...patterns) => (err) => {
  assert.ok(err instanceof Error, 'an Error');
  assert.equal(err.kind, kind, `kind of: ${err.message}`);
  for (const p of patterns) assert.match(err.message, p);
  return true;
};

// ---- model info, predict -------------------------------------------------------------------------------
test('version, methods, composites', { skip: noApi, timeout: 120_000 }, async () => {
  const rs = await api();
  assert.match(rs.version, /^\d+\.\d+\.\d+/);
  for (const m of ['lrp', 'gradient', 'gradient-x-input', 'integrated-gradients', 'smoothgrad', 'occlusion']) {
    assert.ok(rs.methods().includes(m), `method ${m}`);
  }
  for (const c of ['epsilon', 'epsilon-plus', 'epsilon-plus-flat', 'epsilon-alpha2-beta1', 'epsilon-gamma-box']) {
    assert.ok(rs.composites().includes(c), `composite ${c}`);
  }
});

test('loadModel describes cnn_opset13', { skip: noApi, timeout: 120_000 }, async () => {
  const rs = await api();
  const m = await rs.loadModel(modelBytes('cnn_opset13'), 'cnn_opset13.onnx');
  assert.deepEqual(m.inputs, [{ name: 'input', shape: [null, 1, 28, 28], dtype: 'float32' }]);
  assert.deepEqual(m.outputs, [{ name: 'output', shape: [null, 10], dtype: 'float32' }]);
  assert.equal(m.opset, 13);
  assert.match(m.producer, /^pytorch/);
  assert.equal(m.ops.length, 19);
  const byName = Object.fromEntries(m.ops.map((o) => [o.name, o]));
  assert.equal(byName['/c1/Conv'].op, 'Conv');
  assert.match(byName['/c1/Conv'].rule, /^flat/, 'first layer: flat (epsilon-plus-flat)');
  assert.match(byName['/c2/Conv'].rule, /^zplus/);
  assert.match(byName['/fc/Gemm'].rule, /^epsilon/);
});

test('predict equals PyTorch to 1e-5', { skip: noApi, timeout: 120_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes('cnn_opset13'), 'cnn_opset13.onnx');
  const x = fixture('cnn_opset13_input');
  const want = fixture('cnn_opset13_output');
  const y = await rs.predict({ data: x.data, shape: x.shape });
  assert.equal(y.outputs.length, 1);
  assert.equal(y.outputs[0].name, 'output');
  assert.deepEqual(y.outputs[0].shape, want.shape);
  assert.ok(y.outputs[0].data instanceof Float32Array);
  assert.ok(maxAbsDiff(y.outputs[0].data, want.data) <= 1e-5, 'max |diff| <= 1e-5');
  assert.equal(typeof y.ms, 'number');
  // Plain arrays are accepted too.
  const y2 = await rs.predict({ data: Array.from(x.data), shape: x.shape });
  assert.deepEqual(Array.from(y2.outputs[0].data), Array.from(y.outputs[0].data));
});

// ---- explain vs CLI ------------------------------------------------------------------------------------
const CNN_CASES = [
  { what: 'lrp epsilon-plus-flat', js: { method: 'lrp', composite: 'epsilon-plus-flat' }, cli: ['--method', 'lrp', '--composite', 'epsilon-plus-flat'] },
  { what: 'gradient', js: { method: 'gradient' }, cli: ['--method', 'gradient'] },
  {
    what: 'lrp with per-node overrides, epsilon, fixed target',
    js: { method: 'lrp', composite: 'epsilon-plus', target: 3, params: { epsilon: 1e-4, rules: { '/c2/Conv': 'gamma:0.5', '/fc/Gemm': 'zplus' } } },
    cli: ['--method', 'lrp', '--composite', 'epsilon-plus', '--target', '3', '--epsilon', '1e-4', '--rule', '/c2/Conv=gamma:0.5', '--rule', '/fc/Gemm=zplus'],
  },
  {
    what: 'lrp epsilon-gamma-box, bounds as number and array',
    js: { method: 'lrp', composite: 'epsilon-gamma-box', params: { low: -3, high: [3], gamma: 0.5 } },
    cli: ['--method', 'lrp', '--composite', 'epsilon-gamma-box', '--low', '-3', '--high', '3', '--gamma', '0.5'],
  },
  {
    what: 'integrated gradients, one target per sample',
    js: { method: 'integrated-gradients', target: [1, 2], params: { steps: 8 } },
    cli: ['--method', 'integrated-gradients', '--target', '1,2', '--steps', '8'],
  },
];

for (const c of CNN_CASES) {
  test(`explain ${c.what} equals the CLI`, { skip: noCli, timeout: 180_000 }, async () => {
    const rs = await api();
    await rs.loadModel(modelBytes('cnn_opset13'), 'cnn_opset13.onnx');
    const x = fixture('cnn_opset13_input');
    const e = await rs.explain({ data: x.data, shape: x.shape, ...c.js });
    const ref = cliExplain('cnn_opset13', 'cnn_opset13_input', c.cli);
    assert.ok(e.relevance instanceof Float32Array);
    assert.deepEqual(e.shape, x.shape);
    assertSameRelevance(e.relevance, ref.R.data, c.what);
    assert.deepEqual(e.targets, ref.targets, 'same targets');
    assert.equal(e.output.name, 'output');
    assert.deepEqual(e.output.shape, [2, 10]);
    assert.ok(maxAbsDiff(e.output.data, fixture('cnn_opset13_output').data) <= 1e-5, 'explained output = PyTorch');
  });
}

// ---- rules ---------------------------------------------------------------------------------------------
test('rules() equals `relscope rules`', { skip: noCli, timeout: 120_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes('conv_bn_opset13'), 'conv_bn_opset13.onnx');
  assert.deepEqual(await rs.rules({ composite: 'epsilon-alpha2-beta1' }), cliRules('conv_bn_opset13', ['--composite', 'epsilon-alpha2-beta1']));
  await rs.loadModel(modelBytes('cnn_opset13'), 'cnn_opset13.onnx');
  const overridden = await rs.rules({ params: { rules: { '/fc/Gemm': 'alphabeta:2,1' } } });
  assert.deepEqual(overridden, cliRules('cnn_opset13', ['--rule', '/fc/Gemm=alphabeta:2,1']));
  assert.match(overridden.find((r) => r.name === '/fc/Gemm').rule, /^alphabeta/);
});

// ---- errors --------------------------------------------------------------------------------------------
test('errors are RelscopeErrors with a kind, and the API stays usable', { skip: noApi, timeout: 180_000 }, async () => {
  const rs = await api();
  const good = modelBytes('cnn_opset13');
  await rs.loadModel(good, 'cnn_opset13.onnx');
  const x = fixture('cnn_opset13_input');

  // Corrupt models: bad-input naming the label; the previous model stays loaded.
  await assert.rejects(rs.loadModel(good.subarray(0, 5000), 'truncated.onnx'), relscopeError('bad-input', /truncated\.onnx/));
  const garbage = new Uint8Array(3000).map((_, k) => (k * 2654435761) >>> 24);
  await assert.rejects(rs.loadModel(garbage, 'garbage.onnx'), relscopeError('bad-input', /garbage\.onnx/));
  await assert.rejects(rs.loadModel(new Uint8Array(0), 'empty.onnx'), relscopeError('bad-input', /empty\.onnx/));
  await assert.rejects(rs.loadModel('not bytes', 'str.onnx'), relscopeError('bad-input', /str\.onnx/));
  const still = await rs.predict({ data: x.data, shape: x.shape });
  assert.ok(maxAbsDiff(still.outputs[0].data, fixture('cnn_opset13_output').data) <= 1e-5, 'previous model still loaded');

  // Wrong shapes: caught before allocating (product vs data length), or by the planner; both name the input.
  await assert.rejects(rs.predict({ data: x.data.subarray(0, 784), shape: [2, 1, 28, 28] }),
    relscopeError('bad-input', /input 'input'/, /1568 values but data has 784/));
  await assert.rejects(rs.predict({ data: x.data.subarray(0, 784), shape: [1, 784] }), relscopeError('bad-input', /'input'/));
  await assert.rejects(rs.explain({ data: x.data, shape: [2, 1, 28, -28], method: 'gradient' }), relscopeError('bad-input', /input 'input'/));
  await assert.rejects(rs.predict({ data: x.data, shape: [1e6, 1e6, 1e6] }), relscopeError('limit', /input 'input'/));
  await assert.rejects(rs.predict({ data: x.data }), relscopeError('bad-input', /shape/));

  // Bad requests name the field.
  const req = { data: x.data, shape: x.shape };
  await assert.rejects(rs.explain({ ...req, method: 'lrpp' }), relscopeError('bad-input', /unknown method 'lrpp'/));
  await assert.rejects(rs.explain({ ...req, composite: 'nope' }), relscopeError('bad-input', /nope/));
  await assert.rejects(rs.explain({ ...req, params: { epsilon: 'abc' } }), relscopeError('bad-input', /epsilon: 'abc' is not a number/));
  await assert.rejects(rs.explain({ ...req, params: { epsilno: 1 } }), relscopeError('bad-input', /epsilno/));
  await assert.rejects(rs.explain({ ...req, params: { steps: 2.5 }, method: 'integrated-gradients' }), relscopeError('bad-input', /steps/));
  await assert.rejects(rs.explain({ ...req, params: { alpha: 3, beta: 1 } }), relscopeError('bad-input', /alpha - beta must be 1/));
  await assert.rejects(rs.explain({ ...req, params: { rules: { '/fc/Gemm': 'zplsu' } } }), relscopeError('bad-input', /\/fc\/Gemm/));
  await assert.rejects(rs.explain({ ...req, params: { rules: { nosuchnode: 'zplus' } } }), relscopeError('bad-input', /nosuchnode/));
  await assert.rejects(rs.explain({ ...req, target: 10 }), relscopeError('bad-input', /out of range/));
  await assert.rejects(rs.explain({ ...req, output: 'nope' }), relscopeError('bad-input', /output: 'nope' is not an output of cnn_opset13\.onnx/));
  await assert.rejects(rs.explain({ ...req, params: { method: 'gradient' } }), relscopeError('bad-input', /params\.method/));
  await assert.rejects(rs.explain({ ...req, composite: 'epsilon-gamma-box' }), relscopeError('bad-input', /low|high/));

  // A good call afterwards still works and gives the same answer.
  const e = await rs.explain({ ...req, method: 'gradient' });
  assert.ok(maxAbs(e.relevance) > 0);
  const m = await rs.loadModel(modelBytes('mlp_opset13'), 'mlp_opset13.onnx');
  assert.equal(m.inputs.length, 1);
  const xm = fixture('mlp_opset13_input');
  const ym = await rs.predict({ data: xm.data, shape: xm.shape });
  assert.ok(maxAbsDiff(ym.outputs[0].data, fixture('mlp_opset13_output').data) <= 1e-5, 'a good model loads after the bad ones');
});

test('a fresh instance has no model: bad-input', { skip: noApi, timeout: 120_000 }, async () => {
  const { createRelscope } = await import(pathToFileURL(API_MODULE).href);
  const rs = await createRelscope({ print: () => {}, printErr: () => {} });
  await assert.rejects(rs.predict({ data: new Float32Array(4), shape: [1, 4] }), relscopeError('bad-input', /no model is loaded/));
  await assert.rejects(rs.rules({}), relscopeError('bad-input', /no model is loaded/));
});

// ---- two heads -----------------------------------------------------------------------------------------
test('two_heads: output by index and by name', { skip: noCli, timeout: 180_000 }, async () => {
  const rs = await api();
  const m = await rs.loadModel(modelBytes('two_heads_opset13'), 'two_heads_opset13.onnx');
  assert.deepEqual(m.outputs.map((o) => o.name), ['logits', 'regression']);
  const x = fixture('two_heads_opset13_input');
  const y = await rs.predict({ data: x.data, shape: x.shape });
  assert.ok(maxAbsDiff(y.outputs[0].data, fixture('two_heads_opset13_output').data) <= 1e-5);
  assert.ok(maxAbsDiff(y.outputs[1].data, fixture('two_heads_opset13_output1').data) <= 1e-5);
  assert.deepEqual(y.outputs[1].shape, [3, 2]);

  for (const method of ['lrp', 'gradient']) {
    const ref = cliExplain('two_heads_opset13', 'two_heads_opset13_input', ['--method', method, '--output', '1']);
    const byIndex = await rs.explain({ data: x.data, shape: x.shape, method, output: 1 });
    assert.equal(byIndex.output.name, 'regression');
    assert.deepEqual(byIndex.output.shape, [3, 2]);
    assertSameRelevance(byIndex.relevance, ref.R.data, `${method} output 1`);
    assert.deepEqual(byIndex.targets, ref.targets);
    const byName = await rs.explain({ data: x.data, shape: x.shape, method, output: 'regression' });
    assert.deepEqual(Array.from(byName.relevance), Array.from(byIndex.relevance));
  }
});

// ---- faithfulness --------------------------------------------------------------------------------------
// Runs `relscope faithfulness MODEL INPUT --curve C.csv ARGS...` -> rows {sample, explanation, point, removed,
// output, random}.
function cliFlipCurve(model, input, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-js-'));
  try {
    const out = path.join(dir, 'c.csv');
    const [cmd, ...lead] = CLI;
    execFileSync(cmd, [...lead, 'faithfulness', path.join(MODELS, `${model}.onnx`), path.join(MODELS, `${input}.npy`),
      '--curve', out, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
    return fs.readFileSync(out, 'utf8').trim().split('\n').slice(1).map((line) => {
      const [sample, explanation, point, removed, , output, random] = line.split(',');
      return { sample: Number(sample), explanation, point: Number(point), removed: Number(removed), output: Number(output), random: Number(random) };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('faithfulness() flips as `relscope faithfulness` does, and checks its options', { skip: noCli, timeout: 180_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes('cnn_opset13'), 'cnn_opset13.onnx');
  const x = fixture('cnn_opset13_input');
  const params = { 'flip-steps': 6, 'flip-window': 4, 'random-orders': 3, 'flip-seed': 5 };
  const f = await rs.faithfulness({ data: x.data, shape: x.shape, composite: 'epsilon', params });
  const ref = cliFlipCurve('cnn_opset13', 'cnn_opset13_input',
    ['--composite', 'epsilon', '--flip-steps', '6', '--flip-window', '4', '--random-orders', '3', '--flip-seed', '5']);
  assert.equal(f.units, 49);   // 28x28 in windows of 4
  assert.deepEqual(f.removed, ref.filter((r) => r.sample === 0).map((r) => r.removed));
  assert.equal(f.curves.length, 2);
  const scale = Math.max(...ref.map((r) => Math.abs(r.output)));
  for (const [b, c] of f.curves.entries()) {
    const rows = ref.filter((r) => r.sample === b);
    assert.equal(c.target, f.explanation.targets[b]);
    assert.ok(maxAbsDiff(c.relevanceFirst, rows.map((r) => r.output)) <= 1e-5 * scale, `sample ${b}: most relevant first`);
    assert.ok(maxAbsDiff(c.random, rows.map((r) => r.random)) <= 1e-5 * scale, `sample ${b}: the random orders`);
    const aopc = c.relevanceFirst.reduce((s, v) => s + c.relevanceFirst[0] - v, 0) / c.relevanceFirst.length;
    assert.ok(Math.abs(c.aopc - aopc) <= 1e-9 * Math.max(1, Math.abs(aopc)), `sample ${b}: AOPC is the mean drop`);
  }
  assert.deepEqual(f.options, { steps: 6, fraction: 1, window: 4, baseline: 0, randomOrders: 3, seed: 5 });
  assert.equal(f.explanation.shape.join(), x.shape.join());

  await assert.rejects(rs.faithfulness({ data: x.data, shape: x.shape, params: { 'flip-steps': 0 } }),
    relscopeError('bad-input', /faithfulness: steps must be 1\.\.1000, not 0/));
  await assert.rejects(rs.faithfulness({ data: x.data, shape: x.shape, params: { 'flip-window': 'wide' } }),
    relscopeError('bad-input', /flip-window: 'wide' is not an integer/));
  await assert.rejects(rs.faithfulness({ data: x.data, shape: x.shape, method: 'crp', params: { layer: '/c2/Conv', channels: [0] } }),
    relscopeError('bad-input', /not one map to flip/));
  // explain() does not take the flip options: they would do nothing there.
  await assert.rejects(rs.explain({ data: x.data, shape: x.shape, params: { 'flip-steps': 5 } }),
    relscopeError('bad-input', /unknown parameter 'flip-steps'/));
});

// ---- SpRAy ---------------------------------------------------------------------------------------------
test('spray() clusters stacked heatmaps as `relscope spray` does', { skip: noCli, timeout: 180_000 }, async () => {
  // The Clever Hans model's six samples explained at Shirt (6) with the CLI's preprocessing (mean/std after
  // loadInput's [0,1] scaling), stacked, clustered: the three marked ones apart from the three clean ones.
  const dir = path.join(ROOT, 'assets', 'clever_hans');
  const rs = await api();
  await rs.loadModel(fs.readFileSync(path.join(dir, 'model.onnx')), 'model.onnx');
  const files = fs.readdirSync(path.join(dir, 'samples')).filter((f) => f.endsWith('.png')).sort();
  const maps = [];
  for (const f of files) {
    const x = await rs.loadInput(fs.readFileSync(path.join(dir, 'samples', f)), f);
    const data = x.data.map((v) => (v - 0.286) / 0.353);
    const e = await rs.explain({ data, shape: x.shape, target: 6 });
    maps.push(...e.relevance);
  }
  const s = await rs.spray({ data: new Float32Array(maps), shape: [files.length, 1, 28, 28], neighbours: 2, size: 7 });
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-js-')), 's.json');
  const [cmd, ...lead] = CLI;
  execFileSync(cmd, [...lead, 'spray', path.join(dir, 'model.onnx'), path.join(dir, 'samples'), '--target', '6',
    '--mean', '0.286', '--std', '0.353', '--neighbours', '2', '--size', '7', '--out', out],
  { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
  const ref = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(s.clusters, 2);
  assert.equal(ref.clusters, 2);
  assert.deepEqual(s.labels, ref.maps.map((m) => m.cluster));
  const markedCluster = s.labels[files.indexOf('4_shirt_marked.png')];
  for (const [i, f] of files.entries()) assert.equal(s.labels[i] === markedCluster, f.includes('marked'), f);
  assert.ok(maxAbsDiff(s.eigenvalues, ref.eigenvalues) <= 1e-4, `eigenvalues ${s.eigenvalues} vs ${ref.eigenvalues}`);
  assert.deepEqual(s.featureShape, [7, 7]);
  assert.deepEqual(s.sizes, [3, 3]);
  assert.equal(s.centroids.length, 2);
  assert.equal(s.embedding.length, 6);
  await assert.rejects(rs.spray({ data: new Float32Array(maps.slice(0, 2 * 784)), shape: [2, 1, 28, 28] }),
    relscopeError('bad-input', /spray: 2 maps; clustering needs at least 3/));
  await assert.rejects(rs.spray({ data: new Float32Array(maps), shape: [6, 1, 28, 28], size: 0 }),
    relscopeError('bad-input', /spray: size: expected an integer >= 1/));
});
