#!/usr/bin/python3
"""plot_param.py: accuracy (mean +- std over chip instances) against one scenario parameter.

Usage: tools/plot_param.py --x hw.mvm.w_noise [--group hw.mvm.w_noise_type] [--at 1]
           [--right FILE:PATH [--right-per FILE:PATH] [--right-scale S] [--right-label L]] [--dump-json] -o out.png RUN_DIR...

Each RUN_DIR is a `ptcsim run` output; the x value (and the group, one line per value) are read
from its config.resolved.json by dotted path (a missing key reads as the --missing value, for keys
ptcsim leaves out at their defaults); the y value is the trace row whose t_s is closest to --at
(within 1 %, or 1 ms: a row farther off is an error naming the run's instants)
(default: the first accuracy row): `accuracy` (mean over instances) with an `accuracy_std` error
bar. The ideal (fp32) accuracy is a dashed line. --right adds a second quantity on a right-hand
axis (dashed, one line per group): FILE:PATH names a number in the run's summary.json or
stats.json by dotted path (stats values are objects: give PATH down to `.value`), optionally
divided by --right-per (same form) and multiplied by --right-scale; e.g. the re-run energy as a
percentage of all energy: --right stats:accelerator.recomputation_energy.value --right-per
summary:energy_j --right-scale 100 (a key missing from a run's file reads as --right-missing).
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


def fail(msg):
    sys.exit("plot_param.py: error: " + msg)


def lookup(cfg, path, missing, d):
    v = cfg
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            if missing is None:
                fail("%s/config.resolved.json has no %s (give --missing for keys left out at their defaults)" % (d, path))
            return missing
        v = v[part]
    return v


def read_point(d, at):
    try:
        with open(os.path.join(d, "config.resolved.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(d, "summary.json")) as f:
            ideal = json.load(f).get("accuracy_ideal")
        with open(os.path.join(d, "trace.csv")) as f:
            rows = [r for r in csv.DictReader(f) if r.get("accuracy")]
    except (OSError, ValueError) as e:
        fail("%s: not a readable run directory (%s)" % (d, e))
    if not rows:
        fail("%s/trace.csv has no accuracy rows" % d)
    r = rows[0] if at is None else min(rows, key=lambda r: abs(float(r["t_s"]) - at))
    # A scheduled evaluation's row sits a readout's array time after its instant (1.0000243 for 1):
    # within 1 % (or 1 ms) it is that instant's row; farther off it is another instant's.
    if at is not None and abs(float(r["t_s"]) - at) > max(1e-3, 0.01 * abs(at)):
        fail("%s/trace.csv: --at %g: no accuracy row at that time (rows at %s s)"
             % (d, at, ", ".join("%g" % float(x["t_s"]) for x in rows[:12]) + (", ..." if len(rows) > 12 else "")))
    return cfg, float(r["accuracy"]), float(r.get("accuracy_std") or 0), ideal


def read_number(d, spec, missing):
    """FILE:PATH (FILE summary or stats) -> the number at PATH in that run's FILE.json."""
    name, _, path = spec.partition(":")
    if name not in ("summary", "stats") or not path:
        fail("--right/--right-per %r is not summary:PATH or stats:PATH" % spec)
    try:
        with open(os.path.join(d, name + ".json")) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: not a readable run directory (%s)" % (d, e))
    v = doc
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            if missing is None:
                fail("%s/%s.json has no %s (give --right-missing for keys a run leaves out)" % (d, name, path))
            return float(missing)
        v = v[part]
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        fail("%s/%s.json: %s = %r is not a number" % (d, name, path, v))
    return float(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("--x", required=True, help="dotted path of the x parameter in config.resolved.json")
    ap.add_argument("--group", help="dotted path of the parameter that separates the lines")
    ap.add_argument("--missing", help="value of a key left out of config.resolved.json (e.g. 0)")
    ap.add_argument("--at", type=float, help="simulated time (s) of the accuracy row (default: the first)")
    ap.add_argument("--right", metavar="FILE:PATH", help="a second quantity on a right-hand axis (summary:PATH or stats:PATH)")
    ap.add_argument("--right-per", metavar="FILE:PATH", help="divide the right-hand quantity by this one")
    ap.add_argument("--right-scale", type=float, default=1.0, help="multiply the right-hand quantity by this")
    ap.add_argument("--right-label", help="label of the right-hand axis")
    ap.add_argument("--right-missing", type=float, help="value of a --right/--right-per key a run does not have (e.g. 0)")
    ap.add_argument("--logx", action="store_true", help="logarithmic x axis")
    ap.add_argument("--xlabel")
    ap.add_argument("--title", default="")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--dump-json", action="store_true", help="also print the plotted points as JSON on stdout")
    a = ap.parse_args()
    missing = None if a.missing is None else json.loads(a.missing) if a.missing[:1].isdigit() else a.missing
    if a.right_per and not a.right:
        fail("--right-per needs --right")
    lines, right, ideal = {}, {}, None
    for d in a.runs:
        cfg, m, s, ide = read_point(d, a.at)
        x = lookup(cfg, a.x, missing, d)
        if not isinstance(x, (int, float)):
            fail("%s: %s = %r is not a number" % (d, a.x, x))
        g = str(lookup(cfg, a.group, missing, d)) if a.group else ""
        lines.setdefault(g, []).append((float(x), 100 * m, 100 * s))
        if a.right:
            r = read_number(d, a.right, a.right_missing)
            if a.right_per:
                den = read_number(d, a.right_per, a.right_missing)
                if den == 0:
                    fail("%s: %s is 0 (cannot divide by it)" % (d, a.right_per))
                r /= den
            right.setdefault(g, []).append((float(x), r * a.right_scale))
        ideal = ideal if ideal is not None else ide
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    colors = {}
    for g in sorted(lines):
        pts = sorted(lines[g])
        h = ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3,
                        label=g or None)
        colors[g] = h[0].get_color()
    if a.right:
        ax2 = ax.twinx()
        for g in sorted(right):
            pts = sorted(right[g])
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="--", marker="s", markersize=4, color=colors[g],
                     label=(g + ": " if g else "") + (a.right_label or a.right))
        ax2.set_ylabel(a.right_label or a.right)
    if a.logx:
        ax.set_xscale("log", base=2)
    if ideal is not None:
        ax.axhline(100 * ideal, color="k", linestyle="--", linewidth=1, label="fp32 reference")
    ax.set_xlabel(a.xlabel or a.x)
    ax.set_ylabel("test accuracy (%), mean ± std over chips")
    ax.set_title(a.title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if a.right:  # one legend for both axes, above the right-hand axis' lines
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    if a.dump_json:
        out = [{"group": g, "x": [p[0] for p in sorted(lines[g])], "accuracy_pct": [p[1] for p in sorted(lines[g])],
                "std_pct": [p[2] for p in sorted(lines[g])]} for g in sorted(lines)]
        if a.right:
            for o in out:
                o["right"] = [p[1] for p in sorted(right[o["group"]])]
        print(json.dumps(out))


if __name__ == "__main__":
    main()
