#!/usr/bin/python3
"""plot_layers.py: the layers-on-the-array study (docs/layers.md §3) as one figure.

Usage: tools/plot_layers.py -o docs/figures/layers_pcm.png LABEL=RUN_DIR...

Each RUN_DIR is a `ptcsim run` output of a scheduled-accuracy scenario with Monte-Carlo instances
(scenarios/pcm/layers_*.json); its trace.csv rows with an accuracy give the mean over instances
(`accuracy`) and their standard deviation (`accuracy_std`), drawn as a line with a +-1 std band
against simulated time (log axis). The ideal (fp32) accuracy of the first run is a dashed line.
Needs Debian's python3-matplotlib.
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TICKS = ((1, "1 s"), (60, "1 min"), (3600, "1 h"), (86400, "1 d"), (2592000, "30 d"), (31536000, "1 y"))


def read_run(d):
    rows = []
    with open(os.path.join(d, "trace.csv")) as f:
        for r in csv.DictReader(f):
            if r.get("accuracy"):
                rows.append((float(r["t_s"]), float(r["accuracy"]), float(r.get("accuracy_std") or 0)))
    if not rows:
        sys.exit("plot_layers.py: error: %s/trace.csv has no accuracy rows" % d)
    with open(os.path.join(d, "summary.json")) as f:
        ideal = json.load(f).get("accuracy_ideal")
    return rows, ideal


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--title", default="CNN3 on PCM (aihwkit tiles, global drift compensation): which layers meet the array")
    a = ap.parse_args()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ideal = None
    for spec in a.runs:
        if "=" not in spec:
            sys.exit("plot_layers.py: error: expected LABEL=RUN_DIR, got %r" % spec)
        label, d = spec.split("=", 1)
        rows, ideal_run = read_run(d)
        ideal = ideal if ideal is not None else ideal_run
        t = [r[0] for r in rows]
        m = [100 * r[1] for r in rows]
        s = [100 * r[2] for r in rows]
        line, = ax.plot(t, m, marker="o", label=label)
        ax.fill_between(t, [x - y for x, y in zip(m, s)], [x + y for x, y in zip(m, s)], color=line.get_color(),
                        alpha=0.15, linewidth=0)
    if ideal is not None:
        ax.axhline(100 * ideal, color="k", linestyle="--", linewidth=1, label="fp32 reference")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [(v, n) for v, n in TICKS if lo <= v <= hi]
    ax.set_xticks([v for v, _ in ticks])
    ax.set_xticklabels([n for _, n in ticks])
    ax.set_xlabel("time after programming")
    ax.set_ylabel("test accuracy (%), mean ± std over chip instances")
    ax.set_title(a.title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)


if __name__ == "__main__":
    main()
