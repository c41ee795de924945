#!/usr/bin/env bash
# bench/device_webgpu.sh — issue 7's last row on a real GPU: relscope's WebGPU explanation of ResNet-18 vs its
# wasm explanation, on a lent GPU machine (the `device` tool of this workplace: bare, no network, no node, no
# browser, at most 64 MiB carried, minutes of device time). Two steps:
#
#   bench/device_webgpu.sh pack   here, after scripts/build.sh wasm: fills .device/ (git-ignored, ~31 MiB) with
#                                 node (xz), Dawn's node binding (xz; npm `webgpu`, via bench/webgpu_node.sh's
#                                 fetch), bookworm's Vulkan loader and libglvnd (.deb) and the wasm web build.
#   bench/device_webgpu.sh run    there, as the device command, with carry [".device"]:
#                                   RELSCOPE_DEVICE_TESTS=1 bash bench/device_webgpu.sh run
#                                 unpacks node and Dawn into /tmp/relscope-device; on the NVIDIA machine (no
#                                 Vulkan loader, the driver's ICD under /usr/local/nvidia) puts the loader and
#                                 libglvnd into / (what its notes prescribe; NVIDIA's driver created no instance
#                                 with them beside) and points Vulkan at that ICD; with RELSCOPE_DEVICE_TESTS=1
#                                 runs every WGSL kernel against the CPU reference there
#                                 (tests/browser/webgpu_kernels.test.mjs on Dawn); generates the benchmark's
#                                 ResNet-18 with the machine's own torch (bench/make_resnet18.py) and runs
#                                 bench/webgpu_node.mjs; everything it prints also goes to $OUT/webgpu_device.txt.
#                                 RELSCOPE_DEVICE_MODEL, _REPEAT and _ARGS: another model, repeat count, arguments;
#                                 RELSCOPE_DEVICE_VK_DEBUG=1: the Vulkan loader says which drivers it tried.
#
# The run takes about a minute after the machine's start; its output goes by hand into bench/RESULTS_GPU.md.
# It can be tried without a GPU: set VK_DRIVER_FILES (and LD_LIBRARY_PATH) to lavapipe as bench/webgpu_node.sh
# does, and OUT to a folder.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=.device

case "${1:-}" in
# ---- pack (here) --------------------------------------------------------------------------------------------------
pack)
  web=build/wasm/web
  [ -f "$web/relscope_web.wasm" ] && [ -f "$web/relscope_webgpu.mjs" ] || { echo "build first: scripts/build.sh wasm" >&2; exit 2; }
  if [ ! -f build/bench/dawn/package/dist/linux-x64/dawn.node ]; then
    # bench/webgpu_node.sh fetches Dawn before it needs a model: let it, then stop at the missing model.
    bash bench/webgpu_node.sh /nonexistent.onnx >/dev/null 2>&1 || true
  fi
  [ -f build/bench/dawn/package/dist/linux-x64/dawn.node ] || { echo "could not fetch Dawn (npm webgpu)" >&2; exit 3; }
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
  rm -rf "$pack" && mkdir -p "$pack/web" "$pack/dawn/dist/linux-x64" "$pack/debs" "$pack/lib"
  node=$(readlink -f "$(command -v node)")
  xz -T0 -6 -c "$node" > "$pack/node.xz"
  # Debian's node links libnode and friends: carry every library it needs beyond glibc and the C++ runtime.
  for lib in $(ldd "$node" | awk '/=> \//{print $3}'); do
    case "$(basename "$lib")" in libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|libstdc++.so*) continue ;; esac
    xz -T0 -6 -c "$lib" > "$pack/lib/$(basename "$lib").xz"
  done
  cp build/bench/dawn/package/{index.js,package.json} "$pack/dawn/"
  xz -T0 -6 -c build/bench/dawn/package/dist/linux-x64/dawn.node > "$pack/dawn/dist/linux-x64/dawn.node.xz"
  cp "$web"/{relscope.mjs,relscope_build.mjs,relscope_web.js,relscope_web.wasm,relscope_webgpu.mjs,relscope_webgpu_shaders.mjs} "$pack/web/"
  # The wasm module's package type: node must read relscope_web.js as an ES module.
  echo '{"type": "module"}' > "$pack/web/package.json"
  # The Vulkan loader and libglvnd's libraries: NVIDIA's Vulkan driver (libGLX_nvidia) creates no instance
  # without them (seen on the lent H200 machine: 'Could not get vkCreateInstance' with the loader alone).
  (cd "$pack/debs" && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null 2>&1) ||
    { echo "could not download the Vulkan loader and libglvnd" >&2; exit 3; }
  du -sh "$pack"
  ;;
# ---- run (on the device) ----------------------------------------------------------------------------------------------
run)
  [ -f "$pack/node.xz" ] || { echo "no $pack/: run 'bench/device_webgpu.sh pack' here and carry .device" >&2; exit 2; }
  out=${OUT:-/tmp/relscope-device-out}
  mkdir -p "$out"
  exec > >(tee "$out/webgpu_device.txt") 2>&1
  t=/tmp/relscope-device
  rm -rf "$t" && mkdir -p "$t/bin" "$t/lib" "$t/vk" "$t/dawn/dist/linux-x64"
  unxz() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
  unxz "$pack/node.xz" "$t/bin/node" && chmod +x "$t/bin/node"
  for f in "$pack"/lib/*.xz; do [ -e "$f" ] && unxz "$f" "$t/lib/$(basename "$f" .xz)"; done
  cp "$pack"/dawn/{index.js,package.json} "$t/dawn/"
  unxz "$pack/dawn/dist/linux-x64/dawn.node.xz" "$t/dawn/dist/linux-x64/dawn.node"
  export LD_LIBRARY_PATH="$t/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # Vulkan on the lent NVIDIA machine (no loader, the driver's ICD under /usr/local/nvidia): the loader and
  # libglvnd go into / as that machine's notes prescribe (unpacked beside, NVIDIA's driver created no instance).
  # Elsewhere (VK_DRIVER_FILES given, or a registered ICD) nothing is written outside /tmp.
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/nvidia/nvidia_icd.json; do
      [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd; break; }
    done
    if [ -n "${VK_DRIVER_FILES:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
      for f in "$pack"/debs/*.deb; do dpkg -x "$f" /; done
      ldconfig
    fi
  fi
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then   # no loader anywhere: bookworm's, beside
    for f in "$pack"/debs/libvulkan1_*.deb; do dpkg -x "$f" "$t/vk"; done
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$t/vk/usr/lib/x86_64-linux-gnu"
  fi
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  echo "node $("$t/bin/node" --version), Vulkan driver files: ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-the system default}}"
  # When Dawn finds no adapter, this says why: the loader's own account of the drivers it tried.
  [ -n "${RELSCOPE_DEVICE_VK_DEBUG:-}" ] && export VK_LOADER_DEBUG=error,warn,driver
  # Every WGSL kernel against the CPU reference on this adapter (tests/browser/webgpu_kernels.test.mjs on Dawn).
  if [ -n "${RELSCOPE_DEVICE_TESTS:-}" ]; then
    RELSCOPE_DAWN=$t/dawn RELSCOPE_WASM_BUILD=$PWD/$pack "$t/bin/node" --test --test-reporter=spec \
      tests/browser/webgpu_kernels.test.mjs 2>&1 | grep -v 'artificially reduced' || echo "webgpu kernels: FAILED"
  fi
  model=$t/resnet18.onnx
  if [ -n "${RELSCOPE_DEVICE_MODEL:-}" ]; then cp "$RELSCOPE_DEVICE_MODEL" "$model"; else
    python3 bench/make_resnet18.py "$model"; fi
  "$t/bin/node" --no-warnings bench/webgpu_node.mjs --dawn "$t/dawn" --web "$pack/web" "$model" \
    --repeat "${RELSCOPE_DEVICE_REPEAT:-5}" ${RELSCOPE_DEVICE_ARGS:-} 2>&1 | grep -v 'artificially reduced'
  ;;
*)
  echo "usage: bench/device_webgpu.sh pack|run" >&2; exit 2 ;;
esac
