#!/usr/bin/python3
"""Images per ELight streaming pass (docs/elight.md §1): latency (p50, p99), energy and level-step
writes per served request, and the share of the offered requests served, against
hw.mapping.images_per_pass, one point per `ptcsim run` directory (a sweep's runs/*).

Usage: plot_elight_images_per_pass.py -o FIG.png RUN_DIR [RUN_DIR ...]
       plot_elight_images_per_pass.py --dump-json RUN_DIR [RUN_DIR ...]   (the plotted points)
Needs Debian's /usr/bin/python3 with matplotlib. The offered requests are the traffic's arrivals
before the horizon, read from the run with the most served requests (a run that keeps up serves
them all)."""
import argparse, json, os, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def load(run):
    path = os.path.join(run, "summary.json")
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("%s: cannot read: %s" % (path, e.strerror if isinstance(e, OSError) else e))
    if s.get("status") != "complete" or "streaming" not in s:
        raise SystemExit("%s: not a complete streaming run" % path)
    return {"B": s["streaming"].get("images_per_pass", 1), "requests": s["requests"],
            "p50": s["latency_p50_s"], "p99": s["latency_p99_s"],
            "mj": 1e3 * s["energy_j"] / max(s["requests"], 1), "writes": s["writes_streamed"] / max(s["requests"], 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output")
    ap.add_argument("--dump-json", action="store_true", help="print the plotted points as JSON, draw nothing")
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    if not a.output and not a.dump_json:
        raise SystemExit("plot_elight_images_per_pass.py: give -o FIG.png or --dump-json")
    pts = sorted((load(r) for r in a.runs), key=lambda p: p["B"])
    if len({p["B"] for p in pts}) != len(pts):
        raise SystemExit("two runs at the same images_per_pass: %s" % sorted(p["B"] for p in pts))
    offered = max(p["requests"] for p in pts)
    for p in pts:
        p["served_pct"] = 100 * p["requests"] / offered if offered else 0.0
    if a.dump_json:
        print(json.dumps(pts))
        return 0
    B = [p["B"] for p in pts]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(B, [p["p50"] for p in pts], "o-", label="p50 latency")
    ax1.plot(B, [p["p99"] for p in pts], "s-", label="p99 latency")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("images per pass (hw.mapping.images_per_pass)")
    ax1.set_ylabel("latency (s)")
    ax1.grid(alpha=0.3)
    r = ax1.twinx()
    r.plot(B, [p["served_pct"] for p in pts], "^--", color="tab:gray", label="requests served (%)")
    r.set_ylabel("requests served (% of offered)")
    r.set_ylim(0, 105)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = r.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    ax2.plot(B, [p["mj"] for p in pts], "o-", color="tab:red", label="energy per request (mJ)")
    ax2.plot(B, [p["writes"] / 1e6 for p in pts], "s-", color="tab:purple", label="level steps per request (M)")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("images per pass (hw.mapping.images_per_pass)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
