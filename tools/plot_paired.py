#!/usr/bin/python3
"""plot_paired.py: two configurations compared chip by chip (Monte-Carlo instances).

Usage: tools/plot_paired.py [--at T] [-o out.png] "PANEL TITLE=A_DIR,B_DIR" ...

Each A_DIR and B_DIR is a `ptcsim run` output with `accuracy.instances` > 1 and the same seed.
The `evaluation` events of events.jsonl list every instance's accuracy (`instance_accuracy`); for
the evaluation scheduled nearest T (default: the first; within 1 % of T or the tool stops) each
panel draws instance k of A against instance k of B, with the line y = x, and prints the mean
difference with the standard deviation of the per-chip differences (paired) next to the
standard deviation of the chips themselves. With `accuracy.read_draws: scheduled` (ptcsim's
default) instance k of two configurations that map the weights alike holds the same devices and
reads the same draws (docs/devices.md §2.4, docs/pcm_drift_compensation.md §2).
The names of A and B are taken from the panel title "A vs B" when it has that form.
Needs Debian's python3-matplotlib.
"""
import argparse
import json
import math
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(msg):
    sys.exit("plot_paired.py: error: " + msg)


def instances(d, at):
    path = os.path.join(d, "events.jsonl")
    if not os.path.isfile(path):
        fail("%s: no such file (a ptcsim run directory?)" % path)
    ev = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except ValueError:
                fail("%s:%d: not JSON" % (path, n))
            if e.get("type") == "evaluation":
                ev.append(e)
    if not ev:
        fail("%s: no evaluation event (accuracy.mode scheduled?)" % path)
    e = ev[0] if at is None else min(ev, key=lambda x: abs(x["t_s"] - at))
    if at is not None and abs(e["t_s"] - at) > 0.01 * max(at, 1e-3):
        fail("%s: no evaluation within 1 %% of t = %g s (instants: %s)" % (path, at, ", ".join("%g" % x["t_s"] for x in ev)))
    if "instance_accuracy" not in e:
        fail("%s: the evaluation at t = %g s has no instance_accuracy (accuracy.instances > 1 needed)" % (path, e["t_s"]))
    return e["t_s"], e["instance_accuracy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("panels", nargs="+", help='"TITLE=A_DIR,B_DIR"')
    ap.add_argument("--at", type=float, default=None, help="evaluation instant (s); default the first")
    ap.add_argument("-o", "--out", default="paired.png")
    a = ap.parse_args()
    parsed = []
    for p in a.panels:
        if "=" not in p or "," not in p.split("=", 1)[1]:
            fail('panel "%s": expected TITLE=A_DIR,B_DIR' % p)
        title, dirs = p.split("=", 1)
        da, db = dirs.split(",", 1)
        ta, xa = instances(da, a.at)
        tb, xb = instances(db, a.at)
        if len(xa) != len(xb):
            fail("%s and %s: %d and %d instances; a chip-by-chip comparison needs the same number" % (da, db, len(xa), len(xb)))
        parsed.append((title, ta, xa, xb))
    fig, axes = plt.subplots(1, len(parsed), figsize=(4.6 * len(parsed), 4.4), squeeze=False)
    lo = min(min(min(x), min(y)) for _, _, x, y in parsed) * 100 - 2
    hi = max(max(max(x), max(y)) for _, _, x, y in parsed) * 100 + 2
    for ax, (title, t, xa, xb) in zip(axes[0], parsed):
        na, nb = (title.split(" vs ", 1) + ["B"])[:2] if " vs " in title else ("A", "B")
        diff = [100 * (b - x) for x, b in zip(xa, xb)]
        sd_chips = statistics.stdev([100 * v for v in xa + xb])
        ax.plot([lo, hi], [lo, hi], ":", color="0.5", lw=1)
        ax.scatter([100 * v for v in xa], [100 * v for v in xb], s=28, color="C0", zorder=3)
        for k, (x, y) in enumerate(zip(xa, xb)):
            ax.annotate(str(k), (100 * x, 100 * y), textcoords="offset points", xytext=(4, 3), fontsize=7, color="0.3")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("%s: accuracy (%%) of chip k" % na.split(":")[-1].strip())
        ax.set_ylabel("%s: accuracy (%%) of chip k" % nb.strip())
        ax.set_title(title, fontsize=9)
        sd_diff = statistics.stdev(diff) if len(diff) > 1 else math.nan
        txt = "difference %+.1f, paired std %.1f\nstd between chips %.1f (points, t = %.4g s)" % (
            statistics.mean(diff), sd_diff, sd_chips, t)
        ax.text(0.03, 0.97, txt, transform=ax.transAxes, va="top", fontsize=8)
        print("%s: t = %.7g s, mean difference %+.2f points, paired std %.2f, std between chips %.2f" % (
            title, t, statistics.mean(diff), sd_diff, sd_chips))
    fig.tight_layout()
    fig.savefig(a.out, dpi=110, bbox_inches="tight")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
