#!/usr/bin/python3
"""Writes synthetic ptcsim run directories (the `ptcsim run` format) for the ptc-plot tests.

Usage: make_fake_runs.py OUTDIR -> OUTDIR/{doctor,periodic,none,short}
  doctor:   1 s .. 1 y (log-spaced rows), Monte-Carlo accuracy (mean + std) every 5th row,
            calibrations and remaps in events.jsonl, summary.json names the policy.
  periodic: same span, windowed accuracy every row, a calibration every 30 days.
  none:     same span, no summary.json (policy only in config.resolved.json), no marker events.
  short:    0 .. 2 days, linear time (default axis must be linear).
Deterministic (no randomness); the values are plausible, not simulated.
"""
import json
import math
import os
import sys

DAY = 86400.0
YEAR = 365 * DAY
COLUMNS = ["t_s", "requests", "accuracy", "accuracy_std", "accuracy_n", "latency_p50_s", "latency_p99_s",
           "energy_j", "writes", "calibrations", "remaps", "overhead_cycles", "temp_k_mean", "step"]


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


def fmt(v):
    return "" if v is None else repr(v)


def make_run(out, name, policy, sets, times, acc_fn, std_every, calib_times, remap_times, summary=True, scale=1.0):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "run.json"), {
        "ptcsim_version": "0.1.0", "git_commit": "abc123", "argv": ["ptcsim", "run", "lifetime.json"],
        "scenario": "scenarios/lifetime.json", "name": "lifetime", "seed": 1, "set": sets,
        "start_utc": "2025-01-01T00:00:00Z", "end_utc": "2025-01-01T00:01:00Z", "wall_s": 60.0, "status": "complete"})
    write_json(os.path.join(d, "config.resolved.json"), {
        "name": "lifetime", "seed": 1, "model": {"path": "models/zoo/lenet5_fmnist.onnx"}, "hw": {}, "noise": {},
        "traffic": {"rate_hz": 100}, "accuracy": {}, "monitor": {}, "controller": {"policy": {"name": policy}}})
    rows = []
    energy = writes = 0.0
    ncal = nrem = 0
    accs = []
    for k, t in enumerate(times):
        ncal = sum(1 for c in calib_times if c <= t)
        nrem = sum(1 for c in remap_times if c <= t)
        energy = scale * 1e-3 * t + 5.0 * ncal
        writes = 1000 * (1 + ncal) + 4000 * nrem
        acc = std = n = None
        if k % std_every == 0 or std_every == 1:
            acc = acc_fn(t, ncal)
            accs.append(acc)
            n = 1000
            if std_every > 1:
                std = 0.004 + 0.01 * min(1.0, t / YEAR)
        lat50 = scale * 2e-4 * (1 + 0.1 * math.sin(k))
        rows.append([t, int(100 * t), acc, std, n, lat50, 3 * lat50, energy, writes, ncal, nrem,
                     10 * ncal, 300.0 + math.sin(t / DAY), k])
    with open(os.path.join(d, "trace.csv"), "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        for r in rows:
            f.write(",".join(fmt(v) for v in r) + "\n")
    events = [{"t_s": 0.0, "requests": 0, "type": "program", "writes": 1000}]
    events += [{"t_s": t, "requests": int(100 * t), "type": "trigger", "reason": "drift"} for t in calib_times]
    events += [{"t_s": t, "requests": int(100 * t), "type": "calibration", "cycles": 5000, "energy_j": 5.0,
                "writes": 1000} for t in calib_times]
    events += [{"t_s": t, "requests": int(100 * t), "type": "remap", "writes": 4000} for t in remap_times]
    events.sort(key=lambda e: e["t_s"])
    with open(os.path.join(d, "events.jsonl"), "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    if summary:
        write_json(os.path.join(d, "summary.json"), {
            "name": "lifetime", "policy": policy, "seed": 1, "status": "complete",
            "accuracy_mean": sum(accs) / len(accs), "accuracy_final": accs[-1], "accuracy_ideal": 0.89,
            "energy_j": energy, "writes": writes, "latency_p50_s": 2e-4, "latency_p99_s": 6e-4,
            "calibrations": ncal, "remaps": nrem, "overhead_ratio": 0.01, "overhead_cycles": 10 * ncal,
            "requests": int(100 * times[-1]), "sim_time_s": times[-1]})


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fake_runs.py OUTDIR")
    out = sys.argv[1]
    n = 121
    log_times = [10 ** (math.log10(YEAR) * k / (n - 1)) for k in range(n)]  # 1 s .. 1 y

    def drift(t):
        return 0.89 - 0.25 * min(1.0, math.log10(1 + t) / math.log10(YEAR))

    make_run(out, "doctor", "doctor", {"controller.policy.name": "doctor", "noise.drift.sigma": 0.01,
                                       "traffic.rate_hz": 100},
             log_times, lambda t, c: min(0.89, drift(t) + 0.03 * c), 5,
             calib_times=[3600.0, DAY, 10 * DAY, 100 * DAY], remap_times=[200 * DAY])
    make_run(out, "periodic", "periodic", {"controller.policy.name": "periodic", "noise.drift.sigma": 0.01,
                                           "controller.policy.period_s": 2592000, "traffic.rate_hz": 100},
             log_times, lambda t, c: min(0.89, drift(t) + 0.02 * c), 1,
             calib_times=[30 * DAY * k for k in range(1, 13)], remap_times=[], scale=1.5)
    make_run(out, "none", "none", {"controller.policy.name": "none", "noise.drift.sigma": 0.02,
                                   "traffic.rate_hz": 100},
             log_times, lambda t, c: drift(t) - 0.05, 1, calib_times=[], remap_times=[], summary=False, scale=0.7)
    make_run(out, "short", "doctor", {"controller.policy.name": "doctor"},
             [k * 3600.0 for k in range(49)], lambda t, c: 0.88 - 1e-7 * t, 1,
             calib_times=[DAY], remap_times=[])


if __name__ == "__main__":
    main()
