#!/usr/bin/env python3
"""Draws latency percentile curves from HdrHistogram .hgrm files, as HdrHistogram's own plotter does: x is the
percentile on a log scale of 1/(1-p) (so the tail gets the room), y the latency.

    plot_latency.py --out FILE.png [--title T] NAME=FILE.hgrm [NAME=FILE.hgrm ...]

Needs matplotlib (tools/setup.sh --test installs it into .venv). Used by `dsi bench jitter --plot`.
"""
import argparse
import sys

import plotting


def read_hgrm(path):
    """The (percentile, value) rows of an .hgrm file, the last (100%) row dropped: 1/(1-p) is infinite there."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4 or line.startswith("#"):
                continue
            try:
                value, percentile = float(parts[0]), float(parts[1])
            except ValueError:
                continue  # the header line
            if percentile < 1.0:
                rows.append((percentile, value))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="latency by percentile")
    parser.add_argument("series", nargs="+", help="NAME=FILE.hgrm")
    args = parser.parse_args()
    _, fig, ax = plotting.figure("plot_latency.py")
    drawn = 0
    for item in args.series:
        name, _, path = item.partition("=")
        rows = read_hgrm(path)
        if not rows:
            print(f"plot_latency.py: {path} holds no percentiles; {name} not drawn", file=sys.stderr)
            continue
        ax.plot([1 / (1 - p) for p, _ in rows], [v for _, v in rows], label=name)
        drawn += 1
    if drawn == 0:
        sys.exit("plot_latency.py: nothing to draw")
    percentiles = (
        [1, 2, 10, 100, 1000, 10000, 100000],
        ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"],
    )
    plotting.finish(fig, ax, "percentile", "latency (µs)", args.title, args.out, xticks=percentiles)


if __name__ == "__main__":
    main()
