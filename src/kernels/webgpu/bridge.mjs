// relscope/kernels/webgpu/bridge.mjs — runs a GPU program (src/kernels/webgpu/program.h) on navigator.gpu.
// Installed as build/wasm/web/relscope_webgpu.mjs next to relscope_webgpu_shaders.mjs (embed_shaders.mjs).
//
// Sections: errors | kernels and dispatch sizes | createGpuRunner() | run()
//
// Works in a page and in a module Web Worker. Usage:
//   const gpu = await createGpuRunner();          // throws kind 'gpu-unavailable'
//   const [y, r] = await gpu.run(program);        // Float32Array per readback buffer (uint32 ones bit-cast)
//   gpu.dropConstants(); gpu.destroy();
//   createGpuRunner({ profile: true }): where the adapter has 'timestamp-query', every dispatch runs in its own
//   compute pass with timestamps and run()'s lastRun.profile lists each step's GPU time (a tool for bench/; the
//   extra passes and their barriers make the whole run slower, so the timings are for comparing steps).
//   lastRun also says where a run's time went on the host: encodeMs (everything up to the submit) and waitMs
//   (from the submit to the results).
// program = { buffers: [{ words, data: Float32Array | null, key: '' | 'name' }], steps: Uint32Array (38 words per
// step: kernel id, 32 uniform words, 5 buffer bindings, 0xffffffff = unused), readback: [buffer ids],
// kept: [{ key, from, to }] (optional) }.
// Keyed buffers stay on the GPU between runs (a model's weights, uploaded once). `kept` names ranges of steps
// whose results the runner keeps (program.h: KeptRange): kept[0] the forward pass, kept[1] the rules'
// denominators on it; range r's steps write only buffers keyed `key/...`, which no other step writes. After a
// run has finished a range, a program with the same key skips its steps (lastRun.skipped). One forward pass is
// kept at a time (another kept[0] key frees everything kept under the old one before anything is created), and
// the KEPT_DENOMINATOR_SETS most recently used sets of denominators on it (one composite and the one before:
// switching back and forth costs no forward GEMMs; an older set is freed before a new one is created).
//
// Why everything before the first await happens synchronously in run(): `data` may be a view into wasm memory
// that a later allocation (memory growth) invalidates, so every buffer is created and uploaded at once, and
// the whole program is encoded and submitted in the same turn. Error scopes are pushed and popped in that same
// turn too, so concurrent run() calls never see each other's errors.
// Errors are Error objects with `.kind`: 'gpu-unavailable', 'gpu-limit' (a buffer over the device's limits,
// checked before anything is created), 'gpu-error' (validation / out-of-memory / shader compilation),
// 'gpu-lost' (the device was lost or destroyed; the runner is then unusable), 'bad-program' (a malformed
// program object).
import { shaders } from './relscope_webgpu_shaders.mjs';

// ---- errors -----------------------------------------------------------------------------------------------
function gpuError(kind, message) {
  const e = new Error(message);
  e.name = 'RelscopeGpuError';
  e.kind = kind;
  return e;
}

// ---- kernels and dispatch sizes -------------------------------------------------------------------------------
// In program.h's enum order. `access`: per binding 1..n, 'r' (read-only storage) or 'w' (read_write storage).
const KERNELS = [
  { name: 'conv_forward', access: 'rrrwr' },        // [x, w, b, y, d]
  { name: 'conv_backward_data', access: 'rrwrr' },  // [dy, w, dx, m, d]
  { name: 'gemm', access: 'rrw' },                  // [A, B, C]
  { name: 'elementwise', access: 'rrrw' },          // [a, b, c, out]
  { name: 'max_pool', access: 'rww' },              // [x, y, idx]
  { name: 'max_pool_backward', access: 'rrw' },     // [dy, idx, dx]
  { name: 'avg_pool', access: 'rw' },               // [x, y]
  { name: 'avg_pool_backward', access: 'rw' },      // [dy, dx]
  { name: 'row_mean', access: 'rw' },               // [x, y]
  { name: 'seed', access: 'rww' },                  // [y, seed, targets]
  { name: 'gather', access: 'rrrw' },               // [src, idx, offsets, out] (Place keeps out's other elements)
  { name: 'rows', access: 'rrrw' },                 // [a, b, c, out]
  { name: 'window', access: 'rrrw' },               // [a, b, c, out] (drop mode adds to out)
  { name: 'prune', access: 'ww' },                  // [r, keep] (one mode writes r, the other keep)
];
const CONV_FORWARD = 0;
const CONV_BACKWARD_DATA = 1;
const GEMM = 2;
const PRUNE = 13;
const BINDINGS = 5;   // program.h: max_bindings
const STEP_WORDS = 1 + 32 + BINDINGS;
const UNUSED = 0xffffffff;
const UNIFORM_STRIDE = 256;   // >= minUniformBufferOffsetAlignment (at most 256 by the spec)
const UNIFORM_BYTES = 128;    // 32 words
const WG = 64;                // workgroup size of the 1-D kernels
const GEMM_TILE = 64;         // gemm: one 16x16 workgroup per 64x64 tile of C
const KEPT_DENOMINATOR_SETS = 2;   // program.h: kKeptDenominatorSets

// Workgroup counts of a step. 1-D kernels: ceil(count / 64) workgroups, x capped at the per-dimension limit
// and the rest on y (the shaders use idx = gid.x + gid.y * num_workgroups.x * 64 and return past count);
// prune: `count` workgroups (one per sample) laid out the same way. conv_backward_data: its shader's header.
// gemm: (ceil(N/64), ceil(M/64), batch), each capped; the shader strides over what the grid leaves out.
function dispatchSize(kernel, words, maxDim) {
  if (kernel === CONV_FORWARD) {   // an implicit GEMM per (image, group[, K range]): 64x64 tiles of (channels, positions)
    const planes = words[1] * words[4], mg = words[3] / words[4], osz = words[8] * words[9] * words[10];
    const splits = Math.max(words[24], 1);   // split-K: a workgroup per K range too
    if (planes === 0 || mg === 0 || osz === 0) return null;
    return [Math.min(Math.ceil(osz / GEMM_TILE), maxDim), Math.min(Math.ceil(mg / GEMM_TILE), maxDim),
      Math.min(planes * splits, maxDim)];
  }
  if (kernel === CONV_BACKWARD_DATA) {   // 16x16 workgroups either way (conv_backward_data.wgsl)
    const N = words[1], group = words[4], cg = words[2] / group;
    if (words[0] === 0) return null;
    if (words[29] === 1) {   // tiled per (image, group, stride phase, K range): 64x64 tiles of (channels, positions)
      let phases = 1, positions = 1;
      for (let d = 0; d < 3; d++) phases *= words[14 + d], positions *= Math.ceil(words[5 + d] / words[14 + d]);
      return [Math.min(Math.ceil(positions / GEMM_TILE), maxDim), Math.min(Math.ceil(cg / GEMM_TILE), maxDim),
        Math.min(N * group * phases * Math.max(words[24], 1), maxDim)];
    }
    // one invocation per dx position and block of word 30 (1-4) channels of a group
    const cpi = Math.min(Math.max(words[30], 1), 4), isz = words[5] * words[6] * words[7];
    const groups = Math.ceil(N * group * Math.ceil(cg / cpi) * isz / 256);
    const x = Math.min(groups, maxDim);
    if (Math.ceil(groups / x) > maxDim) throw gpuError('gpu-limit', `conv_backward_data: ${groups * 256} invocations exceed the device's dispatch limit`);
    return [x, Math.ceil(groups / x), 1];
  }
  if (kernel === GEMM) {
    const M = words[1], N = words[2], batch = words[9];
    if (M === 0 || N === 0 || batch === 0) return null;
    return [Math.min(Math.ceil(N / GEMM_TILE), maxDim), Math.min(Math.ceil(M / GEMM_TILE), maxDim),
      Math.min(batch, maxDim)];
  }
  const count = words[0];
  if (count === 0) return null;
  const groups = kernel === PRUNE ? count : Math.ceil(count / WG);   // prune: one workgroup per sample
  const x = Math.min(groups, maxDim);
  const y = Math.ceil(groups / x);
  if (y > maxDim) throw gpuError('gpu-limit', `${KERNELS[kernel].name}: ${count} invocations exceed the device's dispatch limit`);
  return [x, y, 1];
}

// ---- createGpuRunner() ------------------------------------------------------------------------------------------
export async function createGpuRunner({ gpu = globalThis.navigator?.gpu, profile = false } = {}) {
  if (!gpu) throw gpuError('gpu-unavailable', 'WebGPU is not available here (no navigator.gpu)');
  let adapter;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw gpuError('gpu-unavailable', `WebGPU: requestAdapter failed: ${e?.message || e}`);
  }
  if (!adapter) throw gpuError('gpu-unavailable', 'WebGPU: no GPU adapter is available');
  const wanted = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension'];
  const requiredLimits = {};
  for (const k of wanted) if (adapter.limits?.[k] !== undefined) requiredLimits[k] = adapter.limits[k];
  const timestamps = Boolean(profile && adapter.features?.has('timestamp-query'));
  let device;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures: timestamps ? ['timestamp-query'] : [] });
  } catch (e) {
    throw gpuError('gpu-unavailable', `WebGPU: requestDevice failed: ${e?.message || e}`);
  }
  if (!device) throw gpuError('gpu-unavailable', 'WebGPU: requestDevice gave no device');

  const ai = adapter.info || {};
  const info = { vendor: ai.vendor || '', architecture: ai.architecture || '', description: ai.description || '' };
  // A software adapter (SwiftShader, llvmpipe, WARP) emulates the GPU on the CPU, far slower than wasm: front
  // ends should not pick it by default.
  info.software = Boolean(adapter.isFallbackAdapter || ai.isFallbackAdapter ||
    /swiftshader|llvmpipe|lavapipe|softpipe|warp|software/i.test(`${info.vendor} ${info.architecture} ${info.description}`));
  const dl = device.limits;
  const limits = {
    maxStorageBufferBindingSize: dl.maxStorageBufferBindingSize,
    maxBufferSize: dl.maxBufferSize,
    maxComputeWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: dl.maxStorageBuffersPerShaderStage,
    maxUniformBufferBindingSize: dl.maxUniformBufferBindingSize,
    minUniformBufferOffsetAlignment: dl.minUniformBufferOffsetAlignment,
  };

  const state = { lost: false, lostMessage: '' };
  const lostPromise = device.lost.then((li) => {
    state.lost = true;
    state.lostMessage = `the GPU device was lost (${li?.reason || 'unknown'}${li?.message ? `: ${li.message}` : ''})`;
    return gpuError('gpu-lost', `WebGPU: ${state.lostMessage}`);
  });
  const lostRejection = lostPromise.then((e) => { throw e; });   // what run() races its work against
  lostRejection.catch(() => {});

  // Pipelines, all compiled up front (run() must not await before it has uploaded its data).
  let pipelines;
  try {
    pipelines = await compilePipelines(device);
  } catch (e) {
    device.destroy();
    throw e;
  }

  const GPUBufferUsage = globalThis.GPUBufferUsage;
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const dummyRead = device.createBuffer({ size: 16, usage: STORAGE });
  const dummyWrite = Array.from({ length: BINDINGS }, () => device.createBuffer({ size: 16, usage: STORAGE }));
  const constants = new Map();   // key -> { buffer, bytes, pooled }
  // The kept forward pass (kept[0]'s key), the ranges finished runs computed on it, and the denominator ranges'
  // keys by use, the most recent last.
  const kept = { pass: '', complete: new Set(), recent: [] };

  // Buffers are reused between runs, not made anew: on Dawn a new GPUBuffer per program buffer and a new bind
  // group per dispatch were most of a ResNet-18 run's host time (lavapipe: ~10 ms of ~15; on the H200 a 64 ms
  // explanation held ~8 ms of GPU work). A program buffer gets the GPUBuffer it had in the last run when that
  // one is free and of its size (so an identical program finds its bind groups, cached below, again), else any
  // free one of its size, else a new one. A reused buffer that the program expects zero-filled (no initial
  // data) is cleared on the GPU first, as a new one would be. The pool keeps what the last run used (its
  // buffers, and those of a kept forward pass it replaced): anything older is destroyed when a run ends.
  const pool = { free: new Map(), runs: 0, last: [] };   // free: buffer -> { bytes, stamp: the run that last used it }
  const made = { buffers: 0, bindGroups: 0 };   // counts for lastRun
  const newBuffer = (bytes) => {
    made.buffers++;
    return device.createBuffer({ size: bytes, usage: STORAGE });
  };
  // `buffer` itself when it is free and of this size, else null.
  const takeThis = (buffer, bytes) => {
    if (!buffer || pool.free.get(buffer)?.bytes !== bytes) return null;
    pool.free.delete(buffer);
    return { buffer, reused: true };
  };
  const takeBuffer = (bytes) => {
    for (const [buffer, f] of pool.free) if (f.bytes === bytes) return takeThis(buffer, bytes);
    return { buffer: newBuffer(bytes), reused: false };
  };
  const giveBuffer = (buffer, bytes, stamp) => {
    if (!state.lost) pool.free.set(buffer, { bytes, stamp });
  };
  const trimPool = (oldest) => {
    for (const [buffer, { stamp }] of pool.free) {
      if (stamp >= oldest) continue;
      buffer.destroy();
      pool.free.delete(buffer);
    }
  };
  const forget = (key) => {   // a keyed buffer: weights are destroyed, a kept pass's buffers go back to the pool
    const c = constants.get(key);
    if (!c) return;
    if (c.pooled) giveBuffer(c.buffer, c.bytes, pool.runs - 1);
    else c.buffer.destroy();
    constants.delete(key);
  };
  const dropKeyed = (prefix) => {
    for (const key of [...constants.keys()]) if (key.startsWith(`${prefix}/`)) forget(key);
  };
  // Bind groups by kernel, uniform slot and buffers (ids never reused, so a destroyed buffer's groups are never
  // asked for again); each run keeps only the groups it used.
  let bindGroups = new Map();
  const bufferIds = new WeakMap();
  let nextBufferId = 1;
  const idOf = (buffer) => {
    let id = bufferIds.get(buffer);
    if (!id) bufferIds.set(buffer, (id = nextBufferId++));
    return id;
  };
  // One uniform buffer for all runs (a step's words at step * UNIFORM_STRIDE), grown when a program needs more.
  // queue.writeBuffer is ordered after earlier submits, so a run in flight keeps reading its own words.
  let uniforms = null;

  const runner = {
    info,
    limits,
    profiling: timestamps,
    get lost() { return state.lost; },
    // What the last run() did: {steps, buffers, uploadedBytes, skipped, created, bindGroups, encodeMs, waitMs}
    // (constants kept from earlier runs upload nothing; skipped: the steps of kept ranges it did not run;
    // created: GPUBuffers made for it, the rest reused; bindGroups: bind groups made, the rest the last run's);
    // when profiling, also `profile`: [{step, kernel, workgroups: [x, y, z], ns}] once the run's promise settled.
    get lastRun() { return state.lastRun; },
    run: (program) => run(program),
    dropConstants() {
      for (const key of [...constants.keys()]) forget(key);
      kept.pass = '';
      kept.complete.clear();
      kept.recent = [];
    },
    destroy() {
      runner.dropConstants();
      state.lost = true;
      if (!state.lostMessage) state.lostMessage = 'the runner was destroyed';
      device.destroy();
    },
  };

  // ---- run() ----------------------------------------------------------------------------------------------------
  function checkProgram(program) {
    const bad = (m) => gpuError('bad-program', `GPU program: ${m}`);
    if (!program || !Array.isArray(program.buffers)) throw bad('buffers must be an array');
    const steps = program.steps;
    if (!(steps instanceof Uint32Array)) throw bad('steps must be a Uint32Array');
    if (steps.length % STEP_WORDS !== 0) throw bad(`steps has ${steps.length} words, not a multiple of ${STEP_WORDS}`);
    const nb = program.buffers.length;
    const bytes = program.buffers.map((b, i) => {
      const words = Number(b?.words);
      if (!Number.isSafeInteger(words) || words < 1) throw bad(`buffer ${i}: words must be a positive integer (${b?.words})`);
      if (b.data != null) {
        if (!(b.data instanceof Float32Array)) throw bad(`buffer ${i}: data must be a Float32Array or null`);
        if (b.data.length < words) throw bad(`buffer ${i}: data has ${b.data.length} floats, the buffer ${words} words`);
      }
      return words * 4;
    });
    for (let s = 0; s * STEP_WORDS < steps.length; s++) {
      const o = s * STEP_WORDS;
      const k = steps[o];
      if (k >= KERNELS.length) throw bad(`step ${s}: unknown kernel id ${k}`);
      const { access, name } = KERNELS[k];
      for (let j = 0; j < BINDINGS; j++) {
        const id = steps[o + 33 + j];
        if (id === UNUSED) continue;
        if (id >= nb) throw bad(`step ${s} (${name}): binding ${j + 1} names buffer ${id}, the program has ${nb}`);
        if (j >= access.length) throw bad(`step ${s} (${name}): binding ${j + 1} is not one of the kernel's`);
        for (let q = 0; q < BINDINGS; q++) {
          if (q !== j && steps[o + 33 + q] === id && (access[j] === 'w' || access[q] === 'w')) {
            throw bad(`step ${s} (${name}): buffer ${id} is written and bound twice`);
          }
        }
      }
    }
    const ranges = program.kept ?? [];
    if (!Array.isArray(ranges)) throw bad('kept must be an array');
    ranges.forEach((r, i) => {
      const nsteps = steps.length / STEP_WORDS;
      if (typeof r?.key !== 'string' || !r.key || (i > 0 && !r.key.startsWith(`${ranges[0].key}/`))) {
        throw bad(`kept[${i}].key must be a non-empty string${i > 0 ? ' under kept[0].key' : ''}`);
      }
      if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.from > r.to || r.to > nsteps) {
        throw bad(`kept[${i}]: steps [${r.from}, ${r.to}) are not a range of the program's ${nsteps}`);
      }
    });
    const readback = program.readback ?? [];
    if (!Array.isArray(readback)) throw bad('readback must be an array');
    for (const id of readback) if (!Number.isInteger(id) || id < 0 || id >= nb) throw bad(`readback names buffer ${id}, the program has ${nb}`);
    // The device's limits, before anything is created.
    bytes.forEach((n, i) => {
      const lim = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
      if (n > lim) {
        const which = n > limits.maxStorageBufferBindingSize ? `maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`
          : `maxBufferSize ${limits.maxBufferSize}`;
        throw gpuError('gpu-limit', `GPU program: buffer ${i} needs ${n} bytes, over this device's ${which} bytes`);
      }
    });
    if (steps.length / STEP_WORDS * UNIFORM_STRIDE > limits.maxBufferSize) {
      throw gpuError('gpu-limit', `GPU program: ${steps.length / STEP_WORDS} steps need a uniform buffer over maxBufferSize`);
    }
    return { bytes, readback, ranges };
  }

  // Timestamps around each dispatch of `timed` (step ids): one query set per 2048 dispatches (a set holds at
  // most 4096 queries), resolved into one buffer and read back with the results.
  function beginProfile(timed, temporary, describe) {
    const PER_SET = 2048;
    const sets = [];
    for (let k = 0; k < timed.length; k += PER_SET) {
      const set = device.createQuerySet({ type: 'timestamp', count: 2 * Math.min(PER_SET, timed.length - k) });
      temporary.push(set);
      sets.push(set);
    }
    const slot = new Map(timed.map((s, k) => [s, k]));
    const bytes = timed.length * 16;
    const resolved = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    temporary.push(resolved, staging);
    return {
      writesFor(s) {
        const k = slot.get(s);
        const q = 2 * (k % PER_SET);
        return { querySet: sets[Math.floor(k / PER_SET)], beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 };
      },
      resolve(encoder) {
        sets.forEach((set, j) => encoder.resolveQuerySet(set, 0, set.count, resolved, j * PER_SET * 16));
        encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
      },
      async read() {
        await staging.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(staging.getMappedRange().slice(0));
        staging.unmap();
        return timed.map((s, k) => ({ step: s, ...describe(s),
          ns: t[2 * k + 1] >= t[2 * k] ? Number(t[2 * k + 1] - t[2 * k]) : 0 }));
      },
    };
  }

  async function run(program) {
    if (state.lost) throw gpuError('gpu-lost', `WebGPU: ${state.lostMessage}; create a new runner`);
    const started = performance.now();
    const runId = ++pool.runs;
    made.buffers = made.bindGroups = 0;
    const { bytes, readback, ranges } = checkProgram(program);
    const steps = program.steps;
    const nsteps = steps.length / STEP_WORDS;
    const sizes = [];
    for (let s = 0; s < nsteps; s++) {
      const o = s * STEP_WORDS;
      sizes.push(dispatchSize(steps[o], steps.subarray(o + 1, o + 33), limits.maxComputeWorkgroupsPerDimension));
    }
    // Kept ranges: another input's forward pass (and all kept on it) is freed first, the least recently used
    // sets of denominators beyond KEPT_DENOMINATOR_SETS next; a range a finished run computed is not computed
    // again.
    if (ranges.length && ranges[0].key !== kept.pass) {
      if (kept.pass) dropKeyed(kept.pass);
      kept.pass = ranges[0].key;
      kept.complete.clear();
      kept.recent = [];
    }
    const used = ranges.slice(1).map((r) => r.key);
    kept.recent = [...kept.recent.filter((key) => !used.includes(key)), ...used];
    while (kept.recent.length > Math.max(KEPT_DENOMINATOR_SETS, used.length)) {
      const key = kept.recent.shift();
      dropKeyed(key);
      kept.complete.delete(key);
    }
    let skipped = 0;
    for (const r of ranges) {
      if (!kept.complete.has(r.key)) continue;
      sizes.fill(null, r.from, r.to);
      skipped += r.to - r.from;
    }

    // Everything up to submit() in this turn: data views stay valid, error scopes are our own.
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const temporary = [];      // destroyed when the run ends
    const borrowed = [];       // pool buffers: back to the pool when the run ends, [buffer, bytes]
    const toClear = [];        // reused buffers the program expects zero-filled
    const newConstants = [];   // made in this run: forgotten again if the run fails
    let uploadedBytes = 0;
    let profiled = null;   // beginProfile()'s query sets, when this runner profiles
    let scopes;
    let maps = [];
    let thrown = null;
    let record = null;   // this run's lastRun
    try {
      // Weights (keyed, with data) get buffers of their own; everything else comes from the pool, first the
      // buffers that get their last run's GPUBuffer back (so that no other takes it first), then the rest.
      const have = program.buffers.map((b, i) => {
        const c = b.key ? constants.get(b.key) : undefined;
        if (c && c.bytes !== bytes[i]) forget(b.key);
        return c && c.bytes === bytes[i] ? c.buffer : null;
      });
      const pooled = program.buffers.map((b, i) => !have[i] && !(b.key && b.data));
      const taken = program.buffers.map((b, i) => (pooled[i] ? takeThis(pool.last[i], bytes[i]) : null));
      const buffers = program.buffers.map((b, i) => {
        if (have[i]) return have[i];
        const key = b.key || '';
        const { buffer, reused } = taken[i] ?? (pooled[i] ? takeBuffer(bytes[i]) : { buffer: newBuffer(bytes[i]), reused: false });
        if (b.data) {
          device.queue.writeBuffer(buffer, 0, b.data, 0, bytes[i] / 4);
          uploadedBytes += bytes[i];
        } else if (reused) {
          toClear.push(buffer);
        }
        if (key) {
          constants.set(key, { buffer, bytes: bytes[i], pooled: pooled[i] });
          newConstants.push(key);
        } else {
          borrowed.push([buffer, bytes[i]]);
        }
        return buffer;
      });
      pool.last = buffers;

      const encoder = device.createCommandEncoder();
      for (const buffer of toClear) encoder.clearBuffer(buffer);
      if (nsteps > 0) {
        if (!uniforms || uniforms.size < nsteps * UNIFORM_STRIDE) {
          uniforms?.destroy();   // (freed once the runs in flight that read it are done)
          uniforms = device.createBuffer({ size: nsteps * UNIFORM_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        }
        const words = new Uint32Array(nsteps * UNIFORM_STRIDE / 4);
        for (let s = 0; s < nsteps; s++) words.set(steps.subarray(s * STEP_WORDS + 1, s * STEP_WORDS + 33), s * UNIFORM_STRIDE / 4);
        device.queue.writeBuffer(uniforms, 0, words);

        const timed = timestamps ? sizes.map((z, s) => (z ? s : -1)).filter((s) => s >= 0) : [];
        if (timed.length) {
          profiled = beginProfile(timed, temporary,
            (s) => ({ kernel: KERNELS[steps[s * STEP_WORDS]].name, workgroups: sizes[s] }));
        }
        let pass = profiled ? null : encoder.beginComputePass();
        const used = new Map();
        const bound = [];
        let current = -1;   // the pass's pipeline: set again only when the kernel changes
        for (let s = 0; s < nsteps; s++) {
          if (!sizes[s]) continue;   // nothing to compute
          if (profiled) pass = encoder.beginComputePass({ timestampWrites: profiled.writesFor(s) }), current = -1;
          const o = s * STEP_WORDS;
          const k = steps[o];
          const { access } = KERNELS[k];
          bound.length = 0;
          for (let j = 0; j < access.length; j++) {
            const id = steps[o + 33 + j];
            bound.push(id !== UNUSED ? buffers[id] : access[j] === 'w' ? dummyWrite[j] : dummyRead);
          }
          const cacheKey = `${k} ${s} ${idOf(uniforms)} ${bound.map(idOf).join(' ')}`;
          let group = used.get(cacheKey) ?? bindGroups.get(cacheKey);
          if (!group) {
            const entries = [{ binding: 0, resource: { buffer: uniforms, offset: s * UNIFORM_STRIDE, size: UNIFORM_BYTES } }];
            bound.forEach((buffer, j) => entries.push({ binding: j + 1, resource: { buffer } }));
            group = device.createBindGroup({ layout: pipelines[k].layout, entries });
            made.bindGroups++;
          }
          used.set(cacheKey, group);
          if (k !== current) pass.setPipeline(pipelines[k].pipeline), current = k;
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(...sizes[s]);
          if (profiled) pass.end();
        }
        if (!profiled) pass.end();
        bindGroups = used;
      }
      if (profiled) profiled.resolve(encoder);
      const staging = readback.map((id) => {
        const st = device.createBuffer({ size: bytes[id], usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        temporary.push(st);
        encoder.copyBufferToBuffer(buffers[id], 0, st, 0, bytes[id]);
        return st;
      });
      device.queue.submit([encoder.finish()]);
      // encodeMs: this turn's host work (buffers, uploads, bind groups, encoding, submit); waitMs (below): from
      // the submit to the mapped results, the GPU's work and the readback.
      record = { steps: nsteps, buffers: buffers.length, uploadedBytes, skipped, created: made.buffers,
        bindGroups: made.bindGroups, encodeMs: performance.now() - started };
      state.lastRun = record;
      maps = staging.map((st) => {
        const p = st.mapAsync(GPUMapMode.READ).then(() => st);
        p.catch(() => {});   // awaited below unless an error comes first
        return p;
      });
      if (profiled) {
        const p = profiled.read().then((profile) => { record.profile = profile; });
        p.catch(() => {});
        maps.push(p);
      }
    } catch (e) {
      thrown = e;   // an exception from the API itself (not a validation error, those go to the scopes)
    } finally {
      scopes = [device.popErrorScope(), device.popErrorScope()];   // validation, then out-of-memory
    }

    try {
      if (thrown) throw gpuError(state.lost ? 'gpu-lost' : 'gpu-error', `WebGPU: ${thrown?.message || thrown}`);
      const work = (async () => {
        const [validation, oom] = await Promise.all(scopes);
        const err = validation || oom;
        if (err) {
          throw gpuError(state.lost ? 'gpu-lost' : 'gpu-error',
            `WebGPU ${validation ? 'validation' : 'out-of-memory'} error: ${err.message}`);
        }
        const mapped = (await Promise.all(maps)).slice(0, readback.length);
        return mapped.map((st) => {
          const out = new Float32Array(st.getMappedRange().slice(0));
          st.unmap();
          return out;
        });
      })();
      work.catch(() => {});   // a loss below wins the race; do not leave this rejection unhandled
      const results = await Promise.race([work, lostRejection]);
      record.waitMs = performance.now() - started - record.encodeMs;   // (a later run may own state.lastRun now)
      for (const r of ranges) kept.complete.add(r.key);   // their buffers now hold what the ranges compute
      return results;
    } catch (e) {
      for (const key of newConstants) {   // maybe never uploaded (or not even created): not to be reused
        constants.get(key)?.buffer.destroy();
        constants.delete(key);
      }
      if (state.lost && e?.kind !== 'gpu-lost') throw gpuError('gpu-lost', `WebGPU: ${state.lostMessage}`);
      if (e?.kind) throw e;
      throw gpuError('gpu-error', `WebGPU: ${e?.message || e}`);
    } finally {
      for (const b of temporary) b.destroy();
      for (const [buffer, size] of borrowed) giveBuffer(buffer, size, runId);
      trimPool(runId);
    }
  }

  return runner;
}

// All kernels of KERNELS with explicit layouts (so a binding a shader leaves unused still validates). Shader
// compilation messages are checked and name the kernel. The modules are created in one turn under one error
// scope (scopes are a stack: interleaved async pushes would mix them up), then compiled in parallel.
async function compilePipelines(device) {
  device.pushErrorScope('validation');
  const modules = KERNELS.map(({ name }) => {
    const code = shaders[name];
    return typeof code === 'string' ? device.createShaderModule({ label: name, code }) : null;
  });
  const scope = device.popErrorScope();
  const infos = await Promise.all(modules.map((m) => m?.getCompilationInfo()));
  KERNELS.forEach(({ name }, k) => {
    if (!modules[k]) throw gpuError('gpu-error', `WebGPU: no WGSL source for kernel ${name}`);
    const errors = infos[k].messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const text = errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
      throw gpuError('gpu-error', `WebGPU: kernel ${name} does not compile: ${text}`);
    }
  });
  const scopeError = await scope;
  if (scopeError) throw gpuError('gpu-error', `WebGPU: shader modules: ${scopeError.message}`);
  return Promise.all(KERNELS.map(async ({ name, access }, k) => {
    const entries = [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', minBindingSize: UNIFORM_BYTES } }];
    for (let j = 0; j < access.length; j++) {
      entries.push({ binding: j + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: access[j] === 'w' ? 'storage' : 'read-only-storage' } });
    }
    const layout = device.createBindGroupLayout({ label: name, entries });
    try {
      const pipeline = await device.createComputePipelineAsync({
        label: name,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: modules[k], entryPoint: 'main' },
      });
      return { pipeline, layout };
    } catch (e) {
      throw gpuError('gpu-error', `WebGPU: kernel ${name}: pipeline creation failed: ${e?.message || e}`);
    }
  }));
}
