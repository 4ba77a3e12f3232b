#!/usr/bin/python3
"""A fleet run at a glance (docs/fleet.md): each chip's scheduled accuracy (thin lines) and the
fleet's mean with its spread across chips, each chip's temperature and its cumulative
calibrations, against deployment time. Reads RUN/chips/chip_<i>/trace.csv and RUN/summary.json.
Usage: tools/plot_fleet.py RUN_DIR -o FIGURE.png [--dump-json CURVE.json]"""
import argparse, csv, json, os, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

ap = argparse.ArgumentParser(description=__doc__.split("Usage:")[0].strip(), formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("run")
ap.add_argument("-o", "--out", required=True, help="figure file (.png, .svg, .pdf)")
ap.add_argument("--dump-json", metavar="FILE", help="also write the fleet curve drawn (instants in the axis unit, mean, "
                "range across chips, chips without accuracy rows) as JSON")
a = ap.parse_args()
ext = os.path.splitext(a.out)[1].lower().lstrip(".")
if ext not in plt.figure().canvas.get_supported_filetypes():
    sys.exit(f"plot_fleet: -o {a.out}: unknown figure format \"{ext}\" (use .png, .svg or .pdf)")
plt.close("all")
out_dir = os.path.dirname(os.path.abspath(a.out))
if not os.path.isdir(out_dir):
    sys.exit(f"plot_fleet: -o {a.out}: output directory does not exist")
try:
    summ = json.load(open(os.path.join(a.run, "summary.json")))
    n = int(summ["chips"])
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit(f"plot_fleet: {a.run}: not a fleet run directory (summary.json with \"chips\"): {e}")
# What the accuracy column holds and whether the chips have a thermal field (config.resolved.json).
mode, thermal = "scheduled", True
try:
    cfg = json.load(open(os.path.join(a.run, "config.resolved.json")))
    mode = cfg.get("accuracy", {}).get("mode", "scheduled")
    thermal = any(isinstance(x, dict) and x.get("name") == "thermal_field" for x in cfg.get("noise", []))
except (OSError, ValueError, AttributeError):
    pass

fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
traces = []
for i in range(n):
    f = os.path.join(a.run, "chips", f"chip_{i}", "trace.csv")
    try:
        traces.append(list(csv.DictReader(open(f))))
    except OSError as e:
        sys.exit(f"plot_fleet: {f}: cannot read chip {i}'s trace ({e.strerror})")
span_s = max([float(r["t_s"]) for rows in traces for r in rows] + [1.0])
# Time unit by the run's span: days for long deployments (symlog: the first day stays visible),
# hours or seconds on a linear axis for short runs.
unit, scale = ("days", 86400.0) if span_s > 2 * 86400 else (("hours", 3600.0) if span_s > 2 * 3600 else ("s", 1.0))
evals = []  # per chip: its scheduled evaluations in order, (t, accuracy %)
for i, rows in enumerate(traces):
    t = [float(r["t_s"]) / scale for r in rows]
    acc = [(float(r["t_s"]) / scale, 100 * float(r["accuracy"])) for r in rows if r["accuracy"] and r["accuracy_n"]]
    evals.append(acc)
    ax[0].plot([x for x, _ in acc], [v for _, v in acc], lw=0.8, alpha=0.6, label=f"chip {i}")
    ax[1].plot(t, [float(r["temp_k_mean"]) - 273.15 for r in rows], lw=0.8, alpha=0.8)
    ax[2].plot(t, [int(r["calibrations"]) for r in rows], lw=0.8, alpha=0.8)
# The fleet at evaluation instant k: every chip's k-th evaluation (a chip busy calibrating at the
# instant evaluates a little later), drawn at the latest of them, as the fleet trace's row. A chip
# with no accuracy rows (in served mode: it served nothing, e.g. a dispatcher that sends every
# request to chip 0 at a low rate) is left out of the mean and the band, and named.
rated = [e for e in evals if e]
silent = [i for i, e in enumerate(evals) if not e]
k_max = min((len(e) for e in rated), default=0)
ts = [max(e[k][0] for e in rated) for k in range(k_max)]
mean = [sum(e[k][1] for e in rated) / len(rated) for k in range(k_max)]
lo = [min(e[k][1] for e in rated) for k in range(k_max)]
hi = [max(e[k][1] for e in rated) for k in range(k_max)]
of = f" ({len(rated)} of {n} chips)" if silent else ""
if k_max > 0:
    ax[0].fill_between(ts, lo, hi, color="k", alpha=0.1, label="band: range across chips" + of)
    ax[0].plot(ts, mean, "k", lw=2, label="fleet mean" + of)
if silent:
    names = ", ".join(str(i) for i in silent)
    why = "served nothing" if mode == "served" else "no evaluation"
    note = f"no accuracy rows ({why}): chip{'s' if len(silent) > 1 else ''} {names}"
    ax[0].text(0.02, 0.02, note, transform=ax[0].transAxes, fontsize=8, va="bottom")
    print(f"plot_fleet: {note}", file=sys.stderr)
if summ.get("accuracy_ideal") is not None:
    ax[0].axhline(100 * summ["accuracy_ideal"], color="g", ls="--", lw=1, label="ideal")
acc_title = "scheduled accuracy per chip" if mode == "scheduled" else f"{mode} accuracy per chip (trace rows)"
temp_title = "each chip's thermal field" if thermal else "core temperature per chip"
for x, yl, ti in ((ax[0], "accuracy (%)", acc_title), (ax[1], "mean core temperature (°C)", temp_title),
                  (ax[2], "calibrations (cumulative)", "re-tunes per chip")):
    if unit == "days":
        x.set_xscale("symlog", linthresh=0.01)
    x.set_xlim(left=0)
    x.set_xlabel(f"deployment time ({unit})")
    x.set_ylabel(yl)
    x.set_title(ti)
    x.grid(alpha=0.3)
ax[0].legend(fontsize=7, ncol=2)
fig.suptitle(f"{summ['name']}: {n} chips, dispatcher {summ.get('dispatcher')}, policy {summ['policy']} — "
             f"fleet accuracy mean {100 * (summ['accuracy_mean'] or 0):.1f} %, p99 {summ['latency_p99_s']:.3g} s, "
             f"{summ['calibrations']} calibrations")
fig.tight_layout()
# Written next to the figure and renamed over it: a failed write leaves no half-written figure.
tmp = os.path.join(out_dir, "." + os.path.basename(a.out) + f".{os.getpid()}.tmp")
try:
    fig.savefig(tmp, dpi=110, format=ext)
    os.replace(tmp, a.out)
except OSError as e:
    try:
        os.remove(tmp)
    except OSError:
        pass
    sys.exit(f"plot_fleet: -o {a.out}: cannot write the figure ({e.strerror or e})")
if a.dump_json:
    try:
        with open(a.dump_json, "w") as f:
            json.dump({"unit": unit, "t": ts, "mean_pct": mean, "lo_pct": lo, "hi_pct": hi, "chips_without_accuracy": silent}, f)
    except OSError as e:
        sys.exit(f"plot_fleet: --dump-json {a.dump_json}: cannot write ({e.strerror})")
print(a.out)
