// relscope/web/minimal.mjs — the engine-only page (web/minimal.html): load the JS API (./relscope.mjs over
// build/wasm/web/relscope_web.js, served side by side by scripts/serve.mjs) and show what it offers.
// The canvas app (web/index.html, src/app) is the full front end; this page is the JS API in a browser.
//
// State for people and tests: <html data-relscope="loading|ready|error">, text in #status, and
// globalThis.relscope = the API object of createRelscope() (version, loadModel, predict, explain, rules,
// methods, composites, module) once ready, or {error} when the engine did not load.
import { createRelscope } from './relscope.mjs';

const statusEl = document.getElementById('status');
const detailsEl = document.getElementById('details');

function setState(state, text) {
  document.documentElement.dataset.relscope = state;
  statusEl.textContent = text;
}

function addDetail(name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = String(value);
  detailsEl.append(dt, dd);
}

async function main() {
  if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly');
  const t0 = performance.now();
  const relscope = await createRelscope({
    print: (s) => console.log(`[relscope] ${s}`),
    printErr: (s) => console.warn(`[relscope] ${s}`),
  });
  const loadMs = Math.round(performance.now() - t0);
  globalThis.relscope = relscope;

  setState('ready', `Engine ready — relscope ${relscope.version}`);
  addDetail('version', relscope.version);
  addDetail('methods', relscope.methods().join(', '));
  addDetail('composites', relscope.composites().join(', '));
  addDetail('load time', `${loadMs} ms`);
  addDetail('wasm memory', `${Math.round((relscope.module.HEAPU8?.length ?? 0) / (1 << 20))} MiB`);
  addDetail('cross-origin isolated', globalThis.crossOriginIsolated === true ? 'yes (threads possible)' : 'no');
}

main().catch((err) => {
  console.error(err);
  globalThis.relscope = { error: String(err && err.message ? err.message : err) };
  setState('error', `The engine did not load: ${globalThis.relscope.error}`);
});
