#!/usr/bin/env bash
# The latency lab in one run, on this machine, every result into one folder: replay pacing as the receiver sees it
# (dsi replay, a plain C sender, tcpreplay when present, each recorded by `dsi record` and compared gap by gap with
# the capture), the kernel's own UDP round trip (sockperf, when present), the handler's stage latencies at the
# capture's pace (`dsi bench jitter`: table, JSON, .hgrm, plot), and the headroom (`dsi bench sweep`).
#
#   tools/latency-lab.sh OUT [CAPTURE.pcap]        (from a checkout, after tools/build-static.sh or a release build)
#   ./latency-lab.sh OUT [CAPTURE.pcap]            (from the directory tools/build-static.sh made)
#
# Thread placement for the handler benchmarks, as dsi bench takes it (default: the pipeline on CPU 0, the publisher
# on CPU 1, the rest unpinned): LAB_PLACEMENT="--replay-cpu 2 --pipeline-cpu 3 --publisher-cpu 4 --subscriber-cpu 5
# --idle spin". Spinning workers take their CPUs whole: give them CPUs of their own.
set -euo pipefail
out=${1:?usage: latency-lab.sh OUT [CAPTURE.pcap]}
here=$(cd "$(dirname "$0")" && pwd)
if [[ -x "$here/dsi" ]]; then
    dsi=$here/dsi tools=$here/tools
else
    root=$(cd "$here/.." && pwd) tools=$root/tools dsi=$root/.build/release/dsi
    [[ -x "$dsi" ]] || (cd "$root" && swift build -c release --product dsi >&2)
fi
export DSI_ROOT=$(dirname "$tools")
python=python3
[[ -x "$DSI_ROOT/.venv/bin/python" ]] && python=$DSI_ROOT/.venv/bin/python
placement=${LAB_PLACEMENT:-}
# Plots need matplotlib; without it the figures are still written, as tables, JSON and .hgrm.
jitter_plot=() sweep_plot=()
if "$python" -c "import matplotlib" 2> /dev/null; then
    jitter_plot=(--plot "$out/jitter.png") sweep_plot=(--plot "$out/sweep.png")
fi
mkdir -p "$out"
say() { echo "latency-lab: $*" >&2; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -r)"
    echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
    echo "dsi: $dsi"
    echo "placement: ${placement:-default}"
} > "$out/machine.txt"

capture=${2:-$out/capture.pcap}
if [[ -z "${2:-}" ]]; then
    say "generating a 1 000 000-message session"
    "$dsi" gen --messages 1000000 --seed 42 --symbols 64 --out "$capture" 2> "$out/gen.txt"
fi
read -r group port < <("$python" "$tools/lab/pacing_error.py" "$capture" --destination)

# 1. Pacing as the receiver sees it: each sender's datagrams recorded, their gaps held against the capture's.
record() { # NAME COMMAND...
    local name=$1
    shift
    rm -f "$out/$name.pcap"
    "$dsi" record --group "$group:$port" --duration 3600 --quiet --out "$out/$name.pcap" 2> "$out/$name.record.txt" &
    local recorder=$!
    while [[ ! -f "$out/$name.pcap" ]]; do sleep 0.05; done
    sleep 0.5
    "$@" > "$out/$name.sender.txt" 2>&1 || say "$name: the sender failed (see $out/$name.sender.txt)"
    sleep 1
    kill -INT "$recorder" && wait "$recorder" || true
    "$python" "$tools/lab/pacing_error.py" "$capture" "$out/$name.pcap" --group "$group" > "$out/$name.pacing.txt"
    say "$name: $(cat "$out/$name.pacing.txt")"
}
record replay-dsi "$dsi" replay "$capture" --quiet
if command -v cc > /dev/null; then
    cc -O2 -o "$out/c_sender" "$tools/lab/c_sender.c"
    record replay-c "$out/c_sender" "$capture" "$group" "$port"
else
    say "no C compiler: the plain C sender is skipped"
fi
if command -v tcpreplay > /dev/null; then
    record replay-tcpreplay tcpreplay -i lo "$capture"
else
    say "no tcpreplay: skipped"
fi

# 2. The kernel's own UDP cost on this machine: a loopback ping-pong.
if command -v sockperf > /dev/null; then
    sockperf server -i 127.0.0.1 -p 11311 > /dev/null 2>&1 &
    server=$!
    sleep 0.5
    sockperf ping-pong -i 127.0.0.1 -p 11311 -t 10 -m 64 > "$out/sockperf.txt" 2>&1 || true
    kill "$server" 2> /dev/null || true
    say "sockperf: $(grep -E 'Summary|percentile 99.900' "$out/sockperf.txt" | sed 's/.*sockperf: //' | tr '\n' ' ')"
else
    say "no sockperf: skipped"
fi

# 3. The handler's stages at the capture's pace, and 4. the headroom.
# shellcheck disable=SC2086
"$dsi" bench jitter "$capture" $placement --histogram "$out/jitter.hgrm" "${jitter_plot[@]}" --quiet \
    --log-level warning 2> "$out/jitter.txt"
# shellcheck disable=SC2086
"$dsi" bench jitter "$capture" $placement --json --quiet --log-level warning > "$out/jitter.json" 2> /dev/null
cat "$out/jitter.txt" >&2
# shellcheck disable=SC2086
"$dsi" bench sweep "$capture" $placement "${sweep_plot[@]}" --log-level warning 2> "$out/sweep.txt"
cat "$out/sweep.txt" >&2
say "results in $out"
