#!/usr/bin/env bash
# Loss under faults, on loopback, with the real dsi run and dsi replay (docs/benchmarks.md, "Faults"):
#   tools/faults.sh recovery CAPTURE DROP SEED   both lines drop DROP of the packets; a re-request server has them all
#   tools/faults.sh lines CAPTURE LINE_WAIT_MS   a capture's own two lines (dsi gen --lines 2 ...), no server
# Prints the handler's counters at stop (messages, lostMessages, ...). DSI=path/to/dsi picks the binary (default: this
# checkout's release build), so two builds can be run side by side on one capture. The capture's lines must be on
# 239.255.0.1/2:31001 (dsi gen --group 239.255.0.1:31001). Uses ports 31001 (lines), 31100 (re-requests), 31443 (TLS).
set -euo pipefail
cd "$(dirname "$0")/.."
dsi=${DSI:-.build/release/dsi}
mode=$1 capture=$2
work=$(mktemp -d /tmp/dsi-faults.XXXXXX)
trap 'rm -rf "$work"' EXIT

{
    echo "feeds:"
    echo "  - {name: faults, protocol: moldudp64-itch50, interface: 127.0.0.1, maxOrders: 1000000,"
    echo "     lines: [{name: A, group: \"239.255.0.1:31001\"}, {name: B, group: \"239.255.0.2:31001\"}],"
    case $mode in
        recovery) echo "     recovery: \"127.0.0.1:31100\"}" ;;
        lines) echo "     lineWaitMs: $3}" ;;
        *) echo "faults.sh: recovery or lines" >&2; exit 2 ;;
    esac
    echo "publisher: {listen: \"127.0.0.1:31443\", stateDirectory: \"$work/state\"}"
} > "$work/run.yaml"

"$dsi" run --config "$work/run.yaml" --stats-interval 0 --log-level info > /dev/null 2> "$work/run.err" &
run=$!
sleep 1
case $mode in
    recovery)
        "$dsi" replay "$capture" --to 239.255.0.1:31001 --to 239.255.0.2:31001 --drop "$3" --drop-seed "$4" \
            --recovery-port 31100 --linger 3 2> "$work/replay.err" ;;
    lines)
        "$dsi" replay "$capture" 2> "$work/replay.err"
        sleep 0.5 ;;
esac
kill -INT $run
wait $run || true
grep -o "stopped.*" "$work/run.err" | tr ' ' '\n' \
    | grep -E "^(messages|lostMessages|lostGaps|recoveredMessages|recoveryRequests|kernelDrops|foreignSessionPackets|implausiblePackets|sessionChanges|ticksPublished)=" \
    | tr '\n' ' '
echo
