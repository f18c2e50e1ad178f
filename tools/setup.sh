#!/usr/bin/env bash
# Installs what DSI needs on a fresh Debian 12 machine with Swift, skipping what is already there.
#   tools/setup.sh          the C libraries the build links (libssl, libuv, libnuma, libpcap, libnats)
#   tools/setup.sh --test   also the tools the tests hold DSI's output against: tshark, openssl, and a Python venv
#                           (.venv) with the itchfeed decoder, the itch-book book builder and matplotlib (plots)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libssl-dev libuv1-dev libnuma-dev libpcap-dev libnats-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    # prometheus: the real server the metrics tests start (and promtool, which lints the exposition).
    # systemd: systemd-analyze, which checks the unit in tools/deploy/.
    packages+=(tshark openssl python3-venv iproute2 protobuf-compiler python3-protobuf prometheus systemd nats-server)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian starts the prometheus and nats-server services on install where systemd runs; the tests start their own.
    for service in prometheus nats-server; do
        if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null; then
            $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
fi

if [[ "${1:-}" == "--test" ]]; then
    if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c "import itch, itch_book" 2>/dev/null; then
        echo "setup: creating .venv with itchfeed and itch-book" >&2
        python3 -m venv .venv
        .venv/bin/pip install -q itchfeed==1.6.4 itch-book==0.2.1
    fi
    # nats-py: the NATS consumer (tools/clients/nats) the scale-out tests read the cluster with.
    if ! .venv/bin/python -c "import nats" 2>/dev/null; then
        echo "setup: adding nats-py to .venv" >&2
        .venv/bin/pip install -q nats-py==2.16.0
    fi
    # matplotlib draws `dsi bench jitter --plot` (tools/plot_latency.py).
    if ! .venv/bin/python -c "import matplotlib" 2>/dev/null; then
        echo "setup: adding matplotlib to .venv" >&2
        .venv/bin/pip install -q matplotlib==3.9.2
    fi
fi
