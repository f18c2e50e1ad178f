#!/usr/bin/env bash
# Every test: installs what is missing (C libraries, tshark, openssl, the itchfeed venv), builds with warnings as
# errors, and runs the Swift test suites, which include the end-to-end tests over loopback multicast and TLS, the
# fault and mutation tests, and the checks against the independent oracles. Tests use the backoff idle strategy only:
# nothing busy-spins.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test
swift build --build-tests -Xswiftc -warnings-as-errors
export DSI_ROOT="$PWD"
swift test --skip-build -Xswiftc -warnings-as-errors "$@"
