#!/usr/bin/python3
"""A fleet run at a glance (docs/fleet.md): each chip's scheduled accuracy (thin lines) and the
fleet's mean with its spread across chips, each chip's temperature and its cumulative
calibrations, against deployment time. Reads RUN/chips/chip_<i>/trace.csv and RUN/summary.json.
Usage: tools/plot_fleet.py RUN_DIR -o FIGURE.png"""
import argparse, csv, json, os, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("run")
ap.add_argument("-o", "--out", required=True)
a = ap.parse_args()
try:
    summ = json.load(open(os.path.join(a.run, "summary.json")))
    n = int(summ["chips"])
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit(f"plot_fleet: {a.run}: not a fleet run directory (summary.json with \"chips\"): {e}")

fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
evals = {}
for i in range(n):
    rows = list(csv.DictReader(open(os.path.join(a.run, "chips", f"chip_{i}", "trace.csv"))))
    t = [float(r["t_s"]) / 86400 for r in rows]
    acc = [(float(r["t_s"]) / 86400, 100 * float(r["accuracy"])) for r in rows if r["accuracy"] and r["accuracy_n"]]
    for tt, v in acc: evals.setdefault(tt, []).append(v)
    ax[0].plot([x for x, _ in acc], [v for _, v in acc], lw=0.8, alpha=0.6, label=f"chip {i}")
    ax[1].plot(t, [float(r["temp_k_mean"]) - 273.15 for r in rows], lw=0.8, alpha=0.8)
    ax[2].plot(t, [int(r["calibrations"]) for r in rows], lw=0.8, alpha=0.8)
ts = sorted(evals)
mean = [sum(evals[t]) / len(evals[t]) for t in ts]
lo = [min(evals[t]) for t in ts]
hi = [max(evals[t]) for t in ts]
ax[0].fill_between(ts, lo, hi, color="k", alpha=0.1, label="range across chips")
ax[0].plot(ts, mean, "k", lw=2, label="fleet mean")
if summ.get("accuracy_ideal") is not None:
    ax[0].axhline(100 * summ["accuracy_ideal"], color="g", ls="--", lw=1, label="ideal")
for x, yl, ti in ((ax[0], "accuracy (%)", "scheduled accuracy per chip"), (ax[1], "mean core temperature (°C)", "each chip's thermal field"),
                  (ax[2], "calibrations (cumulative)", "re-tunes per chip")):
    x.set_xscale("symlog", linthresh=0.01)
    x.set_xlim(left=0)
    x.set_xlabel("deployment time (days)")
    x.set_ylabel(yl)
    x.set_title(ti)
    x.grid(alpha=0.3)
ax[0].legend(fontsize=7, ncol=2)
fig.suptitle(f"{summ['name']}: {n} chips, dispatcher {summ.get('dispatcher')}, policy {summ['policy']} — "
             f"fleet accuracy mean {100 * (summ['accuracy_mean'] or 0):.1f} %, p99 {summ['latency_p99_s']:.3g} s, "
             f"{summ['calibrations']} calibrations")
fig.tight_layout()
fig.savefig(a.out, dpi=110)
print(a.out)
