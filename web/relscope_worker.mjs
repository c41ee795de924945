// relscope/web/relscope_worker.mjs — the JS API off the calling thread, and cancellable:
// createRelscopeWorker() runs createRelscope() (./relscope.mjs) in a module worker (a Web Worker in a page,
// a worker_threads Worker in node) and forwards every call to it.
//
// Sections: environment | worker side | client side: createRelscopeWorker()
//
// Why: an explanation of a large model is seconds of wasm, and on the page's own thread nothing else runs
// meanwhile (drawing, input, a Cancel button). wasm cannot be interrupted from outside its thread, so
// cancel() terminates the worker and rejects whatever was pending with a RelscopeError of kind 'cancelled'.
// The next call starts a fresh worker that re-loads the model and ensemble members the object had (kept
// here as bytes), so the object stays usable after a cancel.
//
//   const rs = await createRelscopeWorker({limits});   // the methods of createRelscope(), all async
//   const p = rs.explain({...});                        // the calling thread stays free
//   rs.cancel();                                        // p rejects: RelscopeError, kind 'cancelled'
//   rs.terminate();                                     // the worker is gone; later calls reject
//
// Arguments and results cross the thread boundary by structured clone (typed arrays are copied).
import { RelscopeError, createRelscope } from './relscope.mjs';

// ---- environment -----------------------------------------------------------------------------------
const inNode = typeof process === 'object' && !!process.versions?.node;
const nodeThreads = inNode ? await import('node:worker_threads') : null;
const isWorker = inNode
  ? !nodeThreads.isMainThread && nodeThreads.workerData?.relscopeWorker === true
  : typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;

// ---- worker side -----------------------------------------------------------------------------------
// Messages {id, fn, args} -> {id, result} | {id, error: {message, kind}}. 'init' creates the API.
function serve() {
  const port = inNode ? nodeThreads.parentPort : globalThis;
  let rs = null;
  const onMessage = async ({ id, fn, args }) => {
    try {
      if (fn === 'init') {
        rs = await createRelscope(args[0] ?? {});
        port.postMessage({ id, result: { version: rs.version, threads: rs.threads, methods: rs.methods(), composites: rs.composites() } });
        return;
      }
      if (!rs || typeof rs[fn] !== 'function') throw new RelscopeError(`relscope worker: no method '${fn}'`, 'internal');
      port.postMessage({ id, result: await rs[fn](...args) });
    } catch (e) {
      port.postMessage({ id, error: { message: e && e.message ? e.message : String(e), kind: e && e.kind ? e.kind : 'internal' } });
    }
  };
  if (inNode) port.on('message', onMessage);
  else port.onmessage = (e) => onMessage(e.data);
}

if (isWorker) serve();

// ---- client side: createRelscopeWorker() -------------------------------------------------------------
// options: {limits, threads} as for createRelscope(). Resolves once the worker has loaded the engine.
export async function createRelscopeWorker(options = {}) {
  const { limits, threads } = options ?? {};
  const pending = new Map();   // id -> {resolve, reject}
  let worker = null, ready = null, nextId = 1, closed = false, info = null;
  let model = null;            // {bytes, name} of the loaded model: re-loaded by a fresh worker
  let members = [];            // ensemble members ({bytes, name}), likewise

  const rejectAll = (error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const onReply = ({ id, result, error }) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (error) p.reject(new RelscopeError(error.message, error.kind));
    else p.resolve(result);
  };
  // The worker itself failed (its script did not load, the runtime died): nothing pending can finish.
  const onCrash = (what) => {
    worker?.terminate();
    worker = null;
    ready = null;
    rejectAll(new RelscopeError(`internal error: the relscope worker stopped (${what})`, 'internal'));
  };
  const send = (fn, args = []) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, fn, args });
  });

  function spawn() {
    if (inNode) {
      worker = new nodeThreads.Worker(new URL(import.meta.url), { workerData: { relscopeWorker: true } });
      worker.on('message', onReply);
      worker.on('error', (e) => onCrash(e && e.message ? e.message : String(e)));
    } else {
      worker = new Worker(new URL(import.meta.url), { type: 'module', name: 'relscope' });
      worker.onmessage = (e) => onReply(e.data);
      worker.onerror = (e) => { e.preventDefault?.(); onCrash(e.message || 'worker error'); };
    }
    ready = (async () => {
      info = await send('init', [{ limits, threads }]);
      if (model) await send('loadModel', [model.bytes, model.name]);
      for (const m of members) await send('loadEnsembleMember', [m.bytes, m.name]);
    })();
    ready.catch(() => {});   // awaited by every call; a failure is reported there
  }

  const call = async (fn, args) => {
    if (closed) throw new RelscopeError('this relscope worker was terminated', 'internal');
    if (!worker) spawn();
    await ready;
    return send(fn, args);
  };
  // Our own copy of bytes the worker may need again (the caller may reuse or transfer its buffer).
  const keep = (bytes) => (ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    : bytes instanceof ArrayBuffer ? new Uint8Array(bytes.slice(0)) : bytes);

  spawn();
  await ready;

  const api = {
    version: info.version,
    module: null,   // the engine lives in the worker
    get threads() { return info.threads; },

    async loadModel(bytes, name = 'model.onnx') {
      const own = keep(bytes);
      const r = await call('loadModel', [own, name]);
      model = { bytes: own, name };   // only once loaded: a failed load leaves the previous model
      members = [];
      return r;
    },
    async loadEnsembleMember(bytes, name = 'member.onnx') {
      const own = keep(bytes);
      await call('loadEnsembleMember', [own, name]);
      members.push({ bytes: own, name });
    },
    async clearEnsemble() {
      members = [];
      if (worker) await call('clearEnsemble', []);
    },
    loadInput: (bytes, name, opts) => call('loadInput', [bytes, name, opts]),
    predict: (input) => call('predict', [input]),
    explain: (request) => call('explain', [request]),
    gpuInfo: () => call('gpuInfo', []),
    rules: (request) => call('rules', [request]),
    concepts: (request) => call('concepts', [request]),
    attributionGraph: (request) => call('attributionGraph', [request]),
    conceptMaps: (request) => call('conceptMaps', [request]),
    faithfulness: (request) => call('faithfulness', [request]),
    spray: (request) => call('spray', [request]),
    methods: () => info.methods,
    composites: () => info.composites,

    // Stops what runs in the worker now: every pending call rejects with kind 'cancelled'. true when
    // there was something to stop. The next call starts a fresh worker with the same model.
    cancel() {
      if (!worker) return false;
      const busy = pending.size > 0;
      worker.terminate();
      worker = null;
      ready = null;
      rejectAll(new RelscopeError('cancelled: the call was stopped before it finished (cancel())', 'cancelled'));
      return busy;
    },
    terminate() {
      closed = true;
      api.cancel();
    },
  };
  return Object.freeze(api);
}

export default createRelscopeWorker;
