// relscope/web/relscope.mjs — the JavaScript API: createRelscope() -> load a model, predict, explain.
//
// Sections: RelscopeError | argument normalisation | createRelscope()
//
// Works unchanged in a page and in node: it imports ./relscope_web.js (the Emscripten ES6 module). The
// page gets both files side by side from scripts/serve.mjs (web/ + build/wasm/web/); the wasm build
// copies this file next to relscope_web.js, so node code imports build/wasm/web/relscope.mjs.
//
//   const rs = await createRelscope();
//   const model = await rs.loadModel(bytes, 'cnn.onnx');
//     // {name, inputs: [{name, shape, dtype}], outputs: [...], ops: [{name, op, rule?}], opset, producer}
//     // shape: symbolic/unknown dims are null ([null, 1, 28, 28]); a model that declares no rank: null.
//     // rule: the node's rule under the default composite (epsilon-plus-flat), as rules() gives it; absent
//     // when the model does not plan for its example shapes (symbolic dims = 1); rules() then says why.
//   const y = await rs.predict({data: Float32Array, shape: [1, 1, 28, 28]});   // {outputs: [{name, data, shape, dtype}], ms}
//   const e = await rs.explain({data, shape, method: 'lrp', composite: 'epsilon-plus-flat',
//                               params: {epsilon: 1e-6, rules: {'/fc1/Gemm': 'zplus'}}, target: 'pred', output: 0});
//     // {relevance: Float32Array, shape, output: {name, data, shape, dtype}, targets: number[], notes, ms,
//     //  pruning: [{node, zeroedFraction, giniBefore, giniAfter, kept}] for pruned-lrp}
//   explain({..., backend: 'webgpu' | 'auto' | 'cpu'}): where it runs (default 'cpu'). 'webgpu' compiles the
//     explanation into one GPU program (forward pass, seed and relevance sweep; buffers stay on the GPU) and
//     runs it through ./relscope_webgpu.mjs; what the GPU path does not run (cov-lrp, ops without a GPU
//     kernel, occlusion past one program's size) rejects with kind 'unsupported', GPU failures with kind 'gpu'. 'auto' uses the GPU when
//     it can and otherwise explains on the CPU, saying why in the result's `fallback`. Results carry
//     `backend` ('webgpu' | 'cpu'), WebGPU results `gpu`: {steps, buffers, uploadedBytes (a model's weights
//     stay on the GPU between explanations), skipped (steps of a kept forward pass), and where the time went:
//     programMs (the engine builds the program), encodeMs (host work up to the submit), waitMs (the GPU and the
//     readback), finishMs (the engine finishes the explanation)}; rs.gpuInfo() -> the adapter's {vendor, architecture, description,
//     software} or null. 'auto' uses any adapter, also a software one (software: true, e.g. SwiftShader, which
//     emulates the GPU on the CPU and is far slower than wasm); the canvas does not pick those by default.
//   const c = await rs.concepts({data, shape, composite, params: {layer: '/conv2/Conv'}, target, top: 5});
//     // CRP concept ranking, as `relscope concepts`: {layer, layers (every concept layer; a request without
//     // params.layer is refused with the list), channels, shape: [N, C], relevance, normalized (Float32Array,
//     // N*C: channel sums, and divided by the sample's sum of |R|), ranking: per sample [{channel, relevance,
//     // share}] most relevant first (`top` of them; default all), output, targets, ms}. A channel's map:
//     // explain({..., method: 'crp', params: {layer, channels: [c]}}).
//   const g = await rs.attributionGraph({data, shape, params: {layer}, channel: 3, depth: 2, top: 3});
//     // one sample: {target, output, nodes: [{layer, channel, relevance, parent, depth}]}, breadth first, the
//     // root first (parent -1); each concept's `top` children in the linear layer below, by conditional relevance.
//   const m = await rs.conceptMaps({data, shape, params: {layer}});
//     // relevance and activation at the layer's output (what RelMax / ActMax reference samples rank by):
//     // {layer, axis (channel axis), shape, relevance, activation (Float32Array), output, targets, ms}
//   const f = await rs.faithfulness({data, shape, method, composite, params: {'flip-steps': 20, 'flip-window': 2,
//                                    'random-orders': 4}, channelsLast: false});
//     // pixel flipping, as `relscope faithfulness`: the map of explain() with the same request, then its units
//     // (window^d blocks of the spatial dims, all channels; features for (N, F)) set to params 'flip-baseline'
//     // (0) most relevant first, 'flip-fraction' (1) of them in 'flip-steps' (20) steps, and the same in
//     // 'random-orders' (4) random orders ('flip-seed'): {explanation (explain's result), units, removed
//     // (units removed per point), curves: per sample {target, relevanceFirst, random, aopc, aopcRandom, gini},
//     // options, ms}. AOPC: the mean drop of the output over the points; a faithful map beats the random one.
//   const s = await rs.spray({data, shape, neighbours: 10, size: 32, clusters: 0, maxClusters: 8, seed: 0});
//     // SpRAy (src/relevance/spray.h) over n heatmaps of one class stacked along the batch dim (each the model
//     // input's sample shape, e.g. from explain() at one target): {clusters (from the eigengap unless given),
//     // eigenvalues (smallest first), labels (per map; 0 = the largest cluster), sizes, embedding ([x, y] per
//     // map), centroids (each cluster's mean downsized map), featureShape}.
//   rs.rules({composite, params})  -> [{name, op, rule}] on the canonized graph (a BatchNorm merged into
//                                     its Conv stays as an Identity node), planned with symbolic dims = 1
//   rs.methods(), rs.composites(), rs.version
//   const x = await rs.loadInput(bytes, 'x.npy', {slot: 0});   // {data, shape, dtype}: an image (by its bytes;
//     // laid out, resized and scaled for the model's input), a .npy, or a .csv (by name), read as the CLI
//     // reads INPUT files; refused (RelscopeError) when malformed, empty or not finite. Needs a model.
//   createRelscope({limits: {maxMemoryMB, maxElements, maxFileMB, maxImagePixels}}): the resource limits
//     for models and inputs loaded afterwards (defaults as the CLI's: 4096 MB, 2^28, 2048 MB, 64 Mpixel).
//   createRelscope({threads: N}): CPU kernel threads. With N >= 2 and SharedArrayBuffer available (a page that
//     is cross-origin isolated: COOP/COEP, as scripts/serve.mjs sends; node always) it loads the threaded
//     module ./relscope_web_mt.js (built with -DRELSCOPE_WASM_THREADS=ON) with N - 1 pool workers, and
//     otherwise ./relscope_web.js, as it does whenever the threaded files are missing. Default: in a
//     cross-origin isolated page min(navigator.hardwareConcurrency, 4); elsewhere, and in node, 1 (opt in).
//     rs.threads: the threads explanations actually use (1 on the single-threaded module).
//
// Variance heatmaps (same names as the CLI's flags, in params): a Gaussian head's mean or variance with
// params {explain: 'mean'|'variance', 'mean-unit', 'var-unit', 'var-kind'} (the result's `explained` says
// which quantity, e.g. "log-variance of output 'y' unit 1"); CovLRP with method 'cov-lrp' and params
// {'mc-dropout': N, seed} or {ensemble: 'b.onnx,c.onnx'} after loadEnsembleMember(bytes, 'b.onnx'), ...,
// cov: 'diag'|'marg'|'both'. Its result: relevance = the chosen map (+ the aleatoric term for Gaussian
// heads), output null, and cov = {diag, marg, mean, aleatoric, memberOutputs (M x N), memberVariances,
// outputVariance (per sample), members, membersText, explained, aleatoricExplained}.
// params use the CLI's flag names (epsilon gamma alpha beta low high steps samples noise seed window
// stride baseline) and are checked by the same parser; low/high take a number or an array (per channel);
// rules maps node names to rule strings ('zplus', 'gamma:0.5', 'zbox:-1,1', ...). target: 'pred', a
// class index, or one index per sample. output: a graph output's name or position.
// A model with several inputs takes `inputs: [{data, shape}, ...]` (predict: the array itself); the
// explained input is the first. int64 inputs take a BigInt64Array or plain numbers; int64 outputs come
// back as BigInt64Array.
//
// Every method that touches the model is async and rejects with a RelscopeError (.kind: 'bad-input' |
// 'unsupported' | 'limit' | 'internal') whose message is relscope's own, naming the file, node or
// field. The object stays usable after an error; a model that fails to load leaves the previous one.
// Only an 'internal' error raised by the wasm runtime itself (an abort) may leave it broken.

// ---- RelscopeError --------------------------------------------------------------------------------------
export class RelscopeError extends Error {
  constructor(message, kind) {
    super(message);
    this.name = 'RelscopeError';
    this.kind = kind;
  }
}

const badInput = (message) => new RelscopeError(message, 'bad-input');

// ---- argument normalisation -----------------------------------------------------------------------------
function modelBytes(bytes, name) {
  if (bytes instanceof Uint8Array) return bytes;   // node Buffers too
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw badInput(`${name}: model bytes must be a Uint8Array or an ArrayBuffer`);
}

// {data, shape}: shape becomes a plain array; plain number arrays become Float32Array (typed arrays go
// through untouched: the engine copies them into wasm memory once, converting on the way if needed).
function tensorArg(t, what) {
  if (t === null || typeof t !== 'object') throw badInput(`${what}: expected {data, shape}`);
  const { data, shape } = t;
  if (shape === undefined || shape === null || typeof shape[Symbol.iterator] !== 'function') {
    throw badInput(`${what}: shape must be an array of integers`);
  }
  let d = data;
  if (Array.isArray(d)) d = d.some((v) => typeof v === 'bigint') ? BigInt64Array.from(d) : Float32Array.from(d);
  if (!ArrayBuffer.isView(d) || d instanceof DataView) throw badInput(`${what}: data must be a Float32Array`);
  return { data: d, shape: Array.from(shape) };
}

function inputsArg(x, what) {
  return Array.isArray(x) ? x.map((t, k) => tensorArg(t, `${what}[${k}]`)) : tensorArg(x, what);
}

// ---- module choice: threads ------------------------------------------------------------------------------
const inNode = typeof process === 'object' && !!process.versions?.node;

// Wasm threads need a shared memory: a page has SharedArrayBuffer only when it is cross-origin isolated.
export function threadsAvailable() {
  if (typeof SharedArrayBuffer !== 'function') return false;
  return inNode || globalThis.crossOriginIsolated === true;
}

function threadsArg(threads) {
  if (threads === undefined || threads === null) {
    if (inNode || globalThis.crossOriginIsolated !== true) return 1;
    return Math.max(1, Math.min(Number(globalThis.navigator?.hardwareConcurrency) || 1, 4));
  }
  const n = Number(threads);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw badInput(`threads: expected an integer from 1 to 64, got ${threads}`);
  return n;
}

// Under node, pthread workers (worker_threads) would keep the process alive after the caller is done.
function unrefNodeWorkers(M) {
  const P = M.PThread;
  if (!inNode || !P) return;
  for (const w of [...P.unusedWorkers, ...P.runningWorkers]) w.unref?.();
  const allocate = P.allocateUnusedWorker;
  P.allocateUnusedWorker = function () {
    allocate.call(P);
    P.unusedWorkers[P.unusedWorkers.length - 1]?.unref?.();
  };
}

// Whether the build beside this file has the threaded module: ./relscope_build.mjs, written by emscripten.cmake
// in every wasm build (so a build without it causes no 404 on each page load; a build older than that file
// counts as single-threaded).
async function threadedBuilt() {
  try {
    return (await import('./relscope_build.mjs')).threaded === true;
  } catch {
    return false;
  }
}

// The threaded module with n threads (n - 1 pool workers started before it resolves: a thread started
// later would need the calling thread to yield, which a parallel region never does), or null when it is
// not there (not built, or not served).
async function loadThreaded(n, factoryOptions) {
  if (!(await threadedBuilt())) return null;
  let create;
  try {
    ({ default: create } = await import('./relscope_web_mt.js'));
  } catch {
    return null;
  }
  const M = await create({ ...factoryOptions, pthreadPoolSize: n - 1 });
  unrefNodeWorkers(M);
  M.setThreads(n);
  return M;
}

// ---- createRelscope() -----------------------------------------------------------------------------------
// options: passed to the Emscripten module factory (print, printErr, locateFile, wasmBinary, ...), except
// `module`: an already instantiated Emscripten module that links src/js/bindings.cpp (the ImGui app's),
// used instead of loading ./relscope_web.js; `limits`; `threads` (see the header); and `webgpu`:
// {gpu, profile} for the WebGPU runner — `gpu` a GPU object where there is no navigator.gpu (node with Dawn's
// `webgpu` package: bench/webgpu_node.mjs), `profile: true` to time every dispatch (result.gpu.profile).
export async function createRelscope(options = {}) {
  const { module: given, limits, threads, webgpu: gpuOptions, ...factoryOptions } = options ?? {};
  let M = given;
  if (!M) {
    const n = threadsArg(threads);
    if (n >= 2 && threadsAvailable()) M = await loadThreaded(n, factoryOptions);
  }
  if (!M) {
    const { default: createRelscopeModule } = await import('./relscope_web.js');
    M = await createRelscopeModule(factoryOptions);
  }
  if (typeof M.Engine !== 'function') throw new RelscopeError('this module has no relscope JS bindings (src/js/bindings.cpp)', 'internal');
  const engine = new M.Engine();
  if (limits !== undefined && limits !== null) {
    const r = engine.setLimits(limits);
    if (r && typeof r.error === 'string') throw new RelscopeError(r.error, r.kind);
  }

  // Run one engine call: its {error, kind} becomes a thrown RelscopeError; a JS exception from inside
  // the runtime (abort, trap) is an internal error.
  const call = (fn) => {
    let r;
    try {
      r = fn();
    } catch (e) {
      if (e instanceof RelscopeError) throw e;
      throw new RelscopeError(`internal error: ${e && e.message ? e.message : String(e)}`, 'internal');
    }
    if (r && typeof r.error === 'string') throw new RelscopeError(r.error, r.kind);
    return r;
  };

  // The WebGPU runner (src/kernels/webgpu/bridge.mjs), made on first use; forgotten when its device is lost
  // or it could not be made, so a later call tries again.
  let gpu = null;
  const gpuRunner = () => {
    gpu ??= import('./relscope_webgpu.mjs').then((m) => m.createGpuRunner({ ...gpuOptions }));
    return gpu.then((r) => {
      if (r.lost) throw Object.assign(new Error('the GPU device was lost'), { kind: 'gpu-lost' });
      return r;
    }).catch((e) => {
      gpu = null;
      throw e;
    });
  };
  const gpuError = (e) => (e instanceof RelscopeError ? e
    : new RelscopeError(`WebGPU: ${e && e.message ? e.message : String(e)}`, 'gpu'));

  const explainTensors = (request, what = 'explain') => {
    if (request === null || typeof request !== 'object') throw badInput(`${what}: expected {data, shape, method, ...}`);
    const { data, shape, inputs, backend, ...rest } = request;
    const tensors = inputs !== undefined ? { inputs: inputsArg(inputs, `${what}.inputs`) } : tensorArg({ data, shape }, what);
    return { ...rest, ...tensors };
  };
  const explainOnCpu = (request) => ({ ...call(() => engine.explain(explainTensors(request))), backend: 'cpu' });
  const explainOnGpu = async (request) => {
    const t0 = performance.now();
    let runner;
    try {
      runner = await gpuRunner();
    } catch (e) {
      throw gpuError(e);
    }
    // gpuProgram's data views point into wasm memory: run() uploads them before its first await.
    const t1 = performance.now();
    const program = call(() => engine.gpuProgram(explainTensors(request)));
    const programMs = performance.now() - t1;
    let readback;
    try {
      readback = await runner.run(program);
    } catch (e) {
      throw gpuError(e);
    }
    const t2 = performance.now();
    const r = call(() => engine.gpuFinish(readback));
    // gpu: the runner's record of the run, and the engine's share around it (building the program, finishing
    // the explanation from the readback), so a slow explanation says which side was slow.
    const gpu = { ...runner.lastRun, programMs, finishMs: performance.now() - t2 };
    return { ...r, ms: performance.now() - t0, backend: 'webgpu', gpu };
  };

  // One engine call at a time, in call order: a WebGPU explanation awaits its GPU between gpuProgram and
  // gpuFinish, and any engine call started meanwhile (another explanation, a model load) would replace the
  // program it is about to finish. Concurrent calls (a worker's message handler, a page firing several) queue;
  // with nothing in flight a call starts at once, so its arguments are read before the caller goes on.
  let inFlight = 0, tail = Promise.resolve();
  const inTurn = (fn) => {
    const r = inFlight === 0 ? fn() : tail.then(fn);
    inFlight++;
    tail = r.then(() => { inFlight--; }, () => { inFlight--; });
    return r;
  };

  const api = {
    version: M.version(),
    module: M,
    threads: typeof M.threads === 'function' ? M.threads() : 1,

    loadModel(bytes, name = 'model.onnx') {
      return inTurn(async () => {
        const info = call(() => engine.loadModel(modelBytes(bytes, String(name)), String(name)));
        gpu?.then((r) => r.dropConstants(), () => {});   // the old model's weights
        return info;
      });
    },

    loadInput(bytes, name = 'input.npy', { slot = 0 } = {}) {
      return inTurn(async () => {
        return call(() => engine.loadInput(modelBytes(bytes, String(name)), String(name), Number(slot)));
      });
    },

    predict(input) {
      return inTurn(async () => {
        return call(() => engine.predict(inputsArg(input, 'predict')));
      });
    },

    explain(request) {
      return inTurn(async () => {
        const backend = request?.backend ?? 'cpu';
        if (backend === 'cpu') return explainOnCpu(request);
        if (backend === 'webgpu') return explainOnGpu(request);
        if (backend !== 'auto') throw badInput(`explain: backend '${backend}' (cpu, webgpu or auto)`);
        try {
          return await explainOnGpu(request);
        } catch (e) {
          if (e.kind !== 'gpu' && e.kind !== 'unsupported') throw e;   // a bad request fails on the CPU too
          return { ...explainOnCpu(request), fallback: e.message };
        }
      });
    },

    // The WebGPU adapter's {vendor, architecture, description}, or null when there is none.
    async gpuInfo() {
      try {
        return (await gpuRunner()).info;
      } catch {
        return null;
      }
    },

    // cov-lrp over a deep ensemble: load the other members (the loaded model is the first), then
    // explain({..., method: 'cov-lrp', params: {ensemble: 'b.onnx,c.onnx'}}). loadModel clears them.
    loadEnsembleMember(bytes, name = 'member.onnx') {
      return inTurn(async () => {
        call(() => engine.loadEnsembleMember(modelBytes(bytes, String(name)), String(name)));
      });
    },
    clearEnsemble() {
      engine.clearEnsemble();
    },

    rules(request = {}) {
      return inTurn(async () => {
        return call(() => engine.rules(request ?? {})).rules;
      });
    },

    // CRP on the CPU (see the header): a layer's channels ranked per sample, and one concept's attribution graph.
    concepts(request) {
      return inTurn(async () => {
        return call(() => engine.concepts(explainTensors(request, 'concepts')));
      });
    },
    attributionGraph(request) {
      return inTurn(async () => {
        return call(() => engine.attributionGraph(explainTensors(request, 'attributionGraph')));
      });
    },
    conceptMaps(request) {
      return inTurn(async () => {
        return call(() => engine.conceptMaps(explainTensors(request, 'conceptMaps')));
      });
    },

    // Pixel flipping (see the header): explains on the CPU as explain() does, then removes the most relevant
    // units first and records the explained output, against random orders.
    faithfulness(request) {
      return inTurn(async () => {
        return call(() => engine.faithfulness(explainTensors(request, 'faithfulness')));
      });
    },

    // SpRAy over n maps stacked as one {data, shape} of the model input's shape (batch n): see the header.
    spray(request) {
      return inTurn(async () => {
        if (request === null || typeof request !== 'object') throw badInput('spray: expected {data, shape, ...}');
        const { data, shape, ...rest } = request;
        return call(() => engine.spray({ ...rest, ...tensorArg({ data, shape }, 'spray') }));
      });
    },

    methods: () => M.methods(),
    composites: () => M.composites(),
  };
  return Object.freeze(api);
}

export default createRelscope;
