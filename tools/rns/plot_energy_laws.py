#!/usr/bin/python3
"""Energy per inference against converter bits for the RNS core and the conventional analog core
under each ADC energy law (docs/converters_energy.md §3, docs/rns.md §7), from the CSV of
tools/rns/run_energy_laws.sh.

Usage: plot_energy_laws.py energy.csv out.png
One panel per law: total energy per inference (solid) and its ADC part (dashed), for the analog
core at b bits, the analog core with the b_out-bit ADC RNS matches in precision, RNS and RNS + RRNS.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "analog": "analog, b-bit ADC (same bits)",
    "analog_bout": "analog, b_out-bit ADC (same precision)",
    "rns": "RNS (Blueprint moduli)",
    "rns_rrns": "RNS + RRNS (2 redundant moduli)",
}
TITLES = {"linear": "linear SAR, E ∝ b", "walden": "Walden FOM, E ∝ 2^b", "thermal": "thermal noise, E ∝ 4^b"}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_energy_laws.py energy.csv out.png")
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    laws = [l for l in ("linear", "walden", "thermal") if any(r["law"] == l for r in rows)]
    fig, axes = plt.subplots(1, len(laws), figsize=(4.6 * len(laws), 4.2), sharey=True)
    if len(laws) == 1:
        axes = [axes]
    for ax, law in zip(axes, laws):
        for i, (cfg, label) in enumerate(LABELS.items()):
            sel = sorted((int(r["bits"]), r) for r in rows if r["law"] == law and r["config"] == cfg)
            if not sel:
                continue
            b = [x for x, _ in sel]
            ax.plot(b, [float(r["energy_per_inference_j"]) * 1e6 for _, r in sel], "o-", color=f"C{i}", label=label)
            ax.plot(b, [float(r["adc_energy_per_inference_j"]) * 1e6 for _, r in sel], "--", color=f"C{i}")
        ax.set_xticks(sorted({int(r["bits"]) for r in rows}))
        ax.set_yscale("log")
        ax.set_xlabel("converter bits b")
        ax.set_title(TITLES[law])
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("energy per inference (µJ); ADC part dashed")
    axes[0].legend(fontsize=8)
    fig.suptitle("CNN3 / Fashion-MNIST, 4 × 4 cores of 8 × 8: RNS vs analog under three ADC energy laws")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=120)


if __name__ == "__main__":
    main()
