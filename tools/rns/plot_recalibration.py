#!/usr/bin/python3
"""RNS re-calibration over deployment time (docs/rns.md §7): per evaluation the decoder's
detected-error rate and the wrong words (silent + failed), the device writes after deployment and
the accuracy, one line per run directory.

Usage: plot_recalibration.py -o out.png [--dump-json] LABEL=RUN_DIR [LABEL=RUN_DIR ...]
Reads each run's trace.csv (cumulative columns rns_words, rns_detected, rns_silent, rns_failed,
writes; accuracy on evaluation rows): an evaluation's rate is the words detected since the
previous row with new words divided by those words. --dump-json prints {label: {"t_h": [...],
"rate": [...], "wrong": [...], "writes": [[t_h, writes], ...], "accuracy": [[t_h, %], ...]}}.
Errors are one line on stderr and exit code 2. Needs Debian's python3-matplotlib.
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NEED = ("t_s", "accuracy", "writes", "rns_words", "rns_detected", "rns_silent", "rns_failed")


def fail(msg):
    print("plot_recalibration.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def series(run):
    path = os.path.join(run, "trace.csv")
    if not os.path.isfile(path):
        fail("%s: missing (not a ptcsim run directory?)" % path)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail("%s: no rows" % path)
    missing = [c for c in NEED if c not in rows[0]]
    if missing:
        fail("%s: no column %s (not an RNS run with decoder counters?)" % (path, ", ".join(missing)))
    out = {"t_h": [], "rate": [], "wrong": [], "writes": [], "accuracy": []}
    prev = {"rns_words": 0, "rns_detected": 0, "rns_silent": 0, "rns_failed": 0}
    for n, r in enumerate(rows, 2):
        try:
            t_h = float(r["t_s"]) / 3600.0
            cur = {k: int(float(r[k])) for k in prev}
            out["writes"].append([t_h, int(float(r["writes"]))])
        except ValueError:
            fail("%s:%d: not a number" % (path, n))
        words = cur["rns_words"] - prev["rns_words"]
        if words > 0:
            out["t_h"].append(t_h)
            out["rate"].append((cur["rns_detected"] - prev["rns_detected"]) / words)
            out["wrong"].append(cur["rns_silent"] + cur["rns_failed"] - prev["rns_silent"] - prev["rns_failed"])
        if r["accuracy"] not in ("", None):
            out["accuracy"].append([t_h, 100.0 * float(r["accuracy"])])
        prev = cur
    if not out["t_h"]:
        fail("%s: no row with new RNS words" % path)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--dump-json", action="store_true", help="print the plotted points as JSON")
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    a = ap.parse_args()
    dump = {}
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.8))
    for spec in a.runs:
        if "=" not in spec:
            fail("%r: expected LABEL=RUN_DIR" % spec)
        label, run = spec.split("=", 1)
        s = series(run)
        dump[label] = s
        (line,) = axs[0].semilogy(s["t_h"], [max(x, 1e-9) for x in s["rate"]], marker="o", ms=3, label=label)
        axs[1].step([p[0] for p in s["writes"]], [p[1] for p in s["writes"]], where="post", color=line.get_color(), label=label)
        axs[2].plot([p[0] for p in s["accuracy"]], [p[1] for p in s["accuracy"]], marker="o", ms=3, color=line.get_color(),
                    label=label)
    axs[0].set_ylabel("detected words / words (per evaluation)")
    axs[1].set_ylabel("device writes after deployment")
    axs[2].set_ylabel("test accuracy (%)")
    for ax in axs:
        ax.set_xlabel("deployment time (h)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("RNS chip under drift: re-calibration of the whole chip vs the drifting channels (rns_recalibration)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=130)
    if a.dump_json:
        print(json.dumps(dump))


if __name__ == "__main__":
    main()
