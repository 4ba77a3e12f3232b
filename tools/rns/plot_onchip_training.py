#!/usr/bin/python3
"""On-chip training curves (docs/onchip_training.md §2): test accuracy of the scheduled
evaluations against the training images seen so far, one line per run directory.

Usage: plot_onchip_training.py -o out.png [--dump-json] LABEL=RUN_DIR [LABEL=RUN_DIR ...]
Reads each run's events.jsonl (`evaluation` and `onchip_training` events): the x value of an
evaluation is batches x batch_size of the training events before it (batch_size from
config.resolved.json); --dump-json prints {label: [[x, accuracy %], ...]} too. Errors are one line on stderr and exit code 2. Needs Debian's
python3-matplotlib.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(msg):
    print("plot_onchip_training.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def curve(run):
    ev_path, cfg_path = os.path.join(run, "events.jsonl"), os.path.join(run, "config.resolved.json")
    for p in (ev_path, cfg_path):
        if not os.path.isfile(p):
            fail("%s: missing (not a ptcsim run directory?)" % p)
    try:
        cfg = json.load(open(cfg_path))
        batch = cfg["controller"]["policy"]["batch_size"]
    except (ValueError, KeyError, TypeError) as e:
        fail("%s: no controller.policy.batch_size (%s)" % (cfg_path, e))
    seen, xs, ys = 0, [], []
    with open(ev_path) as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except ValueError:
                fail("%s:%d: not JSON" % (ev_path, n))
            if e.get("type") == "onchip_training":
                seen += e["batches"] * batch
            elif e.get("type") == "evaluation" and e.get("accuracy") is not None:
                xs.append(seen)
                ys.append(100.0 * e["accuracy"])
    if not xs:
        fail("%s: no evaluation events" % ev_path)
    return xs, ys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--dump-json", action="store_true", help="print the plotted points as JSON")
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    a = ap.parse_args()
    dump = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for spec in a.runs:
        if "=" not in spec:
            fail("%r: expected LABEL=RUN_DIR" % spec)
        label, run = spec.split("=", 1)
        xs, ys = curve(run)
        dump[label] = [[x, y] for x, y in zip(xs, ys)]
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    ax.set_xlabel("training images back-propagated on the chip")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("CNN3 trained from scratch on the chip (onchip_training, arithmetic = chip)", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=130)
    if a.dump_json:
        print(json.dumps(dump))


if __name__ == "__main__":
    main()
