#!/usr/bin/env python3
"""Draws latency percentiles against offered rate from `dsi bench sweep`'s CSV (rate,p50,p90,p99,p999,max in ns).

    plot_sweep.py --out FILE.png [--title T] SWEEP.csv

Needs matplotlib (tools/setup.sh --test installs it into .venv). Used by `dsi bench sweep --plot`.
"""
import argparse
import csv
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default="latency against offered rate")
    parser.add_argument("csv")
    args = parser.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_sweep.py: matplotlib is not installed (tools/setup.sh --test puts it in .venv)")
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("plot_sweep.py: no steps to draw")
    rates = [float(r["rate"]) for r in rows]
    fig, ax = plt.subplots(figsize=(10, 6))
    for key, label in [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]:
        ax.plot(rates, [float(r[key]) / 1000 for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (packets/s)")
    ax.set_ylabel("kernel receive → subscriber (µs)")
    ax.set_title(args.title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)


if __name__ == "__main__":
    main()
