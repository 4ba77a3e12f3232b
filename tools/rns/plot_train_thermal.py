#!/usr/bin/python3
"""On-chip training on a warming RNS chip (docs/onchip_training.md §2): the residue errors per word
of the backward words of every onchip_training event against those of the forward words read in
the same trace window (the training batch's own forward pass: windows holding exactly one training
event and no scheduled evaluation), and the chip's mean temperature, over the deployment time.

Usage: plot_train_thermal.py [-o FIG.png] [--dump-json] RUN_DIR
RUN_DIR is a `ptcsim run` output of an RNS scenario with policy onchip_training, arithmetic chip
(e.g. scenarios/rns/cnn3_train_rns6_thermal.json) and a trace finer than the training interval.
--dump-json prints one object per usable window (t_s, temp_k, forward and backward words and
residue errors, their rates). Needs Debian's /usr/bin/python3 with matplotlib."""
import argparse, csv, json, os, sys


def fail(msg):
    sys.exit(f"plot_train_thermal: error: {msg}")


def windows(run):
    for f in ("trace.csv", "events.jsonl"):
        if not os.path.isfile(os.path.join(run, f)):
            fail(f"{os.path.join(run, f)}: missing (not a ptcsim run directory)")
    rows = list(csv.DictReader(open(os.path.join(run, "trace.csv"))))
    if not rows or "rns_residue_errors" not in rows[0]:
        fail(f"{run}/trace.csv: no rns_residue_errors column (not an RNS run)")
    ev = [json.loads(l) for l in open(os.path.join(run, "events.jsonl")) if l.strip()]
    tr = [e for e in ev if e["type"] == "onchip_training" and "backward_words" in e]
    if not tr:
        fail(f"{run}/events.jsonl: no onchip_training event with backward words (arithmetic chip on an RNS device)")
    evals = [e["t_s"] for e in ev if e["type"] == "evaluation"]
    out = []
    for a, b in zip(rows, rows[1:]):
        t0, t1 = float(a["t_s"]), float(b["t_s"])
        inside = [e for e in tr if t0 < e["t_s"] <= t1]
        if len(inside) != 1 or any(t0 < t <= t1 for t in evals):
            continue
        e = inside[0]
        fw = int(b["rns_words"]) - int(a["rns_words"])
        fr = int(b["rns_residue_errors"]) - int(a["rns_residue_errors"])
        if fw <= 0:
            continue
        out.append({"t_s": e["t_s"], "temp_k": float(b["temp_k_mean"]), "forward_words": fw, "forward_residue_errors": fr,
                    "backward_words": e["backward_words"], "backward_residue_errors": e["backward_residue_errors"],
                    "forward_rate": fr / fw, "backward_rate": e["backward_residue_errors"] / e["backward_words"]})
    if not out:
        fail(f"{run}: no trace window holds exactly one training event and no evaluation (trace every_s finer than the training interval?)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output")
    ap.add_argument("--dump-json", action="store_true")
    ap.add_argument("run")
    a = ap.parse_args()
    w = windows(a.run)
    if a.dump_json:
        json.dump(w, sys.stdout, indent=1)
        print()
        return
    if not a.output:
        fail("-o FIG.png is required (or --dump-json)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = [x["t_s"] / 3600 for x in w]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.semilogy(h, [x["forward_rate"] for x in w], "o-", label="forward words (the batch's forward pass)")
    ax.semilogy(h, [x["backward_rate"] for x in w], "x--", ms=9, label="backward words (input and weight gradients)")
    ax.set_xlabel("deployment time (h)")
    ax.set_ylabel("wrong residues per word")
    ax.grid(alpha=0.3, which="both")
    ax2 = ax.twinx()
    ax2.plot(h, [x["temp_k"] for x in w], color="gray", lw=1, label="chip mean temperature")
    ax2.set_ylabel("mean temperature (K)", color="gray")
    l1, n1 = ax.get_legend_handles_labels()
    l2, n2 = ax2.get_legend_handles_labels()
    ax.legend(l1 + l2, n1 + n2, fontsize=8, loc="upper left")
    ax.set_title("On-chip training on a warming 6-bit RNS chip: both passes read the same rings", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)


if __name__ == "__main__":
    main()
