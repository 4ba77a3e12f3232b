#!/usr/bin/python3
"""plot_paired.py: two configurations compared chip by chip (Monte-Carlo instances).

Usage: tools/plot_paired.py [--at T] [-o out.png] "PANEL TITLE=A_DIR,B_DIR" ...

Each A_DIR and B_DIR is a `ptcsim run` output with `accuracy.instances` > 1 and the same seed.
The `evaluation` events of events.jsonl list every instance's accuracy (`instance_accuracy`); for
the evaluation scheduled nearest T (default: the first; within 1 % of T or the tool stops) each
panel draws instance k of A against instance k of B, with the line y = x, and prints the mean
difference B - A (positive: B is more accurate) with the standard deviation of the per-chip differences (paired) next to the
standard deviation between chips (within each configuration, pooled). The runs must share the
seed, the test images and the instant (checked against config.resolved.json where present). With `accuracy.read_draws: scheduled` (ptcsim's
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
    # An evaluation after a drift-compensation readout runs a few tens of µs after its scheduled
    # instant: match within 1 % or 1 ms.
    e = ev[0] if at is None else min(ev, key=lambda x: abs(x["t_s"] - at))
    if at is not None and abs(e["t_s"] - at) > max(0.01 * at, 1e-3):
        fail("%s: no evaluation within 1 %% (or 1 ms) of t = %g s (instants: %s)" % (path, at, ", ".join("%g" % x["t_s"] for x in ev)))
    if "instance_accuracy" not in e:
        fail("%s: the evaluation at t = %g s has no instance_accuracy (accuracy.instances > 1 needed)" % (path, e["t_s"]))
    cfg = {}
    cp = os.path.join(d, "config.resolved.json")
    if os.path.isfile(cp):
        try:
            with open(cp) as f:
                cfg = json.load(f)
        except ValueError:
            fail("%s: not JSON" % cp)
    return e["t_s"], e["instance_accuracy"], cfg


def same_chips(da, db, ta, tb, ca, cb):
    """The two runs must evaluate the same chips on the same images at the same instant."""
    if abs(ta - tb) > max(0.01 * max(ta, tb), 1e-3):
        fail("%s and %s: evaluations at t = %g s and %g s; pick one instant with --at" % (da, db, ta, tb))
    for key in ("seed",):
        if ca.get(key) != cb.get(key):
            fail("%s and %s: %s %s and %s; instance k is the same chip only with the same seed" % (da, db, key, ca.get(key), cb.get(key)))
    aa, ab = ca.get("accuracy", {}), cb.get("accuracy", {})
    for key in ("images", "first_image"):
        if aa.get(key) != ab.get(key):
            fail("%s and %s: accuracy.%s %s and %s; a chip-by-chip comparison needs the same test images" % (da, db, key, aa.get(key), ab.get(key)))
    for d, c in ((da, aa), (db, ab)):
        if c and c.get("read_draws", "actual") == "actual" and c.get("mode") == "scheduled":
            print("note: %s evaluates with the draws of the instant it runs at (accuracy.read_draws actual): its read noise "
                  "is not paired with the other run's" % d)


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
        ta, xa, ca = instances(da, a.at)
        tb, xb, cb = instances(db, a.at)
        same_chips(da, db, ta, tb, ca, cb)
        if len(xa) != len(xb):
            fail("%s and %s: %d and %d instances; a chip-by-chip comparison needs the same number" % (da, db, len(xa), len(xb)))
        parsed.append((title, ta, xa, xb))
    fig, axes = plt.subplots(1, len(parsed), figsize=(4.6 * len(parsed), 4.4), squeeze=False)
    for ax, (title, t, xa, xb) in zip(axes[0], parsed):
        # each panel its own square range: configurations far apart in accuracy stay readable
        lo, hi = 100 * min(xa + xb), 100 * max(xa + xb)
        pad = max(0.05 * (hi - lo), 0.5)
        lo, hi = lo - pad, hi + pad
        na, nb = (title.split(" vs ", 1) + ["B"])[:2] if " vs " in title else ("A", "B")
        diff = [100 * (b - x) for x, b in zip(xa, xb)]
        # the spread between chips within each configuration, pooled (not the shift between them)
        sd_chips = math.sqrt((statistics.variance([100 * v for v in xa]) + statistics.variance([100 * v for v in xb])) / 2)
        ax.plot([lo, hi], [lo, hi], ":", color="0.5", lw=1)
        ax.scatter([100 * v for v in xa], [100 * v for v in xb], s=28, color="C0", zorder=3)
        for k, (x, y) in enumerate(zip(xa, xb)):
            ax.annotate(str(k), (100 * x, 100 * y), textcoords="offset points", xytext=(4, 3), fontsize=7, color="0.3")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("%s: accuracy (%%) of chip k" % na.split(":")[-1].strip())
        ax.set_ylabel("%s: accuracy (%%) of chip k" % nb.strip())
        sd_diff = statistics.stdev(diff) if len(diff) > 1 else math.nan
        txt = "%s - %s: %+.1f, paired std %.1f\nstd between chips %.1f (points, t = %.4g s)" % (
            nb.strip(), na.split(":")[-1].strip(), statistics.mean(diff), sd_diff, sd_chips, t)
        ax.set_title(title + "\n" + txt.replace("\n", "; "), fontsize=8)
        print("%s: t = %.7g s, mean difference %s - %s %+.2f points, paired std %.2f, std between chips %.2f" % (
            title, t, nb.strip(), na.split(":")[-1].strip(), statistics.mean(diff), sd_diff, sd_chips))
    fig.tight_layout()
    fig.savefig(a.out, dpi=110, bbox_inches="tight")
    print("wrote", a.out)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        sys.exit(0)
