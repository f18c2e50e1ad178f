#!/usr/bin/env python3
"""How faithfully a replay kept a capture's pacing, as the receiver saw it: the gaps between consecutive datagrams of
one destination in a recording (dsi record, tcpdump) against the gaps between the same datagrams in the original.

    pacing_error.py ORIGINAL.pcap RECORDED.pcap [--group GROUP] [--json]

Datagrams are matched by their UDP payload (the n-th copy in the original with the n-th in the recording). Standard library only.
Prints the gap error percentiles (ns) and the duration against the original's.
"""
import argparse
import json
import struct
import sys


def datagrams(path, group=None):
    """(time ns, destination, payload) of each IPv4/UDP datagram in a little-endian pcap."""
    out = []
    with open(path, "rb") as f:
        header = f.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        nano = magic == 0xA1B23C4D
        if not nano and magic != 0xA1B2C3D4:
            sys.exit(f"pacing_error.py: {path} is not a little-endian pcap")
        while True:
            record = f.read(16)
            if len(record) < 16:
                break
            seconds, fraction, captured, _ = struct.unpack("<IIII", record)
            frame = f.read(captured)
            if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            ip = (frame[14] & 0x0F) * 4
            destination = ".".join(str(b) for b in frame[30:34])
            if group and destination != group:
                continue
            out.append((seconds * 1_000_000_000 + fraction * (1 if nano else 1000), destination, frame[14 + ip + 8 :]))
    return out


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("original")
    parser.add_argument("recorded", nargs="?")
    parser.add_argument("--destination", action="store_true", help="print the original's first GROUP PORT and stop")
    parser.add_argument("--group", help="only the recording's datagrams to this group")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    original = datagrams(args.original)
    if args.destination:
        with open(args.original, "rb") as f:
            f.read(24 + 16)
            frame = f.read(42)
        print(".".join(str(b) for b in frame[30:34]), struct.unpack(">H", frame[36:38])[0])
        return
    if not args.recorded:
        sys.exit("pacing_error.py: give the recording too")
    recorded = datagrams(args.recorded, args.group)
    # The n-th copy of a payload in the original is the n-th in the recording (identical datagrams, such as the
    # repeated end-of-session packets, are told apart by their order).
    times = {}
    for t, _, payload in recorded:
        times.setdefault(payload, []).append(t)
    seen = {}
    pairs = []
    for t, _, payload in original:
        n = seen.get(payload, 0)
        seen[payload] = n + 1
        if n < len(times.get(payload, [])):
            pairs.append((t, times[payload][n]))
    if len(pairs) < 2:
        sys.exit("pacing_error.py: fewer than two datagrams of the original are in the recording")
    errors = sorted(abs((b2 - b1) - (a2 - a1)) for (a1, b1), (a2, b2) in zip(pairs, pairs[1:]))
    span_original = pairs[-1][0] - pairs[0][0]
    span_recorded = pairs[-1][1] - pairs[0][1]
    result = {
        "datagrams": len(original),
        "matched": len(pairs),
        "gapErrorNs": {p: percentile(errors, float(p)) for p in ["50", "90", "99", "99.9"]},
        "maxGapErrorNs": errors[-1],
        "durationRatio": span_recorded / span_original if span_original else 0,
    }
    if args.json:
        print(json.dumps(result))
    else:
        e = result["gapErrorNs"]
        print(
            f"matched {len(pairs)} of {len(original)}; gap error p50 {e['50'] / 1e3:.1f} µs, p90 {e['90'] / 1e3:.1f}, "
            f"p99 {e['99'] / 1e3:.1f}, p99.9 {e['99.9'] / 1e3:.1f}, max {result['maxGapErrorNs'] / 1e3:.1f} µs; "
            f"duration {100 * (result['durationRatio'] - 1):+.2f}% of the original's"
        )


if __name__ == "__main__":
    main()
