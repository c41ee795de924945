// relscope browser tests — shared helpers (files starting with "_" are not tests).
// Headless Chromium flags: /work/shared/TOOLCHAIN.md (system /usr/bin/chromium, driven by
// playwright-core; no browser download).
import path from 'node:path';
import { after, before } from 'node:test';
import { ROOT, startServer } from '../../scripts/serve.mjs';

export { ROOT };
export const CHROMIUM = process.env.RELSCOPE_CHROMIUM || '/usr/bin/chromium';
export const WEB_MODULE = path.join(ROOT, 'build', 'wasm', 'web', 'relscope_web.js');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
// WebGL2/WebGPU on SwiftShader (the ImGui app and GPU tests need these). RELSCOPE_CHROMIUM_GPU=hardware asks
// for the machine's own GPU through its Vulkan driver instead (bench/run.sh on a machine with a GPU; the
// adapter the page got is printed in the benchmark's WebGPU row, so a silent fallback shows).
const SWIFTSHADER_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];
const HARDWARE_GPU_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native', '--use-angle=vulkan',
  '--ignore-gpu-blocklist', '--enable-gpu',
];
export const CHROMIUM_GPU_ARGS = process.env.RELSCOPE_CHROMIUM_GPU === 'hardware' ? HARDWARE_GPU_ARGS : SWIFTSHADER_ARGS;

// Launch a fresh headless Chromium. playwright-core gives every launch() its own temporary profile (and
// refuses --user-data-dir there), so nothing is shared between tests or left behind.
export async function launchChromium({ gpu = false } = {}) {
  const { chromium } = await import('playwright-core');
  const args = [...CHROMIUM_ARGS, ...(gpu ? CHROMIUM_GPU_ARGS : [])];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

// Record everything a page does that a test may want to assert on.
export function watchPage(page) {
  const seen = { requests: [], failed: [], badStatus: [], errors: [], console: [] };
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('requestfailed', (r) => seen.failed.push(`${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => { if (r.status() >= 400) seen.badStatus.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('console', (m) => {
    seen.console.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  return seen;
}

// For a test file of the app: scripts/serve.mjs on a free port and a GPU Chromium, started before the
// file's tests unless `skip`, closed after them. Read fx.server / fx.browser inside the tests.
export function appFixture(skip) {
  const fx = { server: null, browser: null };
  before(async () => {
    if (skip) return;
    fx.server = await startServer({ port: 0 });
    fx.browser = await launchChromium({ gpu: true });
  });
  after(async () => {
    await fx.browser?.close();
    await fx.server?.close();
  });
  return fx;
}
