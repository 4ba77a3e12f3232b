#!/usr/bin/python3
"""Side-by-side benchmark of two ptcsim binaries on the runtime's own work (README "Performance").

Usage: tools/bench/side_by_side.py --old BIN --new BIN [--repeat N] [--quick] [--only NAMES] [--out results.json]

Runs, for each benchmark, the old and the new binary alternately N times (old, new, old, new, ...;
the same machine state for both), and reports the median wall and CPU (user + sys) time of each,
their ratio new/old, and whether the outputs (trace.csv, events.jsonl, summary.json)
are byte-identical. Benchmarks (the ones of run_bench.py that exercise the deployment runtime):
  event_Nd   tools/bench/scenarios/long_horizon.json, no evaluations, no controller, N = 91/182/364 d
  year       the same scenario as run_bench's one-year row (20 evaluations of 1,000 images)
  doctor     scenarios/doctor/pv_high_linear_doctor.json, 10,000 requests
--quick: 2-day event run and 1,000 DOCTOR requests only (a smoke test of the script).
Run from the source tree.
"""
import argparse
import filecmp
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_once(binary, args, out):
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1", OMP_WAIT_POLICY="passive")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([binary, "run"] + args + ["--out", out, "-q"], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("side_by_side: %s failed (exit %d): %s" % (binary, p.returncode, p.stderr.strip()[-300:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated benchmark names (default: all)")
    ap.add_argument("--out")
    a = ap.parse_args()
    lh = "tools/bench/scenarios/long_horizon.json"
    no_work = ["--set", 'accuracy={"mode":"none"}', "--set", 'controller.policy={"name":"none"}']  # no instants
    benches = []
    for d in ([2] if a.quick else [91, 182, 364]):
        h = d * 86400
        benches.append(("event_%dd" % d, [lh, "--set", "horizon_s=%d" % h, "--set", "accuracy.log_spaced.stop_s=%d" % h]
                        + no_work))
    if not a.quick:
        benches.append(("year", [lh]))
    benches.append(("doctor", ["scenarios/doctor/pv_high_linear_doctor.json", "--set",
                               "traffic.requests=%d" % (1000 if a.quick else 10000)]))
    if a.only:
        keep = set(a.only.split(","))
        benches = [b for b in benches if b[0] in keep]
        if not benches:
            sys.exit("side_by_side: --only %s names no benchmark" % a.only)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in benches:
            m = {"old": [], "new": []}
            for _ in range(a.repeat):
                for which in ("old", "new"):
                    m[which].append(run_once(getattr(a, which), args, os.path.join(tmp, which)))
            same = all(filecmp.cmp(os.path.join(tmp, "old", f), os.path.join(tmp, "new", f), shallow=False)
                       for f in ("trace.csv", "events.jsonl", "summary.json"))
            r = {w: {"wall_s": statistics.median(x[0] for x in m[w]), "cpu_s": statistics.median(x[1] for x in m[w]),
                     "runs": [list(x[:2]) for x in m[w]]} for w in m}
            r["wall_ratio"] = r["new"]["wall_s"] / r["old"]["wall_s"]
            r["cpu_ratio"] = r["new"]["cpu_s"] / r["old"]["cpu_s"]
            r["outputs_identical"] = same
            results[name] = r
            print("%-10s old %6.2f s (cpu %6.2f)  new %6.2f s (cpu %6.2f)  ratio wall %.2f cpu %.2f  outputs %s" % (
                name, r["old"]["wall_s"], r["old"]["cpu_s"], r["new"]["wall_s"], r["new"]["cpu_s"], r["wall_ratio"],
                r["cpu_ratio"], "identical" if same else "DIFFER"), flush=True)
    try:
        results["load_average"] = os.getloadavg()
    except OSError:
        pass
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if all(r["outputs_identical"] for k, r in results.items() if isinstance(r, dict)) else 1


if __name__ == "__main__":
    sys.exit(main())
