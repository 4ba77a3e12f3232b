#!/usr/bin/python3
"""ELight write-aware training (docs/elight.md §7): level steps per pass of every streaming order,
one group of bars per order and one bar per model, each bar labelled with its cut against the
first model's native order.

Usage: plot_elight_write_aware.py -o FIG.png LABEL=ORDERS.json [LABEL=ORDERS.json ...]
ORDERS.json is the output of `ptcsim streaming SCENARIO --json`. Needs Debian's /usr/bin/python3
with matplotlib."""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ORDERS = ["native", "greedy", "sort_mean", "per_cell"]


def load(path):
    try:
        orders = {o["order"]: o["level_steps"] for o in json.load(open(path))["orders"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"plot_elight_write_aware: error: {path}: not a `ptcsim streaming --json` output ({e})")
    missing = [o for o in ORDERS if o not in orders]
    if missing:
        sys.exit(f"plot_elight_write_aware: error: {path}: orders missing: {', '.join(missing)}")
    return orders


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("models", nargs="+", help="LABEL=ORDERS.json")
    a = ap.parse_args()
    models = []
    for spec in a.models:
        if "=" not in spec:
            sys.exit(f"plot_elight_write_aware: error: {spec}: expected LABEL=ORDERS.json")
        label, path = spec.rsplit("=", 1)
        models.append((label, load(path)))
    base = models[0][1]["native"]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(models)
    for m, (label, orders) in enumerate(models):
        xs = [i + (m - (len(models) - 1) / 2) * width for i in range(len(ORDERS))]
        ys = [orders[o] for o in ORDERS]
        ax.bar(xs, ys, width, label=label)
        for x, y in zip(xs, ys):
            ax.text(x, y * 1.08, f"{base / y:.1f}×", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(ORDERS)))
    ax.set_xticklabels(ORDERS)
    ax.set_ylabel("level steps per pass (one inference)")
    ax.set_xlabel("streaming order")
    lo = min(min(o[x] for x in ORDERS) for _, o in models)
    ax.set_ylim(lo / 3, base * 4)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"ELight VGG-8 streaming: writes per pass (labels: cut vs {models[0][0]}, native)", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)


if __name__ == "__main__":
    main()
