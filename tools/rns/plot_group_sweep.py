#!/usr/bin/python3
"""Accuracy vs the block-floating-point group of the RNS core (docs/rns.md §3), from the CSV of
tools/rns/run_group_sweep.sh (one or several networks).

Usage: plot_group_sweep.py sweep.csv out.png
One panel per network: served accuracy against the group size g (values sharing one exponent
along a dot product; 8 = one exponent per tile row), one line per mantissa width b, the ideal
network dashed. Prints, per network and b, the accuracy at each g and the largest g whose accuracy
is within 0.5 points of the finest group's.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = ("net", "bits", "group", "accuracy", "ideal_accuracy")


def load(path):
    try:
        with open(path) as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit("plot_group_sweep: %s: %s" % (path, e.strerror))
    if not rows:
        sys.exit("plot_group_sweep: %s: no rows" % path)
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        sys.exit("plot_group_sweep: %s: missing column %s" % (path, missing[0]))
    out = []
    for i, r in enumerate(rows):
        try:
            out.append((r["net"], int(r["bits"]), int(r["group"]), float(r["accuracy"]), float(r["ideal_accuracy"])))
        except ValueError:
            sys.exit("plot_group_sweep: %s: row %d: bits and group must be integers, accuracies numbers" % (path, i + 2))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_group_sweep.py sweep.csv out.png")
    rows = load(sys.argv[1])
    nets = sorted({r[0] for r in rows})
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 4.2), squeeze=False)
    for ax, net in zip(axes[0], nets):
        mine = [r for r in rows if r[0] == net]
        for i, b in enumerate(sorted({r[1] for r in mine})):
            pts = sorted((r[2], r[3]) for r in mine if r[1] == b)
            g = [p[0] for p in pts]
            acc = [100 * p[1] for p in pts]
            ax.plot(g, acc, "o-", color="C%d" % i, label="b = %d bits" % b)
            within = max(x for x, a in zip(g, acc) if a >= acc[0] - 0.5 - 1e-9)
            print("%s b=%d: %s; largest group within 0.5 pt of g=%d: %d"
                  % (net, b, ", ".join("g=%d %.1f %%" % (x, a) for x, a in zip(g, acc)), g[0], within))
        ideal = 100 * mine[0][4]
        ax.axhline(ideal, color="k", ls="--", lw=1, label="ideal network %.1f %%" % ideal)
        ax.set_xscale("log", base=2)
        groups = sorted({r[2] for r in mine})
        ax.set_xticks(groups)
        ax.set_xticklabels([str(x) for x in groups])
        ax.set_xlabel("BFP group g (values per shared exponent)")
        ax.set_ylabel("served accuracy (%)")
        ax.set_title("%s / Fashion-MNIST, noise-free RNS core (k = 8)" % net.upper())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
