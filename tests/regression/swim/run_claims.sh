#!/usr/bin/env bash
# SWIM's claims (Yan, Hu, Shi, DAC 2022; docs/swim.md §4) on the shipped scenarios, reduced for CI:
# LeNet-5 with 20 Monte-Carlo chips (the shipped runs: 50), 500 test images (1,000) and the curvature
# over 512 training images (1,024). For both SWIM's abstract variation (scenarios/swim/
# lenet5_swim_variation.json) and PCM (lenet5_pcm_swim.json):
#   1. the swim metric at p = 0.1 is within 1 point of full write-verify (p = 1);
#   2. it beats magnitude and random at p = 0.1 by more than twice their combined Monte-Carlo
#      standard error (std over chips / sqrt(chips), added in quadrature);
#   3. (PCM, where the verify loop's iterations emerge from the device) programming at p = 0.1 is
#      >= 5x shorter than at p = 1 (SWIM reports up to 10x).
# Usage: run_claims.sh PTCSIM SOURCE_DIR [OUT_DIR]
set -u
ptcsim="$1"; src="$2"; out="${3:-$(mktemp -d)}"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
mkdir -p "$out"
fail=0
for dev in swim_variation pcm_swim; do
  for cfg in "swim 0.1" "magnitude 0.1" "random 0.1" "swim 1"; do
    set -- $cfg
    name="${dev}_$1_$2"
    if ! "$ptcsim" run "$src/scenarios/swim/lenet5_$dev.json" --set controller.policy.metric="$1" \
         --set controller.policy.fraction="$2" --set accuracy.instances=20 --set accuracy.images=500 \
         --set controller.salience.images=512 --out "$out/$name" --force -q >"$out/$name.log" 2>&1; then
      echo "FAIL - $name did not complete: $(tail -2 "$out/$name.log")"; fail=1
    fi
  done
done
[ "$fail" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
/usr/bin/python3 - "$out" <<'PY'
import csv, json, math, os, sys
out = sys.argv[1]
passed = failed = 0
def check(ok, what):
    global passed, failed
    print(("ok   - " if ok else "FAIL - ") + what)
    passed, failed = passed + ok, failed + (not ok)
def run(name):
    d = os.path.join(out, name)
    s = json.load(open(os.path.join(d, "summary.json")))
    last = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))[-1]
    cfg = json.load(open(os.path.join(d, "config.resolved.json")))
    n = cfg["accuracy"]["instances"]
    return {"acc": 100 * float(last["accuracy"]), "se": 100 * float(last["accuracy_std"]) / math.sqrt(n),
            "t": s["write_verify"]["programming_time_s"], "verified": s["write_verify"]["weights_verified"]}
for dev in ("swim_variation", "pcm_swim"):
    sw, mag, rnd, full = (run(f"{dev}_{m}") for m in ("swim_0.1", "magnitude_0.1", "random_0.1", "swim_1"))
    check(sw["acc"] >= full["acc"] - 1.0,
          f"{dev}: swim at p = 0.1 {sw['acc']:.2f} % is within 1 point of full write-verify {full['acc']:.2f} %")
    for other, o in (("magnitude", mag), ("random", rnd)):
        margin = 2 * math.hypot(sw["se"], o["se"])
        check(sw["acc"] - o["acc"] > margin,
              f"{dev}: swim {sw['acc']:.2f} % beats {other} {o['acc']:.2f} % at p = 0.1 by more than 2 combined MC errors ({margin:.2f})")
    if dev == "pcm_swim":
        ratio = full["t"] / sw["t"]
        check(ratio >= 5, f"{dev}: programming time p = 1 {1e3*full['t']:.2f} ms / p = 0.1 {1e3*sw['t']:.2f} ms = {ratio:.1f}x >= 5x")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
