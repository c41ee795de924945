#!/usr/bin/env bash
# Forward-pass benchmark: native vs WebAssembly (node) on the same model, in one run.
#
# usage: bench/forward.sh [MODEL.onnx] [--shape 1,3,224,224] [--repeat N]
# Default model: build/bench/resnet18.onnx (made by bench/make_resnet18.py when Debian's python3-torch is
# installed), else the committed tests/data/models/resnet_tiny_opset13.onnx.
# Prints both medians and their ratio; timing ratios from one run are what we compare (machines are noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs NODE_OPTIONS=--no-experimental-fetch
model=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$model" ]; then
  if [ ! -f build/bench/resnet18.onnx ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 bench/make_resnet18.py build/bench/resnet18.onnx >/dev/null 2>&1 || true
  fi
  model=build/bench/resnet18.onnx
  [ -f "$model" ] || model=tests/data/models/resnet_tiny_opset13.onnx
fi
native=build/native/bin/relscope
wasm=build/wasm/bin/relscope.js
[ -x "$native" ] && [ -f "$wasm" ] || { echo "build first: scripts/build.sh all" >&2; exit 2; }

median() { sed -n "s/^forward: \([0-9.]*\) ms.*/\1/p"; }
echo "model: $model"
n=$("$native" bench "$model" "$@" | tee /dev/stderr | median)
w=$(node "$wasm" bench "$model" "$@" | tee /dev/stderr | median)
echo "native forward median: $n ms"
echo "wasm   forward median: $w ms"
awk -v n="$n" -v w="$w" 'BEGIN { printf "wasm / native forward: %.2f\n", w / n }'
