#!/usr/bin/env bash
# bench/run.sh — issue 7's speed table: relscope native vs wasm (node) vs onnxruntime-web, ResNet-18, one run.
#
# usage: bench/run.sh [--rounds K] [--repeat R] [--native BIN] [--wasm JS] [--model M.onnx] [--no-ort] [--no-webgpu]
#                     [--no-dawn] [--out FILE]
#   defaults: 3 rounds of 3 timed runs each, build/native/bin/relscope, build/wasm/bin/relscope.js,
#   build/bench/resnet18.onnx (made by bench/make_resnet18.py with Debian's python3-torch if missing),
#   writes bench/RESULTS.md.
# onnxruntime-web (~150 MB) is installed at bench time into build/bench/ort when the npm registry is reachable,
# never as a project dependency; without it the third ratio is reported as skipped. Likewise Dawn for node (npm
# `webgpu`) for the WebGPU row in node, with Mesa's lavapipe where Vulkan has no GPU (bench/webgpu_node.sh).
# Every round runs each side once, one after the other (interleaved), and each side's median per round is kept;
# ratios are medians over rounds of per-round ratios, so a slow phase of a shared machine hits both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs NODE_OPTIONS=--no-experimental-fetch

rounds=3 repeat=3 ort=1 webgpu=1 dawn=1 out=bench/RESULTS.md
native=build/native/bin/relscope wasm=build/wasm/bin/relscope.js model=build/bench/resnet18.onnx
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --native) native=$2; shift 2 ;;
    --wasm) wasm=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-ort) ort=0; shift ;;
    --no-webgpu) webgpu=0; shift ;;
    --no-dawn) dawn=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$native" ] && [ -f "$wasm" ] || { echo "build first: scripts/build.sh all (or pass --native/--wasm)" >&2; exit 2; }

# ---- the model ------------------------------------------------------------------------------------------------
if [ ! -f "$model" ]; then
  echo "[bench] generating $model (bench/make_resnet18.py)"
  /usr/bin/python3 bench/make_resnet18.py "$model"
fi

# ---- onnxruntime-web ----------------------------------------------------------------------------------------------
ortdir=build/bench/ort
if [ "$ort" = 1 ] && [ ! -d "$ortdir/node_modules/onnxruntime-web" ]; then
  echo "[bench] installing onnxruntime-web into $ortdir (bench only, not a project dependency)"
  mkdir -p "$ortdir"
  [ -f "$ortdir/package.json" ] || echo '{"private": true}' > "$ortdir/package.json"
  (cd "$ortdir" && timeout 600 npm install --no-save --no-audit --no-fund onnxruntime-web >/dev/null 2>&1) ||
    echo "[bench] onnxruntime-web could not be installed: its ratio is skipped"
fi
[ -d "$ortdir/node_modules/onnxruntime-web" ] || ort=0

# ---- rounds ---------------------------------------------------------------------------------------------------------
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
explain=(--method lrp --composite epsilon-plus-flat)
common=(--repeat "$repeat" --warmup 1 --shape 1,3,224,224)
# The 1-thread sides run pinned to one CPU (RELSCOPE_BENCH_CPU, default 0), all on the same one: on this VM the
# two vCPUs differ by up to a quarter and drift, and an unpinned node process (whose V8 helper threads share the
# machine) lost ~25% against the same binary pinned (2026-12-03: wasm explain 446 ms unpinned vs 346 pinned to
# cpu0, minutes apart), so an unpinned ratio measured where each process landed more than the code.
pin=()
if [ "$(nproc)" -gt 1 ] && taskset -c "${RELSCOPE_BENCH_CPU:-0}" true 2>/dev/null; then
  pin=(taskset -c "${RELSCOPE_BENCH_CPU:-0}")
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$rounds"); do
  echo "[bench] round $r/$rounds"
  "${pin[@]}" "$native" bench "$model" "${common[@]}" "${explain[@]}" > "$logs/native.$r"
  "${pin[@]}" node "$wasm" bench "$model" "${common[@]}" "${explain[@]}" > "$logs/wasm.$r"
  [ "$ort" = 1 ] && "${pin[@]}" node bench/ort_forward.mjs "$ortdir" "$model" 1,3,224,224 "$repeat" > "$logs/ort.$r"
  "$native" bench "$model" "${common[@]}" --threads 2 > "$logs/threads.$r"
done
# The browser row: WebGPU vs wasm in headless Chromium (bench/webgpu_explain.mjs), once: on SwiftShader (no GPU
# here) one WebGPU explanation of ResNet-18 takes about a minute.
if [ "$webgpu" = 1 ]; then
  echo "[bench] WebGPU vs wasm in Chromium"
  # (playwright-core does not load under --no-experimental-fetch)
  env -u NODE_OPTIONS node bench/webgpu_explain.mjs "$model" 1 > "$logs/webgpu.1" 2>&1 || { echo "[bench] the WebGPU row failed:"; cat "$logs/webgpu.1"; }
fi
# The same comparison in node through Dawn (bench/webgpu_node.sh), with a per-kernel GPU profile: on lavapipe
# here (~15 s per explanation), on the GPU where Vulkan has one.
if [ "$dawn" = 1 ]; then
  echo "[bench] WebGPU vs wasm in node (Dawn)"
  bash bench/webgpu_node.sh "$model" --repeat 1 > "$logs/dawn.1" 2>&1 || { echo "[bench] the Dawn row failed:"; cat "$logs/dawn.1"; }
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ------------------------------------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
# A VM's model name can stay the same when the host CPU under it changes (2026-12-03: "Intel(R) Xeon(R)
# Processor" both times, native explain 116 -> 92 ms): family/model/stepping and the SIMD extensions the
# native build compiles for (-march=native) tell such runs apart.
cpuid=$(awk -F': ' '/^cpu family/{f=$2} /^model\t/{m=$2} /^stepping/{s=$2} /^flags/{print "family " f " model " m " stepping " s; exit}' /proc/cpuinfo)
simd=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f|avx512_bf16|avx512_fp16|amx_tile' | tr '\n' ' ')
cpu="$cpu ($cpuid; ${simd% })"
pinned="not pinned"
[ ${#pin[@]} -gt 0 ] && pinned="every side pinned to cpu${RELSCOPE_BENCH_CPU:-0} (taskset)"
node bench/report.mjs "$logs" "$rounds" "$out" \
  "$(date -u '+%Y-%m-%d %H:%M UTC')" "$cpu, $(nproc) cores, load average $load_before before / $load_after after; 1-thread rows: $pinned" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$model" "$repeat"
