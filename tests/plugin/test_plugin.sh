#!/usr/bin/env bash
# Out-of-tree plug-ins as a user meets them: install the build tree into a temporary prefix,
# build tools/plugin_template (and the test plug-ins in plugins/) against the installed SDK with
# find_package(ptcsim), load them with --plugin into `list`, `validate` and `run`, check that the
# policy acts (its calibration budget caps calibrations), and that every failure is one line on
# stderr with a non-zero exit.
# Usage: test_plugin.sh PTCSIM SOURCE_DIR BINARY_DIR [CXX_COMPILER]
set -u
ptcsim="$1"; src="$2"; build="$3"; cxx="${4:-}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"
cmake_args=(-DCMAKE_PREFIX_PATH="$tmp/p")
[ -n "$cxx" ] && cmake_args+=(-DCMAKE_CXX_COMPILER="$cxx")

# ---- install, then build the template and the test plug-ins against the installed SDK only
if cmake --install "$build" --prefix "$tmp/p" >"$tmp/log" 2>&1; then ok "cmake --install"; else bad "cmake --install: $(tail -5 "$tmp/log")"; exit 1; fi
for f in bin/ptcsim include/ptcsim/sim/policy/policy.h include/ptcsim/sim/scenario.h lib/cmake/ptcsim/ptcsimConfig.cmake \
         lib/cmake/ptcsim/ptcsimConfigVersion.cmake; do
  [ -e "$tmp/p/$f" ] && ok "installs $f" || bad "missing $f in the install prefix"
done
build_project() {  # NAME SOURCE BUILD
  if cmake -S "$2" -B "$3" "${cmake_args[@]}" >"$tmp/log" 2>&1 && cmake --build "$3" -j2 >>"$tmp/log" 2>&1; then ok "$1 builds against the installed SDK"
  else bad "$1 build: $(tail -20 "$tmp/log")"; exit 1; fi
}
build_project "tools/plugin_template" "$src/tools/plugin_template" "$tmp/b"
build_project "tests/plugin/plugins" "$src/tests/plugin/plugins" "$tmp/t"
so="$tmp/b/libmypolicy.so"; noise="$tmp/t/libnoise_ok.so"

# ---- the SDK identity (cmake/ptcsim_sdk_abi.cmake): a plug-in built against other SDK headers, or
# one that registers without reporting an identity (as plug-ins built before the check do), is
# refused with one line naming the file; the identity is the installed header's
cp -a "$tmp/p" "$tmp/p_other"
sed -i 's/^#define PTC_SDK_ABI ".*"/#define PTC_SDK_ABI "0.0.0-0123456789abcdef"/' "$tmp/p_other/include/ptcsim/sim/sdk_abi.h"
other_args=(-DCMAKE_PREFIX_PATH="$tmp/p_other"); [ -n "$cxx" ] && other_args+=(-DCMAKE_CXX_COMPILER="$cxx")
if cmake -S "$src/tests/plugin/plugins" -B "$tmp/t_other" "${other_args[@]}" >"$tmp/log" 2>&1 &&
   cmake --build "$tmp/t_other" --target noise_ok -j2 >>"$tmp/log" 2>&1; then
  expect_error "a plug-in built against other SDK headers is refused" \
    "libnoise_ok.so: built against ptcsim SDK 0.0.0-0123456789abcdef, this ptcsim's is $(sed -n 's/^#define PTC_SDK_ABI "\(.*\)"/\1/p' "$tmp/p/include/ptcsim/sim/sdk_abi.h") " \
    "$ptcsim" list noise --plugin "$tmp/t_other/libnoise_ok.so"
else bad "build against the altered SDK: $(tail -5 "$tmp/log")"; fi
expect_error "a plug-in registering without an SDK identity is refused" \
  'libno_sdk_identity.so: registered without a ptcsim SDK identity (built against a ptcsim SDK older than ' \
  "$ptcsim" list noise --plugin "$tmp/t/libno_sdk_identity.so"
"$ptcsim" --version | grep -qF "plug-in SDK $(sed -n 's/^#define PTC_SDK_ABI "\(.*\)"/\1/p' "$tmp/p/include/ptcsim/sim/sdk_abi.h")" \
  && ok "ptcsim --version names the installed SDK identity" || bad "--version: $("$ptcsim" --version)"
example="$src/tools/plugin_template/example.json"

# ---- list: the plug-in's policy with its declared parameters, next to the built-ins
"$ptcsim" list policies --plugin "$so" >"$tmp/list" 2>"$tmp/err" && ok "list --plugin exits 0" || bad "list --plugin: $(cat "$tmp/err")"
grep -q '^  budgeted_recalibration (plug-in libmypolicy.so) -- ' "$tmp/list" && grep -q '^  doctor -- ' "$tmp/list" && ok "list shows the plug-in policy and the built-ins" \
  || bad "list output: $(head -c 400 "$tmp/list")"
grep -Eq '^ +max_per_hour +calibrations/h +default 4 ' "$tmp/list" && ok "list shows max_per_hour with unit and default" \
  || bad "max_per_hour not listed with its unit/default"
"$tmp/p/bin/ptcsim" list --json --plugin "$so" --plugin "$noise" >"$tmp/list.json" 2>"$tmp/err" || bad "installed ptcsim list: $(cat "$tmp/err")"
if $py - "$tmp/list.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = j["policies"]["budgeted_recalibration"]["parameters"]
assert [x["name"] for x in p] == ["max_per_hour", "sparsity", "steps", "lr"], p
assert p[0]["unit"] == "calibrations/h" and p[0]["default"] == 4
n = j["noise"]["test_ring_offset"]["parameters"]
assert len(n) == 1 and {k: n[0][k] for k in ("name", "unit", "default", "description")} == {"name": "amplitude_rad", "unit": "rad", "default": 0.02, "description": "half-width a of the per-ring offset"}, n
assert j["noise"]["test_ring_offset"]["tags"] == ["acts_on:ring_phase"], j["noise"]["test_ring_offset"]
assert "remap" in j["devices"]["mrr"]["tags"] and "nonvolatile" in j["devices"]["pcm"]["tags"], j["devices"]
assert "thermal_crosstalk" in j["noise"] and "doctor" in j["policies"]
# a plug-in's entries name their library (a trial could not tell them from the built-ins)
assert j["noise"]["test_ring_offset"]["plugin"] == "libnoise_ok.so", j["noise"]["test_ring_offset"]
assert j["policies"]["budgeted_recalibration"]["plugin"] == "libmypolicy.so"
assert "plugin" not in j["noise"]["thermal_crosstalk"] and "plugin" not in j["policies"]["doctor"]
PY
then ok "installed ptcsim, two --plugin options: both plug-ins listed (JSON)"; else bad "list --json with two plug-ins"; fi

# ---- validate and run with the plug-in
"$ptcsim" validate "$example" --plugin "$so" >"$tmp/out" 2>"$tmp/err" && grep -q 'policy budgeted_recalibration' "$tmp/out" \
  && ok "validate --plugin accepts the example" || bad "validate: $(cat "$tmp/err")"
expect_error "without --plugin the policy is unknown" 'controller.policy.name: "budgeted_recalibration" is not one of doctor' "$ptcsim" validate "$example"
expect_error "plug-in parameters are validated" 'controller.policy.max_per_hour' \
  "$ptcsim" validate "$example" --plugin "$so" --set controller.policy.max_per_hour=-1
run() {  # OUT [--set ...]
  local out="$1"; shift
  if "$ptcsim" run "$example" --plugin "$so" --out "$tmp/$out" -q "$@" >"$tmp/out" 2>"$tmp/err"; then ok "run --plugin ($out) exits 0"
  else bad "run $out: $(cat "$tmp/err")"; fi
}
run budget2
run budget100 --set controller.policy.max_per_hour=100
run budget0 --set controller.policy.max_per_hour=0
# The budget is at most N calibrations in any simulated hour; the run lasts far less than an hour,
# so the policy calibrates on the first min(N, triggers) triggers and skips (logs) the others.
if $py - "$tmp" <<'PY'
import json, sys, os
def load(name):
    d = os.path.join(sys.argv[1], name)
    s = json.load(open(os.path.join(d, "summary.json")))
    ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
    return s, ev
for name, budget in (("budget2", 2), ("budget100", 100), ("budget0", 0)):
    s, ev = load(name)
    assert s["status"] == "complete" and s["policy"] == "budgeted_recalibration", s
    assert s["sim_time_s"] < 3600, s["sim_time_s"]
    trig = [e for e in ev if e["type"] == "trigger"]
    cal = [e for e in ev if e["type"] == "calibration"]
    skip = [e for e in ev if e["type"] == "calibration_skipped"]
    assert s["triggers"] == len(trig) and s["calibrations"] == len(cal), (name, s)
    assert len(trig) > 2, (name, len(trig))              # the example drifts enough to trigger often
    assert len(cal) == min(budget, len(trig)), (name, len(cal), len(trig))
    assert len(skip) == len(trig) - len(cal), (name, len(skip))
    # each calibration follows a trigger at the same instant; skipped ones come after the budget is spent
    if cal: assert max(e["t_s"] for e in cal) <= min((e["t_s"] for e in skip), default=1e300)
    assert all(e["max_per_hour"] == budget for e in skip)
    # the window counts from the trigger instant of the first calibration
    if budget and skip: assert all(abs(e["budget_free_at_s"] - (trig[0]["t_s"] + 3600)) < 1e-9 for e in skip)
    c = json.load(open(os.path.join(sys.argv[1], name, "config.resolved.json")))
    assert c["controller"]["policy"] == {"name": "budgeted_recalibration", "max_per_hour": budget,
                                         "sparsity": 0.2, "steps": 20, "lr": 0.002}, c["controller"]["policy"]
s2, _ = load("budget2"); s100, _ = load("budget100"); s0, _ = load("budget0")
# more calibration, more overhead and better served accuracy under this drift
assert s0["overhead_cycles"] < s2["overhead_cycles"] < s100["overhead_cycles"]
assert s0["accuracy_mean"] < s2["accuracy_mean"] < s100["accuracy_mean"], (s0["accuracy_mean"], s2["accuracy_mean"], s100["accuracy_mean"])
PY
then ok "the budget caps calibrations (2 / 100 / 0 per hour), skipped triggers are logged, summary names the policy"
else bad "budget effect"; fi

# a noise plug-in configures the device: same run with its offset differs from the run without it
"$ptcsim" run "$example" --plugin "$so" --plugin "$noise" --out "$tmp/noise" -q \
  --set 'noise=[{"name":"test_ring_offset","amplitude_rad":0.08}]' --set traffic.requests=50 >/dev/null 2>"$tmp/err" || bad "noise plug-in run: $(cat "$tmp/err")"
"$ptcsim" run "$example" --plugin "$so" --plugin "$noise" --out "$tmp/nonoise" -q \
  --set 'noise=[{"name":"test_ring_offset","amplitude_rad":0}]' --set traffic.requests=50 >/dev/null 2>"$tmp/err" || bad "noise plug-in run: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, os
a = json.load(open(os.path.join(sys.argv[1], "noise", "summary.json")))
b = json.load(open(os.path.join(sys.argv[1], "nonoise", "summary.json")))
r = json.load(open(os.path.join(sys.argv[1], "noise", "config.resolved.json")))
assert r["noise"] == [{"name": "test_ring_offset", "amplitude_rad": 0.08}], r["noise"]
assert a["status"] == b["status"] == "complete"
assert a["accuracy_mean"] < b["accuracy_mean"], (a["accuracy_mean"], b["accuracy_mean"])
PY
then ok "a noise-process plug-in is configured by the scenario and changes the run"; else bad "noise plug-in effect"; fi

# per-read noise from a plug-in (a trial): the device asks every process for read_std whatever
# stage() it declares (a plug-in keeping the default stage lost its read noise without a word), a
# process with none at a step returns nullptr (that crashed), and a vector of the wrong length or
# with a NaN is one error line naming noise[i] (a short vector was read past its end)
rn="$tmp/t/libnoise_read.so"
for v in "static_offset 0.05 ok" "per_read 0.05 ok" "static_offset 0 ok" "per_read 0.05 none"; do
  set -- $v
  "$ptcsim" run "$example" --plugin "$so" --plugin "$rn" --out "$tmp/rn_$1_$2_$3" -q --threads 1 \
    --set "noise=[{\"name\":\"test_read_noise\",\"stage\":\"$1\",\"sigma_rad\":$2,\"fault\":\"$3\"}]" \
    --set 'controller.policy={"name":"none"}' --set traffic.requests=200 >/dev/null 2>"$tmp/err" ||
    bad "read-noise plug-in run $v: $(cat "$tmp/err")"
done
if cmp -s "$tmp/rn_static_offset_0.05_ok/trace.csv" "$tmp/rn_per_read_0.05_ok/trace.csv" &&
   cmp -s "$tmp/rn_static_offset_0.05_ok/events.jsonl" "$tmp/rn_per_read_0.05_ok/events.jsonl" &&
   cmp -s "$tmp/rn_static_offset_0_ok/trace.csv" "$tmp/rn_per_read_0.05_none/trace.csv" && $py - "$tmp" <<'PY'
import json, sys, os
acc = {d: json.load(open(os.path.join(sys.argv[1], d, "summary.json")))["accuracy_mean"]
       for d in ("rn_static_offset_0.05_ok", "rn_static_offset_0_ok")}
# 0.05 rad of fresh phase noise on every ring costs accuracy (a trial: 94.5 % -> 29.7 % on CNN3)
assert acc["rn_static_offset_0.05_ok"] < acc["rn_static_offset_0_ok"] - 0.05, acc
PY
then ok "a plug-in's per-read noise acts whatever stage it declares, and nullptr means none"
else bad "read-noise plug-in: $(diff "$tmp/rn_static_offset_0.05_ok/trace.csv" "$tmp/rn_per_read_0.05_ok/trace.csv" | head -4)"; fi
expect_error "a plug-in's read_std of the wrong length is one error line naming noise[0], the process and its library" \
  'noise\[0\] "test_read_noise" (plug-in libnoise_read.so): read_std at step 0 gives 1 value; the array has 1024 rings' \
  "$ptcsim" validate "$example" --plugin "$so" --plugin "$rn" --set 'noise=[{"name":"test_read_noise","fault":"short"}]'
expect_error "a plug-in's NaN read_std is one error line naming noise[1], the process and its library" \
  'noise\[1\] "test_read_noise" (plug-in libnoise_read.so): read_std at step 0 gives ring 512 the std nan rad; a std must be finite and >= 0' \
  "$ptcsim" validate "$example" --plugin "$so" --plugin "$rn" \
  --set 'noise=[{"name":"thermal_crosstalk"},{"name":"test_read_noise","fault":"nan","stage":"per_read"}]'
expect_error "a noise plug-in's factory throws: one line naming noise[0], the process, its library and the factory" \
  'example.json: noise\[0\] "test_read_noise" (plug-in libnoise_read.so), factory: the fit file went missing$' \
  "$ptcsim" validate "$example" --plugin "$so" --plugin "$rn" --set 'noise=[{"name":"test_read_noise","fault":"factory"}]'
expect_error "a noise plug-in's bind() throws: one line naming noise[1], the process and its library" \
  'example.json: noise\[1\] "test_read_noise" (plug-in libnoise_read.so): bind: no calibration for this array size$' \
  "$ptcsim" validate "$example" --plugin "$so" --plugin "$rn" \
  --set 'noise=[{"name":"thermal_crosstalk"},{"name":"test_read_noise","fault":"bind"}]'

# a device plug-in, one file: ideal cells (effective weight = programmed weight). With ideal
# converters (no quantisation) its served accuracy equals the digital model's on the same images,
# which the run reports as accuracy_ideal: an independent reference computed without the device.
device="$tmp/t/libdevice_ok.so"
"$ptcsim" list devices --plugin "$device" >"$tmp/list" 2>"$tmp/err" && grep -q '^  test_ideal (plug-in libdevice_ok.so) -- ' "$tmp/list" && grep -q '^  mrr (default) -- ' "$tmp/list" \
  && ok "list devices shows the plug-in device and the built-ins" || bad "list devices --plugin: $(cat "$tmp/err") $(head -c 300 "$tmp/list")"
expect_error "a noise process on a device without its trait" 'acts on ring_phase, which device "test_ideal" does not have' \
  "$ptcsim" validate "$example" --plugin "$so" --plugin "$device" --set 'device={"name":"test_ideal"}' \
  --set 'noise=[{"name":"thermal_crosstalk"}]'
"$ptcsim" run "$example" --plugin "$so" --plugin "$device" --out "$tmp/device" -q --set 'device={"name":"test_ideal"}' \
  --set 'noise=[]' --set 'controller.policy={"name":"none"}' --set hw.dac.quantize=false --set hw.adc.quantize=false \
  --set traffic.requests=300 >/dev/null 2>"$tmp/err" || bad "device plug-in run: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, os
s = json.load(open(os.path.join(sys.argv[1], "device", "summary.json")))
st = json.load(open(os.path.join(sys.argv[1], "device", "stats.json")))
assert s["status"] == "complete" and s["requests"] == 300, s
assert st["accelerator"]["device"] == "test_ideal", st["accelerator"]["device"]
# the same products, summed block by block instead of in one dot product: float rounding may flip
# at most a near-tie, so at most one image of 300 may differ
assert abs(s["accuracy_mean"] - s["accuracy_ideal"]) <= 1 / 300 + 1e-12, (s["accuracy_mean"], s["accuracy_ideal"])
PY
then ok "a device plug-in runs a scenario: ideal cells serve the digital model's accuracy (up to one float near-tie)"; else bad "device plug-in run results"; fi

# a PCM-law plug-in, one file (pcm_law_ok.cpp): the built-in PCM pair device with a law of its
# own, every device drifting with one exponent nu and no read noise. Independent expectations:
# the global drift compensation gain at each instant is the closed form ((t + t0) / t0)^nu, and
# with the drift undone the served accuracy is that of noise-free PCM pairs (built-in `pcm` with
# its noise switched off) at every instant.
law="$tmp/t/libpcm_law_ok.so"
pcm_sc="$src/scenarios/pcm/drift_gdc.json"
pcm_set=(--set hw.dac.quantize=false --set hw.adc.quantize=false --set accuracy.images=100
         --set 'accuracy.log_spaced={"start_s":1,"stop_s":31536000,"points":3}')
"$ptcsim" list devices --plugin "$law" >"$tmp/list" 2>"$tmp/err" && grep -q '^  test_pcm_uniform_drift (plug-in libpcm_law_ok.so) -- ' "$tmp/list" \
  && grep -Eq '^ +nu +- +default 0.05 ' "$tmp/list" && grep -Eq '^ +weight_scaling_columnwise ' "$tmp/list" \
  && grep -q 'mc_instances, write_verify, read_draws, nonvolatile' "$tmp/list" \
  && ok "list devices shows the PCM-law plug-in with the shared PCM pair parameters, its own and the PCM tags" \
  || bad "list devices --plugin pcm law: $(cat "$tmp/err") $(head -c 300 "$tmp/list")"
expect_error "a PCM-law parameter out of range" 'device.nu' \
  "$ptcsim" validate "$pcm_sc" --plugin "$law" --set 'device={"name":"test_pcm_uniform_drift","nu":2}'
"$ptcsim" run "$pcm_sc" --plugin "$law" --out "$tmp/law" -q --set 'device={"name":"test_pcm_uniform_drift","nu":0.08}' \
  "${pcm_set[@]}" >/dev/null 2>"$tmp/err" || bad "PCM-law plug-in run: $(cat "$tmp/err")"
"$ptcsim" run "$pcm_sc" --out "$tmp/law_ref" -q "${pcm_set[@]}" \
  --set 'device={"name":"pcm","programming_noise":false,"drift":false,"read_noise":false}' >/dev/null 2>"$tmp/err" \
  || bad "noise-free pcm run: $(cat "$tmp/err")"
"$ptcsim" run "$pcm_sc" --plugin "$law" --out "$tmp/law_mc" -q "${pcm_set[@]}" --set accuracy.instances=3 \
  --set 'device={"name":"test_pcm_uniform_drift","sigma_rel":0.05}' >/dev/null 2>"$tmp/err" || bad "PCM-law plug-in, 3 instances: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, os, csv
def events(name):
    return [json.loads(l) for l in open(os.path.join(sys.argv[1], name, "events.jsonl"))]
ev, ref = events("law"), events("law_ref")
st = json.load(open(os.path.join(sys.argv[1], "law", "stats.json")))
assert st["accelerator"]["device"] == "test_pcm_uniform_drift", st["accelerator"]["device"]
comp = [e for e in ev if e["type"] == "compensation" and not e["reference"]]
assert len(comp) == 4, len(comp)
for e in comp:  # programmed at t = 0; float weights: 1e-6 relative
    want = ((e["t_s"] + 20.0) / 20.0) ** 0.08
    assert all(abs(a / want - 1) < 1e-6 for a in e["alpha"]), (e["t_s"], e["alpha"], want)
assert comp[-1]["alpha"][0] > 3.0, comp[-1]  # one year: the drift is large
acc = [(round(e["t_s"]), e["accuracy"]) for e in ev if e["type"] == "evaluation"]
acc_ref = [(round(e["t_s"]), e["accuracy"]) for e in ref if e["type"] == "evaluation"]
assert len(acc) == 4 and [t for t, _ in acc] == [t for t, _ in acc_ref], (acc, acc_ref)
assert all(abs(a - b) <= 0.01 + 1e-12 for (_, a), (_, b) in zip(acc, acc_ref)), (acc, acc_ref)  # one image in 100: a float near-tie
mc = [e for e in events("law_mc") if e["type"] == "evaluation"]
assert len(mc) == 4 and all(e["instances"] == 3 for e in mc), mc
PY
then ok "a PCM-law plug-in runs: compensation gains follow its drift law's closed form, accuracy that of noise-free PCM, 3 instances"; else bad "PCM-law plug-in run results"; fi

# The compensation read-out behind a tight ADC (full scale 0.5 in normalised partial sums: a
# one-hot probe of a weight above it clips). With bound management the read-out re-runs those
# probes at half input, as aihwkit's forward pass does, so the gain still follows the law's closed
# form ((t + t0) / t0)^nu (within the 8-bit DAC's rounding of the halved input, < 1 %), and its
# re-runs are charged; without it the clipped reference makes the gain come out low.
bm_set=(--set accuracy.images=100 --set 'accuracy.log_spaced={"start_s":1,"stop_s":31536000,"points":3}' --set hw.adc.bound=0.5
        --set 'device={"name":"test_pcm_uniform_drift","nu":0.08}')
"$ptcsim" run "$pcm_sc" --plugin "$law" --out "$tmp/law_bm" -q "${bm_set[@]}" --set hw.mvm.bound_management=iterative \
  >/dev/null 2>"$tmp/err" || bad "PCM-law plug-in, tight ADC with bound management: $(cat "$tmp/err")"
"$ptcsim" run "$pcm_sc" --plugin "$law" --out "$tmp/law_clip" -q "${bm_set[@]}" \
  >/dev/null 2>"$tmp/err" || bad "PCM-law plug-in, tight ADC: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, os
def comp(name):
    ev = [json.loads(l) for l in open(os.path.join(sys.argv[1], name, "events.jsonl"))]
    return [e for e in ev if e["type"] == "compensation"]
bm, clip = comp("law_bm"), comp("law_clip")
assert len(bm) == 5 and bm[0]["reference"] and bm[0]["bound_management_reruns"] > 0, bm[0]
for e in bm[1:]:
    want = ((e["t_s"] + 20.0) / 20.0) ** 0.08
    assert all(abs(a / want - 1) < 0.01 for a in e["alpha"]), (e["t_s"], e["alpha"], want)
assert bm[-1]["bound_management_reruns"] == 0, bm[-1]  # one year: the drifted weights fit
# the reference's re-runs are charged: ceil(re-runs / 16 cores) more array cycles than without
assert bm[0]["cycles"] - clip[0]["cycles"] == (bm[0]["bound_management_reruns"] + 15) // 16, (bm[0], clip[0])
want = ((clip[-1]["t_s"] + 20.0) / 20.0) ** 0.08
assert all(a / want < 0.95 for a in clip[-1]["alpha"]), (clip[-1]["alpha"], want)  # clipped: low
PY
then ok "drift compensation behind a tight ADC: with bound management the read-out gain follows the closed form, without it it is low"; else bad "compensation read-out with bound management"; fi

expect_error "a PCM law returning a negative conductance is refused by validate" \
  'drift_gdc.json: device "test_pcm_negative": its PCM law.s program_us returned -1 for target' \
  "$ptcsim" validate "$pcm_sc" --plugin "$tmp/t/libpcm_law_bad.so" --set 'device={"name":"test_pcm_negative"}'
expect_error "a PCM law drawing its own random numbers is refused by validate (not a pure function)" \
  'drift_gdc.json: device "test_pcm_own_rng": its PCM law is not a pure function of its arguments: read_us(7.5 uS, coefficient 0.05, 0 s, xi -1.7) returned [0-9.]*, then [0-9.]* (a law keeps no state' \
  "$ptcsim" validate "$pcm_sc" --plugin "$tmp/t/libpcm_law_bad.so" --set 'device={"name":"test_pcm_own_rng"}'
# `ptcsim device pcm --device NAME --plugin LIB` characterises single devices of a PCM-law
# plug-in as the pair device draws them. Independent expectation, the law's closed form: a device
# programmed to g_T = 12.5 uS with error sigma_rel g_max xi (clamps 25 sigma away) and drifting as
# ((t + t0) / t0)^-nu reads mean g_T f(t) and std sigma_rel g_max f(t).
"$ptcsim" device pcm --device test_pcm_uniform_drift --plugin "$law" --g-target-rel 0.5 --times 0,1000,31536000 \
  --samples 20000 --seed 3 --set sigma_rel=0.02 --set nu=0.07 --json >"$tmp/dev.json" 2>"$tmp/err" || bad "device pcm --device plug-in: $(cat "$tmp/err")"
"$ptcsim" device pcm --device test_pcm_uniform_drift --plugin "$law" --g-target-rel 0.5 --times 0,1000,31536000 \
  --samples 100 --set sigma_rel=0.02 --set nu=0.07 --no-programming --json >"$tmp/dev0.json" 2>"$tmp/err" || bad "device pcm --no-programming: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, math
d = json.load(open(sys.argv[1] + "/dev.json")); d0 = json.load(open(sys.argv[1] + "/dev0.json"))
assert d["model"].startswith("test_pcm_uniform_drift: ") and d["g_max_us"] == 25 and d["device"]["nu"] == 0.07, d
assert "f_lst" not in d["device"] and "programming_noise" not in d["device"], d["device"]
for t, m, s, m0, s0 in zip(d["times_s"], d["g_mean_us"], d["g_std_us"], d0["g_mean_us"], d0["g_std_us"]):
    f = ((t + 20.0) / 20.0) ** -0.07
    assert abs(m0 / (12.5 * f) - 1) < 1e-12 and s0 == 0, (t, m0, s0)
    sd = 0.02 * 25 * f
    assert abs(m - 12.5 * f) < 5 * sd / math.sqrt(20000), (t, m, 12.5 * f)
    assert abs(s / sd - 1) < 0.03, (t, s, sd)
PY
then ok "device pcm --device: a PCM-law plug-in's mean and std over time follow its closed form"; else bad "device pcm --device plug-in statistics"; fi
expect_error "device pcm: a plug-in law's negative conductance is one error line" \
  'device "test_pcm_negative": its PCM law.s program_us returned -1 for target 12.5 uS' \
  "$ptcsim" device pcm --device test_pcm_negative --plugin "$tmp/t/libpcm_law_bad.so" --g-target-rel 0.5
expect_error "device pcm: an impure plug-in law is refused as validate refuses it" \
  'device "test_pcm_own_rng": its PCM law is not a pure function of its arguments' \
  "$ptcsim" device pcm --device test_pcm_own_rng --plugin "$tmp/t/libpcm_law_bad.so" --g-target-rel 0.5
expect_error "a PCM law throwing a non-std exception is one line in validate" \
  'drift_gdc.json: device "test_pcm_throws": its PCM law.s read_us(0 uS, coefficient 0.05, 31500000 s, xi -1.7) threw an exception that is not a std::exception' \
  "$ptcsim" validate "$pcm_sc" --plugin "$tmp/t/libpcm_law_bad.so" --set 'device={"name":"test_pcm_throws"}'
expect_error "device pcm: a PCM law throwing a non-std exception is one line" \
  'device "test_pcm_throws": its PCM law.s read_us(0 uS, coefficient 0.05, 31500000 s, xi -1.7) threw an exception that is not a std::exception' \
  "$ptcsim" device pcm --device test_pcm_throws --plugin "$tmp/t/libpcm_law_bad.so" --g-target-rel 0.5 --times 1
expect_error "device pcm: --q-from is the built-in law's" '--q-from: device test_pcm_uniform_drift has no parameter q_from' \
  "$ptcsim" device pcm --device test_pcm_uniform_drift --plugin "$law" --g-target-rel 0.5 --q-from target
expect_error "device pcm: a plug-in device without --plugin suggests loading it" \
  '--device: "test_pcm_uniform_drift" is not one of .*load its library with --plugin' \
  "$ptcsim" device pcm --device test_pcm_uniform_drift --g-target-rel 0.5
expect_error "device pcm: a device that is not a PCM-law pair device" \
  '--device test_ideal: not a PCM pair device with a law of its own .*tag pcm_law: pcm, test_pcm_negative, test_pcm_own_rng, test_pcm_throws, test_pcm_uniform_drift' \
  "$ptcsim" device pcm --device test_ideal --plugin "$tmp/t/libdevice_ok.so" --plugin "$law" --plugin "$tmp/t/libpcm_law_bad.so" --g-target-rel 0.5

# the editor schema knows plug-in names too; an empty --plugin is a bad command line (exit 2)
"$ptcsim" schema --plugin "$law" >"$tmp/schema.json" 2>"$tmp/err" && grep -q '"test_pcm_uniform_drift"' "$tmp/schema.json" \
  && ok "schema --plugin: the plug-in device is a valid device.name" || bad "schema --plugin: $(cat "$tmp/err")"
"$ptcsim" validate "$pcm_sc" --plugin "" >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q -- '--plugin: expected a shared library file, got an empty name' "$tmp/err" \
  && ok "--plugin with an empty name: exit 2, one line" || bad "--plugin '' (exit $rc): $(cat "$tmp/err")"
expect_error "an unregistered device name suggests --plugin, in run as in validate" \
  'device.name: "test_pcm_uniform_drift" is not one of .*load its library with --plugin' \
  "$ptcsim" run "$pcm_sc" --set 'device={"name":"test_pcm_uniform_drift"}' --out "$tmp/noplug"

# device mistakes: validate builds the device as run does (an error its build raises, or no
# technology, is one line naming the scenario and device); loading refuses a default outside its
# range and a misspelled tag, naming the library
for n in 1 2; do
  want='device.lo: must be <= device.hi'; [ $n = 2 ] && want='build() returned no technology'
  for cmd in validate run; do
    extra=(); [ "$cmd" = run ] && extra=(--out "$tmp/bad$n" -q)
    expect_error "$cmd: a device whose build() fails ($want)" "drift_gdc.json: device: \"test_bad$n\": .*$want" \
      "$ptcsim" "$cmd" "$pcm_sc" --plugin "$tmp/t/libdevice_bad$n.so" --set "device={\"name\":\"test_bad$n\",\"lo\":0.9}" "${extra[@]}"
  done
done
expect_error "a parameter default outside its declared range" 'libdevice_bad3.so: plug-in "test_bad3": parameter "gamma": default 5.0 is not a valid number in [[]0,1[]]$' \
  "$ptcsim" list devices --plugin "$tmp/t/libdevice_bad3.so"
expect_error "a misspelled device tag" 'libdevice_bad4.so: device "test_bad4": unknown tag "mc_instance"; did you mean "mc_instances"' \
  "$ptcsim" list devices --plugin "$tmp/t/libdevice_bad4.so"

# a traffic plug-in drives the runtime: one request every 10 ms for 1 s = exactly 100 requests,
# each served at its arrival (no queueing at this rate: latency = the compiled inference latency)
traffic="$tmp/t/libtraffic_ok.so"
"$ptcsim" list traffic --plugin "$traffic" >"$tmp/list" 2>"$tmp/err" && grep -q '^  test_periodic (plug-in libtraffic_ok.so) -- ' "$tmp/list" && grep -q '^  trace -- ' "$tmp/list" \
  && ok "list traffic shows the plug-in source and the built-ins" || bad "list traffic --plugin: $(cat "$tmp/err") $(head -c 300 "$tmp/list")"
"$ptcsim" run "$example" --plugin "$so" --plugin "$traffic" --out "$tmp/traffic" -q \
  --set 'traffic={"name":"test_periodic","period_s":0.01}' --set horizon_s=1 >/dev/null 2>"$tmp/err" || bad "traffic plug-in run: $(cat "$tmp/err")"
if $py - "$tmp" <<'PY'
import json, sys, os
s = json.load(open(os.path.join(sys.argv[1], "traffic", "summary.json")))
st = json.load(open(os.path.join(sys.argv[1], "traffic", "stats.json")))
assert s["status"] == "complete" and s["requests"] == 100, s
lat = st["accelerator"]["inference_latency"]["value"]
assert abs(s["latency_p50_s"] - lat) < 1e-12 * max(lat, 1), (s["latency_p50_s"], lat)
PY
then ok "a traffic plug-in is selected by the scenario and drives the runtime (100 requests)"; else bad "traffic plug-in effect"; fi

# a dispatcher plug-in (its header comes with the installed SDK) spreads a fleet's requests: every
# one of 30 back-to-back requests on a 3-chip fleet goes to the chip it names
disp="$tmp/t/libdispatcher_ok.so"
"$ptcsim" list dispatchers --plugin "$disp" >"$tmp/list" 2>"$tmp/err" && grep -q '^  test_one_chip (plug-in libdispatcher_ok.so) -- ' "$tmp/list" \
  && ok "list dispatchers shows the plug-in dispatcher" || bad "list dispatchers --plugin: $(cat "$tmp/err") $(head -c 300 "$tmp/list")"
"$ptcsim" run "$example" --plugin "$so" --plugin "$disp" --out "$tmp/disp" -q --set hw.chips=3 \
  --set 'dispatcher={"name":"test_one_chip","chip":2}' --set traffic.requests=30 >/dev/null 2>"$tmp/err" || bad "dispatcher plug-in run: $(cat "$tmp/err")"
if $py - "$tmp/disp" <<'PY'
import json, sys, os
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
assert s["requests"] == 30, s["requests"]
assert [c["requests"] for c in s["per_chip"]] == [0, 0, 30], [c["requests"] for c in s["per_chip"]]
PY
then ok "a dispatcher plug-in is selected by the scenario and places every request (0 / 0 / 30 on 3 chips)"; else bad "dispatcher plug-in effect: $(cat "$tmp/err")"; fi

# ---- a sweep over a plug-in's parameter: the spec's "plugins" are loaded for validation and passed
# to every run; the collected calibrations follow the budget of each grid point (as the runs above)
mkdir -p "$tmp/sw"
cp "$so" "$tmp/sw/libmypolicy.so"
cat >"$tmp/sw/spec.json" <<EOF
{"name": "budget_sweep", "scenario": "$example", "plugins": ["libmypolicy.so"],
 "set": {"traffic.requests": 150}, "grid": {"controller.policy.max_per_hour": [0, 1, 100]}}
EOF
sed 's/"libmypolicy.so"/"nope.so"/' "$tmp/sw/spec.json" >"$tmp/sw/spec2.json"
sed 's/"plugins": \["libmypolicy.so"\],//' "$tmp/sw/spec.json" >"$tmp/sw/spec3.json"
if "$ptcsim" sweep "$tmp/sw/spec.json" --out "$tmp/sw/out" >"$tmp/out" 2>"$tmp/err" &&
   "$ptcsim" sweep run "$tmp/sw/out/manifest.jsonl" --jobs 2 >"$tmp/out" 2>"$tmp/err" &&
   "$ptcsim" sweep collect "$tmp/sw/out/manifest.jsonl" >"$tmp/out" 2>"$tmp/err"; then ok "sweep with a plug-in: expand, run, collect"
else bad "sweep with a plug-in: $(cat "$tmp/err")"; fi
if $py - "$tmp/sw/out" "$tmp/sw/libmypolicy.so" <<'PY'
import csv, json, os, sys
m = [json.loads(l) for l in open(os.path.join(sys.argv[1], "manifest.jsonl"))]
assert all(e["plugins"] == [sys.argv[2]] for e in m), m[0]
rows = {int(r["controller.policy.max_per_hour"]): r for r in csv.DictReader(open(os.path.join(sys.argv[1], "results.csv")))}
assert sorted(rows) == [0, 1, 100] and all(r["status"] == "complete" for r in rows.values()), rows
for b, r in rows.items():
    ev = [json.loads(l) for l in open(os.path.join(sys.argv[1], "runs", r["id"], "events.jsonl"))]
    trig = sum(1 for e in ev if e["type"] == "trigger")
    assert trig > 1 and int(float(r["calibrations"])) == min(b, trig), (b, r["calibrations"], trig)
PY
then ok "every sweep run loaded the plug-in: calibrations = min(budget, triggers) per grid point"; else bad "sweep plug-in results"; fi
# the configuration records the plug-in it uses with its content hash, so a rebuilt plug-in (here:
# the same library with one more byte) is another configuration: `sweep run` refuses the stale
# manifest instead of calling the old results complete, and config.resolved.json run again checks it
if $py - "$tmp/sw/out" <<'PY'
import json, os, sys
m = [json.loads(l) for l in open(os.path.join(sys.argv[1], "manifest.jsonl"))]
c = json.load(open(os.path.join(sys.argv[1], m[0]["run_dir"], "config.resolved.json")))
assert [p["library"] for p in c["plugins"]] == ["libmypolicy.so"] and c["plugins"][0]["provides"] == ["budgeted_recalibration"], c.get("plugins")
assert len(c["plugins"][0]["fnv1a64"]) == 16, c["plugins"]
PY
then ok "config.resolved.json records the plug-in the run used and its hash"; else bad "plug-in provenance in config.resolved.json"; fi
# config.resolved.json as a scenario again (a copy elsewhere: its base_dir keeps the model path
# resolving): checked against the loaded build
$py - "$tmp/sw/out" "$tmp/sw/again.json" <<'PY'
import json, os, sys
m = json.loads(open(os.path.join(sys.argv[1], "manifest.jsonl")).readline())
c = json.load(open(os.path.join(sys.argv[1], m["run_dir"], "config.resolved.json")))
json.dump(c, open(sys.argv[2], "w"))
PY
"$ptcsim" validate "$tmp/sw/again.json" --plugin "$tmp/sw/libmypolicy.so" >/dev/null 2>"$tmp/err" \
  && ok "config.resolved.json validates again with the same plug-in build" || bad "re-validate config.resolved.json: $(cat "$tmp/err")"
printf 'x' >>"$tmp/sw/libmypolicy.so"
expect_error "sweep run: a rebuilt plug-in makes the expanded entries stale" 'resolves to another configuration' \
  "$ptcsim" sweep run "$tmp/sw/out/manifest.jsonl"
"$ptcsim" sweep collect "$tmp/sw/out/manifest.jsonl" >"$tmp/out" 2>"$tmp/err"
grep -q "0 of 3 runs complete" "$tmp/out" && grep -q 'mismatch' "$tmp/sw/out/results.csv" \
  && ok "sweep collect: runs of the old plug-in build are reported mismatch, not collected" || bad "collect after rebuild: $(cat "$tmp/out" "$tmp/err")"
expect_error "config.resolved.json run with another build of its plug-in" 'plugins.0: this configuration was resolved with plug-in libmypolicy.so' \
  "$ptcsim" validate "$tmp/sw/again.json" --plugin "$tmp/sw/libmypolicy.so"
expect_error "sweep: a missing plug-in names the spec and the entry" 'spec2.json: plugins.0: file "nope.so" not found' \
  "$ptcsim" sweep "$tmp/sw/spec2.json" --out "$tmp/sw/out2"
expect_error "sweep: without the plug-in the policy is unknown" 'controller.policy.name: "budgeted_recalibration" is not one of' \
  "$ptcsim" sweep "$tmp/sw/spec3.json" --out "$tmp/sw/out3"

# ---- failures: one line, non-zero exit, nothing aborts
expect_error "missing library" "nope.so: plug-in library not found" "$ptcsim" run "$example" --plugin "$tmp/nope.so"
expect_error "not a shared library" "example.json: not a shared library" "$ptcsim" list --plugin "$example"
expect_error "a directory" "is a directory" "$ptcsim" validate "$example" --plugin "$tmp"
expect_error "re-registering a built-in policy" 'libclash_policy.so: plug-in "doctor" registered twice' \
  "$ptcsim" list --plugin "$tmp/t/libclash_policy.so"
expect_error "re-registering a built-in noise process" 'libclash_noise.so: plug-in "thermal_crosstalk" registered twice' \
  "$ptcsim" run "$example" --plugin "$tmp/t/libclash_noise.so"
expect_error "a library that registers nothing" "libempty.so: registered no policy, noise process, traffic source, device or dispatcher" \
  "$ptcsim" list --plugin "$tmp/t/libempty.so"
expect_error "undefined symbols" "undefined symbol: .*(ptc::sim::no_such_function(int))" \
  "$ptcsim" list --plugin "$tmp/t/libundefined_symbol.so"
expect_error "the same plug-in twice is loaded once; the second error is reported" "libclash_policy.so" \
  "$ptcsim" list --plugin "$so" --plugin "$so" --plugin "$tmp/t/libclash_policy.so"
# A policy hook that throws (sim/controller.h hook): one line naming the policy, its library, the
# hook and the simulated time; a non-std::exception too; the run directory says failed.
thrower="$tmp/t/libpolicy_throws.so"
expect_error "a plug-in policy's hook throws: the error names policy, library, hook and time" \
  'error: [^ ]*example.json: controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), on_timer at t = [0-9.e-]* s: the budget file went missing$' \
  "$ptcsim" run "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","every_requests":50}' --out "$tmp/throws" -q
$py -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['status']=='failed' and 'on_timer' in r['error'], r" "$tmp/throws/run.json" \
  && ok "the failed hook is recorded in run.json" || bad "run.json after a throwing hook: $(cat "$tmp/throws/run.json")"
expect_error "a plug-in policy's hook throws a non-std::exception" \
  'controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), on_timer at t = .*: threw an exception that is not a std::exception' \
  "$ptcsim" run "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","non_standard":true}' --out "$tmp/throws2" -q
# The questions ptcsim asks a policy outside its event hooks are attributed the same way: what it
# needs (asked by the preflight, so validate reports it) and its timer interval (asked at the start).
expect_error "a policy plug-in's capabilities_needed throws: validate names the policy, library and question" \
  'error: [^ ]*example.json: controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), capabilities_needed: the budget file went missing$' \
  "$ptcsim" validate "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","throw_in":"capabilities_needed"}'
# timer_interval_s is asked of a fresh instance by the preflight (the timer's 1 ns floor and 1e8
# wake-ups), so validate and run both name the policy, library and question before any event.
expect_error "a policy plug-in's timer_interval_s throws: validate names the policy, library and question" \
  'error: [^ ]*example.json: controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), timer_interval_s: the budget file went missing$' \
  "$ptcsim" validate "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","throw_in":"timer_interval_s"}'
expect_error "a policy plug-in's timer_interval_s throws: run names the policy, library and question" \
  'error: [^ ]*example.json: controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), timer_interval_s: the budget file went missing$' \
  "$ptcsim" run "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","throw_in":"timer_interval_s"}' --out "$tmp/throws4" -q
# A factory that throws (a plug-in's own exception, not a parameter error) is attributed too.
for cmd in validate run; do
  extra=(); [ "$cmd" = run ] && extra=(--out "$tmp/throws5" -q)
  expect_error "$cmd: a policy plug-in's factory throws: the error names the policy, library and factory" \
    'error: [^ ]*example.json: controller.policy "test_throwing_policy" (plug-in libpolicy_throws.so), factory: the budget file went missing$' \
    "$ptcsim" "$cmd" "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","throw_in":"factory"}' "${extra[@]}"
done
# A policy's own probes are probes: 300 requests with a probe every 50 = 6 probe events, and the
# summary, stats and books say 6 (the monitor, unused by this policy, made none).
prober="$tmp/t/libpolicy_probe.so"
if "$ptcsim" run "$example" --plugin "$prober" --set 'controller.policy={"name":"test_probe_policy","every_requests":50}' \
     --out "$tmp/probes" -q >/dev/null 2>"$tmp/err" && $py - "$tmp/probes" <<'PY' && $py "$src/tests/regression/check_books.py" "$tmp/probes"
import json, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "summary.json")))
st = json.load(open(os.path.join(d, "stats.json")))
ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
assert s["requests"] == 300, s["requests"]
assert sum(e["type"] == "probe" for e in ev) == 6 and s["probes"] == 6, (s["probes"], len(ev))
assert st["controller"]["probes"]["value"] == 6 and st["monitor"]["probes"]["value"] == 0, st["monitor"]
PY
then ok "a policy's probes are counted (6 probe events = summary probes = stats controller.probes, books balance)"; else bad "policy probes: $(cat "$tmp/err")"; fi
# A calibration spec from a plug-in is checked like the doctor policy's parameters: out of range is
# one error line naming the field (a fraction of 5 was charged as five read-backs of every chunk).
expect_error "a plug-in's calibration fraction 5 is refused, naming the field" \
  'controller.policy "test_probe_policy" (plug-in libpolicy_probe.so), on_timer at t = [0-9.e-]* s: calibrate: CalibrationSpec.fraction 5 is outside (0, 1]' \
  "$ptcsim" run "$example" --plugin "$prober" --set 'controller.policy={"name":"test_probe_policy","fraction":5}' --out "$tmp/frac5" -q
expect_error "a plug-in's unknown calibration mask is refused, naming the field and the choices" \
  'calibrate: CalibrationSpec.mask "bogus" is not one of is, topk, uniform, all' \
  "$ptcsim" run "$example" --plugin "$prober" --set 'controller.policy={"name":"test_probe_policy","fraction":0.5,"mask":"bogus"}' --out "$tmp/mask" -q
# A plug-in's file parameter (Params::file) resolves against the scenario's directory (base_dir),
# not the working directory: a copy of the example elsewhere, run from another directory.
mkdir -p "$tmp/scn" "$tmp/elsewhere"
$py -c "import json,sys; j=json.load(open(sys.argv[1])); j['model']=sys.argv[2]; json.dump(j,open(sys.argv[3],'w'))" \
  "$example" "$src/models/zoo/lenet5_fmnist.onnx" "$tmp/scn/example.json"
echo "read from the scenario's own directory" >"$tmp/scn/message.txt"
cd "$tmp/elsewhere" && expect_error "a policy plug-in's file parameter resolves against the scenario's directory" \
  'on_timer at t = [0-9.e-]* s: read from the scenario.s own directory$' \
  "$ptcsim" run "$tmp/scn/example.json" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","message_file":"message.txt"}' --out "$tmp/throws3" -q
cd "$OLDPWD" || exit 1
# Out of memory inside the simulation (here a hook asks for 10^9 GiB): not "std::bad_alloc" but one
# line naming the scenario file, the phase and the scale that sets the memory; run.json failed.
expect_error "std::bad_alloc in the simulation becomes the out-of-memory error naming the scale" \
  'error: [^ ]*example.json: out of memory while simulating: hw.cores 4 x 4 cores of 8 x 8 on 1 chip (1024 device weights, device "mrr").*; reduce hw.cores.rows/cols, hw.cores.block_size or hw.chips, or run with more memory$' \
  "$ptcsim" run "$example" --plugin "$thrower" --set 'controller.policy={"name":"test_throwing_policy","allocate_gib":1e9}' --out "$tmp/oom" -q
$py -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['status']=='failed' and 'out of memory while simulating' in r['error'], r" "$tmp/oom/run.json" \
  && ok "run.json records the out-of-memory error" || bad "run.json after bad_alloc: $(cat "$tmp/oom/run.json")"

finish
