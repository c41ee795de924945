#!/usr/bin/env node
// relscope — static server for the web front end: web/ overlaid on the wasm build output
// (build/wasm/web: relscope_app.js, relscope_web.js + .wasm), plus the bundled models (assets/ at /assets/:
// the demo, the lesson models and assets/catalog.json), on 127.0.0.1 only.
//
// Sections: constants | request handling | startServer() | command line
//
// Why not python3 -m http.server: the page must be cross-origin isolated (COOP/COEP) so that wasm
// threads (SharedArrayBuffer) can work, and .wasm must be served as application/wasm for streaming
// compilation. The Content-Security-Policy keeps every request on this origin.
//
// Usage: node scripts/serve.mjs [--port N]   (default 8080, or $PORT; 0 picks a free port)
//        RELSCOPE_WASM_BUILD=build/other node scripts/serve.mjs   (serve another wasm build dir's web/)
// As a module (tests): const s = await startServer({ port: 0 }); ... s.url ...; await s.close();
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---- constants -------------------------------------------------------------------------------------
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WASM_BUILD = path.resolve(ROOT, process.env.RELSCOPE_WASM_BUILD || path.join('build', 'wasm'));
export const DEFAULT_ROOTS = [path.join(ROOT, 'web'), path.join(WASM_BUILD, 'web')];
// URL prefix -> directory: only these parts of the repository are served besides the roots.
// assets/: the bundled models (assets/catalog.json lists them) that the page, its Models menu and its lessons open.
export const DEFAULT_MOUNTS = { '/assets/': path.join(ROOT, 'assets') };
export const HOST = '127.0.0.1';

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.onnx': 'application/octet-stream',
  '.npy': 'application/octet-stream',
  '.data': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

// Same-origin only. 'unsafe-eval': embind builds its invokers with new Function();
// 'wasm-unsafe-eval': WebAssembly compilation.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

export const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

// ---- request handling ------------------------------------------------------------------------------
// Map a URL path to a file under one of the roots (first match wins); null if none.
export function resolveFile(roots, urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  if (rel.endsWith('/')) rel += 'index.html';
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..' || p.includes('\\'))) return null;
  for (const root of roots) {
    let candidate = path.join(root, ...parts);
    if (candidate !== root && !candidate.startsWith(root + path.sep)) continue;
    try {
      let st = fs.statSync(candidate);
      if (st.isDirectory()) {
        candidate = path.join(candidate, 'index.html');
        st = fs.statSync(candidate);
      }
      if (st.isFile()) return { file: candidate, size: st.size };
    } catch {
      // not under this root
    }
  }
  return null;
}

function send(res, status, body, extra = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', ...extra });
  res.end(body);
}

// A mount's files by URL prefix, else the overlaid roots.
function resolveMounted(roots, mounts, urlPath) {
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (urlPath.startsWith(prefix)) return resolveFile([dir], '/' + urlPath.slice(prefix.length));
  }
  return resolveFile(roots, urlPath);
}

function handler(roots, mounts, log) {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const found = resolveMounted(roots, mounts, req.url || '/');
    if (!found) {
      if (log) log(`404 ${req.url}`);
      send(res, 404, 'not found\n');
      return;
    }
    const type = MIME[path.extname(found.file).toLowerCase()] || 'application/octet-stream';
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': found.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(found.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
}

// ---- startServer() ---------------------------------------------------------------------------------
export function startServer({ port = 8080, roots = DEFAULT_ROOTS, mounts = DEFAULT_MOUNTS, log = null } = {}) {
  const resolvedRoots = roots.map((r) => path.resolve(r));
  const resolvedMounts = Object.fromEntries(Object.entries(mounts).map(([p, d]) => [p, path.resolve(d)]));
  const server = http.createServer(handler(resolvedRoots, resolvedMounts, log));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      const { port: actual } = server.address();
      resolve({
        server,
        port: actual,
        url: `http://${HOST}:${actual}/`,
        close: () => new Promise((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}

// ---- command line ----------------------------------------------------------------------------------
const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const i = process.argv.indexOf('--port');
  const port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: bad port ${port}`);
    process.exit(2);
  }
  const s = await startServer({ port, log: (m) => console.log(`[serve] ${m}`) });
  const shown = DEFAULT_ROOTS.map((r) => path.relative(ROOT, r) + '/').join(' + ');
  console.log(`[serve] ${shown} on ${s.url}  (COOP/COEP on; Ctrl-C stops)`);
  for (const f of ['relscope_app.js', 'relscope_web.js']) {
    if (!fs.existsSync(path.join(DEFAULT_ROOTS[1], f))) {
      console.log(`[serve] note: ${path.relative(ROOT, path.join(DEFAULT_ROOTS[1], f))} is missing: pages that load it will report that`);
    }
  }
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
