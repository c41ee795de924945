#!/usr/bin/env bash
# Hostile-input corpus: every file of tests/hostile/files through the CLI, each with the exit code and the
# message substring tests/hostile/manifest.tsv expects — exact enough to prove which check fired.
#
# usage: tests/hostile/run.sh RELSCOPE_COMMAND...   e.g.  build/native/bin/relscope
#                                                          node build/wasm/bin/relscope.js
# Sections: corpus reproducible | one case | manifest | summary ("N passed, M failed")
#
# A case passes when the command exits with the expected code within 60 s (no hang; a signal such as
# SIGSEGV or SIGFPE is a failure whatever the manifest says), and for exit 2 prints exactly one line on
# stderr containing the expected text (for exit 0: the text is looked for on stdout).
set -u
here=$(cd "$(dirname "$0")" && pwd)
files=$here/files
models=$here/../data/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmd=("$@")
[ ${#cmd[@]} -gt 0 ] || { echo "usage: $0 RELSCOPE_COMMAND..." >&2; exit 2; }
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# ---- corpus reproducible: the committed files are what make_corpus.py writes -----------------------
if /usr/bin/python3 "$here/make_corpus.py" "$tmp/generated" >/dev/null && diff -r -q "$tmp/generated" "$files" >"$tmp/diff"; then
  ok "tests/hostile/files is what make_corpus.py writes ($(ls "$files" | wc -l) files)"
else
  bad "tests/hostile/files differs from make_corpus.py's output (re-run it):"
  sed 's/^/     | /' "$tmp/diff" | head -5
fi

# ---- one case -----------------------------------------------------------------------------------------
# run_case FILE CODE WANT ARGS...
run_case() {
  local file=$1 code=$2 want=$3
  shift 3
  timeout 60 "${cmd[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$? lines where
  lines=$(wc -l <"$tmp/err")
  where=$tmp/err
  [ "$code" -eq 0 ] && where=$tmp/out
  if [ "$got" -eq 124 ]; then
    bad "$file: no answer within 60 s (hang): $*"
  elif [ "$got" -ne "$code" ]; then
    bad "$file: expected exit $code, got $got: $*"
    sed 's/^/     | /' "$tmp/err" | head -3
  elif [ "$code" -ne 0 ] && [ "$lines" -ne 1 ]; then
    bad "$file: expected one line on stderr, got $lines"
    sed 's/^/     | /' "$tmp/err" | head -3
  elif ! grep -qF -- "$want" "$where"; then
    bad "$file: expected '$want' in:"
    sed 's/^/     | /' "$where" | head -3
  else
    ok "exit $got $file: $want"
  fi
}

# ---- manifest -------------------------------------------------------------------------------------------
# Columns (tab-separated): file, exit code, expected text, relscope arguments ($F files, $M models, $T scratch).
declare -A seen=()
while IFS=$'\t' read -r file code want args _; do
  [ -z "$file" ] || [ "${file:0:1}" = "#" ] && continue
  args=${args//\$F/$files}
  args=${args//\$M/$models}
  args=${args//\$T/$tmp}
  read -ra argv <<<"$args"
  [ "$file" = "-" ] || seen[$file]=1
  if [ "$file" != "-" ] && [ ! -f "$files/$file" ]; then
    bad "$file: listed in the manifest but missing from tests/hostile/files"
    continue
  fi
  run_case "$file" "$code" "$want" "${argv[@]}"
done <"$here/manifest.tsv"
# Every file of the corpus is exercised by at least one case.
for f in "$files"/*; do
  name=$(basename "$f")
  [ -n "${seen[$name]:-}" ] || bad "$name: in tests/hostile/files but in no manifest case"
done

# ---- summary ----------------------------------------------------------------------------------------------
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
