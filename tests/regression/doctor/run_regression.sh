#!/usr/bin/env bash
# DOCTOR regression: runs the shipped DOCTOR scenarios and checks the paper's claims
# (claims.json; sources in docs/doctor.md §8). Usage: run_regression.sh PTCSIM SOURCE_DIR [OUT_DIR]
#
# What runs: the whole shipped grid, unreduced -- phase variation low/high x global temperature
# linear/cosine (corner hotspot, crosstalk 0.1), methods none (ideal-trained), none (noise-aware),
# onchip_training and doctor, 10,000 back-to-back requests each (about 15 min on 2 cores).
set -u
ptcsim="$1"; src="$2"; out="${3:-$(mktemp -d)}"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
mkdir -p "$out"
fail=0
run() {  # run NAME [ptcsim args...]
  local name="$1"; shift
  local t0=$SECONDS
  if ! "$ptcsim" run "$src/scenarios/doctor/$name.json" --out "$out/$name" --force -q "$@" >"$out/$name.log" 2>&1; then
    echo "FAIL - $name did not complete: $(tail -2 "$out/$name.log")"; fail=1
  else
    echo "ran $name in $((SECONDS - t0)) s"
  fi
}
settings="pv_high_linear pv_high_cosine pv_low_linear pv_low_cosine"
for st in $settings; do
  for m in ideal nat doctor onchip; do run "${st}_$m"; done
done
[ "$fail" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
/usr/bin/python3 - "$out" "$src/tests/regression/doctor/claims.json" <<'PY'
import json, os, sys
out, claims = sys.argv[1], json.load(open(sys.argv[2]))
S = lambda n: json.load(open(os.path.join(out, n, "summary.json")))
rows, passed, failed = [], 0, 0
def check(ok, what):
    global passed, failed
    print(("ok   - " if ok else "FAIL - ") + what)
    if ok: passed += 1
    else: failed += 1
print("| scenario | mean acc % | final acc % | ideal % | overhead % | calibrations | energy J | p99 latency ms |")
print("|---|---|---|---|---|---|---|---|")
settings = [f"pv_{pv}_{td}" for pv in ("high", "low") for td in ("linear", "cosine")]
names = [f"{st}_{m}" for st in settings for m in ("ideal", "nat", "onchip", "doctor")]
for n in names:
    s = S(n)
    print(f"| {n} | {100*s['accuracy_mean']:.2f} | {100*s['accuracy_final']:.2f} | {100*s['accuracy_ideal']:.2f} | "
          f"{100*s['overhead_ratio']:.3f} | {s['calibrations']} | {s['energy_j']:.3g} | {1e3*s['latency_p99_s']:.3f} |")
drops = []
for st in settings:
    d, none, o = S(f"{st}_doctor"), S(f"{st}_ideal"), S(f"{st}_onchip")
    drops.append(100 * (d["accuracy_ideal"] - d["accuracy_mean"]))
    check(d["overhead_ratio"] <= claims["doctor_overhead_ratio_max"],
          f"{st}: doctor overhead {100*d['overhead_ratio']:.3f} % <= {100*claims['doctor_overhead_ratio_max']:.1f} %")
    check(100 * (d["accuracy_mean"] - none["accuracy_mean"]) >= claims["none_below_doctor_points_min"],
          f"{st}: none {100*none['accuracy_mean']:.2f} % is >= {claims['none_below_doctor_points_min']} points below doctor {100*d['accuracy_mean']:.2f} %")
    check(d["calibrations"] >= 1 and d["remaps"] >= 1, f"{st}: doctor calibrated ({d['calibrations']}) and remapped ({d['remaps']})")
    ratio = o["overhead_ratio"] / d["overhead_ratio"] if d["overhead_ratio"] > 0 else float("inf")
    check(ratio >= claims["onchip_over_doctor_overhead_min"],
          f"{st}: onchip_training overhead {100*o['overhead_ratio']:.1f} % is {ratio:.0f}x doctor's (>= {claims['onchip_over_doctor_overhead_min']}x)")
mean_drop = sum(drops) / len(drops)
check(mean_drop <= claims["doctor_mean_drop_points_max"],
      f"doctor accuracy drop vs ideal, mean over settings: {mean_drop:.2f} points (per setting {', '.join(f'{x:.2f}' for x in drops)}) <= {claims['doctor_mean_drop_points_max']}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
