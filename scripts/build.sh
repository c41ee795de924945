#!/usr/bin/env bash
# relscope — configure and build.  Usage: scripts/build.sh [native|wasm|all|asan] [target...]
#   (default: all; with targets, only those are built, e.g. `scripts/build.sh wasm relscope_web`)
#
#   native -> build/native  (Release, g++, Ninja when available)
#   wasm   -> build/wasm    (emcmake, Release; CLI/tests run under node; browser module in build/wasm/web;
#                            RELSCOPE_WASM_BUILD names another folder, e.g. for -DRELSCOPE_WASM_THREADS=ON)
#   asan   -> build/asan    (clang++-14, -O1 -g, ASan + UBSan, plus the libFuzzer targets of tests/fuzz;
#                            not part of "all": scripts/test.sh and scripts/fuzz.sh build it; RELSCOPE_ASAN_BUILD
#                            names another folder)
#
# Run scripts/setup.sh first (scripts/test.sh and scripts/serve.sh do). Extra CMake arguments can be
# passed through RELSCOPE_CMAKE_ARGS (e.g. RELSCOPE_CMAKE_ARGS=-DRELSCOPE_SANITIZE=ON for native).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE="${1:-all}"
shift || true
TARGETS=("$@")
JOBS="${RELSCOPE_JOBS:-$(nproc)}"
say() { printf '[build] %s\n' "$*"; }

# Reuse an existing build dir's generator (CMake refuses to switch); otherwise Ninja when available.
generator_args() {
  local dir="$1"
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then echo "-G Ninja"; fi
}

build_native() {
  local dir=build/native t0=$SECONDS
  say "native: configure $dir"
  # shellcheck disable=SC2046,SC2086
  cmake -S . -B "$dir" $(generator_args "$dir") -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER=g++ ${RELSCOPE_CMAKE_ARGS:-}
  say "native: build (-j$JOBS) ${TARGETS[*]:-}"
  cmake --build "$dir" -j"$JOBS" ${TARGETS[@]:+--target "${TARGETS[@]}"}
  say "native: done in $((SECONDS - t0)) s"
}

build_wasm() {
  local dir=${RELSCOPE_WASM_BUILD:-build/wasm} t0=$SECONDS
  # /work/shared/TOOLCHAIN.md: Debian's emscripten needs its node modules path, and node 20 must not
  # load the emitted .wasm through fetch.
  export NODE_PATH=/usr/share/nodejs
  export NODE_OPTIONS=--no-experimental-fetch
  # protozero is header-only in /usr/include/protozero; expose only that directory (never -I/usr/include).
  mkdir -p "$dir/sysinclude"
  ln -sfn /usr/include/protozero "$dir/sysinclude/protozero"
  say "wasm: configure $dir"
  # shellcheck disable=SC2046,SC2086
  emcmake cmake -S . -B "$dir" $(generator_args "$dir") -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node \
    -DEigen3_DIR=/usr/share/eigen3/cmake \
    -DPROTOZERO_INCLUDE_DIR="$ROOT/$dir/sysinclude" ${RELSCOPE_CMAKE_ARGS:-}
  say "wasm: build (-j$JOBS) ${TARGETS[*]:-}"
  cmake --build "$dir" -j"$JOBS" ${TARGETS[@]:+--target "${TARGETS[@]}"}
  say "wasm: done in $((SECONDS - t0)) s"
}

build_asan() {
  local dir=${RELSCOPE_ASAN_BUILD:-build/asan} t0=$SECONDS
  say "asan: configure $dir"
  # shellcheck disable=SC2046,SC2086
  cmake -S . -B "$dir" $(generator_args "$dir") -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_COMPILER=clang++-14 -DRELSCOPE_FUZZ=ON ${RELSCOPE_CMAKE_ARGS:-}
  say "asan: build (-j$JOBS) ${TARGETS[*]:-}"
  cmake --build "$dir" -j"$JOBS" ${TARGETS[@]:+--target "${TARGETS[@]}"}
  say "asan: done in $((SECONDS - t0)) s"
}

case "$MODE" in
  native) build_native ;;
  wasm) build_wasm ;;
  all) build_native; build_wasm ;;
  asan) build_asan ;;
  *) echo "usage: $0 [native|wasm|all|asan]" >&2; exit 2 ;;
esac
