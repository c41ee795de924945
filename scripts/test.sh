#!/usr/bin/env bash
# relscope — install, build native + wasm, run every test, end with "N passed, M failed".
#
# Sections: setup + build | native ctest | wasm ctest (node) | cross-build check | hostile corpus (native,
#           wasm) | ASan + UBSan (unit tests, hostile corpus, libFuzzer targets) | browser + JS API tests | summary
#
# Counts are individual test cases: GoogleTest cases (native, wasm and ASan), conformance folders, CLI
# contract cases, cross-build comparisons, hostile-corpus cases, fuzz targets and node:test cases. Each
# runner's own summary line is collected from its log; a runner that crashes before printing one counts as
# one failure.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export NODE_PATH=/usr/share/nodejs NODE_OPTIONS=--no-experimental-fetch
LOGS="$ROOT/build/test-logs"
say() { printf '[test] %s\n' "$*"; }
t_start=$SECONDS

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
bash scripts/build.sh all || { echo "0 passed, 1 failed"; exit 1; }
rm -rf "$LOGS" && mkdir -p "$LOGS"

passed=0
failed=0
# count LOG: add the log's test counts to the totals.
count() {
  local log=$1 p f
  read -r p f < <(/usr/bin/python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
text = re.sub(r"\x1b\[[0-9;]*m", "", text)   # GoogleTest colours its summary under node (wasm)
p = f = 0
for m in re.finditer(r"\[  PASSED  \] (\d+) tests?", text): p += int(m.group(1))
for m in re.finditer(r"\[  FAILED  \] (\d+) tests?, listed below", text): f += int(m.group(1))
for m in re.finditer(r"(?<![\w%])(\d+) passed, (\d+) failed", text): p += int(m.group(1)); f += int(m.group(2))
for m in re.finditer(r"^# pass (\d+)$", text, re.M): p += int(m.group(1))
for m in re.finditer(r"^# fail (\d+)$", text, re.M): f += int(m.group(1))
print(p, f)
PY
)
  passed=$((passed + p))
  failed=$((failed + f))
  say "$(basename "$log" .log): $p passed, $f failed"
}
# run NAME CMD...: run a step, keep its log, count it; a non-zero exit with no failure counted is one failure.
run() {
  local name=$1
  shift
  local log="$LOGS/$name.log" before=$failed
  say "$name: $*"
  "$@" >"$log" 2>&1
  local rc=$?
  count "$log"
  if [ $rc -ne 0 ] && [ $failed -eq $before ]; then
    failed=$((failed + 1))
    say "$name exited with $rc without reporting a failed test (see $log)"
  fi
  [ $rc -eq 0 ] || tail -n 30 "$log"
}

run native-ctest ctest --test-dir build/native --output-on-failure -V
run wasm-ctest ctest --test-dir build/wasm --output-on-failure -V
run cross-build tests/cli/cross_build_test.sh build/native/bin/relscope build/wasm/bin/relscope.js

# Hostile-input corpus (tests/hostile): every malformed file through the native and the wasm CLI.
run hostile-native tests/hostile/run.sh build/native/bin/relscope
run hostile-wasm tests/hostile/run.sh node build/wasm/bin/relscope.js

# ASan + UBSan (build/asan: clang 14, -O1 -g): the unit tests and the hostile corpus with zero reports
# (a report aborts the binary: the test fails), then every libFuzzer target on a fixed seed and input count
# (scripts/fuzz.sh ci: ~20 s each, the same inputs on every machine; exploring is scripts/fuzz.sh T SECONDS).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run asan-build env RELSCOPE_JOBS="$(nproc)" bash scripts/build.sh asan relscope relscope_tests fuzz_onnx fuzz_npy fuzz_csv fuzz_image fuzz_explain
run asan-unit build/asan/bin/relscope_tests --gtest_brief=1
run asan-hostile tests/hostile/run.sh build/asan/bin/relscope
run fuzz bash scripts/fuzz.sh all ci

node_tests=()
for f in tests/browser/*.mjs tests/js/*.mjs; do
  [ -f "$f" ] && [[ "$(basename "$f")" != _* ]] && node_tests+=("$f")
done
if [ ${#node_tests[@]} -gt 0 ]; then
  # Without NODE_OPTIONS: --no-experimental-fetch (needed by the emitted node programs) breaks playwright-core,
  # and the ES module build loads its .wasm itself.
  run browser-and-js timeout 900 env -u NODE_OPTIONS node --test --test-reporter=tap --test-concurrency=1 "${node_tests[@]}"
fi

# The README's first command: scripts/serve.sh answers with the app page, its module and the demo.
serve_smoke() {
  local port=18080 log="$LOGS/serve.out" ok=0
  bash scripts/serve.sh --port "$port" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do
    if env -u NODE_OPTIONS node -e '
      const base = `http://127.0.0.1:${process.argv[1]}`;
      const get = (p) => fetch(base + p).then((r) => { if (!r.ok) throw new Error(p); return r; });
      Promise.all([get("/").then((r) => r.text()), get("/relscope_app.wasm"), get("/assets/demo/preprocess.json").then((r) => r.text())])
        .then(([page, wasm, demo]) => process.exit(page.includes("app.mjs") && wasm.headers.get("content-type") === "application/wasm" && demo.includes("fashion_cnn.onnx") ? 0 : 1))
        .catch(() => process.exit(1));' "$port" 2>/dev/null; then
      ok=1
      break
    fi
    sleep 1
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ "$ok" -eq 1 ]; then echo "1 passed, 0 failed"; else cat "$log"; echo "0 passed, 1 failed"; return 1; fi
}
run serve serve_smoke

say "total time $((SECONDS - t_start)) s; logs in build/test-logs/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
