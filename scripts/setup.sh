#!/usr/bin/env bash
# relscope — install everything the build and tests need. Idempotent; run as root (or with sudo).
#
# Sections: apt packages | Dear ImGui 1.86 sources | npm (playwright-core)
#
# A second run checks and changes nothing: it makes no network request when every package is
# installed, build/deps/imgui-1.86+ds is present and node_modules matches package-lock.json.
# Sources: Debian's apt repositories and the npm registry only (see /work/shared/TOOLCHAIN.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[setup] %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi
export DEBIAN_FRONTEND=noninteractive

# ---- apt packages -----------------------------------------------------------------------------------
# dpkg-dev: `apt-get source` needs dpkg-source. fonts-dejavu-core: the canvas app embeds DejaVu Sans.
# libclang-rt-14-dev: ASan/UBSan/libFuzzer runtimes for build/asan (clang-14 itself comes with emscripten).
# npm: only if the machine's node has none.
APT_PACKAGES=(emscripten libeigen3-dev libstb-dev libprotozero-dev libgtest-dev cmake chromium
  chromium-driver libonnx-testdata ninja-build python3-numpy dpkg-dev fonts-dejavu-core libclang-rt-14-dev)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing apt packages: ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "apt packages: all ${#APT_PACKAGES[@]} installed"
fi

# ---- Dear ImGui 1.86 sources (Debian source package; libimgui-dev lacks imgui.cpp) ------------------
IMGUI_VERSION_DIR="imgui-1.86+ds"
DEPS="$ROOT/build/deps"
if [ -f "$DEPS/$IMGUI_VERSION_DIR/imgui.cpp" ]; then
  say "imgui sources: present in build/deps/$IMGUI_VERSION_DIR"
else
  # deb-src entry for bookworm main, unless one is configured already.
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding deb-src entry /etc/apt/sources.list.d/debsrc.sources"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/debsrc.sources >/dev/null
    APT_UPDATED=0
  fi
  srcinfo="$(apt-cache showsrc imgui 2>/dev/null || true)"
  case "$srcinfo" in
    *"Package: imgui"*) ;;                 # source index already known
    *) APT_UPDATED=0; apt_update ;;
  esac
  say "fetching Dear ImGui sources (apt-get source imgui) into build/deps/$IMGUI_VERSION_DIR"
  mkdir -p "$DEPS"
  tmp="$(mktemp -d "$DEPS/.imgui.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"   # apt's _apt user downloads into it
  src_opts=(); [ "$(id -u)" -eq 0 ] && src_opts=(-o APT::Sandbox::User=root)   # no _apt sandbox warning
  (cd "$tmp" && apt-get source -qq "${src_opts[@]}" imgui >/dev/null)
  if [ ! -f "$tmp/$IMGUI_VERSION_DIR/imgui.cpp" ]; then
    say "ERROR: apt-get source imgui did not produce $IMGUI_VERSION_DIR/imgui.cpp (got: $(ls "$tmp" | tr '\n' ' '))"
    exit 1
  fi
  rm -rf "${DEPS:?}/$IMGUI_VERSION_DIR"
  mv "$tmp/$IMGUI_VERSION_DIR" "$DEPS/"
  rm -rf "$tmp"; trap - EXIT
  say "imgui sources: $(cd "$DEPS/$IMGUI_VERSION_DIR" && ls imgui*.cpp backends/imgui_impl_{glfw,opengl3}.cpp | tr '\n' ' ')"
fi

# ---- npm: playwright-core (drives /usr/bin/chromium; downloads no browser) ----------------------------
STAMP="$ROOT/node_modules/.relscope-setup.sha256"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f node_modules/playwright-core/package.json ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "node_modules: up to date with package-lock.json"
else
  say "npm ci (playwright-core, pinned in package-lock.json)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$want" > "$STAMP"
fi

say "done"
