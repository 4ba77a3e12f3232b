#!/usr/bin/python3
"""CNN3 on PCM pairs: conductance-scaling tile (per 8x8 block vs aihwkit's 512x512 tiles) and drift
compensation granularity (per layer / tile / column, noisy or noiseless reference), mean and std
over seeds at a few instants (README "PCM accuracy over time", docs/devices.md §2.1,
docs/pcm_drift_compensation.md §2).

Usage: tools/pcm_tile_study.py PTCSIM [--images 300] [--seeds 1,...,8] [--out runs/pcm_tile_study]
                               [--read-draws actual|scheduled] [--figure PNG]
Writes OUT/results.csv (config, seed, t_s, accuracy) and the figure (default: it replaces
docs/figures/pcm_scale_tiles.png). --read-draws: accuracy.read_draws of every run; "actual" (the
default here) is what README's table was measured with; without compensation both give the same.
"""
import argparse
import csv
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCEN = os.path.join(ROOT, "scenarios", "pcm")
TIMES = [0, 3600, 86400, 2592000, 31536000]
LABEL_T = ["0", "1 h", "1 d", "30 d", "1 y"]

# name: (base scenario, --set overrides)
CONFIGS = {
    "block, none": ("drift_none.json", []),
    "block, per layer": ("drift_gdc.json", []),
    "block, per tile (=block), noiseless": ("drift_gdc.json",
                                            ['controller.policy.granularity="per_tile"', 'controller.policy.reference="noiseless"']),
    "block, per column, noiseless": ("drift_gdc.json",
                                     ['controller.policy.granularity="per_column"', 'controller.policy.reference="noiseless"']),
    "aihwkit, none": ("drift_none_aihwkit_tiles.json", []),
    "aihwkit, per layer": ("drift_gdc_aihwkit_tiles.json",
                           ['controller.policy.granularity="per_layer"', 'controller.policy.reference="noisy"']),
    "aihwkit, per tile, noisy": ("drift_gdc_aihwkit_tiles.json", ['controller.policy.reference="noisy"']),
    "aihwkit, per tile, noiseless": ("drift_gdc_aihwkit_tiles.json", []),
    "aihwkit, per column, noiseless": ("drift_pcdc_aihwkit_tiles.json", []),
}


def run(ptcsim, cfg, seed, images, out, read_draws):
    scen, sets = CONFIGS[cfg]
    d = os.path.join(out, cfg.replace(", ", "_").replace(" ", "_").replace("(", "").replace(")", "").replace("=", ""),
                     "seed%d%s" % (seed, "" if read_draws == "actual" else "_scheduled"))
    trace = os.path.join(d, "trace.csv")
    if not os.path.exists(trace):
        cmd = [ptcsim, "run", os.path.join(SCEN, scen), "--seed", str(seed), "--out", d, "--force", "-q",
               "--set", "accuracy.images=%d" % images, "--set", "accuracy.times_s=[0,86400,2592000]",
               "--set", "accuracy.log_spaced.start_s=3600", "--set", "accuracy.log_spaced.points=2",
               "--set", "accuracy.read_draws=" + read_draws]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True)
    rows = []
    with open(trace) as f:
        for r in csv.DictReader(f):
            if r["accuracy"]:
                rows.append((float(r["t_s"]), float(r["accuracy"])))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ptcsim")
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8")
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "pcm_tile_study"))
    ap.add_argument("--read-draws", default="actual", choices=["actual", "scheduled"])
    ap.add_argument("--figure", default=os.path.join(ROOT, "docs", "figures", "pcm_scale_tiles.png"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    res = {}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["config", "seed", "t_s", "accuracy"])
        for cfg in CONFIGS:
            for seed in seeds:
                rows = run(a.ptcsim, cfg, seed, a.images, a.out, a.read_draws)
                if len(rows) != len(TIMES):
                    sys.exit("%s seed %d: expected %d evaluations, got %d" % (cfg, seed, len(TIMES), len(rows)))
                for i, (t, acc) in enumerate(rows):
                    w.writerow([cfg, seed, TIMES[i], acc])
                    res.setdefault(cfg, [[] for _ in TIMES])[i].append(acc)
    # Table (markdown) of mean +- std in percent.
    print("| configuration | " + " | ".join(LABEL_T) + " |")
    print("|---|" + "---|" * len(TIMES))
    for cfg, per_t in res.items():
        cells = []
        for v in per_t:
            m = sum(v) / len(v)
            sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
            cells.append("%.1f ± %.1f" % (100 * m, 100 * sd))
        print("| %s | %s |" % (cfg, " | ".join(cells)))
    # Figure: two panels (block tiles / aihwkit tiles), mean with a +-1 std band per configuration.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    x = list(range(len(TIMES)))
    for ax, prefix in zip(axes, ["block", "aihwkit"]):
        for cfg, per_t in res.items():
            if not cfg.startswith(prefix + ","):
                continue
            m = [sum(v) / len(v) * 100 for v in per_t]
            sd = [((sum((y - mm / 100) ** 2 for y in v) / max(1, len(v) - 1)) ** 0.5) * 100 for v, mm in zip(per_t, m)]
            ax.plot(x, m, marker="o", label=cfg.split(", ", 1)[1])
            ax.fill_between(x, [max(0, a_ - b_) for a_, b_ in zip(m, sd)], [min(100, a_ + b_) for a_, b_ in zip(m, sd)],
                            alpha=0.12)
        ax.set_xticks(x)
        ax.set_xticklabels(LABEL_T)
        ax.set_xlabel("time after programming")
        ax.set_title("scale tile: %s" % ("8x8 block (default)" if prefix == "block" else "aihwkit 512x512"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="drift compensation", loc="lower left")
    axes[0].set_ylabel("CNN3 accuracy (%)")
    fig.suptitle("CNN3 on PCM pairs, 8-bit DAC/ADC: mean ± std over %d chips (seeds), %d images" % (len(seeds), a.images),
                 fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(a.figure), exist_ok=True)
    fig.savefig(a.figure, dpi=120)
    print("figure:", a.figure)


if __name__ == "__main__":
    main()
