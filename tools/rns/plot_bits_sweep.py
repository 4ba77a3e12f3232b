#!/usr/bin/python3
"""Accuracy and energy vs converter bits for the RNS core and the conventional analog core
(docs/rns.md §7), from the CSV of tools/rns/run_bits_sweep.sh.

Usage: plot_bits_sweep.py sweep.csv out.png [network name for the title, default CNN3]
Left: served accuracy; right: energy per inference (ADC share dashed). Lines: analog (MRR, b-bit
DAC/ADC), RNS noise-free, RNS with per-read phase noise, RNS + RRNS (2 redundant moduli, 2 retries).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "analog": "analog core, b-bit DAC/ADC",
    "rns_ideal": "RNS, noise-free",
    "rns": "RNS, σφ = 0.013 rad",
    "rns_rrns": "RNS + RRNS (k = 2, R = 2), σφ = 0.013 rad",
}


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: plot_bits_sweep.py sweep.csv out.png [network]")
    net = sys.argv[3] if len(sys.argv) == 4 else "CNN3"
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (cfg, label) in enumerate(LABELS.items()):
        r = [x for x in rows if x["config"] == cfg]
        if not r:
            continue
        b = [int(x["bits"]) for x in r]
        ax1.plot(b, [100 * float(x["accuracy"]) for x in r], "o-", color="C%d" % i, label=label)
        ax2.plot(b, [1e6 * float(x["energy_per_inference_j"]) for x in r], "o-", color="C%d" % i, label=label)
        ax2.plot(b, [1e6 * float(x["adc_energy_j"]) for x in r], "x--", color="C%d" % i)
    ax1.set_xlabel("converter bits b")
    ax1.set_xticks([4, 5, 6, 7, 8])
    ax2.set_xticks([4, 5, 6, 7, 8])
    ax1.set_ylabel("served accuracy (%)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.set_xlabel("converter bits b")
    ax2.set_ylabel("energy per inference (µJ); dashed: ADCs")
    ax2.set_yscale("log")
    ax2.grid(alpha=0.3)
    fig.suptitle(net + " / Fashion-MNIST on 4x4 cores of 8x8: RNS vs analog core")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
