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

# check DESCRIPTION COMMAND...: a plain assertion on files the CLI wrote (exit status 0 passes).
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}
# png_size FILE WxH: the IHDR width and height (big-endian at bytes 16..23) are WxH.
png_size() {
  local hex
  hex=$(od -An -tx1 -j16 -N8 "$1" 2>/dev/null | tr -d ' \n')
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] &&
    [ "$((16#${hex:0:8}))x$((16#${hex:8:8}))" = "$2" ]
}
# npy_shape FILE "(1, 1, 28, 28)": the .npy header declares that shape.
npy_shape() { head -c 128 "$1" | grep -aqF "'shape': $2"; }

cmd=("$@")
m=$models/cnn_opset13.onnx
img=$here/../data/images/gradient_40x30.png   # 40x30 RGB; cnn_opset13 takes [batch,1,28,28]
# Hostile and broken files, made on the fly.
: >"$tmp/empty.onnx"
head -c 3000 /dev/urandom >"$tmp/garbage.onnx"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' >"$tmp/image.onnx"
head -c 5000 "$m" >"$tmp/truncated.onnx"
printf 'this is not a tensor' >"$tmp/bad.npy"
printf '\x89PNG\r\n\x1a\nthis is no image' >"$tmp/corrupt.png"
head -c 200 "$img" >"$tmp/cut.png"

expect 0 "Conv" -- "${cmd[@]}" info "$m"
expect 0 "unsupported: none" -- "${cmd[@]}" info "$models/attention_opset17.onnx"
expect 0 "sample 1:" -- "${cmd[@]}" predict "$m" "$models/cnn_opset13_input.npy" --top 3
expect 0 "explain/forward:" -- "${cmd[@]}" bench "$m" --repeat 2 --warmup 1 --threads 2 --method lrp --composite epsilon
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

# Images as INPUT, recognised by their bytes: decoded, made gray and resized to the model's 28x28, heatmaps.
expect 0 "sample 0:" -- "${cmd[@]}" predict "$m" "$img" --top 3
expect 0 "wrote $tmp/heat.png 28x28" -- "${cmd[@]}" explain "$m" "$img" --out "$tmp/r_img.npy" --heatmap "$tmp/heat.png"
check "heatmap PNG has the model input's 28x28" png_size "$tmp/heat.png" 28x28
check "R.npy of an image has the input's shape" npy_shape "$tmp/r_img.npy" "(1, 1, 28, 28)"
expect 0 "wrote $tmp/batch_1.png 28x28" -- "${cmd[@]}" explain "$m" "$models/cnn_opset13_input.npy" --heatmap "$tmp/batch.png" --cmap coldnhot
check "a batch of 2 gives one heatmap per sample" png_size "$tmp/batch_0.png" 28x28
expect 2 "corrupt.png: cannot decode image" -- "${cmd[@]}" explain "$m" "$tmp/corrupt.png" --out "$tmp/r.npy"
expect 2 "cut.png: cannot decode image" -- "${cmd[@]}" predict "$m" "$tmp/cut.png"
expect 2 "does not look like an image" -- "${cmd[@]}" predict "$models/mlp_opset13.onnx" "$img"
expect 2 "--mean applies to image inputs only" -- "${cmd[@]}" predict "$m" "$models/cnn_opset13_input.npy" --mean 0.5
expect 2 "--std: 3 values given" -- "${cmd[@]}" predict "$m" "$img" --std 0.2,0.2,0.2
expect 2 "not a built-in color map" -- "${cmd[@]}" explain "$m" "$img" --heatmap "$tmp/x.png" --cmap viridis

# Pruned LRP, CRP and concept ranking (the maths is in the unit tests; here: flags, shapes, messages).
x=$models/cnn_opset13_input.npy
expect 0 "pruned input of /c2/Conv" -- "${cmd[@]}" explain "$m" "$x" --method pruned-lrp --prune 0.5 --out "$tmp/p.npy"
check "pruned-lrp R.npy has the input's shape" npy_shape "$tmp/p.npy" "(2, 1, 28, 28)"
expect 0 "sample 1, channel 1:" -- "${cmd[@]}" explain "$m" "$x" --method crp --layer /c2/Conv --channels 0,1 --out "$tmp/crp.npy"
check "crp R.npy is N x K x input dims" npy_shape "$tmp/crp.npy" "(2, 2, 1, 28, 28)"
expect 0 "wrote $tmp/joint.npy" -- "${cmd[@]}" explain "$m" "$x" --method crp --layer /c2/Conv --channels 0,1 --joint --out "$tmp/joint.npy"
check "crp --joint R.npy has the input's shape" npy_shape "$tmp/joint.npy" "(2, 1, 28, 28)"
expect 0 "share" -- "${cmd[@]}" concepts "$m" "$x" --layer /c2/Conv --top 3 --out "$tmp/c.npy"
check "concepts C.npy is N x channels" npy_shape "$tmp/c.npy" "(2, 16)"
expect 0 "/c1/Conv:" -- "${cmd[@]}" concepts "$m" "$x" --layer /c2/Conv --graph 15 --depth 1 --top 2
expect 2 "--depth: only used with --graph" -- "${cmd[@]}" concepts "$m" "$x" --layer /c2/Conv --depth 2
expect 2 "--graph: channel 99 is out of range" -- "${cmd[@]}" concepts "$m" "$x" --layer /c2/Conv --graph 99
expect 2 "prune proportion (positive) must be in [0, 1]" -- "${cmd[@]}" explain "$m" "$x" --method pruned-lrp --prune 1.5 --out "$tmp/r.npy"
expect 0 "of entries masked" -- "${cmd[@]}" explain "$m" "$x" --method pruned-lrp --prune 0.5 --prune-mode mask --out "$tmp/pm.npy"
expect 2 "--prune-mode: 'scale' is not a pruning mode" -- "${cmd[@]}" explain "$m" "$x" --method pruned-lrp --prune-mode scale --out "$tmp/r.npy"
expect 2 "--prune: only used with --method pruned-lrp" -- "${cmd[@]}" explain "$m" "$x" --prune 0.5 --out "$tmp/r.npy"
expect 2 "--prune-at /c1/Conv: not a linear layer after the first" -- "${cmd[@]}" explain "$m" "$x" --method pruned-lrp --prune-at /c1/Conv=0.5 --out "$tmp/r.npy"
expect 2 "method crp needs --layer" -- "${cmd[@]}" explain "$m" "$x" --method crp --channels 0 --out "$tmp/r.npy"
expect 2 "--layer /Relu: a Relu node" -- "${cmd[@]}" concepts "$m" "$x" --layer /Relu
# Concept atlas (CRP reference samples) over a folder: an image and a batch-of-2 .npy -> 3 samples.
mkdir -p "$tmp/data" "$tmp/nodata"
cp "$img" "$tmp/data/a_gradient.png"
cp "$x" "$tmp/data/b_batch.npy"
expect 0 "wrote $tmp/atlas/atlas.json" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /c2/Conv --top 2 --out "$tmp/atlas"
atlas_ok() {
  grep -q '"channels": 16' "$1" && [ "$(grep -c '"channel":' "$1")" -eq 16 ] &&
    grep -q '"file": "b_batch.npy", "index": 1' "$1" && [ -s "$(dirname "$1")/c15_actmax_1.png" ]
}
check "atlas.json lists 16 channels, 3 samples, and crops" atlas_ok "$tmp/atlas/atlas.json"
# Workers: --threads 1 and --threads 3 write the same atlas (ids fixed by file order break every tie).
expect 0 "wrote $tmp/atlas3/atlas.json" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /c2/Conv --top 2 --threads 3 --out "$tmp/atlas3"
expect 0 "1 thread(s)" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /c2/Conv --top 2 --threads 1 --out "$tmp/atlas1"
check "atlas --threads 3 equals --threads 1 (atlas.json and crops)" diff -r "$tmp/atlas1" "$tmp/atlas3"
expect 2 "--threads: expected 0" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /c2/Conv --threads -1 --out "$tmp/atlas2"
expect 2 "nodata: no input files" -- "${cmd[@]}" atlas "$m" "$tmp/nodata" --layer /c2/Conv --out "$tmp/atlas2"
expect 2 "--layer /Relu: a Relu node" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /Relu --out "$tmp/atlas2"
cp "$tmp/bad.npy" "$tmp/data/c_bad.npy"
expect 2 "c_bad.npy" -- "${cmd[@]}" atlas "$m" "$tmp/data" --layer /c2/Conv --out "$tmp/atlas2"
expect 2 "channel 99 is out of range" -- "${cmd[@]}" explain "$m" "$x" --method crp --layer /c2/Conv --channels 99 --out "$tmp/r.npy"

# Faithfulness (pixel flipping; the maths is in test_relevance_faithfulness.cpp): a table per sample, the
# curves as CSV (2 samples x 2 explanations x 6 points), and the errors.
expect 0 "lrp (epsilon)" -- "${cmd[@]}" faithfulness "$m" "$x" --compare epsilon,gradient --flip-steps 5 --flip-window 2 --random-orders 2 --curve "$tmp/flip.csv"
curve_ok() { [ "$(head -1 "$1")" = "sample,explanation,point,units_removed,fraction_removed,output,output_random" ] && [ "$(wc -l <"$1")" -eq 25 ] && grep -q '^1,"gradient",5,196,1,' "$1"; }
check "faithfulness --curve writes 24 points and the header" curve_ok "$tmp/flip.csv"
expect 0 "pruned-lrp (epsilon-plus-flat)" -- "${cmd[@]}" faithfulness "$m" "$x" --compare epsilon-plus-flat,pruned-lrp --prune 0.5 --flip-steps 4 --random-orders 1
expect 2 "--prune: only used with --method pruned-lrp" -- "${cmd[@]}" faithfulness "$m" "$x" --compare epsilon,gradient --prune 0.5
expect 2 "--flip-steps: 'many' is not an integer" -- "${cmd[@]}" faithfulness "$m" "$x" --flip-steps many
expect 2 "faithfulness: steps must be 1..1000, not 0" -- "${cmd[@]}" faithfulness "$m" "$x" --flip-steps 0
expect 2 "--compare: 'sharpest' is neither a method nor a composite" -- "${cmd[@]}" faithfulness "$m" "$x" --compare epsilon,sharpest
expect 2 "gives several maps or a variance map" -- "${cmd[@]}" faithfulness "$m" "$x" --method crp --layer /c2/Conv --channels 0

# SpRAy over a folder (the maths is in test_relevance_spray.cpp): the Clever Hans model's six samples at class
# Shirt (6) split into the three marked and the three clean ones; the JSON and the cluster heatmaps; errors.
ch=$here/../../assets/clever_hans
expect 0 "cluster 1: 3 map(s), 50.0%: 19_t_shirt_top_marked.png 4_shirt_marked.png 6_coat_marked.png" -- "${cmd[@]}" spray "$ch/model.onnx" "$ch/samples" --target 6 --mean 0.286 --std 0.353 --neighbours 2 --size 7 --out "$tmp/spray.json" --heatmaps "$tmp/spray"
spray_ok() { [ "$(grep -c '"cluster": 1' "$1")" -eq 3 ] && grep -q '"clusters": 2' "$1" && png_size "$tmp/spray/cluster_1.png" 7x7; }
check "spray --out lists 6 maps, 3 in cluster 1, and --heatmaps draws 7x7 cluster means" spray_ok "$tmp/spray.json"
expect 2 "usage: relscope spray" -- "${cmd[@]}" spray "$ch/model.onnx" "$ch/samples"
expect 2 "--target: spray explains one class" -- "${cmd[@]}" spray "$ch/model.onnx" "$ch/samples" --target 1,2
expect 2 "spray: 0 of 6 samples in $ch/samples are predicted as 3; clustering needs at least 3" -- "${cmd[@]}" spray "$ch/model.onnx" "$ch/samples" --target 3 --predicted-only
expect 2 "spray: size must be 1..1024, not 0" -- "${cmd[@]}" spray "$ch/model.onnx" "$ch/samples" --target 6 --size 0

# Variance heatmaps (assets/variance, scripts/make_variance_model.py; the maths is in test_relevance_variance.cpp):
# Gaussian heads, CovLRP over an ensemble and MC-dropout samples, driver shares, and the errors.
va=$here/../../assets/variance
vx=$va/samples.npy
g=$va/gaussian_mlp.onnx
expect 0 "explained: log-variance of output 'mean_logvar' unit 1" -- "${cmd[@]}" explain "$g" "$vx" --explain variance --composite epsilon --out "$tmp/var.npy"
check "variance R.npy has the input's shape" npy_shape "$tmp/var.npy" "(64, 8)"
expect 0 "explained: mean of output 'mean_logvar' unit 0" -- "${cmd[@]}" explain "$g" "$va/samples.csv" --explain mean --method gradient-x-input --out "$tmp/mean.npy"
expect 0 "CovLRP-marg total =" -- "${cmd[@]}" explain "$va/ensemble_0.onnx" "$va/samples.csv" --method cov-lrp --ensemble "$va/ensemble_1.onnx,$va/ensemble_2.onnx,$va/ensemble_3.onnx" --composite epsilon --out "$tmp/cov.npy"
check "cov-lrp R.npy has the input's shape" npy_shape "$tmp/cov.npy" "(8, 8)"
aleatoric_ok() { grep -q "explained: mean of output 'mean' unit 0" "$tmp/out" && grep -q "aleatoric term total = " "$tmp/out"; }
check "a Gaussian-head ensemble reports the aleatoric term" aleatoric_ok
expect 0 "over 6 MC-dropout samples of 2 Dropout node(s), seed 3" -- "${cmd[@]}" explain "$va/mc_dropout_mlp.onnx" "$va/samples.csv" --method cov-lrp --mc-dropout 6 --seed 3 --cov both --out "$tmp/covb.npy" --heatmap "$tmp/covb.png"
check "cov-lrp --cov both R.npy is N x 2 x features" npy_shape "$tmp/covb.npy" "(8, 2, 8)"
expect 0 "variance -> drivers" -- "${cmd[@]}" drivers "$g" "$vx" --mean-features 0,1,2 --var-features 3,4 --method lrp,gradient-x-input,integrated-gradients
shares_ok() { awk '/%/ { gsub("%", ""); n++; if ($(NF-1) < 80 || $NF < 80) bad = 1 } END { exit !(n == 3 && !bad) }' "$tmp/out"; }
check "the benchmark's driver shares are >= 80% for mean and variance" shares_ok
expect 2 "--var-unit 5: output 'mean_logvar' has 2 value(s) per sample, no unit 5" -- "${cmd[@]}" explain "$g" "$vx" --explain variance --mean-unit 0 --var-unit 5 --out "$tmp/r.npy"
expect 2 "no Gaussian head (mean and variance) found" -- "${cmd[@]}" explain "$models/mlp_opset13.onnx" "$models/mlp_opset13_input.npy" --explain variance --out "$tmp/r.npy"
expect 2 "cnn_opset13.onnx: input 'input' is [batch,1,28,28] float32, but gaussian_mlp.onnx's input 'x' is [N,8]" -- "${cmd[@]}" explain "$g" "$vx" --method cov-lrp --ensemble "$m" --out "$tmp/r.npy"
expect 2 "gaussian_mlp.onnx: --mc-dropout: the model has no Dropout node to sample" -- "${cmd[@]}" explain "$g" "$vx" --method cov-lrp --mc-dropout 4 --out "$tmp/r.npy"
expect 2 "missing.onnx: cannot open" -- "${cmd[@]}" explain "$g" "$vx" --method cov-lrp --ensemble "$tmp/missing.onnx" --out "$tmp/r.npy"
expect 2 "--ensemble: only used with --method cov-lrp" -- "${cmd[@]}" explain "$g" "$vx" --ensemble "$g" --out "$tmp/r.npy"
expect 2 "--mean-features: feature 9 is out of range (8 features)" -- "${cmd[@]}" drivers "$g" "$vx" --mean-features 0,9 --var-features 3,4 --method lrp

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
