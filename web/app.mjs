// relscope/web/app.mjs — the canvas app page: load the ImGui app module (relscope_app.js, src/app), hand
// it the bundled demo and the user's files, and expose its state.
//
// Sections: page state | files -> MEMFS -> app | bundled models | explanations in a worker | state for tests
//           and scripts | shared links | offline copy | main()
//
// Nothing leaves the device: the demo and the other bundled models (assets/catalog.json; each listed by its
// preprocess.json) are fetched from this page's own origin, user files are read with the File API
// and copied into the module's in-memory file system, and exports are Blob URLs made in the page.
// After load the page makes no requests at all. A service worker (web/sw.js) keeps a copy of everything
// it loaded, so the page also opens with the network gone.
//
// For tests and scripts (see tests/browser/app_page.test.mjs):
//   <html data-relscope="loading|ready|error">
//   relscopeAppState()      -> {model, modelHash, input, prediction: {index, label, score}, heatmapShape,
//                               heatmapRect (CSS px in the canvas), method, composite, lastError, computes,
//                               concepts: {layer, ranking, mapChannels, selected, graph, atlas, thumbRects...}, ...}
//   relscopeAppTensor(k)    -> {data: Float32Array, shape} of the relevance (0), model input (1), compare (2),
//                              the concept browser's maps (3: 1 x K x input dims) or selected channel's map (4)
//                              or the Variance window's mean / variance / CovLRP maps (5, 6, 7)
//   relscopeAppSet(key, v)  -> the canvas' settings by name (method, composite, target, colormap, ...;
//                              model: a bundled model's id, lesson / lesson-step: a guided lesson,
//                              variance / variance-compute / variance-member / variance-cov ...: the Variance window)
//   relscopeAppOpen(files)  -> hands File objects to the app, as the file input and drops do
//   globalThis.relscope     -> the JS API (createRelscope() of web/relscope.mjs) over the app's own module,
//                              plus {module, loadMs}

import { createRelscope } from './relscope.mjs';

const root = document.documentElement;
const canvas = document.getElementById('canvas');
const statusEl = document.getElementById('status');
const fileInput = document.getElementById('file-input');

// ---- page state ------------------------------------------------------------------------------------
function setState(state, text) {
  root.dataset.relscope = state;
  if (text !== undefined) statusEl.textContent = text;
}

let M = null;   // the Emscripten module, once loaded
let inboxCounter = 0;

// ---- files -> MEMFS -> app -------------------------------------------------------------------------
// Models and settings first, inputs last: dropping "model + image" together explains the image with
// the new model.
function fileRank(name) {
  const ext = name.toLowerCase().split('.').pop();
  if (ext === 'json') return 0;
  if (ext === 'txt') return 1;
  if (ext === 'onnx') return 2;
  return 3;
}

function writeInbox(bytes) {
  const path = `/inbox/${++inboxCounter}`;
  M.FS.writeFile(path, bytes);
  return path;
}

// All files are read first and handed over together, so the app never computes in between (a model
// and its input dropped together must not flash an error for the new model with the old input).
async function openFiles(fileList) {
  if (!M) return [];
  const files = Array.from(fileList).sort((a, b) => fileRank(a.name) - fileRank(b.name));
  const read = await Promise.all(files.map(async (f) => {
    // The app's own limit is 1 GiB per file (src/app/core/app_state.cpp): do not even read more.
    if (f.size > 2 ** 30) return { name: f.name, error: `limit: ${f.name}: file is ${f.size} bytes, over the limit of ${2 ** 30}` };
    try {
      return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
    } catch (err) {
      return { name: f.name, error: `bad input: ${f.name}: could not be read (${err && err.message ? err.message : err})` };
    }
  }));
  const results = [];
  for (const f of read) {
    let ok = 0;
    // A file that could not be read or copied into wasm memory: the app keeps its state and shows why.
    let problem = f.error;
    if (!problem) {
      try {
        ok = M.ccall('relscope_app_open', 'number', ['string', 'string'], [writeInbox(f.bytes), f.name]);
      } catch (err) {
        problem = `limit: ${f.name}: could not be copied into the app's memory (${err && err.message ? err.message : err})`;
      }
    }
    if (problem) {
      try {
        M.ccall('relscope_app_report', null, ['string'], [problem]);
      } catch {
        console.warn(`relscope: ${problem}`);
      }
    }
    results.push({ name: f.name, ok: ok === 1 });
  }
  M._relscope_app_wake();
  return results;
}

function wireFileInputs() {
  fileInput.addEventListener('change', async () => {
    await openFiles(fileInput.files);
    fileInput.value = '';   // the same file can be chosen again
  });
  // Drops anywhere on the page (the canvas covers it). dragenter/leave count nested targets.
  let depth = 0;
  const hasFiles = (e) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (++depth === 1) root.classList.add('dragging');
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) root.classList.remove('dragging');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    root.classList.remove('dragging');
    if (e.dataTransfer?.files?.length) openFiles(e.dataTransfer.files);
  });
}

// ---- bundled models ----------------------------------------------------------------------------------
async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// assets/catalog.json lists the bundled models by id; each names its folder and a manifest (its
// preprocess.json: model, labels, samples, default_sample) or lists those itself. A static server has no
// directory listing. Without a catalog the page still opens the demo.
const DEMO_ENTRY = { id: 'demo', title: 'Fashion-MNIST CNN (the demo)', dir: 'demo', manifest: 'preprocess.json' };
let catalog = { models: [DEMO_ENTRY] };
const entryOf = (id) => catalog.models.find((m) => m.id === id);

// The URLs of one bundled model's files (its manifest read from `manifestBytes` when it has one).
function bundleFiles(entry, manifest) {
  const base = `assets/${entry.dir}/`;
  const sampleDir = typeof entry.sample_dir === 'string' ? entry.sample_dir : 'samples/';
  const files = [manifest.labels, manifest.model].filter((n) => typeof n === 'string').map((name) => ({ name, url: base + name }));
  for (const n of Array.isArray(manifest.samples) ? manifest.samples : []) files.push({ name: n, url: base + sampleDir + n, sample: true });
  return files;
}

async function readManifest(entry) {
  if (!entry.manifest) return { manifest: entry, files: [] };
  const bytes = await fetchBytes(`assets/${entry.dir}/${entry.manifest}`);
  return { manifest: JSON.parse(new TextDecoder().decode(bytes)), files: [{ name: entry.manifest, bytes }] };
}

// All files are fetched in parallel (at start: while the module compiles).
async function fetchBundle(id) {
  const entry = entryOf(id);
  if (!entry) throw new Error(`no bundled model '${id}' (assets/catalog.json)`);
  const { manifest, files } = await readManifest(entry);
  const fetched = await Promise.all(bundleFiles(entry, manifest).map(async (f) => ({ ...f, bytes: await fetchBytes(f.url) })));
  return { id, files: [...files, ...fetched], defaultSample: manifest.default_sample };
}

// Hands a fetched bundle to the app as dropped files are (settings, labels, model), then its samples.
function handOverBundle({ id, files, defaultSample }) {
  const samples = files.filter((f) => f.sample);
  const others = files.filter((f) => !f.sample).sort((a, b) => fileRank(a.name) - fileRank(b.name));
  M.ccall('relscope_app_clear_samples', null, [], []);
  let withModel = false;
  for (const f of others) {
    const ok = M.ccall('relscope_app_open', 'number', ['string', 'string'], [writeInbox(f.bytes), f.name]) === 1;
    if (f.name.toLowerCase().endsWith('.onnx')) withModel = ok;
  }
  for (const f of samples) {
    M.ccall('relscope_app_add_sample', 'number', ['string', 'string'], [writeInbox(f.bytes), f.name]);
  }
  const first = Math.max(0, samples.findIndex((f) => f.name === defaultSample));
  if (samples.length > 0) M.ccall('relscope_app_select_sample', 'number', ['number'], [first]);
  M.ccall('relscope_app_bundle_loaded', null, ['string', 'number'], [id, withModel ? 1 : 0]);
  return withModel;
}

// Another bundled model, asked for by the canvas (Models, Lessons) or relscopeAppSet('model', id). Files
// come from the server or, offline, from the service worker's copy.
let bundleLoad = Promise.resolve();
function openBundled(id) {
  bundleLoad = bundleLoad.then(async () => {
    try {
      handOverBundle(await fetchBundle(id));
    } catch (err) {
      M.ccall('relscope_app_report', null, ['string'], [`bad input: bundled model '${id}': ${err && err.message ? err.message : err}`]);
      M.ccall('relscope_app_bundle_loaded', null, ['string', 'number'], [id, 0]);
    }
    M._relscope_app_wake();
  });
  return bundleLoad;
}

// ---- explanations in a worker -------------------------------------------------------------------------
// The canvas computes its forward pass itself and hands the explanations here (src/app/app_offload.cpp): they
// run in createRelscopeWorker() (web/relscope_worker.mjs, the same engine), so the canvas keeps drawing and
// its Cancel button can stop them. Results go back one by one, then the end of the job.
let explainer = null;

function deliverExplanation(job, index, e) {
  const n = e.relevance.length;
  const p = M._relscope_app_explain_buffer(n);
  M.HEAPF32.set(e.relevance, p >> 2);
  M.ccall('relscope_app_explained', null,
    ['number', 'number', 'number', 'number', 'string', 'number', 'string', 'string', 'number', 'string', 'string'],
    [job, index, p, n, JSON.stringify(e.shape), e.targets.length ? e.targets[0] : -1, JSON.stringify(e.notes ?? []),
      JSON.stringify(e.pruning ?? []), e.ms ?? 0, e.backend ?? 'cpu', e.fallback ?? '']);
}

// The hash of the model the worker holds (null: none, or not known): set when the page loaded one there.
// `workerLoad` is the last load asked for: a job that comes without the model waits for it (the worker takes
// calls in order, so a load asked for before the job is what the job runs on).
let workerModel = null;
let workerLoad = Promise.resolve();
function loadIntoWorker(bytes, name, hash) {
  workerModel = null;
  workerLoad = explainer.loadModel(bytes, name).then(() => { workerModel = hash; });
  return workerLoad;
}

// backend: 'auto' (WebGPU when it can run the request, else the CPU with the reason) or 'cpu'.
function explainInWorker(job, modelBytes, modelName, input, requests, backend = 'cpu', modelHash = '') {
  (async () => {
    let ok = 1, message = '';
    try {
      if (modelBytes) await loadIntoWorker(modelBytes, modelName, modelHash);
      for (let k = 0; k < requests.length; k++) {
        const { method, composite, target, output, ...params } = requests[k];
        const e = await explainer.explain({ ...input, method, composite, target: Number(target), output: Number(output), params, backend });
        deliverExplanation(job, k, e);
      }
    } catch (err) {
      ok = 0;
      message = err && err.kind === 'cancelled' ? 'cancelled' : `${err && err.kind ? err.kind : 'error'}: ${err && err.message ? err.message : err}`;
    }
    M.ccall('relscope_app_explain_done', null, ['number', 'number', 'string'], [job, ok, message]);
    M._relscope_app_wake();
  })();
}

// ---- the concept browser's jobs in the worker ---------------------------------------------------------
// src/app/app_concepts_offload.cpp hands out the browser's large units (app/core/concept_browser.h): a
// ranking (concepts, then the CRP maps of the top `thumbnails` channels), a selection (the channel's
// attribution graph, depth 2, top 3, and its map when `needMap`) or an atlas sample (conceptMaps of the
// sample, which comes as `input`). They queue behind the explanations in the
// same worker. A job for a model the worker does not hold (and whose bytes did not come with it) is refused:
// the canvas then runs it itself.
function conceptsInWorker(job, model, input, values) {
  (async () => {
    try {
      if (model.bytes) await loadIntoWorker(model.bytes, model.name, model.hash);
      else {
        await workerLoad.catch(() => {});
        if (workerModel !== model.hash) throw new Error('the worker does not hold this model');
      }
      const { method, composite, target, output, layer, ...params } = values;
      const base = { ...input, composite, target: Number(target), output: Number(output) };
      const crpMaps = (channels, joint) => explainer.explain({ ...base, method: 'crp', params: { ...params, layer, channels, joint } });
      const put = (which, a) => { const p = M._relscope_app_concept_buffer(which, a.length); M.HEAPF32.set(a, p >> 2); return p; };
      if (job.kind === 'atlas') {   // no target: the sample's own prediction
        const { target: _, ...noTarget } = base;
        const m = await explainer.conceptMaps({ ...noTarget, params: { ...params, layer } });
        const pr = put(0, m.relevance), pa = put(1, m.activation), po = put(2, m.output.data);
        M.ccall('relscope_app_concept_sampled', null,
          ['string', 'number', 'number', 'number', 'string', 'number', 'number', 'number', 'number'],
          [job.key, pr, pa, m.relevance.length, JSON.stringify(m.shape), m.axis, po, m.output.data.length, m.targets[0]]);
      } else if (job.kind === 'ranking') {
        const c = await explainer.concepts({ ...base, params: { ...params, layer } });
        const channels = c.ranking[0].slice(0, Math.max(1, job.thumbnails)).map((e) => e.channel);
        const maps = await crpMaps(channels, 0);
        const pr = put(0, c.relevance), ps = put(1, c.normalized), pm = put(2, maps.relevance);
        M.ccall('relscope_app_concepts_ranked', null, ['string', 'number', 'number', 'number', 'number', 'number', 'string', 'string'],
          [job.key, pr, ps, c.channels, pm, maps.relevance.length, JSON.stringify(maps.shape), JSON.stringify(channels)]);
      } else {
        const g = await explainer.attributionGraph({ ...base, params: { ...params, layer }, channel: job.channel, depth: 2, top: 3 });
        const map = job.needMap ? await crpMaps([job.channel], 1) : null;
        const n = map ? map.relevance.length : 0;
        const p = M._relscope_app_concept_buffer(2, n);
        if (map) M.HEAPF32.set(map.relevance, p >> 2);
        M.ccall('relscope_app_concept_selected', null, ['string', 'string', 'number', 'number', 'string'],
          [job.key, JSON.stringify(g), p, n, JSON.stringify(map ? map.shape : [])]);
      }
    } catch (err) {
      if (err?.kind !== 'cancelled') console.warn(`relscope: a concept job ran on the page instead: ${err?.message ?? err}`);
      M.ccall('relscope_app_concept_failed', null, ['string', 'number'], [job.key, err?.kind === 'cancelled' ? 1 : 0]);
    }
    M._relscope_app_wake();
  })();
}

// ---- state for tests and scripts -------------------------------------------------------------------
function appState() {
  if (!M) return { status: root.dataset.relscope, model: null, prediction: null, heatmapShape: null, lastError: statusEl.textContent };
  const s = JSON.parse(M.UTF8ToString(M._relscope_app_state_json()));
  s.status = root.dataset.relscope;
  s.canvasRect = (({ x, y, width, height }) => ({ x, y, width, height }))(canvas.getBoundingClientRect());
  s.devicePixelRatio = window.devicePixelRatio || 1;
  return s;
}

function appTensor(which = 0) {
  if (!M) return null;
  const n = M._relscope_app_tensor_size(which);
  if (n === 0) return null;
  const p = M._relscope_app_tensor_data(which);
  const s = appState();
  const shape = which === 1 ? s.inputShape : which === 3 ? s.concepts.mapsShape : which >= 5 ? s.variance.mapShape : s.heatmapShape;
  return { data: new Float32Array(M.HEAPF32.buffer, p, n).slice(), shape };
}

function appSet(key, value) {
  if (!M) return false;
  if (key === 'model' && !entryOf(String(value))) return false;
  const ok = M.ccall('relscope_app_set', 'number', ['string', 'string'], [String(key), String(value)]) === 1;
  M._relscope_app_wake();
  return ok;
}

// ---- shared links (the URL fragment) ----------------------------------------------------------------
// #sample=2&method=pruned-lrp&prune=0.5&colormap=coldnhot: the demo sample, method and parameters, so a
// link (or a lesson) opens the page as someone set it. The fragment never reaches a server; it is
// applied once at start and kept current with what the canvas shows (history.replaceState: no reload,
// no history entries). Keys are relscopeAppSet's; 'sample' goes first (it replaces the input).
const SHARE_KEYS = ['sample', 'output', 'method', 'composite', 'target', 'prune', 'prune-mode', 'layer', 'channels', 'joint', 'colormap'];
// Applied first, and waited for: they open a bundled model (fetched) before the other keys apply on top.
const OPEN_KEYS = ['model', 'lesson', 'lesson-step'];

async function applyFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const refused = [];
  const state = appState();
  const current = { model: state.share?.model, lesson: state.lesson?.id, 'lesson-step': String(state.lesson?.step) };
  let changed = false;   // a lesson opened here: its step applies whatever the one before was
  for (const key of OPEN_KEYS) {
    if (!params.has(key) || (!changed && params.get(key) === current[key])) continue;
    if (key === 'model' && params.has('lesson')) continue;   // the lesson opens its own model
    if (!appSet(key, params.get(key))) refused.push(key);
    changed = key === 'lesson';
    await bundleLoad;
  }
  for (const key of SHARE_KEYS) {
    if (params.has(key) && !appSet(key, params.get(key))) refused.push(key);
  }
  for (const key of params.keys()) if (!SHARE_KEYS.includes(key) && !OPEN_KEYS.includes(key)) refused.push(key);
  if (refused.length) console.warn(`relscope: link settings not applied: ${refused.join(', ')}`);
}

function fragmentOf(state) {
  const params = new URLSearchParams();
  const share = { ...(state.share || {}), colormap: state.colormap };
  if (state.share?.model && state.share.model !== 'demo') params.set('model', state.share.model);
  if (state.lesson?.id) {
    params.set('lesson', state.lesson.id);
    params.set('lesson-step', String(state.lesson.step));
  }
  for (const key of SHARE_KEYS) if (share[key] !== undefined && share[key] !== '') params.set(key, share[key]);
  return `#${params.toString()}`;
}

function followFragment() {
  M.onRelscopeState = (status) => {
    if (status !== 'ready') return;
    const state = JSON.parse(M.relscopeSnapshot);
    if (state.lesson?.waiting) return;   // a lesson's model is on its way: the fragment follows once it is in
    const hash = fragmentOf(state);
    if (hash !== location.hash) history.replaceState(null, '', hash);
  };
}

// ---- offline copy (web/sw.js) ------------------------------------------------------------------------
// Registers the service worker and has it store every file this page loaded before it took control, so
// the next visit works with the network gone. Resolves to {stored, missing} or {skipped: why}; never
// rejects and never waits more than `ms` (the app must start even where service workers are off).
async function keepOffline(ms = 15000) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return { skipped: 'no service workers here' };
  const work = (async () => {
    await navigator.serviceWorker.register('./sw.js');
    const reg = await navigator.serviceWorker.ready;
    // The worker's own files load in its context, not in this page's resource list.
    // The threaded module's files only when this build has them (relscope_build.mjs; the worker loads them on
    // cross-origin isolated pages).
    const { threaded } = await import('./relscope_build.mjs').catch(() => ({ threaded: false }));
    const workerFiles = ['relscope_worker.mjs', 'relscope.mjs', 'relscope_build.mjs', 'relscope_web.js', 'relscope_web.wasm',
      'relscope_webgpu.mjs', 'relscope_webgpu_shaders.mjs',
      ...(threaded ? ['relscope_web_mt.js', 'relscope_web_mt.wasm', 'relscope_web_mt.worker.js'] : [])]
      .map((u) => new URL(u, location.href).href);
    const urls = [location.href.split('#')[0], ...performance.getEntriesByType('resource').map((e) => e.name),
      ...workerFiles, ...(await bundleUrls())];
    const channel = new MessageChannel();
    const reply = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data); });
    reg.active.postMessage({ type: 'store', urls }, [channel.port2]);
    const { count, missing } = await reply;
    return { stored: count, missing };
  })().catch((err) => ({ skipped: String(err && err.message ? err.message : err) }));
  const timeout = new Promise((resolve) => setTimeout(() => resolve({ skipped: `no answer in ${ms} ms` }), ms));
  return Promise.race([work, timeout]);
}

// Every bundled model a lesson or the Models menu can open, so they work offline too (the manifests are
// read here; the service worker fetches the rest).
async function bundleUrls() {
  const urls = ['assets/catalog.json'];
  for (const entry of catalog.models) {
    try {
      const { manifest } = await readManifest(entry);
      if (entry.manifest) urls.push(`assets/${entry.dir}/${entry.manifest}`);
      urls.push(...bundleFiles(entry, manifest).map((f) => f.url));
    } catch (err) {
      console.warn(`relscope: bundled model '${entry.id}' is not kept offline: ${err && err.message ? err.message : err}`);
    }
  }
  return urls.map((u) => new URL(u, location.href).href);
}

// ---- main() ----------------------------------------------------------------------------------------
async function main() {
  if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly');
  if (!document.createElement('canvas').getContext('webgl2')) throw new Error('this browser has no WebGL2');
  // The bundled model the link names (#model=..., or a lesson's), else the demo; the catalog first.
  const linked = new URLSearchParams(location.hash.slice(1));
  const catalogRead = fetchBytes('assets/catalog.json')
    .then((b) => { catalog = JSON.parse(new TextDecoder().decode(b)); })
    .catch((err) => console.warn(`relscope: no bundled model catalog: ${err && err.message ? err.message : err}`));
  const demo = catalogRead.then(() => {
    const first = linked.get('model');
    return fetchBundle(first && entryOf(first) && !linked.has('lesson') ? first : 'demo');
  }).catch((err) => ({ error: err }));
  // The explanations' worker loads while the app module compiles (and before 'ready': no request after it).
  const workerMade = import('./relscope_worker.mjs').then((w) => w.createRelscopeWorker()).catch((err) => ({ error: err }));
  const t0 = performance.now();
  const { default: createRelscopeApp } = await import('./relscope_app.js');
  M = await createRelscopeApp({
    canvas,
    print: (s) => console.log(`[relscope] ${s}`),
    printErr: (s) => console.warn(`[relscope] ${s}`),
    onAbort: (what) => setState('error', `relscope stopped: ${what}`),
  });
  M.FS.mkdirTree('/inbox');
  // window.relscope is the JS API (web/relscope.mjs) over this same module: scripts in the page can load
  // models and explain without the canvas, on the one engine instance the page already holds.
  const loadMs = Math.round(performance.now() - t0);
  try {
    globalThis.relscope = Object.freeze({ ...(await createRelscope({ module: M })), module: M, loadMs });
  } catch (err) {   // a module linked without src/js: keep what the page can still offer
    console.warn(`relscope: no JS API on this page: ${err && err.message ? err.message : err}`);
    globalThis.relscope = { module: M, version: typeof M.version === 'function' ? String(M.version()) : null, loadMs };
  }
  globalThis.relscopeAppState = appState;
  globalThis.relscopeAppTensor = appTensor;
  globalThis.relscopeAppSet = appSet;
  globalThis.relscopeAppOpen = openFiles;
  wireFileInputs();

  const made = await workerMade;
  if (made.error) {
    console.warn(`relscope: no worker, explanations run on the page's thread: ${made.error && made.error.message ? made.error.message : made.error}`);
  } else {
    explainer = made;
    M.relscopeExplainInWorker = explainInWorker;
    M.relscopeConceptsInWorker = conceptsInWorker;
    M.relscopeCancelExplain = () => explainer.cancel();
    // A hardware WebGPU adapter in the worker makes it the canvas' default back-end; a software one (SwiftShader)
    // is offered but not chosen. Asked now, while the page loads: the bridge's files come with the page.
    const gpu = await explainer.gpuInfo().catch(() => null);
    M.ccall('relscope_app_gpu', null, ['string', 'number'],
      [gpu ? [gpu.vendor, gpu.architecture].filter(Boolean).join(' ') || 'adapter' : '', gpu?.software ? 1 : 0]);
  }

  const got = await demo;
  let withDemo = false;
  if (got.error) console.warn(`relscope: the bundled demo did not load: ${got.error}`);
  else withDemo = handOverBundle(got);
  M.ccall('relscope_app_catalog', 'number', ['string'], [JSON.stringify(catalog)]);
  M.relscopeOpenBundled = openBundled;   // the canvas' Models and Lessons menus (src/app/app_lessons.cpp)
  // From here the app reports 'ready' (or 'error' when it has no model it was promised).
  if (withDemo) await applyFragment();
  window.addEventListener('hashchange', applyFragment);   // a link pasted into this tab
  followFragment();
  // The offline copy is part of loading: once the page says 'ready' it fetches nothing more.
  globalThis.relscopeOffline = await keepOffline();
  if (globalThis.relscopeOffline.skipped) console.warn(`relscope: no offline copy: ${globalThis.relscopeOffline.skipped}`);
  M.ccall('relscope_app_booted', null, ['number'], [withDemo ? 1 : 0]);
  M._relscope_app_wake();
  canvas.focus();
}

main().catch((err) => {
  console.error(err);
  setState('error', `relscope did not start: ${err && err.message ? err.message : err}`);
});
