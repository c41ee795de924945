// relscope server test — scripts/serve.mjs: loopback only, COOP/COEP/CSP headers, MIME types,
// no path traversal, GET/HEAD only. Needs no build.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { startServer } from '../../scripts/serve.mjs';

function request(url, { method = 'GET', rawPath } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath ?? u.pathname, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('static server: headers, MIME types, overlay, traversal', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-serve-'));
  const a = path.join(tmp, 'a');
  const b = path.join(tmp, 'b');
  fs.mkdirSync(path.join(a, 'sub'), { recursive: true });
  fs.mkdirSync(b);
  fs.writeFileSync(path.join(a, 'index.html'), '<!doctype html><p>hi</p>');
  fs.writeFileSync(path.join(a, 'sub', 'x.mjs'), 'export default 1;');
  fs.writeFileSync(path.join(b, 'm.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'secret');
  const server = await startServer({ port: 0, roots: [a, b] });
  try {
    assert.equal(server.server.address().address, '127.0.0.1', 'binds loopback only');

    const index = await request(server.url);
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'], /^text\/html/);
    assert.equal(index.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(index.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(index.headers['content-security-policy'], /default-src 'self'/);

    const wasm = await request(server.url + 'm.wasm');
    assert.equal(wasm.status, 200, 'second root is overlaid');
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    assert.equal(wasm.body.length, 8);

    const mjs = await request(server.url + 'sub/x.mjs');
    assert.match(mjs.headers['content-type'], /^text\/javascript/);

    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/..\\secret.txt']) {
      const r = await request(server.url, { rawPath: p });
      assert.equal(r.status, 404, `traversal ${p} is refused`);
    }
    assert.equal((await request(server.url + 'missing.js')).status, 404);
    assert.equal((await request(server.url, { method: 'POST' })).status, 405);
    const head = await request(server.url + 'm.wasm', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  } finally {
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('static server: the default mounts serve assets/ (bundled models) and nothing beside it', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'relscope-serve-'));
  const server = await startServer({ port: 0, roots: [tmp] });
  try {
    const cat = await request(server.url + 'assets/catalog.json');
    assert.equal(cat.status, 200);
    assert.match(cat.headers['content-type'], /^application\/json/);
    const ids = JSON.parse(cat.body.toString()).models.map((m) => m.id);
    assert.ok(ids.includes('demo') && ids.includes('clever_hans'), ids.join(','));
    assert.equal((await request(server.url + 'assets/clever_hans/model.onnx', { method: 'HEAD' })).status, 200);
    for (const p of ['/assets/../CMakeLists.txt', '/assets/%2e%2e/CMakeLists.txt', '/assets/..%2fCMakeLists.txt',
      '/assets/demo/..%2f..%2fREADME.md']) {
      assert.equal((await request(server.url, { rawPath: p })).status, 404, `traversal ${p} is refused`);
    }
  } finally {
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
