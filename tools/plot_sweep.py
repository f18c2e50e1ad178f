#!/usr/bin/env python3
"""Draws latency percentiles against offered rate from `dsi bench sweep`'s CSV (rate,p50,p90,p99,p999,max in ns).

    plot_sweep.py --out FILE.png [--title T] SWEEP.csv

Needs matplotlib (tools/setup.sh --test installs it into .venv). Used by `dsi bench sweep --plot`.
"""
import argparse
import csv
import sys

import plotting


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="latency against offered rate")
    parser.add_argument("csv")
    args = parser.parse_args()
    _, fig, ax = plotting.figure("plot_sweep.py")
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("plot_sweep.py: no steps to draw")
    rates = [float(r["rate"]) for r in rows]
    for key, label in [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]:
        ax.plot(rates, [float(r[key]) / 1000 for r in rows], marker="o", label=label)
    plotting.finish(fig, ax, "offered rate (packets/s)", "kernel receive → subscriber (µs)", args.title, args.out)


if __name__ == "__main__":
    main()
