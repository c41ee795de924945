// relscope/tests/js/gpu_program.test.mjs — the JS API's GPU path under node, where there is no WebGPU: the
// program from gpuProgram, run by the engine's CPU reference (runProgramOnCpu) and handed to gpuFinish,
// equals explain's relevance (the bindings' conversions both ways); backend 'auto' falls back to the CPU and
// says why; 'webgpu' rejects with kind 'gpu'; what the GPU path does not run rejects with kind 'unsupported'.
// The WGSL kernels themselves: tests/browser/webgpu_kernels.test.mjs and webgpu_explain.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const API_MODULE = path.join(WASM_BUILD, 'web', 'relscope.mjs');
const skip = !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_web.js')) ? 'no wasm build (build/wasm/web)' : false;

const load = async (file) => {
  const { createRelscope } = await import(pathToFileURL(API_MODULE).href);
  const rs = await createRelscope();
  await rs.loadModel(fs.readFileSync(path.join(ROOT, file)), path.basename(file));
  return rs;
};

function randomInput(shape, seed) {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let k = 0; k < n; ++k) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[k] = s / 2 ** 32 - 0.5;
  }
  return { data, shape };
}

const maxErr = (a, b) => {
  let top = 1e-30, err = 0;
  for (let k = 0; k < b.length; ++k) {
    top = Math.max(top, Math.abs(b[k]));
    err = Math.max(err, Math.abs(a[k] - b[k]));
  }
  return err / top;
};

test('the GPU program through the bindings, run on the CPU reference, equals explain', { skip }, async () => {
  for (const [file, shape] of [['assets/demo/fashion_cnn.onnx', [1, 1, 28, 28]], ['assets/fashion_resnet/model.onnx', [1, 1, 28, 28]],
    ['assets/dna_motif/model.onnx', null]]) {
    const rs = await load(file);
    const engine = new rs.module.Engine();
    const bytes = fs.readFileSync(path.join(ROOT, file));
    engine.loadModel(bytes, path.basename(file));
    const info = await rs.loadModel(bytes, path.basename(file));
    const dims = shape ?? info.inputs[0].shape.map((d) => d ?? 1);
    const x = randomInput(dims, 7);
    // (crp reads back one map per concept: the readback list is longer than one map)
    const layer = info.ops.filter((o) => o.op === 'Conv' || o.op === 'Gemm')[1].name;
    for (const [method, composite, params] of [['lrp', 'epsilon-plus-flat'], ['lrp', 'epsilon-alpha2-beta1'], ['gradient', undefined],
      ['crp', 'epsilon-plus-flat', { layer, channels: [0, 2] }], ['smoothgrad', undefined, { samples: 2 }],
      ['occlusion', undefined, { window: 5, stride: 5 }], ['pruned-lrp', 'epsilon-plus-flat', { prune: 0.5 }],
      ['pruned-lrp', 'epsilon-plus-flat', { 'prune-pos': 0.7, 'prune-neg': 0.2, 'prune-mode': 'mask' }]]) {
      const request = { ...x, method, composite, target: 1, ...(params ? { params } : {}) };
      const want = await rs.explain(request);
      const program = engine.gpuProgram(request);
      assert.equal(program.error, undefined, program.error);
      assert.equal(program.steps.length % 38, 0);
      assert.ok(program.buffers.some((b) => b.key !== ''), 'weights are keyed constants');
      // A large buffer in front makes the CPU reference grow wasm memory before it copies the rest: the
      // program's data views into that memory must not be read after such a growth (they are detached).
      const bigFirst = {
        buffers: [{ words: 48 << 20, data: null, key: '' }, ...program.buffers],
        steps: program.steps.map((w, k) => (k % 38 >= 33 && w !== 0xffffffff ? w + 1 : w)),
        readback: program.readback.map((id) => id + 1),
      };
      const got = engine.gpuFinish(rs.module.runProgramOnCpu(bigFirst));
      assert.equal(got.error, undefined, got.error);
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual(got.targets, want.targets);
      assert.ok(maxErr(got.relevance, want.relevance) <= 1e-5, `${file} ${method} ${composite}: ${maxErr(got.relevance, want.relevance)}`);
      assert.ok(maxErr(got.output.data, want.output.data) <= 1e-6);
      // pruned-lrp: the same layers report the same losses (entries zeroed exactly; Ginis of near-equal maps)
      assert.deepEqual(got.pruning.map((l) => l.node), want.pruning.map((l) => l.node));
      assert.equal(method === 'pruned-lrp', want.pruning.length > 0, `${file} ${method}: a pruning report`);
      got.pruning.forEach((l, k) => {
        const w = want.pruning[k];
        assert.equal(l.zeroedFraction, w.zeroedFraction, `${file} ${l.node}`);
        for (const key of ['giniBefore', 'giniAfter', 'kept']) assert.ok(Math.abs(l[key] - w[key]) <= 1e-5, `${file} ${l.node} ${key}`);
      });
    }
    engine.delete();
  }
});

test('backend auto falls back to the CPU and says why; webgpu and unsupported methods reject', { skip }, async () => {
  const rs = await load('assets/demo/fashion_cnn.onnx');
  const x = randomInput([1, 1, 28, 28], 3);
  const cpu = await rs.explain({ ...x, method: 'lrp' });
  assert.equal(cpu.backend, 'cpu');
  const auto = await rs.explain({ ...x, method: 'lrp', backend: 'auto' });
  assert.equal(auto.backend, 'cpu');
  assert.match(auto.fallback, /WebGPU/);
  assert.deepEqual(Array.from(auto.relevance), Array.from(cpu.relevance));
  await assert.rejects(rs.explain({ ...x, method: 'lrp', backend: 'webgpu' }), (e) => e.kind === 'gpu' && /WebGPU/.test(e.message));
  await assert.rejects(rs.explain({ ...x, method: 'lrp', backend: 'metal' }), (e) => e.kind === 'bad-input' && /backend 'metal'/.test(e.message));
  assert.equal(await rs.gpuInfo(), null);

  const engine = new rs.module.Engine();
  engine.loadModel(fs.readFileSync(path.join(ROOT, 'assets/demo/fashion_cnn.onnx')), 'fashion_cnn.onnx');
  const bad = engine.gpuProgram({ ...x, method: 'lrp', target: 99 });
  assert.equal(bad.kind, 'bad-input');
  assert.match(bad.error, /--target 99 is out of range/);
  engine.loadModel(fs.readFileSync(path.join(ROOT, 'tests/hostile/files/pow_of_activations.onnx')), 'pow.onnx');
  const pow = engine.gpuProgram({ data: new Float32Array([1, 2, 3, 4]), shape: [1, 4], method: 'lrp' });
  assert.equal(pow.kind, 'unsupported', pow.error);
  assert.match(pow.error, /node 'pow' \(Pow\): Pow with an exponent that is not one constant/);
  engine.delete();
});
