#!/usr/bin/python3
"""plot_param.py: accuracy (mean +- std over chip instances) against one scenario parameter.

Usage: tools/plot_param.py --x hw.mvm.w_noise [--group hw.mvm.w_noise_type] [--at 1] [--dump-json] -o out.png RUN_DIR...

Each RUN_DIR is a `ptcsim run` output; the x value (and the group, one line per value) are read
from its config.resolved.json by dotted path (a missing key reads as the --missing value, for keys
ptcsim leaves out at their defaults); the y value is the trace row whose t_s is closest to --at
(default: the first accuracy row): `accuracy` (mean over instances) with an `accuracy_std` error
bar. The ideal (fp32) accuracy is a dashed line. Needs Debian's python3-matplotlib.
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
    return cfg, float(r["accuracy"]), float(r.get("accuracy_std") or 0), ideal


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("--x", required=True, help="dotted path of the x parameter in config.resolved.json")
    ap.add_argument("--group", help="dotted path of the parameter that separates the lines")
    ap.add_argument("--missing", help="value of a key left out of config.resolved.json (e.g. 0)")
    ap.add_argument("--at", type=float, help="simulated time (s) of the accuracy row (default: the first)")
    ap.add_argument("--xlabel")
    ap.add_argument("--title", default="")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--dump-json", action="store_true", help="also print the plotted points as JSON on stdout")
    a = ap.parse_args()
    missing = None if a.missing is None else json.loads(a.missing) if a.missing[:1].isdigit() else a.missing
    lines, ideal = {}, None
    for d in a.runs:
        cfg, m, s, ide = read_point(d, a.at)
        x = lookup(cfg, a.x, missing, d)
        if not isinstance(x, (int, float)):
            fail("%s: %s = %r is not a number" % (d, a.x, x))
        g = str(lookup(cfg, a.group, missing, d)) if a.group else ""
        lines.setdefault(g, []).append((float(x), 100 * m, 100 * s))
        ideal = ideal if ideal is not None else ide
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for g in sorted(lines):
        pts = sorted(lines[g])
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3,
                    label=g or None)
    if ideal is not None:
        ax.axhline(100 * ideal, color="k", linestyle="--", linewidth=1, label="fp32 reference")
    ax.set_xlabel(a.xlabel or a.x)
    ax.set_ylabel("test accuracy (%), mean ± std over chips")
    ax.set_title(a.title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    if a.dump_json:
        print(json.dumps([{"group": g, "x": [p[0] for p in sorted(lines[g])], "accuracy_pct": [p[1] for p in sorted(lines[g])],
                           "std_pct": [p[2] for p in sorted(lines[g])]} for g in sorted(lines)]))


if __name__ == "__main__":
    main()
