#!/usr/bin/env bash
# The main job: installs what is missing, builds DSI (release) and runs `dsi demo` on loopback.
# Arguments go to `dsi demo` (for example --json, --messages N).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
swift build -c release --product dsi >&2
exec .build/release/dsi demo "$@"
