#!/usr/bin/env bash
# Measures scale-out through NATS: one dsi handler's `nats` node publishing a replayed session to a three-node
# nats-server cluster (loopback), read by N Python consumers (nats-py) subscribed by wildcard; for each N, the ticks
# every consumer received and its rate, and the handler's publish rate. Bounded: each run ends with its replay.
#   tools/nats-fanout.sh [MESSAGES] [CONSUMERS...]        default: 200000 messages, 1 4 16 consumers
# Needs: a release build (swift build -c release), nats-server, .venv with nats-py (tools/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200000}
shift || true
counts=("${@:-1 4 16}")
# shellcheck disable=SC2206
counts=(${counts[*]})
dsi=${DSI:-.build/release/dsi}
binary=""; [[ "${ENCODING:-json}" == binary ]] && binary=--binary
work=$(mktemp -d /tmp/dsi-fanout.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
[[ -n "${KEEP:-}" ]] && trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; echo "kept $work"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clients=() routes=()
for i in 1 2 3; do clients+=("$(port)"); routes+=("$(port)"); done
route_list=$(printf 'nats-route://127.0.0.1:%s, ' "${routes[@]}"); route_list=${route_list%, }
for i in 0 1 2; do
    cat > "$work/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${clients[$i]}
write_deadline: "60s"
max_pending: 268435456
jetstream { store_dir: "$work/n$i", max_file_store: 1GB }
cluster { name: fanout, listen: 127.0.0.1:${routes[$i]}, routes: [$route_list] }
CONF
    nats-server -c "$work/n$i.conf" -l "$work/n$i.log" & pids+=($!)
done
servers=$(printf 'nats://127.0.0.1:%s,' "${clients[@]}"); servers=${servers%,}
sleep 3

"$dsi" gen --out "$work/s.pcap" --messages "$messages" --seed 61 >/dev/null
ticks=$("$dsi" ticks "$work/s.pcap" --format jsonl --feed bench --quiet 2>/dev/null | wc -l)
mcast=$(port) tls=$(port)
cat > "$work/run.yaml" <<YAML
feeds:
  - {name: bench, protocol: moldudp64-itch50, interface: 127.0.0.1, maxOrders: 1000000,
     lines: [{name: A, group: "239.255.0.1:$mcast"}, {name: B, group: "239.255.0.2:$mcast"}]}
publisher: {listen: "127.0.0.1:$tls", stateDirectory: "$work/state"}
admin: {socket: "$work/admin.sock"}
graph:
  - {name: bench, kind: feed}
  - {name: out, kind: publish, input: bench}
  - {name: bus, kind: nats, input: bench, options: {servers: [${servers//,/, }], encoding: ${ENCODING:-json}}}
workers:
  - {name: w0, cpu: 0, idle: backoff, nodes: [bench]}
  - {name: w1, cpu: 1, idle: backoff, nodes: [out]}
  - {name: wn, cpu: 1, idle: backoff, nodes: [bus]}
YAML

echo "# $(date -u +%F) $(nproc) CPUs; $messages messages -> $ticks ticks per consumer; nats-server $(nats-server --version | awk '{print $NF}'); ${ENCODING:-json}"
printf '%-10s %-22s %-22s %-14s\n' consumers "ticks/s per consumer" "deliveries/s (all)" "all received"
for n in "${counts[@]}"; do
    rm -f "$work"/c*.out "$work"/c*.ready "$work/admin.sock"
    # A handler per round: the session starts again from sequence 1 each time.
    "$dsi" run --config "$work/run.yaml" --stats-interval 0 2>"$work/run.log" & handler=$!; pids+=($handler)
    while [ ! -S "$work/admin.sock" ]; do sleep 0.05; done
    cons=()
    for ((c = 0; c < n; c++)); do
        .venv/bin/python tools/clients/nats/dsi_nats_consumer.py "$servers" --count "$ticks" --idle 20 $binary \
            --ready "$work/c$c.ready" >/dev/null 2>"$work/c$c.out" & cons+=($!)
    done
    for ((c = 0; c < n; c++)); do while [ ! -e "$work/c$c.ready" ]; do sleep 0.05; done; done
    # Top speed: the replay sends as fast as the pipeline and the cluster take it.
    "$dsi" replay "$work/s.pcap" --to "239.255.0.1:$mcast" --to "239.255.0.2:$mcast" --topspeed --quiet >/dev/null 2>&1
    for p in "${cons[@]}"; do wait "$p" || true; done
    kill -TERM "$handler"; wait "$handler" || true
    python3 - "$n" "$ticks" "$work" <<'PY'
import re, statistics, sys
n, ticks, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rates, counts = [], []
for c in range(n):
    text = open(f"{work}/c{c}.out").read()
    m = re.search(r"received (\d+) ticks in ([\d.]+) s \((\d+)/s\)", text)
    counts.append(int(m.group(1))); rates.append(int(m.group(3)))
print(f"{n:<10} {int(statistics.median(rates)):<22} {int(statistics.median(rates)) * n:<22} {sum(c == ticks for c in counts)}/{n}")
PY
done
