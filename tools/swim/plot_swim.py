#!/usr/bin/python3
"""SWIM figure (docs/swim.md §4): for each swept study (a `ptcsim sweep` folder over
controller.policy.metric x controller.policy.fraction), accuracy over the Monte-Carlo chips
(mean +- std, from the last trace row of every run) against the verified fraction p, and against
the programming time (one-shot programming plus write-verify, summary.json write_verify).

Usage: plot_swim.py SWEEP_DIR [SWEEP_DIR ...] -o FIGURE.png [--dump-json]
Each SWEEP_DIR holds manifest.jsonl and the run directories it names; incomplete runs are an error.
An axis the sweep does not vary (a sweep over p alone) is read from each run's config.resolved.json.
Runs of the same metric and p (several seeds) are one point: the chips of all of them as one sample
(mean, and sample std over every chip).
--dump-json prints what is plotted (per study and metric: p, accuracy %, std %, time ms) on stdout.
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"swim": "tab:red", "swim_code": "tab:purple", "magnitude": "tab:blue", "random": "tab:gray",
          "second": "tab:orange", "saliency": "tab:green"}


def n_chips(run_dir):
    """The Monte-Carlo chips behind a run's accuracy mean and std (accuracy.instances)."""
    try:
        return int(json.load(open(os.path.join(run_dir, "config.resolved.json")))["accuracy"]["instances"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1


def load(sweep):
    man = os.path.join(sweep, "manifest.jsonl")
    if not os.path.isfile(man):
        sys.exit(f"plot_swim: {man}: no manifest (run `ptcsim sweep SPEC --out {sweep}` first)")
    rows = []
    for line in open(man):
        if not line.strip():
            continue
        e = json.loads(line)
        d = os.path.join(sweep, e["run_dir"])
        try:
            s = json.load(open(os.path.join(d, "summary.json")))
            last = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))[-1]
        except (OSError, IndexError, ValueError) as err:
            sys.exit(f"plot_swim: {d}: run incomplete or unreadable ({err})")
        if s.get("status") != "complete":
            sys.exit(f"plot_swim: {d}: run status {s.get('status')}")
        p = e["point"]
        if "controller.policy.metric" not in p or "controller.policy.fraction" not in p:
            # an axis not swept (a sweep over p alone, or over the metric alone): the run's own value
            try:
                pol = json.load(open(os.path.join(d, "config.resolved.json")))["controller"]["policy"]
                p = dict(p, **{"controller.policy." + k: pol[k] for k in ("metric", "fraction")
                               if "controller.policy." + k not in p})
            except (OSError, ValueError, KeyError, TypeError) as err:
                sys.exit(f"plot_swim: {d}: config.resolved.json: no controller.policy metric and fraction ({err!r})")
        wv = s.get("write_verify", {})
        rows.append({"metric": p["controller.policy.metric"], "p": float(p["controller.policy.fraction"]),
                     "acc": float(last["accuracy"]), "std": float(last["accuracy_std"] or 0),
                     "n": int(last.get("accuracy_n") or 0), "n_chips": n_chips(d),
                     "t_ms": 1e3 * wv.get("programming_time_s", s.get("write_verify", {}).get("initial_programming_time_s", 0.0)),
                     "ideal": s.get("accuracy_ideal"), "name": s.get("name")})
    if not rows:
        sys.exit(f"plot_swim: {man}: no entries")
    return rows


def pooled(rs):
    """One point from the runs of a (metric, p) (several seeds): the chips of all runs as one sample.
    Mean = chip-weighted mean of the runs' means; std = the sample std (ddof 1) of all chips, from
    each run's mean, std (ddof 1) and chip count."""
    if len(rs) == 1:
        return dict(rs[0], runs=1)
    n = [max(r["n_chips"], 1) for r in rs]
    N = sum(n)
    mean = sum(k * r["acc"] for k, r in zip(n, rs)) / N
    ss = sum((k - 1) * r["std"] ** 2 + k * (r["acc"] - mean) ** 2 for k, r in zip(n, rs))
    t = sum(r["t_ms"] for r in rs) / len(rs)
    return dict(rs[0], acc=mean, std=(ss / (N - 1)) ** 0.5 if N > 1 else 0.0, t_ms=t, runs=len(rs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweeps", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--dump-json", action="store_true", help="print the plotted series as JSON on stdout")
    a = ap.parse_args()
    dump = []
    studies = [(d, load(d)) for d in a.sweeps]
    fig, axes = plt.subplots(len(studies), 2, figsize=(11, 3.6 * len(studies)), squeeze=False)
    for (d, rows), (ax_p, ax_t) in zip(studies, axes):
        title = rows[0]["name"] or os.path.basename(os.path.normpath(d))
        for m in [m for m in COLORS if any(r["metric"] == m for r in rows)]:
            ps = sorted({r["p"] for r in rows if r["metric"] == m})
            rs = [pooled([r for r in rows if r["metric"] == m and r["p"] == p]) for p in ps]
            xs = [max(r["p"], 1e-3) for r in rs]
            ys = [100 * r["acc"] for r in rs]
            es = [100 * r["std"] for r in rs]
            ax_p.errorbar(xs, ys, yerr=es, marker="o", ms=4, capsize=3, color=COLORS[m], label=m)
            ax_t.errorbar([r["t_ms"] for r in rs], ys, yerr=es, marker="o", ms=4, capsize=3, color=COLORS[m], label=m)
            dump.append({"study": title, "metric": m, "p": [r["p"] for r in rs], "accuracy_pct": ys, "std_pct": es,
                         "time_ms": [r["t_ms"] for r in rs], "runs": [r["runs"] for r in rs]})
        if rows[0]["ideal"] is not None:
            for ax in (ax_p, ax_t):
                ax.axhline(100 * rows[0]["ideal"], color="k", lw=0.8, ls=":", label="ideal weights")
        ax_p.set_xscale("log")
        ax_p.set_xlabel("verified fraction p (p = 0 drawn at 0.001)")
        ax_t.set_xscale("log")
        ax_t.set_xlabel("programming time (ms): one-shot + write-verify")
        for ax in (ax_p, ax_t):
            ax.set_ylabel("accuracy (%), mean ± std over chips")
            ax.grid(alpha=0.3)
        ax_p.set_title(title)
        ax_t.set_title(title)
        ax_p.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = a.out + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, a.out)
    if a.dump_json:
        json.dump(dump, sys.stdout)
        print()


if __name__ == "__main__":
    main()
