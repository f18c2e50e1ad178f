#!/usr/bin/env bash
# Every test: installs what is missing (C libraries, tshark, openssl, the itchfeed venv), builds, and runs the Swift
# test suites, which include the end-to-end test over loopback multicast and TLS and the checks against the
# independent oracles. Tests use the backoff idle strategy only: nothing busy-spins.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test
swift build --build-tests
export DSI_ROOT="$PWD"
swift test --skip-build "$@"
