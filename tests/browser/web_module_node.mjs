// relscope browser-module test under node — build/wasm/web/relscope_web.js (ES6, ENVIRONMENT includes
// node) instantiates outside a browser too, so JS-API tests need no Chromium.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { WEB_MODULE } from './_harness.mjs';

const noWebBuild = !fs.existsSync(WEB_MODULE) && 'no browser module (build/wasm/web/relscope_web.js)';

test('browser module instantiates under node', { skip: noWebBuild, timeout: 120_000 }, async () => {
  const { default: createRelscopeModule } = await import(pathToFileURL(WEB_MODULE).href);
  assert.equal(typeof createRelscopeModule, 'function');
  const M = await createRelscopeModule({ print: () => {}, printErr: () => {} });
  assert.ok(M.HEAPU8 instanceof Uint8Array, 'module memory is set up');
  assert.ok(M.HEAPU8.length >= 64 * 1024 * 1024, 'INITIAL_MEMORY is at least 64 MB');
  for (const name of ['ccall', 'cwrap', 'UTF8ToString', 'FS']) {
    assert.ok(M[name], `runtime method ${name} is exported`);
  }
});
