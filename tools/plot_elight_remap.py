#!/usr/bin/python3
"""ELight row-based remapping to spare rows (docs/elight.md §6): scheduled accuracy and worn cells
in use over the deployment time of `ptcsim run` directories of a wear scenario with policy
row_remap, one line per run, the first unrepaired worn row marked (|).

Usage: plot_elight_remap.py -o FIG.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
Needs Debian's /usr/bin/python3 with matplotlib. The trace's worn_cells column is written by runs
under a row-remapping policy; a run without it shows its accuracy only."""
import argparse, csv, json, os, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DAY = 86400.0


def load(run):
    s = json.load(open(os.path.join(run, "summary.json")))
    ev = [json.loads(l) for l in open(os.path.join(run, "events.jsonl")) if l.strip()]
    acc = [(e["t_s"] / DAY, 100 * e["accuracy"]) for e in ev if e["type"] == "evaluation"]
    rows = list(csv.DictReader(open(os.path.join(run, "trace.csv"))))
    worn = [(float(r["t_s"]) / DAY, int(r["worn_cells"])) for r in rows if r.get("worn_cells", "") != ""]
    return s, acc, worn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    a = ap.parse_args()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for spec in a.runs:
        if "=" not in spec:
            sys.exit(f"plot_elight_remap: error: {spec}: expected LABEL=RUN_DIR")
        label, run = spec.split("=", 1)
        s, acc, worn = load(run)
        st = s.get("streaming", {})
        t_unrep = st.get("first_unrepaired_time_s", -1)
        if t_unrep is not None and t_unrep > 0:
            label += f" (unrepaired row at {t_unrep / DAY:.1f} d)"
        (line,) = ax1.plot([t for t, _ in acc], [v for _, v in acc], marker="o", ms=3, label=label)
        if t_unrep is not None and t_unrep > 0:
            ax1.axvline(t_unrep / DAY, color=line.get_color(), ls=":", lw=1)
        if worn:
            ax2.plot([t for t, _ in worn], [w for _, w in worn], color=line.get_color(), label=label)
    ax1.set_xscale("log")
    ax1.set_xlim(1, 366)
    ax1.set_xlabel("deployment time (days)")
    ax1.set_ylabel("accuracy (%)")
    ax1.set_title("scheduled accuracy (500 images)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    ax2.set_xlabel("deployment time (days)")
    ax2.set_ylabel("worn cells in use (of 4,096)")
    ax2.set_title("worn cells in the datapath (weekly trace)")
    ax2.grid(alpha=0.3)
    fig.suptitle("ELight VGG-8 streaming, a year of cell wear: row-based remapping to spare rows")
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)


if __name__ == "__main__":
    main()
