#!/usr/bin/env bash
# bench/webgpu_node.sh — runs bench/webgpu_node.mjs (relscope's WebGPU explanation in node through Dawn vs wasm,
# with a per-kernel GPU profile), fetching what it needs into build/bench/ first. Bench tooling only: nothing
# here is a project dependency or installed system-wide.
#
# usage: bench/webgpu_node.sh [--lavapipe] MODEL.onnx [webgpu_node.mjs options...]
#   Dawn: the npm package `webgpu` (Dawn's node binding, dawn-gpu/node-webgpu) into build/bench/dawn.
#   Vulkan: Dawn takes the first Vulkan adapter it finds. Where it finds none (no GPU, or no libvulkan), or
#   with --lavapipe, Vulkan is pointed at Mesa's lavapipe (a CPU implementation) from bookworm-backports:
#   downloaded as .debs and unpacked into build/bench/lavapipe, not installed (bookworm's own Mesa 22.3 lacks
#   the descriptor indexing Dawn requires). Set VK_DRIVER_FILES to choose a driver yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
DAWN_VERSION=0.6.2
lavapipe=0
[ "${1:-}" = --lavapipe ] && { lavapipe=1; shift; }
[ $# -ge 1 ] || { echo "usage: bench/webgpu_node.sh [--lavapipe] MODEL.onnx [options]" >&2; exit 2; }
model=$1; shift

# ---- Dawn for node ----------------------------------------------------------------------------------------------
dawn=build/bench/dawn/package
if [ ! -f "$dawn/dist/linux-x64/dawn.node" ]; then
  echo "[webgpu-node] fetching Dawn for node (npm webgpu@$DAWN_VERSION) into build/bench/dawn" >&2
  rm -rf build/bench/dawn && mkdir -p build/bench/dawn
  (cd build/bench/dawn && timeout 600 npm pack --silent "webgpu@$DAWN_VERSION" >/dev/null && tar xzf webgpu-*.tgz &&
    rm -f webgpu-*.tgz) || { echo "[webgpu-node] could not fetch webgpu@$DAWN_VERSION from npm" >&2; exit 3; }
fi

# ---- Vulkan: the machine's driver, else lavapipe ----------------------------------------------------------------------
probe() {   # prints the adapter Dawn finds, or nothing
  timeout 60 node --input-type=module -e "
    const { create } = await import('$PWD/$dawn/index.js');
    const a = await create([]).requestAdapter();
    if (a) console.log(a.info.vendor + ' ' + a.info.description);
    process.exit(0);" 2>/dev/null || true
}
if [ "$lavapipe" = 0 ] && [ -z "$(probe)" ]; then
  echo "[webgpu-node] Dawn finds no Vulkan adapter here: using Mesa's lavapipe (CPU)" >&2
  lavapipe=1
fi
if [ "$lavapipe" = 1 ]; then
  lvp=build/bench/lavapipe
  if [ ! -f "$lvp/root/usr/share/vulkan/icd.d/lvp_icd.json" ]; then
    echo "[webgpu-node] fetching Mesa lavapipe from bookworm-backports into $lvp" >&2
    rm -rf "$lvp" && mkdir -p "$lvp/lists/partial" "$lvp/debs" "$lvp/root"
    echo "deb http://deb.debian.org/debian bookworm-backports main" > "$lvp/sources.list"
    echo "deb http://deb.debian.org/debian bookworm main" >> "$lvp/sources.list"
    apt_opts=(-o Dir::Etc::SourceList="$PWD/$lvp/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o Dir::State::Lists="$PWD/$lvp/lists" -o Debug::NoLocking=1)
    timeout 300 apt-get "${apt_opts[@]}" update >/dev/null
    # mesa-vulkan-drivers from backports and the libraries it needs beyond a Chromium-capable bookworm.
    (cd "$lvp/debs" && timeout 600 apt-get "${apt_opts[@]}" download mesa-vulkan-drivers/bookworm-backports \
      libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libllvm15 libvulkan1 2>/dev/null) ||
      { echo "[webgpu-node] could not download lavapipe's packages" >&2; exit 3; }
    for f in "$lvp"/debs/*.deb; do dpkg -x "$f" "$lvp/root"; done
  fi
  export LD_LIBRARY_PATH="$PWD/$lvp/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export VK_DRIVER_FILES="$PWD/$lvp/root/usr/share/vulkan/icd.d/lvp_icd.json"
fi

# Dawn warns about limits it lowers for its own bookkeeping; those lines are not results.
env -u NODE_OPTIONS node --no-warnings bench/webgpu_node.mjs --dawn "$dawn" "$model" "$@" 2>&1 |
  grep -v 'artificially reduced'
