#!/usr/bin/env bash
# Side-by-side figures for docs/benchmarks.md, in one run on this machine (release builds, CPUs 0 and 1):
#   the Swift ring against the plain C ring (CRing), alternated round by round in one process (RingCompare), and as
#   separate programs (`dsi bench ring`, CRingTool built with gcc -O2), alternated N times;
#   the pipeline (`dsi bench pipeline`) against itch-book and itchcpp on the same generated session.
# Prints medians. Both ring programs busy-poll two CPUs for a few seconds each; everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
messages=${MESSAGES:-1000000}
swift build -c release --product dsi >&2
gcc -O2 -pthread -I Benchmarks/CRing/include -o .build/cring_bench Benchmarks/CRing/cring.c Benchmarks/CRingTool/cring_bench.c
(cd Benchmarks && swift build -c release --product RingCompare >&2)
Benchmarks/peers/setup.sh >&2
dsi=.build/release/dsi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "ring in one process, $((rounds * 4)) rounds alternating:" >&2
ROUNDS=$((rounds * 4)) Benchmarks/.build/release/RingCompare > "$work/ring-inprocess.json"
echo "ring (20M msgs, 200k round trips), $rounds rounds alternating:" >&2
for i in $(seq "$rounds"); do
    $dsi bench ring --json >> "$work/swift-ring.jsonl"
    .build/cring_bench >> "$work/c-ring.jsonl"
done
$dsi gen --out "$work/session.pcap" --messages "$messages" --seed 42 --symbols 64 2>/dev/null
echo "pipeline ($messages messages), $rounds rounds:" >&2
for i in $(seq "$rounds"); do
    $dsi bench pipeline "$work/session.pcap" --json >> "$work/pipeline.jsonl"
done
.venv-bench/bin/python Benchmarks/peers/peer_speed.py "$work/session.pcap" 30001 --runs "$rounds" > "$work/peers.json"

python3 - "$work" <<'PY'
import json, statistics, sys
w = sys.argv[1]
def load(name): return [json.loads(l) for l in open(f"{w}/{name}")]
def med(rows, key): return statistics.median(r[key] for r in rows)
s, c, p = load("swift-ring.jsonl"), load("c-ring.jsonl"), load("pipeline.jsonl")
peers = json.load(open(f"{w}/peers.json"))
inprocess = json.load(open(f"{w}/ring-inprocess.json"))
inprocess.pop("throughputRatios")
out = {
    "ringInOneProcess": inprocess,
    "ring": {"swift": {k: med(s, k) for k in ("msgsPerSec", "latencyP50Ns", "latencyP99Ns")},
             "c": {k: med(c, k) for k in ("msgsPerSec", "latencyP50Ns", "latencyP99Ns")}},
    "pipeline": {"dsi": {k: med(p, k) for k in ("msgsPerSec", "nsPerMsg", "bestNsPerMsg")}, "messages": p[0]["messages"], **peers},
}
out["ring"]["throughputRatio"] = round(out["ring"]["swift"]["msgsPerSec"] / out["ring"]["c"]["msgsPerSec"], 3)
out["ring"]["latencyP50Ratio"] = round(out["ring"]["swift"]["latencyP50Ns"] / out["ring"]["c"]["latencyP50Ns"], 3)
out["pipeline"]["vsItchBook"] = round(out["pipeline"]["dsi"]["msgsPerSec"] / peers["itchBook"]["msgsPerSec"], 2)
print(json.dumps(out, indent=1))
PY
