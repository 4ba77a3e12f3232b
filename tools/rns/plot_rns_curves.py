#!/usr/bin/python3
"""Draws the RNS/RRNS error-rate figure (docs/rns.md §4-§5) from the CSV of ptc_rns_curves.

Usage: plot_rns_curves.py curves.csv out.png
Left: residue error rate per channel, Monte Carlo vs 2 Q(pi / (m sigma_phi)) (mean over the
channels of Blueprint's 6-bit set). Right: fraction of words not delivered with the true value
(silent + flagged after R retries), Monte Carlo markers; lines: the closed form
1 - sum_{e <= floor(k/2)} P(e) (Poisson-binomial), exact for R = 0; dashed: silent words only.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_rns_curves.py curves.csv out.png")
    with open(sys.argv[1]) as f:
        rows = list(csv.DictReader(f))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    base = [r for r in rows if r["k"] == "0"]
    s = [float(r["sigma_phi_rad"]) for r in base]
    ax1.plot(s, [float(r["p_e_mean"]) for r in base], "-", color="k", label="2 Q(π / (m σφ)), mean over moduli")
    mc = [int(r["residue_errors"]) / (int(r["attempts"]) * 4) for r in base]
    ax1.plot(s, mc, "o", color="C0", label="Monte Carlo")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_ylim(1e-6, 1)
    ax1.set_xlabel("phase noise σφ per channel (rad)")
    ax1.set_ylabel("residue error rate")
    ax1.set_title("residues of {63, 62, 61, 59}")
    ax1.legend(fontsize=8)
    styles = {("0", "0"): "C0", ("1", "0"): "C1", ("1", "3"): "C2", ("2", "0"): "C3", ("2", "3"): "C4"}
    for (k, R), color in styles.items():
        sel = [r for r in rows if r["k"] == k and r["retries"] == R]
        s = [float(r["sigma_phi_rad"]) for r in sel]
        words = [int(r["words"]) for r in sel]
        wrong = [(int(r["failed"]) + int(r["silent"])) / w for r, w in zip(sel, words)]
        silent = [int(r["silent"]) / w for r, w in zip(sel, words)]
        label = f"k = {k}, R = {R}"
        ax2.plot(s, wrong, "o", color=color, ms=4, label=label)
        if R == "0":
            ax2.plot(s, [float(r["p_uncorr"]) for r in sel], "-", color=color, lw=1)
        if k != "0":
            ax2.plot(s, silent, "--", color=color, lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_ylim(1e-6, 1)
    ax2.set_xlabel("phase noise σφ per channel (rad)")
    ax2.set_ylabel("words not delivered correctly")
    ax2.set_title("RRNS words wrong or flagged\n(markers: MC; lines: closed form, R = 0; dashed: silent only)", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=130)


if __name__ == "__main__":
    main()
