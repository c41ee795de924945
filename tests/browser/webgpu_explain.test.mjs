// relscope browser test — explanations on WebGPU (headless Chromium, SwiftShader; flags in _harness.mjs) equal
// the wasm CPU engine's on every bundled model, for every composite, the gradient methods (integrated
// gradients and SmoothGrad included) and occlusion, for every linear-layer rule set per node and for CRP
// maps (normalised max error <= 1e-5, same targets); the attention model (Softmax, LayerNorm, products of activations, routing
// ops) on its own sample; pruned LRP in both modes, with the same pruning report; backend 'auto' picks WebGPU
// when there is an adapter; what the GPU path does not run (a Pow whose exponent is an activation) falls back
// to the CPU with the reason; a model's weights stay on the GPU between explanations, and so does the last
// input's forward pass and its rules' denominators (asked again about it, the program skips those steps).
// Kernel by kernel: webgpu_kernels.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WASM_BUILD } from '../../scripts/serve.mjs';
import { appFixture, watchPage, ROOT } from './_harness.mjs';

const skip = !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_web.js')) ? 'no wasm build (build/wasm/web)'
  : !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_webgpu.mjs')) ? 'no WebGPU bridge in build/wasm/web' : false;
const fx = appFixture(skip);

test('WebGPU explanations equal the CPU engine on the bundled models', { skip, timeout: 300_000 }, async () => {
  const page = await fx.browser.newPage();
  const seen = watchPage(page);
  try {
    await page.goto(fx.server.url + 'minimal.html', { waitUntil: 'load', timeout: 60_000 });
    await page.waitForFunction(() => document.documentElement.dataset.relscope === 'ready', null, { timeout: 90_000 });
    const powModel = Array.from(fs.readFileSync(path.join(ROOT, 'tests/hostile/files/pow_of_activations.onnx')));
    const r = await page.evaluate(async (powModel) => {
      const rs = globalThis.relscope;
      const models = ['assets/demo/fashion_cnn.onnx', 'assets/fashion_resnet/model.onnx', 'assets/clever_hans/model.onnx',
        'assets/dna_motif/model.onnx', 'assets/variance/gaussian_mlp.onnx', 'assets/attention/model.onnx'];
      // The attention model on a real sample (one-hot tokens): on random inputs epsilon-rule relevance through
      // attention can move by more than 1e-5 of its maximum when the input moves by one float step (near-zero
      // denominators), so no two summation orders agree closer (tests/unit/test_gpu_program_ops.cpp measures it).
      const npy = async (file) => {
        const buf = await (await fetch(file)).arrayBuffer();
        return new Float32Array(buf.slice(10 + new DataView(buf).getUint16(8, true)));
      };
      const inputs = { 'assets/attention/model.onnx': await npy('assets/attention/samples/0_FCEDCCaGAGE.npy') };
      const cases = [['lrp', 'epsilon-plus-flat'], ['lrp', 'epsilon'], ['lrp', 'epsilon-plus'], ['lrp', 'epsilon-alpha2-beta1'],
        ['lrp', 'epsilon-alpha2-beta1-flat'], ['lrp', 'epsilon-gamma-box'], ['gradient'], ['gradient-x-input'],
        ['integrated-gradients'], ['smoothgrad'], ['occlusion'], ['pruned-lrp', 'epsilon-plus-flat']];
      // One request on both back-ends: normalised max errors of relevance and output, same targets and shape.
      const compare = async (request, label) => {
        const cpu = await rs.explain({ ...request, backend: 'cpu' });
        const gpu = await rs.explain({ ...request, backend: 'webgpu' });
        const normErr = (a, b) => {
          let top = 1e-30, err = 0;
          for (let k = 0; k < b.length; ++k) {
            top = Math.max(top, Math.abs(b[k]));
            err = Math.max(err, Math.abs(a[k] - b[k]));
          }
          return { err: err / top, nonzero: top > 1e-20 };
        };
        const r = normErr(gpu.relevance, cpu.relevance);
        // pruned-lrp's report: the same layers, the same entries zeroed, Ginis and kept shares within 1e-5
        const samePruning = JSON.stringify(gpu.pruning.map((l) => [l.node, l.zeroedFraction])) ===
            JSON.stringify(cpu.pruning.map((l) => [l.node, l.zeroedFraction])) &&
          gpu.pruning.every((l, k) => ['giniBefore', 'giniAfter', 'kept'].every((key) => Math.abs(l[key] - cpu.pruning[k][key]) <= 1e-5)) &&
          (request.method === 'pruned-lrp') === (cpu.pruning.length > 0);
        return { ...label, err: r.err, nonzero: r.nonzero, outErr: normErr(gpu.output.data, cpu.output.data).err, samePruning,
          backend: gpu.backend, sameTargets: JSON.stringify(gpu.targets) === JSON.stringify(cpu.targets) &&
            JSON.stringify(gpu.shape) === JSON.stringify(cpu.shape) };
      };
      let seed = 12345;
      const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
      const out = { results: [], info: await rs.gpuInfo() };
      for (const file of models) {
        const bytes = new Uint8Array(await (await fetch(file)).arrayBuffer());
        const info = await rs.loadModel(bytes, file.split('/').pop());
        const shape = info.inputs[0].shape.map((d) => d ?? 1);
        const data = inputs[file] ?? Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rand);
        for (const [method, composite] of cases) {
          const params = method === 'integrated-gradients' ? { steps: 3 } : method === 'smoothgrad' ? { samples: 3, seed: 5 }
            : method === 'occlusion' ? { window: 7, stride: 6 } : composite === 'epsilon-gamma-box' ? { low: -3, high: 3 }
              : method === 'pruned-lrp' ? { prune: 0.5 } : undefined;
          const request = { data, shape, method, composite, params };
          if (!params) delete request.params;
          out.results.push(await compare(request, { file, method, composite }));
        }
      }
      // Every linear-layer rule by per-node overrides on the ResNet (strided convs, residual Adds, BatchNorm
      // merged): each rule on all its linear layers, and a mix.
      const resnet = new Uint8Array(await (await fetch(models[1])).arrayBuffer());
      const rinfo = await rs.loadModel(resnet, 'model.onnx');
      const linear = rinfo.ops.filter((o) => o.op === 'Conv' || o.op === 'Gemm').map((o) => o.name);
      const rshape = rinfo.inputs[0].shape.map((d) => d ?? 1);
      const rx = Float32Array.from({ length: rshape.reduce((a, b) => a * b, 1) }, rand);
      const specs = ['epsilon:0.01', 'zplus', 'alphabeta:2,1', 'alphabeta:1,0', 'gamma:0.5', 'zbox:-2,2', 'flat', 'wsquare', 'mix'];
      for (const spec of specs) {
        const rules = Object.fromEntries(linear.map((name, k) => [name,
          spec !== 'mix' ? spec : ['zbox:-2,2', 'gamma:0.25', 'alphabeta:2,1', 'zplus', 'epsilon'][Math.min(k, 4)]]));
        const request = { data: rx, shape: rshape, method: 'lrp', composite: 'epsilon', params: { rules } };
        out.results.push(await compare(request, { file: 'fashion_resnet rules', method: 'lrp', composite: spec }));
      }

      // CRP on the ResNet: a conv inside a residual block, one map per channel and joint.
      for (const joint of [false, true]) {
        const request = { data: rx, shape: rshape, method: 'crp', composite: 'epsilon-plus-flat',
          params: { layer: linear[2], channels: [0, 3], joint } };
        out.results.push(await compare(request, { file: `fashion_resnet crp ${linear[2]}`, method: 'crp',
          composite: joint ? 'joint' : 'per channel' }));
      }

      // PLRP-M on the ResNet (each layer's rule run again on masked inputs), one proportion per sign.
      out.results.push(await compare({ data: rx, shape: rshape, method: 'pruned-lrp', composite: 'epsilon-plus-flat',
        params: { 'prune-pos': 0.6, 'prune-neg': 0.3, 'prune-mode': 'mask' } }, { file: 'fashion_resnet', method: 'pruned-lrp', composite: 'mask' }));

      // auto: the GPU when it can; a model it cannot run falls back, saying why.
      await rs.loadModel(new Uint8Array(powModel), 'pow.onnx');
      const refused = await rs.explain({ data: new Float32Array([1, 2, 3, 4]), shape: [1, 4], method: 'lrp', backend: 'auto' });
      const demo = new Uint8Array(await (await fetch(models[0])).arrayBuffer());
      await rs.loadModel(demo, 'fashion_cnn.onnx');
      const x = { data: Float32Array.from({ length: 784 }, rand), shape: [1, 1, 28, 28] };
      const auto = await rs.explain({ ...x, method: 'lrp', backend: 'auto' });
      // Weights stay on the GPU: a second explanation of the same model uploads no constant again.
      await rs.loadModel(demo, 'fashion_cnn.onnx');
      const first = (await rs.explain({ ...x, method: 'lrp', backend: 'webgpu' })).gpu;
      const second = (await rs.explain({ ...x, method: 'lrp', backend: 'webgpu' })).gpu;
      // The forward pass and the denominators stay on the GPU too: another target on the same input skips them
      // and still equals the CPU's answer; a different input runs its own.
      const retarget = await compare({ ...x, method: 'lrp', composite: 'epsilon-plus-flat', target: 3 },
        { file: 'fashion_cnn', method: 'lrp', composite: 'target 3, kept pass' });
      const retargetRun = (await rs.explain({ ...x, method: 'lrp', target: 5, backend: 'webgpu' })).gpu;
      // Fired at once (as a worker's message handler does): each WebGPU explanation keeps its own program while
      // it awaits the GPU, and a CPU call in between waits its turn.
      const y = { data: Float32Array.from({ length: 784 }, rand), shape: [1, 1, 28, 28] };
      const alone = [await rs.explain({ ...x, method: 'gradient', backend: 'webgpu' }), await rs.explain({ ...y, backend: 'webgpu' })];
      const together = await Promise.all([rs.explain({ ...x, method: 'gradient', backend: 'webgpu' }), rs.predict(y),
        rs.explain({ ...y, backend: 'webgpu' })]);
      const same = (a, b) => a.backend === b.backend && a.relevance.every((v, k) => v === b.relevance[k]);
      const concurrent = { gradient: same(together[0], alone[0]), lrp: same(together[2], alone[1]),
        backends: [together[0].backend, together[2].backend] };
      const otherInput = alone[1].gpu;
      return { ...out, auto: { backend: auto.backend, fallback: auto.fallback ?? null },
        refused: { backend: refused.backend, fallback: refused.fallback ?? '' }, first, second, concurrent, retarget,
        retargetRun, otherInput };
    }, powModel);
    console.log(`adapter: ${JSON.stringify(r.info)}; demo lrp: ${r.first.steps} steps, ${r.first.buffers} buffers, ` +
      `uploads ${r.first.uploadedBytes} then ${r.second.uploadedBytes} bytes`);
    // The weights (fashion_cnn: ~0.4 MB) go up once; the input is kept with its forward pass, so asking about
    // the same input again uploads nothing.
    assert.ok(r.first.uploadedBytes > 200_000, JSON.stringify(r.first));
    assert.equal(r.second.uploadedBytes, 0, JSON.stringify(r.second));
    // The same input's forward pass and its denominators are kept: the first run after loading computes them,
    // the next ones skip them.
    console.log(`kept forward pass and denominators: ${r.second.skipped} of ${r.second.steps} steps skipped`);
    assert.equal(r.first.skipped, 0, JSON.stringify(r.first));
    assert.ok(r.second.skipped > 0 && r.second.skipped < r.second.steps, JSON.stringify(r.second));
    assert.ok(r.retargetRun.skipped > 0, JSON.stringify(r.retargetRun));
    assert.equal(r.otherInput.skipped, 0, 'another input computes its own forward pass');
    assert.ok(r.retarget.err <= 1e-5 && r.retarget.sameTargets && r.retarget.nonzero, JSON.stringify(r.retarget));
    const worst = r.results.reduce((m, c) => (c.err > m.err ? c : m));
    console.log(`worst relevance error ${worst.err.toExponential(2)} (${worst.file} ${worst.method} ${worst.composite ?? ''})`);
    assert.ok(r.info, 'Chromium with SwiftShader offers a WebGPU adapter');
    assert.equal(r.info.software, true, 'and says it is a software one');
    assert.equal(r.results.length, 6 * 12 + 9 + 2 + 1);
    for (const c of r.results) {
      const what = `${c.file} ${c.method} ${c.composite ?? ''}`;
      assert.equal(c.backend, 'webgpu', what);
      assert.ok(c.nonzero, `${what}: relevance is not all zero`);
      assert.ok(c.err <= 1e-5, `${what}: normalised max error ${c.err}`);
      assert.ok(c.outErr <= 1e-5, `${what}: output error ${c.outErr}`);
      assert.ok(c.sameTargets, `${what}: targets`);
      assert.ok(c.samePruning, `${what}: pruning report`);
    }
    assert.deepEqual(r.auto, { backend: 'webgpu', fallback: null });
    assert.deepEqual(r.concurrent, { gradient: true, lrp: true, backends: ['webgpu', 'webgpu'] },
      'concurrent WebGPU explanations give what they give one at a time');
    assert.equal(r.refused.backend, 'cpu');
    assert.match(r.refused.fallback, /node 'pow' \(Pow\): Pow with an exponent that is not one constant/);
    assert.deepEqual(seen.errors, [], `page errors:\n${seen.errors.join('\n')}`);
  } finally {
    await page.close();
  }
});
