#!/usr/bin/env bash
# relscope — set up, build the app and the browser module, serve the web front end on http://127.0.0.1:8080
# (web/ overlaid on build/wasm/web/, COOP/COEP headers, loopback only).
#   Usage: scripts/serve.sh [--port N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
# The page (web/index.html) runs the canvas app, relscope_app; web/minimal.html the bare JS API module.
bash scripts/build.sh wasm relscope_app relscope_web
exec node scripts/serve.mjs "$@"
