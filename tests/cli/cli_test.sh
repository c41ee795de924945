#!/usr/bin/env bash
# CLI contract: exit codes (0 ok, 2 bad input) and one clear line on stderr, for the native binary
# and the node-run wasm build alike.
#
# usage: tests/cli/cli_test.sh RELSCOPE_COMMAND...   e.g.  build/native/bin/relscope
#                                                          node build/wasm/bin/relscope.js
# Prints one line per case and ends with "N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
models=$here/../data/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# expect CODE STDERR_SUBSTRING -- ARGS...
expect() {
  local code=$1 want=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$got" -eq "$code" ] && grep -qF -- "$want" "$tmp/err" "$tmp/out" && { [ "$code" -eq 0 ] || [ "$lines" -eq 1 ]; }; then
    passed=$((passed + 1))
    echo "ok   exit $got: ${*: -2}"
  else
    failed=$((failed + 1))
    echo "FAIL expected exit $code and '$want', got exit $got ($lines stderr lines): $*"
    sed 's/^/     | /' "$tmp/err" | head -5
  fi
}

cmd=("$@")
m=$models/cnn_opset13.onnx
# Hostile and broken files, made on the fly.
: >"$tmp/empty.onnx"
head -c 3000 /dev/urandom >"$tmp/garbage.onnx"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' >"$tmp/image.onnx"
head -c 5000 "$m" >"$tmp/truncated.onnx"
printf 'this is not a tensor' >"$tmp/bad.npy"

expect 0 "Conv" -- "${cmd[@]}" info "$m"
expect 0 "unsupported: none" -- "${cmd[@]}" info "$models/attention_opset17.onnx"
expect 0 "sample 1:" -- "${cmd[@]}" predict "$m" "$models/cnn_opset13_input.npy" --top 3
expect 0 "wrote" -- "${cmd[@]}" predict "$m" "$models/cnn_opset13_input.npy" --out "$tmp/y.npy"
expect 2 "empty.onnx" -- "${cmd[@]}" info "$tmp/empty.onnx"
expect 2 "garbage.onnx" -- "${cmd[@]}" info "$tmp/garbage.onnx"
expect 2 "image.onnx" -- "${cmd[@]}" info "$tmp/image.onnx"
expect 2 "truncated.onnx" -- "${cmd[@]}" info "$tmp/truncated.onnx"
expect 2 "missing.onnx: cannot open" -- "${cmd[@]}" info "$tmp/missing.onnx"
expect 2 "bad.npy" -- "${cmd[@]}" predict "$m" "$tmp/bad.npy"
expect 2 "input 'input' expects" -- "${cmd[@]}" predict "$m" "$models/mlp_opset13_input.npy"
expect 2 "unknown option --tpo" -- "${cmd[@]}" predict "$m" "$models/cnn_opset13_input.npy" --tpo 3
expect 2 "unknown command" -- "${cmd[@]}" explode "$m"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
