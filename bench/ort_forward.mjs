// bench/ort_forward.mjs — onnxruntime-web (wasm backend, 1 thread) forward time under node.
//
// Sections: arguments | session | timing
//
// usage: node bench/ort_forward.mjs ORT_DIR MODEL.onnx [SHAPE] [RUNS]
//   ORT_DIR: a folder whose node_modules holds onnxruntime-web (bench/run.sh installs it into
//   build/bench/ort at bench time; it is ~150 MB, so it is never a dependency of the project).
// Prints one line per timed run (after one warm-up run), "ort forward: <wall> ms (cpu <process CPU> ms)", the
// same form as `relscope bench`, so bench/report.mjs takes medians of both alike.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// ---- arguments ----------------------------------------------------------------------------------------------
const [ortDir, modelPath, shapeArg = '1,3,224,224', runsArg = '5'] = process.argv.slice(2);
if (!ortDir || !modelPath) {
  console.error('usage: node bench/ort_forward.mjs ORT_DIR MODEL.onnx [SHAPE] [RUNS]');
  process.exit(2);
}
const require = createRequire(path.resolve(ortDir, 'package.json'));
const ort = require('onnxruntime-web');
const shape = shapeArg.split(',').map(Number);
const runs = Number(runsArg);

// ---- session ----------------------------------------------------------------------------------------------------
// One thread and SIMD: the same conditions as relscope's wasm build (no pthreads, -msimd128).
ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.logLevel = 'error';
const session = await ort.InferenceSession.create(readFileSync(modelPath), {
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
});
const n = shape.reduce((a, b) => a * b, 1);
const data = new Float32Array(n);
let seed = 1234;
for (let k = 0; k < n; ++k) { seed = (seed * 1103515245 + 12345) >>> 0; data[k] = (seed / 2 ** 32) * 2 - 1; }
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };

// ---- timing -------------------------------------------------------------------------------------------------------
await session.run(feeds);   // warm-up: kernels, arena
for (let r = 0; r < runs; ++r) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await session.run(feeds);
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  console.log(`ort forward: ${wall.toFixed(3)} ms (cpu ${((c.user + c.system) / 1000).toFixed(3)} ms)`);
}
