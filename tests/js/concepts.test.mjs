// relscope/tests/js/concepts.test.mjs — CRP through the JavaScript API: concepts() and attributionGraph() against
// `relscope concepts` (ranking, channel sums, attribution trees), conceptMaps() against concepts() and predict(),
// the same calls through the worker, and errors.
//
// Builds are found as in api.test.mjs (RELSCOPE_WASM_BUILD, RELSCOPE_NATIVE_BUILD); tests skip, saying why,
// when one is missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from './_npy.mjs';

// ---- locations and helpers -----------------------------------------------------------------------------------
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODELS = path.join(ROOT, 'tests', 'data', 'models');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const NATIVE_BUILD = path.resolve(ROOT, process.env.RELSCOPE_NATIVE_BUILD || 'build/native');
const WEB = path.join(WASM_BUILD, 'web');
const CLI = (() => {
  const native = path.join(NATIVE_BUILD, 'bin', 'relscope');
  if (fs.existsSync(native)) return [native];
  const wasm = path.join(WASM_BUILD, 'bin', 'relscope.js');
  return fs.existsSync(wasm) ? [process.execPath, wasm] : null;
})();
const skip = !fs.existsSync(path.join(WEB, 'relscope_web.js')) ? `no browser module (${path.relative(ROOT, WEB)}/relscope_web.js)`
  : !CLI ? 'no reference CLI (build/native/bin/relscope or build/wasm/bin/relscope.js)' : false;

const MODEL = 'cnn_opset13', LAYER = '/c2/Conv';
const modelBytes = () => fs.readFileSync(path.join(MODELS, `${MODEL}.onnx`));
const input = () => readNpy(path.join(MODELS, `${MODEL}_input.npy`));

function cli(args) {
  const [cmd, ...lead] = CLI;
  return execFileSync(cmd, [...lead, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-experimental-fetch' } });
}

// `relscope concepts` -> {relevance (N*C from --out), samples: [{target, ranking: [{channel, relevance, share}]}]}
function cliConcepts(extra) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-concepts-'));
  try {
    const out = path.join(dir, 'C.npy');
    const text = cli(['concepts', path.join(MODELS, `${MODEL}.onnx`), path.join(MODELS, `${MODEL}_input.npy`), '--layer', LAYER,
      '--out', out, ...extra]);
    const samples = [];
    for (const line of text.split('\n')) {
      const head = line.match(/^sample \d+: target (\d+)/);
      if (head) samples.push({ target: Number(head[1]), ranking: [] });
      const row = line.match(/^ {2}(\d+)\s+(\S+)\s+(\S+)%$/);
      if (row) samples.at(-1).ranking.push({ channel: Number(row[1]), relevance: Number(row[2]), share: Number(row[3]) / 100 });
    }
    return { relevance: readNpy(out), samples };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `relscope concepts --graph C` of one sample -> [{layer, channel, relevance, depth}] in its depth-first print order.
function cliGraph(channel, depth, top, sampleInput) {
  const text = cli(['concepts', path.join(MODELS, `${MODEL}.onnx`), sampleInput, '--layer', LAYER, '--graph', String(channel),
    '--depth', String(depth), '--top', String(top)]);
  return text.split('\n').map((l) => l.match(/^ {2}( *)(\S+):(\d+) {2}(\S+)$/)).filter(Boolean)
    .map((m) => ({ layer: m[2], channel: Number(m[3]), relevance: Number(m[4]), depth: m[1].length / 2 }));
}

// The API's breadth-first node list in the CLI's depth-first order.
function depthFirst(nodes) {
  const children = nodes.map(() => []);
  nodes.forEach((n, k) => { if (n.parent >= 0) children[n.parent].push(k); });
  const order = [], stack = [0];
  while (stack.length) {
    const k = stack.pop();
    order.push(nodes[k]);
    stack.push(...[...children[k]].reverse());
  }
  return order;
}

const close = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
let rsPromise = null;
const api = () => (rsPromise ??= import(pathToFileURL(path.join(WEB, 'relscope.mjs')).href)
  .then((m) => m.createRelscope({ print: () => {}, printErr: () => {} })));

// ---- concepts ---------------------------------------------------------------------------------------------------
test('concepts() equals `relscope concepts`: channel sums, shares, ranking, targets', { skip, timeout: 180_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes(), `${MODEL}.onnx`);
  const x = input();
  const c = await rs.concepts({ data: x.data, shape: x.shape, composite: 'epsilon-plus', params: { layer: LAYER } });
  const ref = cliConcepts(['--composite', 'epsilon-plus', '--top', '1000']);
  assert.equal(c.layer, LAYER);
  assert.ok(c.layers.includes(LAYER) && c.layers.includes('/fc/Gemm'), c.layers.join(', '));
  assert.deepEqual(c.shape, ref.relevance.shape);
  assert.equal(c.channels, ref.relevance.shape[1]);
  let top = 0;
  for (const v of ref.relevance.data) top = Math.max(top, Math.abs(v));
  for (let k = 0; k < c.relevance.length; ++k) {
    assert.ok(Math.abs(c.relevance[k] - ref.relevance.data[k]) <= 1e-5 * top, `channel sum ${k}`);
  }
  assert.deepEqual(c.targets, ref.samples.map((s) => s.target));
  for (let b = 0; b < c.shape[0]; ++b) {
    const mine = c.ranking[b], theirs = ref.samples[b].ranking;
    assert.equal(mine.length, c.channels, 'every channel without `top`');
    assert.deepEqual(mine.map((e) => e.channel), theirs.map((e) => e.channel), `sample ${b}: the same order`);
    mine.forEach((e, k) => {
      close(e.relevance, theirs[k].relevance, `sample ${b} channel ${e.channel} relevance`);
      assert.ok(Math.abs(e.share - theirs[k].share) <= 6e-5, `sample ${b} channel ${e.channel} share (printed to 0.01%)`);
      if (k) assert.ok(mine[k - 1].relevance >= e.relevance, 'most relevant first');
    });
    // normalized = relevance / the sample's sum of |R| at the layer: the |shares| add up to at most 1 (channel
    // sums can cancel inside a channel), and shares keep the relevance's sign and order.
    const shares = Array.from(c.normalized.subarray(b * c.channels, (b + 1) * c.channels));
    assert.ok(shares.reduce((s, v) => s + Math.abs(v), 0) <= 1 + 1e-5);
    shares.forEach((v, ch) => assert.equal(Math.sign(v), Math.sign(c.relevance[b * c.channels + ch])));
  }
  const five = await rs.concepts({ data: x.data, shape: x.shape, composite: 'epsilon-plus', params: { layer: LAYER }, top: 5 });
  assert.deepEqual(five.ranking.map((r) => r.map((e) => e.channel)), c.ranking.map((r) => r.slice(0, 5).map((e) => e.channel)));
});

test('conceptMaps(): the layer\'s relevance sums per channel to concepts(), its output is predict()\'s', { skip, timeout: 180_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes(), `${MODEL}.onnx`);
  const x = input();
  const m = await rs.conceptMaps({ data: x.data, shape: x.shape, params: { layer: LAYER } });
  const c = await rs.concepts({ data: x.data, shape: x.shape, params: { layer: LAYER } });
  const y = await rs.predict({ data: x.data, shape: x.shape });
  assert.equal(m.layer, LAYER);
  assert.equal(m.axis, 1);
  assert.equal(m.shape.length, 4, 'a Conv output (N, C, H, W)');
  assert.deepEqual(m.shape.slice(0, 2), [x.shape[0], c.channels]);
  assert.equal(m.activation.length, m.relevance.length);
  assert.deepEqual(m.targets, c.targets);
  assert.deepEqual(Array.from(m.output.data), Array.from(y.outputs[0].data));
  const [n, ch] = m.shape, per = m.relevance.length / (n * ch);
  let top = 0;
  for (const v of c.relevance) top = Math.max(top, Math.abs(v));
  for (let b = 0; b < n; ++b) {
    for (let k = 0; k < ch; ++k) {
      let sum = 0;
      for (let i = 0; i < per; ++i) sum += m.relevance[(b * ch + k) * per + i];
      assert.ok(Math.abs(sum - c.relevance[b * ch + k]) <= 1e-5 * top, `sample ${b} channel ${k}: ${sum} vs ${c.relevance[b * ch + k]}`);
    }
  }
  // The activation is the layer's output: after /c2/Conv comes a ReLU, so some entries are negative.
  assert.ok(m.activation.some((v) => v < 0) && m.activation.some((v) => v > 0));
});

test('attributionGraph() equals `relscope concepts --graph`', { skip, timeout: 180_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes(), `${MODEL}.onnx`);
  const x = input();
  const per = x.data.length / x.shape[0];
  const one = { data: x.data.subarray(per, 2 * per), shape: [1, ...x.shape.slice(1)] };   // sample 1
  const c = await rs.concepts({ ...one, params: { layer: LAYER }, top: 1 });
  const channel = c.ranking[0][0].channel;
  const g = await rs.attributionGraph({ ...one, params: { layer: LAYER }, channel, depth: 1, top: 4 });
  assert.equal(g.target, c.targets[0]);
  assert.equal(g.nodes[0].parent, -1);
  assert.deepEqual([g.nodes[0].layer, g.nodes[0].channel], [LAYER, channel]);
  close(g.nodes[0].relevance, c.ranking[0][0].relevance, 'the root is the concept relevance');
  assert.equal(g.nodes.length, 5, 'the root and its 4 best children');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-graph-'));
  try {
    const file = path.join(dir, 'x.npy');
    writeNpy(file, one.data, one.shape);
    const ref = cliGraph(channel, 1, 4, file);
    const mine = depthFirst(g.nodes);
    assert.deepEqual(mine.map((n) => `${n.layer}:${n.channel}@${n.depth}`), ref.map((n) => `${n.layer}:${n.channel}@${n.depth}`));
    mine.forEach((n, k) => close(n.relevance, ref[k].relevance, `${n.layer}:${n.channel}`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('concepts and attribution graphs through the worker equal the direct calls', { skip, timeout: 180_000 }, async () => {
  const { createRelscopeWorker } = await import(pathToFileURL(path.join(WEB, 'relscope_worker.mjs')).href);
  const worker = await createRelscopeWorker();
  try {
    const rs = await api();
    await rs.loadModel(modelBytes(), `${MODEL}.onnx`);
    await worker.loadModel(modelBytes(), `${MODEL}.onnx`);
    const x = input();
    const request = { data: x.data, shape: x.shape, params: { layer: LAYER }, top: 3 };
    const [direct, viaWorker] = [await rs.concepts(request), await worker.concepts(request)];
    assert.deepEqual(viaWorker.ranking, direct.ranking);
    assert.deepEqual(Array.from(viaWorker.relevance), Array.from(direct.relevance));
    const per = x.data.length / x.shape[0];
    const graph = { data: x.data.slice(0, per), shape: [1, ...x.shape.slice(1)], params: { layer: '/fc/Gemm' }, channel: 1, depth: 2, top: 2 };
    const [g1, g2] = [await rs.attributionGraph(graph), await worker.attributionGraph(graph)];
    assert.equal(g1.nodes.length, 7, 'fc:1, 2 children in /c2/Conv, 4 grandchildren in /c1/Conv');
    assert.deepEqual(g2, g1);
  } finally {
    worker.terminate();
  }
});

test('concepts errors: no layer (the list given), not a linear layer, bad top, a batch for a graph, bad channel', { skip, timeout: 120_000 }, async () => {
  const rs = await api();
  await rs.loadModel(modelBytes(), `${MODEL}.onnx`);
  const x = input();
  const is = (kind, ...patterns) => (e) => {
    assert.equal(e.kind, kind, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };
  await assert.rejects(rs.concepts({ data: x.data, shape: x.shape }), is('bad-input', /params\.layer/, /\/c1\/Conv/, /\/fc\/Gemm/));
  await assert.rejects(rs.concepts({ data: x.data, shape: x.shape, params: { layer: 'nope' } }), is('bad-input', /nope/));
  await assert.rejects(rs.concepts({ data: x.data, shape: x.shape, params: { layer: LAYER }, top: 0 }), is('bad-input', /top/));
  await assert.rejects(rs.attributionGraph({ data: x.data, shape: x.shape, params: { layer: LAYER }, channel: 0 }),
    is('bad-input', /one sample at a time/));
  const per = x.data.length / x.shape[0];
  const one = { data: x.data.subarray(0, per), shape: [1, ...x.shape.slice(1)], params: { layer: LAYER } };
  await assert.rejects(rs.attributionGraph({ ...one, channel: 999 }), is('bad-input', /channel 999 is out of range/));
  await assert.rejects(rs.attributionGraph(one), is('bad-input', /channel/));
  await assert.rejects(rs.attributionGraph({ ...one, channel: 0, depth: -1 }), is('bad-input', /depth/));
  // and the API still answers
  assert.equal((await rs.concepts({ ...one, top: 1 })).ranking[0].length, 1);
});

// A float32 .npy (version 1.0, C order) for the CLI.
function writeNpy(file, data, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(new Float32Array(data).buffer)]));
}
