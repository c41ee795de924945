// bench/report.mjs — reads bench/run.sh's per-round logs, prints the ratio table and writes RESULTS.md.
//
// Sections: parsing | ratios | table
//
// usage (from bench/run.sh): node bench/report.mjs LOG_DIR ROUNDS OUT.md DATE MACHINE COMMIT MODEL REPEAT
// A ratio is the median over rounds of the per-round ratio of the two sides' medians. Wall-clock ratios are
// the issue's targets; process-CPU ratios are shown beside them because on a shared machine the CPU time of
// a single-threaded run is the better estimate of its quiet-machine time.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [dir, roundsArg, out, date, machine, commit, model, repeat] = process.argv.slice(2);
const rounds = Number(roundsArg);

// ---- parsing ------------------------------------------------------------------------------------------------------
// "forward: 12.3 ms (cpu 11.9 ms)" -> {wall: 12.3, cpu: 11.9}
function time(text, label) {
  const m = text.match(new RegExp(`^${label}: ([0-9.]+) ms \\(cpu ([0-9.-]+) ms\\)`, 'm'));
  return m ? { wall: Number(m[1]), cpu: Number(m[2]) } : null;
}
function ortTime(text) {
  const runs = [...text.matchAll(/^ort forward: ([0-9.]+) ms \(cpu ([0-9.]+) ms\)/gm)];
  if (!runs.length) return null;
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: med(runs.map((m) => Number(m[1]))), cpu: med(runs.map((m) => Number(m[2]))) };
}
function peak(text) {
  const m = text.match(/^peak memory: ([0-9.]+) MiB after forward, ([0-9.]+) MiB after explain/m);
  return m ? `${m[1]} / ${m[2]}` : '?';
}
// "page faults per run (median): forward 0, explain 0" (native only) -> "0 / 0"
function faults(text) {
  const m = text.match(/^page faults per run \(median\): forward ([0-9]+)(?:, explain ([0-9]+))?/m);
  return m ? (m[2] !== undefined ? `${m[1]} / ${m[2]}` : m[1]) : '?';
}
// "forward 1 thread pinned: cpu0 40.3 ms, cpu1 49.3 ms" -> [{cpu: 'cpu0', ms: 40.3}, ...] (native, Linux,
// --threads > 1)
function pinned(text) {
  const m = text.match(/^forward 1 thread pinned: (.*)$/m);
  return m ? [...m[1].matchAll(/(cpu\d+) ([0-9.]+) ms/g)].map((x) => ({ cpu: x[1], ms: Number(x[2]) })) : [];
}
// "work (...): forward 1.814 G, explain 5.206 G (2.87 x forward), re-explain 1.696 G (0.93 x forward)" -> numbers
function work(text) {
  const m = text.match(/^work \(.*\): forward ([0-9.]+) G, explain ([0-9.]+) G \(([0-9.]+) x forward\), re-explain ([0-9.]+) G \(([0-9.]+) x forward\)/m);
  return m ? { forward: Number(m[1]), explain: Number(m[2]), ratio: Number(m[3]), reexplain: Number(m[4]), reratio: Number(m[5]) } : null;
}
const read = (name, r) => (existsSync(`${dir}/${name}.${r}`) ? readFileSync(`${dir}/${name}.${r}`, 'utf8') : '');
const perRound = [];
for (let r = 1; r <= rounds; ++r) {
  const native = read('native', r), wasm = read('wasm', r), ort = read('ort', r), threads = read('threads', r);
  perRound.push({
    nf: time(native, 'forward'), ne: time(native, 'explain'),
    wf: time(wasm, 'forward'), we: time(wasm, 'explain'),
    nr: time(native, 're-explain \\(same input, forward pass kept\\)'), wr: time(wasm, 're-explain \\(same input, forward pass kept\\)'),
    of: ortTime(ort),
    t2: time(threads, 'forward'), t1: time(threads, 'forward 1 thread'), pinned: pinned(threads),
    peakNative: peak(native), peakWasm: peak(wasm), faultsNative: faults(native), work: work(native),
  });
}

// ---- ratios ---------------------------------------------------------------------------------------------------------
// The browser row (one run): WebGPU vs wasm explain in Chromium, their agreement, the adapter.
const webgpuLog = read('webgpu', 1);
const webgpu = {
  cw: time(webgpuLog, 'chromium wasm explain'), gw: time(webgpuLog, 'webgpu explain'),
  adapter: (webgpuLog.match(/^adapter: (.*)$/m) || [])[1] || null,
  threads: (webgpuLog.match(/^chromium wasm threads: (\d+)/m) || [])[1] || '?',
  agreement: Number((webgpuLog.match(/^webgpu agreement: ([0-9.e+-]+)/m) || [])[1]),
};

// The node row (one run, bench/webgpu_node.mjs): WebGPU through Dawn vs wasm, and the GPU profile.
const dawnLog = read('dawn', 1);
const dawn = {
  cw: (dawnLog.match(/^wasm explain: ([0-9.]+) ms/m) || [])[1], gw: (dawnLog.match(/^webgpu explain: ([0-9.]+) ms/m) || [])[1],
  gr: (dawnLog.match(/^webgpu re-explain: ([0-9.]+) ms/m) || [])[1],
  grNote: (dawnLog.match(/^webgpu re-explain: [0-9.]+ ms \((.*)\)$/m) || [])[1] || '',
  adapter: (dawnLog.match(/^adapter: (.*)$/m) || [])[1] || null,
  agreement: Number((dawnLog.match(/^webgpu agreement: ([0-9.e+-]+)/m) || [])[1]),
  profile: dawnLog.split('\n').filter((l) => /^(webgpu program|profile)/.test(l)),
};

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};
const ratio = (num, den, kind) => median(perRound.map((p) => (p[num] && p[den] ? p[num][kind] / p[den][kind] : NaN)));
const abs = (key, kind) => median(perRound.map((p) => (p[key] ? p[key][kind] : NaN)));
const rows = [
  ['native explain (epsilon-plus-flat) / native forward', 'ne', 'nf', '<= 2.0', (x) => x <= 2.0, true],
  ['wasm explain / native explain (1 thread each)', 'we', 'ne', '<= 2.5', (x) => x <= 2.5, true],
  ['onnxruntime-web forward / relscope wasm forward (1 thread)', 'of', 'wf', '>= 1.0', (x) => x >= 1.0, true],
  ['native forward 1 thread / 2 threads (speedup)', 't1', 't2', '>= 1.7', (x) => x >= 1.7, false],
];

// ---- table ------------------------------------------------------------------------------------------------------------
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'skipped');
let md = `# Benchmark results (issue 7)\n\n`;
md += `Written by \`bench/run.sh\` on ${date}.\n\n`;
md += `- machine: ${machine}\n- commit: ${commit} (plus working-tree changes, if any)\n`;
md += `- model: ${model} (torchvision-style ResNet-18, seeded random weights), input 1x3x224x224\n`;
md += `- ${rounds} rounds x ${repeat} timed runs per side; ratio = median over rounds of per-round ratios of medians\n\n`;
md += `| ratio | target | measured (wall) | measured (process CPU) | met (wall) |\n|---|---|---|---|---|\n`;
for (const [name, num, den, target, ok, cpuMeaningful] of rows) {
  const w = ratio(num, den, 'wall'), c = cpuMeaningful ? ratio(num, den, 'cpu') : NaN;
  md += `| ${name} | ${target} | ${f(w)} | ${cpuMeaningful ? f(c) : 'n/a'} | ${Number.isFinite(w) ? (ok(w) ? 'yes' : 'no') : '-'} |\n`;
}
if (webgpu.gw && webgpu.cw) {
  const r = webgpu.gw.wall / webgpu.cw.wall;
  md += `| WebGPU explain / wasm explain (${webgpu.threads} threads) in Chromium (adapter: ${webgpu.adapter}) | correct; faster on a real GPU | ${f(r)} | n/a | `;
  md += `agrees to ${webgpu.agreement.toExponential(1)} of max abs R; speed: no real GPU here |\n`;
} else {
  md += `| WebGPU explain / wasm explain in Chromium | correct; faster on a real GPU | skipped | n/a | - |\n`;
}
if (dawn.gw && dawn.cw) {
  md += `| WebGPU explain / wasm explain (1 thread) in node, Dawn (adapter: ${dawn.adapter}) | correct; faster on a real GPU | `;
  md += `${f(Number(dawn.gw) / Number(dawn.cw))} | n/a | agrees to ${dawn.agreement.toExponential(1)} of max abs R; `;
  md += `${/software/.test(dawn.adapter) ? 'speed: no real GPU here' : 'a real GPU'} |\n`;
}
md += `\n| median time (ms) | wall | process CPU |\n|---|---|---|\n`;
for (const [name, key] of [['native forward', 'nf'], ['native explain', 'ne'],
  ['native re-explain (same input: the kept forward pass, backward part only)', 'nr'], ['wasm forward', 'wf'],
  ['wasm explain', 'we'], ['wasm re-explain (same input)', 'wr'],
  ['onnxruntime-web forward', 'of'], ['native forward, 2 threads', 't2'], ['native forward, 1 thread (same run)', 't1']])
  md += `| ${name} | ${f(abs(key, 'wall'), 1)} | ${f(abs(key, 'cpu'), 1)} |\n`;
if (webgpu.gw) md += `| Chromium wasm explain, ${webgpu.threads} threads (one run) | ${f(webgpu.cw.wall, 1)} | n/a |\n| Chromium WebGPU explain (one run) | ${f(webgpu.gw.wall, 1)} | n/a |\n`;
if (dawn.gw) md += `| node wasm explain, 1 thread (next to Dawn) | ${dawn.cw} | n/a |\n| node WebGPU explain, Dawn | ${dawn.gw} | n/a |\n`;
if (dawn.gr) md += `| node WebGPU re-explain, Dawn (${dawn.grNote}) | ${dawn.gr} | n/a |\n`;
md += `\nA whole explanation (the rows above and the ratios) records its own forward pass. Asked again about the same `;
md += `input (another target, composite, rule or concept: what the canvas does), the engine keeps that pass, and the `;
md += `rules' denominators computed on it, and runs only the rest of the backward part (re-explain here asks `;
md += `the same question again, so the denominators are kept too): re-explain / forward ${f(ratio('nr', 'nf', 'wall'))} natively, `;
md += `${f(ratio('wr', 'wf', 'wall'))} in wasm (wall).\n`;
const w = perRound[0].work;
if (w) {
  md += `\nWork per run (multiply-accumulates of the convolutions and GEMMs, each convolution counted as the direct one, `;
  md += `\`relscope bench\`): forward ${w.forward} G, explain ${w.explain} G (${w.ratio} x forward), re-explain ${w.reexplain} G `;
  md += `(${w.reratio} x forward). With the convolutions dominating, explain / forward time cannot fall far below the `;
  md += `work ratio: epsilon-plus-flat's ZPlus needs, per convolution, the forward one, its z+ = W+ x (denominators that `;
  md += `depend on the input) and the transposed W+^T (R / z+), so a target of 2.0 would need explain to skip work the `;
  md += `rule defines.\n`;
}
md += `\nPeak memory (MiB, after forward / after explain): native ${perRound[0].peakNative} (process RSS high-water mark), `;
md += `wasm ${perRound[0].peakWasm} (linear memory size). Native page faults per run (median, forward / explain): `;
md += `${perRound[0].faultsNative} (a steady state that faults hands memory back to the kernel and takes it again).\n`;
const pins = perRound.map((p) => p.pinned).filter((p) => p.length > 1);
if (pins.length) {
  const cols = pins[0].map((pin, c) => ({ cpu: pin.cpu, ms: median(pins.map((p) => p[c]?.ms)) }));
  const slower = (p) => Math.max(...p.pinned.map((x) => x.ms));
  const bound = median(perRound.map((p) => (p.t1 && p.pinned.length > 1 ? (2 * p.t1.wall) / slower(p) : NaN)));
  md += `\n1-thread forward pinned to each CPU (ms, median over rounds): ${cols.map((x) => `${x.cpu} ${f(x.ms, 1)}`).join(', ')}. `;
  md += `An even 2-way split waits for the slower CPU, so with no serial part at all the speedup could reach `;
  md += `2 x (1-thread time) / (slower pinned time) = ${f(bound)} in this run.\n`;
}
md += `\nProcess CPU time of a 2-thread run counts both threads, so only its wall ratio is meaningful as a speedup; `;
md += `its ratio to the 1-thread run's CPU time (${f(abs('t2', 'cpu') / abs('t1', 'cpu'))} here) counts contention (on `;
md += `this VM both vCPUs have run at down to about half speed while both are busy, which no split of the work `;
md += `can undo) and, since the pool's workers spin up to 100 us for the next region instead of sleeping, `;
md += `the time they wait between regions too.\n`;
if (dawn.profile.length) {
  md += `\nWebGPU program and GPU time per kernel (Dawn in node, adapter above; one run with a timestamp pass around `;
  md += `every dispatch, bench/webgpu_node.mjs):\n\n\`\`\`\n${dawn.profile.join('\n')}\n\`\`\`\n`;
}
md += `
## Reading the table
- explain / forward: epsilon-plus-flat gives every convolution but the first the ZPlus rule, whose LRP step
  is a forward pass with the clamped weights w+ (z = x w+; x >= 0 after ReLU, so the x- term is skipped) and
  a transposed convolution with the same w+ (c = w+^T (R / z)): two convolutions per layer on top of the
  forward pass that records the activations. Counted in convolution FLOPs that is about 3x a forward pass,
  so <= 2.0 is out of reach for this composite without dropping one of the two (the measured excess over 3
  is the elementwise stabilise/divide/multiply and the rules' buffers). Winograd F(2x2, 3x3) (3x3 stride-1
  layers with enough 2x2 tiles, kernels/cpu/winograd.cpp; since 2026-12-03 15:40) cuts all three passes
  alike (native forward 37.5 -> 32.4 ms, explain 124.8 -> 106.6 ms in one A/B), so the ratio stays. Since
  2026-12-03 22:20 the max-pool's arg-max (asked once per recorded pass) comes from its separable maxima, not
  a loop over every tap: native explain 88.0/88.4 -> 84.7/84.9 ms (two alternated pairs).
- wasm / native: both are GEMM-bound, and the native build is compiled for this machine (-march=native:
  AVX-512, 16 floats per instruction) while wasm SIMD is 128-bit (4 floats). A 512x512 GEMM alone runs at
  ~140-150 GFLOP/s natively (Eigen; TOOLCHAIN.md) and ~38-45 in wasm (the wasm_simd128 4x8 micro-kernel; per
  k-step it issues 8 multiplies, 8 adds and 6 loads, so arithmetic, not memory, is its limit; fused
  multiply-add would halve the instructions, but Emscripten 3.1.6's LLVM 14 emits relaxed SIMD's prototype
  opcode, which today's engines reject): 3.3-4x on the GEMMs. The whole explanation's ratio is lower (2.64-3.1
  over runs before Winograd, higher when the pinned core is in a slow phase) because its elementwise and
  memory-bound parts differ less. Winograd removes 56% of the multiplies of the layers it takes (ResNet-18's
  layer1-3), which saves more where multiplies are dearer: wasm forward ~119 -> 97 ms and explain ~355 ->
  286 ms against native's 13-15% (one A/B), ratio 2.81 -> 2.56-2.63. Since 2026-12-03 18:00 the wasm packer
  reads stride-2 im2col columns (the stem, the downsampling convs) with vector loads and shuffles instead of
  one float at a time (stem forward 10.3 -> 7.6 ms), and a last tile of at most 4 columns (N = 49: layer3's
  Winograd GEMMs, layer4) runs a 4x4 kernel instead of paying for 8 columns (layer4 forward 8.0 -> 7.7 ms):
  explain 300 -> 291 ms in one A/B (3 alternated pairs), ratio 2.44-2.50 over that day's runs (met, narrowly).
  The ratio depends on the host under this VM: at 22:35 the same day the CPU under it had changed (native
  forward 34.4 -> 28.3 ms, explain 116 -> 92; wasm explain 288 -> 246: AVX-512 gained more than 128-bit
  SIMD), and the ratio read 2.67. The wasm profile (node --cpu-prof, with model loading): micro-kernels
  ~50-56% (at the core's 128-bit mul + add peak), packing the GEMMs' left side (the weights) 7-8%,
  Winograd's transforms 8%, zero-fills and copies ~9%. Tried and not kept: -mbulk-memory for
  memory.fill/copy (with thread_local made static for the single-threaded build, which wasm-ld 14 otherwise
  refuses): explain 293-296 -> 300-303 ms in two alternated pairs, no gain; Winograd's transformed weights
  kept in the plan per weight and rule modifier (one U serving a layer's forward and, read transposed, its
  adjoint): native forward 27.2 -> 26.7 ms and explain 84.8 -> 81.3, wasm ~2.5% (layer3 3.43 -> 2.88 ms per
  call), for +11 MiB peak after a forward pass and +44 MiB after an explanation (16/9 of layer1-3's weights
  for w, for w+, and for the uncanonized model's forward pass), and a slower transposed adjoint natively
  (layer3 1.15 vs 0.93 ms, so re-explaining gained nothing). More margin needs fewer multiplies in wasm:
  since 2026-12-03 23:45 layers with at least 49 4x4 tiles and 32+ channels (ResNet-18's layer1-2) run as
  F(4x4, 3x3), 2.25 multiplies per output instead of 4, on the points (0, +-1, 1/2, -2): their rounding is
  5-7x F(2x2)'s, about 3x a direct float sum, where Lavin's (0, +-1, +-2) would be 11-22x
  (bench/winograd_error.cpp, 64-256 channels). wasm forward 78 -> 73.5 ms, explain 240 -> 231, re-explain
  85.5 -> 81 (two alternated pairs); native unchanged (its layer1-2 are bound by the transforms, not Eigen's
  GEMM); wasm / native 2.68 -> 2.54. ResNet-18's WebGPU agreement (the GPU runs direct sums) went from 9.6e-6
  to 3.5e-5 of max|R|; zennit parity asks 1e-3.
- WebGPU: measured in headless Chromium on the adapter named in its row. SwiftShader is Chromium's CPU
  implementation of Vulkan, so on this machine the row shows that the GPU path is correct on ResNet-18 and
  what it costs without a GPU (every dispatch emulated on the CPU), not the speed of a real GPU; run
  bench/run.sh on a machine with one for that. The kernel-level agreement (<= 1e-5 on random shapes) is in
  tests/browser/webgpu_kernels.test.mjs; on the 20-layer ResNet-18 float32 summation-order differences add
  up to the max error shown.
- WebGPU in node (Dawn): the same JS API explanation through Dawn's node binding, with a timestamp pass around
  every dispatch (the profile above). Without a GPU, Vulkan is Mesa's lavapipe (llvmpipe on the CPU, 2 cores
  here), so this row too is correctness plus a CPU emulation's cost, several times cheaper than SwiftShader;
  on a machine with a GPU, bench/webgpu_node.sh (or bench/device_webgpu.sh) uses its Vulkan driver.
- The 2-thread speedup is the wall time of the whole forward pass, including its serial parts; the two halves
  of every split wait for the slower vCPU, whose pinned 1-thread time is printed above with the bound it
  sets. On this VM the two vCPUs' speeds drift apart by up to a quarter (2026-12-02, with taskset: 49.3 vs
  40.3 ms, minutes later 38.3 vs 41.0), so the ratio swings between ~1.2 and ~1.7 from run to run. Worse,
  at times the two vCPUs share one core's throughput: 2026-12-03 03:36, ten minutes after a run measured
  1.60 (bound 1.99), \`relscope bench --threads 2\` gave 37.0 ms for 1 thread pinned to either CPU alone, but
  36.2 ms wall and 65.1 ms of CPU for 2 threads (speedup 1.01, three runs alike). Dynamic
  chunking (4 chunks per thread) was tried and measured slower: every chunk repacks the layer's weights.
  Handing a region to sleeping workers cost a futex wake-up each way (13-66 us per region here, ~50 regions
  per forward pass); since 2026-12-03 13:00 workers and caller spin up to 100 us before sleeping (~1 us per
  region back to back): 1.53 -> 1.65-1.71. Per layer the 2-thread time then lost ~2.7 ms against half the
  1-thread time, spread over every convolution (0.05-0.26 ms each; layer4 splits channels, so each thread
  gathers all of its columns; the others split rows, so each packs all the weights). Winograd (2026-12-03
  15:40) made the 1-thread forward pass 13% faster (37.1 -> 32.2 ms) and the 2-thread one 6% (22.2 ->
  20.4-21.2 ms). Its layers split 1.85-1.96x on 2 threads (layer1 by tile rows; layer2 and layer3 by
  channels and whole GEMMs per thread, first 1.5x and 1.16x by tile rows), but the loss outside them stays
  (~3.7 ms before Winograd, ~4-4.5 ms after), and the same loss weighs more against a faster 1-thread pass
  (37.1 / (37.1 / 2 + 3.7) = 1.67; 32.2 / (32.2 / 2 + 3.7) = 1.63): 1.55-1.62 in single runs. Part of
  that loss was work that never split: the pools and elementwise ops counted their work at a fraction of its
  cost against the split threshold, so ResNet-18's max-pool (0.37 ms) and layer1's Relus and Adds ran on one
  thread; counted honestly since 2026-12-03 18:10 (max-pool 0.37 -> 0.23 ms on 2 threads). Single runs since:
  1.61-1.74, the spread being the VM's (three alternated A/B pairs could not separate the change from it).
  Every op output was also a new vector zero-filled on one thread before the op's split kernel ran (~1-2 ms
  per pass, the first touch of the stem's 3 MiB outputs 0.7 ms of it); since 2026-12-03 19:00 plain passes
  hand the storage of values they free to the outputs of ops that write every element (executor.h's
  BufferPool, kept between calls), and 5 alternated runs each against the session's first binary measured
  1 thread 37.45 -> 36.38 ms, 2 threads 22.46 -> 21.15 ms (1.67 -> 1.72, with the pools' split above).
- Set RELSCOPE_CHROMIUM_GPU=hardware to run the WebGPU row on the machine's own GPU (Vulkan) instead of
  SwiftShader; the adapter column shows which one the page got.
- On a real GPU (a lent machine, bench/device_webgpu.sh): bench/RESULTS_GPU.md, recorded by hand from its output.
`;
process.stdout.write(md);
writeFileSync(out, md);
