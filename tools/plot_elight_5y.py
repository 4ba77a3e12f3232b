#!/usr/bin/python3
"""ELight streaming under five years of data-centre traffic (docs/elight.md §8): from the runs of
the sweep scenarios/sweeps/elight_endurance.json, (a) the scheduled accuracy and (b) the worn cells
in use over the deployment time of every model x order at one endurance (--at, default 1e11), and
(c) the time to the first worn cell against the median endurance, one line per model x order, with
the closed form of the worst cell at the median endurance: the time at which the integrated daily
profile reaches E / (worst cell's steps per pass) passes (thin dotted). A run in which no cell wears
within the horizon is drawn at the horizon with an open marker.

Usage: plot_elight_5y.py -o FIG.png [--at 1e11] [--dump-json] SWEEP_DIR
SWEEP_DIR holds manifest.jsonl and runs/ (`ptcsim sweep ... run`). --dump-json prints the numbers
per run (with closed_form_first_worn_s, panel (c)'s dotted line) instead of drawing. Needs Debian's /usr/bin/python3 with
matplotlib."""
import argparse, csv, json, os, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DAY = 86400.0
YEAR = 365 * DAY
ORDERS = ["native", "greedy", "per_cell"]
STYLE = {"native": "-", "greedy": "--", "per_cell": "-."}
COLOR = {False: "tab:blue", True: "tab:red"}


def fail(msg):
    sys.exit(f"plot_elight_5y: error: {msg}")


def profile_time(passes, prof):
    """Time (s) at which the integrated piecewise-constant hourly profile reaches `passes`."""
    per_day = sum(prof) * 3600.0
    d, rem = divmod(passes, per_day)
    t = d * DAY
    for h, r in enumerate(prof):
        if rem <= r * 3600.0:
            return t + h * 3600.0 + (rem / r if r > 0 else 0.0)
        rem -= r * 3600.0
    return t + DAY


def load(sweep):
    man = os.path.join(sweep, "manifest.jsonl")
    if not os.path.isfile(man):
        fail(f"{man}: not found (give the sweep folder of scenarios/sweeps/elight_endurance.json)")
    out = []
    for line in open(man):
        if not line.strip():
            continue
        e = json.loads(line)
        d = os.path.join(sweep, e["run_dir"])
        sp = os.path.join(d, "summary.json")
        if not os.path.isfile(sp):
            fail(f"{d}: no summary.json (run the sweep first: ptcsim sweep run {man})")
        s = json.load(open(sp))
        cfg = json.load(open(os.path.join(d, "config.resolved.json")))
        if "streaming" not in s or s.get("status") != "complete":
            fail(f"{d}: not a complete streaming run")
        ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl")) if l.strip()]
        rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
        st = s["streaming"]
        out.append({
            "run": d,
            "write_aware": "_wa" in os.path.basename(cfg["model"]),
            "order": cfg["hw"]["mapping"]["order"],
            "endurance": float(cfg["device"]["endurance_steps"]),
            "horizon_s": float(cfg["horizon_s"]),
            "profile": cfg["traffic"]["hourly_rate_hz"],
            "requests": s["requests"],
            "worst": st["worst_cell_steps_per_pass"],
            "steps_per_pass": st["level_steps_per_pass"],
            "first_worn_time_s": st["first_worn_time_s"],
            "first_worn_pass": st["first_worn_pass"],
            "worn_cells": st["worn_cells"],
            "accuracy": [(e["t_s"], e["accuracy"]) for e in ev if e["type"] == "evaluation"],
            "worn": [(float(r["t_s"]), int(r["worn_cells"])) for r in rows if r.get("worn_cells", "") != ""],
        })
    if not out:
        fail(f"{man}: no runs")
    return out


def label(r):
    return ("write-aware" if r["write_aware"] else "plain") + ", " + r["order"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output")
    ap.add_argument("--at", type=float, default=1e11, help="endurance of panels (a) and (b)")
    ap.add_argument("--dump-json", action="store_true")
    ap.add_argument("sweep")
    a = ap.parse_args()
    runs = load(a.sweep)
    if a.dump_json:
        for r in runs:
            r["closed_form_first_worn_s"] = profile_time(r["endurance"] / r["worst"], r["profile"]) if r["worst"] > 0 else None
        json.dump([{k: v for k, v in r.items() if k not in ("accuracy", "worn", "profile")} for r in runs], sys.stdout, indent=1)
        print()
        return
    if not a.output:
        fail("-o FIG.png is required (or --dump-json)")
    at = [r for r in runs if r["endurance"] == a.at]
    if not at:
        fail(f"no run at endurance {a.at:g} (have {sorted({r['endurance'] for r in runs})})")
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.6))
    for r in sorted(at, key=lambda r: (r["write_aware"], ORDERS.index(r["order"]) if r["order"] in ORDERS else 9)):
        kw = dict(color=COLOR[r["write_aware"]], ls=STYLE.get(r["order"], "-."), label=label(r))
        acc = [(t / DAY, 100 * v) for t, v in r["accuracy"] if t > 0]
        ax1.plot([x for x, _ in acc], [y for _, y in acc], marker=".", **kw)
        w = [(t / DAY, n) for t, n in r["worn"] if t > 0]
        ax2.plot([x for x, _ in w], [n for _, n in w], **kw)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("deployment time (days)")
        ax.axvline(5 * 365, color="gray", lw=0.8)
        ax.grid(alpha=0.3)
    ax1.set_ylabel("accuracy, 500 test images (%)")
    ax1.set_title(f"(a) accuracy, median endurance {a.at:.0e} steps")
    ax1.legend(fontsize=7)
    ax2.set_ylabel("worn cells in use (of 4,096)")
    ax2.set_title("(b) worn cells")
    groups = {}
    for r in runs:
        groups.setdefault((r["write_aware"], r["order"]), []).append(r)
    for (wa, order), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], ORDERS.index(kv[0][1]) if kv[0][1] in ORDERS else 9)):
        rs.sort(key=lambda r: r["endurance"])
        kw = dict(color=COLOR[wa], ls=STYLE.get(order, "-."))
        xs = [r["endurance"] for r in rs]
        ys = [(r["first_worn_time_s"] if r["first_worn_time_s"] >= 0 else r["horizon_s"]) / DAY for r in rs]
        ax3.plot(xs, ys, label=label(rs[0]), **kw)
        for x, y, r in zip(xs, ys, rs):
            ax3.plot([x], [y], marker="o", color=COLOR[wa], mfc=COLOR[wa] if r["first_worn_time_s"] >= 0 else "white", ls="")
        cf = [profile_time(x / r["worst"], r["profile"]) / DAY if r["worst"] > 0 else None for x, r in zip(xs, rs)]
        ax3.plot(xs, cf, color=COLOR[wa], ls=(0, (1, 2)), lw=0.7, alpha=0.45)
    ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.axhline(5 * 365, color="gray", lw=0.8)
    ax3.set_xlabel("median cell endurance (level steps)")
    ax3.set_ylabel("first worn cell (days)")
    ax3.set_title("(c) lifetime vs endurance\n(dotted: worst cell at the median endurance)", fontsize=10)
    ax3.grid(alpha=0.3, which="both")
    ax3.legend(fontsize=7)
    fig.suptitle("ELight streaming, VGG-8, 4x4 cores of 16x16 optical PCM cells, daily profile 1-10 req/s for 5 years")
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)


if __name__ == "__main__":
    main()
