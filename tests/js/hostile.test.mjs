// relscope/tests/js/hostile.test.mjs — the hostile-input corpus (tests/hostile) through the JS API, as the
// canvas app meets dropped files: every case of tests/hostile/manifest.tsv must reject with a
// RelscopeError (never 'internal', never a wasm abort) whose message holds the manifest's text, and the
// controls must succeed.
//
// Sections: locations | manifest | one case through the API | tests
//
// Mapping of a manifest case (CLI arguments) to API calls: `info M` -> loadModel(M); `predict|explain M
// X...` -> loadModel(M), loadInput(X, {slot}) for each X, then predict / explain; --max-memory,
// --max-elements, --max-file-size, --max-image-pixels -> createRelscope({limits}); --out and --heatmap
// are CLI outputs and ignored. Cases on the CLI's own flag parsing (file '-') are CLI-only.
// The build is found through RELSCOPE_WASM_BUILD (default build/wasm); tests skip, saying why, without it.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// ---- locations -----------------------------------------------------------------------------------------
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOSTILE = path.join(ROOT, 'tests', 'hostile');
const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || 'build/wasm');
const API_MODULE = path.join(WASM_BUILD, 'web', 'relscope.mjs');
const noApi = !fs.existsSync(path.join(WASM_BUILD, 'web', 'relscope_web.js'))
  ? `no browser module (${path.relative(ROOT, WASM_BUILD)}/web/relscope_web.js; set RELSCOPE_WASM_BUILD)`
  : !fs.existsSync(API_MODULE) && `${path.relative(ROOT, API_MODULE)} is missing (re-run cmake on the wasm build)`;

// ---- manifest ------------------------------------------------------------------------------------------
const subst = (a) => a.replace('$F', path.join(HOSTILE, 'files')).replace('$M', path.join(ROOT, 'tests', 'data', 'models'))
  .replace('$T', '/nonexistent');
const cases = fs.readFileSync(path.join(HOSTILE, 'manifest.tsv'), 'utf8').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [file, code, want, args] = l.split('\t');
    return { file, code: Number(code), want, args: args.trim().split(/\s+/).map(subst) };
  });

const LIMIT_FLAGS = { '--max-memory': 'maxMemoryMB', '--max-elements': 'maxElements', '--max-file-size': 'maxFileMB',
  '--max-image-pixels': 'maxImagePixels' };

// ---- one case through the API --------------------------------------------------------------------------
let modulePromise = null;
async function relscope(limits) {
  if (!modulePromise) modulePromise = import(pathToFileURL(API_MODULE).href);
  const { createRelscope } = await modulePromise;
  return createRelscope({ print: () => {}, printErr: () => {}, limits });
}

async function runCase({ args }) {
  const [command, ...rest] = args;
  const positional = [];
  let limits;
  for (let k = 0; k < rest.length; ++k) {
    if (LIMIT_FLAGS[rest[k]]) (limits ??= {})[LIMIT_FLAGS[rest[k]]] = Number(rest[++k]);
    else if (rest[k] === '--out' || rest[k] === '--heatmap') ++k;
    else if (rest[k].startsWith('--')) throw new Error(`hostile.test.mjs does not map ${rest[k]}`);
    else positional.push(rest[k]);
  }
  const rs = await relscope(limits);
  const [model, ...inputs] = positional;
  await rs.loadModel(fs.readFileSync(model), path.basename(model));
  if (command === 'info') return;
  const tensors = [];
  for (const [slot, f] of inputs.entries()) tensors.push(await rs.loadInput(fs.readFileSync(f), path.basename(f), { slot }));
  if (command === 'predict') await rs.predict(tensors.length === 1 ? tensors[0] : tensors);
  else await rs.explain(tensors.length === 1 ? { ...tensors[0], method: 'lrp' } : { inputs: tensors, method: 'lrp' });
}

// ---- tests ---------------------------------------------------------------------------------------------
test('the manifest has at least 30 hostile files', () => {
  const files = new Set(cases.filter((c) => c.code !== 0 && c.file !== '-').map((c) => c.file));
  assert.ok(files.size >= 30, `${files.size} hostile files`);
});

for (const c of cases) {
  const skip = noApi || (c.file === '-' && 'a CLI flag-parsing case');
  test(`${c.args[0]} ${c.file}: ${c.code === 0 ? 'succeeds' : c.want}`, { skip, timeout: 120_000 }, async () => {
    if (c.code === 0) {
      await runCase(c);
      return;
    }
    await assert.rejects(runCase(c), (err) => {
      assert.equal(err.name, 'RelscopeError', `a RelscopeError, got ${err.stack}`);
      assert.ok(['bad-input', 'unsupported', 'limit'].includes(err.kind), `kind '${err.kind}': ${err.message}`);
      assert.ok(err.message.includes(c.want), `'${err.message}' holds '${c.want}'`);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });
  });
}
