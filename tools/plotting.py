"""What the latency plots share (tools/plot_latency.py, tools/plot_sweep.py): matplotlib without a display, one
log-log figure, and the same finish (title, grid, legend, PNG)."""
import sys


def figure(script):
    """matplotlib's pyplot module and a new (figure, axes), or exit saying how to get matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit(f"{script}: matplotlib is not installed (tools/setup.sh --test puts it in .venv)")
    fig, ax = plt.subplots(figsize=(10, 6))
    return plt, fig, ax


def finish(fig, ax, xlabel, ylabel, title, out, xticks=None):
    """Log-log axes labelled (x ticks at `xticks`, (positions, labels), when given), the title, grid and legend;
    saved as a PNG at `out`."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    if xticks:
        from matplotlib.ticker import FixedFormatter, FixedLocator

        ax.xaxis.set_major_locator(FixedLocator(xticks[0]))
        ax.xaxis.set_major_formatter(FixedFormatter(xticks[1]))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
