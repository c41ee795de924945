#!/usr/bin/env bash
# relscope — set up, build the browser module and serve the web front end on http://127.0.0.1:8080
# (web/ overlaid on build/wasm/web/, COOP/COEP headers, loopback only).
#   Usage: scripts/serve.sh [--port N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
if [ -f src/js/bindings.cpp ]; then
  bash scripts/build.sh wasm relscope_web
else
  echo "[serve] src/js/bindings.cpp does not exist yet: no browser module to build; serving web/ only"
fi
exec node scripts/serve.mjs "$@"
