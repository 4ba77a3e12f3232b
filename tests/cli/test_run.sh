#!/usr/bin/env bash
# `ptcsim run` as a user meets it: the run directory and its files, determinism (same scenario +
# seed => identical bytes at 1 and 2 threads), seeds that matter, one-line errors for bad input
# with no run directory left behind, and an interrupted run that leaves valid partial files.
# Usage: test_run.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
sc="$src/tests/cli/tiny_doctor.json"
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"

# ---- a run and its files
if PTC_THREADS=2 "$ptcsim" run "$sc" --out "$tmp/a" -q >"$tmp/out" 2>"$tmp/err"; then ok "run exits 0"; else bad "run failed: $(cat "$tmp/err")"; fi
for f in config.resolved.json trace.csv events.jsonl summary.json stats.json run.json; do
  [ -s "$tmp/a/$f" ] && ok "run writes $f" || bad "missing $f"
done
ls "$tmp/a" | grep -q '\.tmp$' && bad "temporary files left in the run directory" || ok "no temporary files left"
if $py - "$tmp/a" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
need = "t_s requests accuracy latency_p50_s latency_p99_s energy_j writes calibrations overhead_cycles temp_k_mean".split()
assert all(k in rows[0] for k in need), rows[0].keys()
assert [int(r["requests"]) for r in rows] == list(range(50, 301, 50)), [r["requests"] for r in rows]
t = [float(r["t_s"]) for r in rows]; assert t == sorted(t) and t[0] > 0
e = [float(r["energy_j"]) for r in rows]; assert e == sorted(e) and e[0] > 0
for r in rows: assert 0.0 <= float(r["accuracy"]) <= 1.0 and int(r["accuracy_n"]) == 50
ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
types = {x["type"] for x in ev}
assert "probe" in types and "trigger" in types and "calibration" in types and "remap" in types, types
s = json.load(open(os.path.join(d, "summary.json")))
for k in "accuracy_mean accuracy_final accuracy_ideal energy_j writes latency_p50_s latency_p99_s calibrations overhead_ratio status".split():
    assert k in s, k
assert s["status"] == "complete" and s["requests"] == 300 and s["calibrations"] >= 1 and s["writes"] > 0
# overhead = probes + remaps + calibration cycles over inference cycles (DOCTOR's accounting)
cyc = sum(x.get("cycles", 0) for x in ev if x["type"] in ("probe", "remap", "calibration"))
assert cyc == s["overhead_cycles"], (cyc, s["overhead_cycles"])
assert abs(s["overhead_ratio"] - cyc / s["inference_cycles"]) < 1e-12
r = json.load(open(os.path.join(d, "run.json")))
assert r["status"] == "complete" and r["seed"] == 7 and "git_commit" in r and r["argv"][1] == "run"
c = json.load(open(os.path.join(d, "config.resolved.json")))
assert c["controller"]["policy"]["sparsity"] == 0.2 and c["controller"]["policy"]["steps"] == 5   # defaults filled, file wins
st = json.load(open(os.path.join(d, "stats.json")))
assert st["accelerator"]["busy"]["unit"] == "s" and st["runtime"]["requests_served"]["value"] == 300
# per-core books: the busiest core computes in every cycle of an inference (chunks run one after
# another), and a core's compute time is the served inferences x its active cycles at the clock
acc = st["accelerator"]
cores = [v for k, v in acc.items() if k.startswith("core_")]
assert len(cores) == c["hw"]["cores"]["rows"] * c["hw"]["cores"]["cols"]
assert max(x["active_cycles_per_inference"]["value"] for x in cores) == acc["cycles_per_inference"]["value"]
for x in cores:
    want = acc["inferences_served"]["value"] * x["active_cycles_per_inference"]["value"] / (c["hw"]["clock_ghz"] * 1e9)
    assert abs(x["inference_compute"]["value"] - want) <= 1e-9 * want, (x, want)
    assert abs(x["utilisation"]["value"] - x["active_cycles_per_inference"]["value"] / acc["cycles_per_inference"]["value"]) < 1e-12
PY
then ok "run files hold the documented columns and keys, consistent with each other"; else bad "run file contents"; fi

# ---- determinism at 1 and 2 threads; the seed matters; --set wins over the file
PTC_THREADS=1 "$ptcsim" run "$sc" --out "$tmp/b" -q >/dev/null 2>&1
same=1; for f in trace.csv events.jsonl summary.json stats.json config.resolved.json; do cmp -s "$tmp/a/$f" "$tmp/b/$f" || same=0; done
[ "$same" -eq 1 ] && ok "same scenario + seed: identical bytes at 1 and 2 threads" || bad "outputs differ between 1 and 2 threads"
"$ptcsim" run "$sc" --seed 8 --out "$tmp/c" -q >/dev/null 2>&1
cmp -s "$tmp/a/trace.csv" "$tmp/c/trace.csv" && bad "--seed 8 gave the same trace as seed 7" || ok "another seed gives another trace"
$py -c "import json,sys; c=json.load(open(sys.argv[1])); r=json.load(open(sys.argv[2])); assert c['seed']==8 and r['seed']==8 and r['set']['seed']==8" "$tmp/c/config.resolved.json" "$tmp/c/run.json" \
  && ok "--seed recorded in config and run.json" || bad "--seed not recorded"
"$ptcsim" run "$sc" --set controller.policy.steps=2 --set 'traffic.requests=100' --out "$tmp/d" -q >/dev/null 2>&1
$py -c "import json,sys; c=json.load(open(sys.argv[1])); assert c['controller']['policy']['steps']==2 and c['traffic']['requests']==100" "$tmp/d/config.resolved.json" \
  && ok "--set overrides the scenario" || bad "--set precedence"
(cd "$tmp" && "$ptcsim" run "$sc" --set traffic.requests=50 -q >/dev/null 2>&1) && ls -d "$tmp"/runs/tiny_doctor-* >/dev/null 2>&1 \
  && ok "default run directory runs/<name>-<hash>" || bad "default run directory"

# threads is not part of the id (the outputs are the same bytes at any thread count), nor of a
# plot legend; a legend gives the value a run used, not a --set a later one replaced.
mkdir -p "$tmp/thr1" "$tmp/thr2"
(cd "$tmp/thr1" && "$ptcsim" run "$sc" --set traffic.requests=50 --set threads=1 -q >/dev/null 2>&1)
(cd "$tmp/thr2" && "$ptcsim" run "$sc" --set traffic.requests=50 --set threads=2 -q >/dev/null 2>&1)
n1="$(ls "$tmp/thr1/runs")"; n2="$(ls "$tmp/thr2/runs")"
[ -n "$n1" ] && [ "$n1" = "$n2" ] && ok "threads 1 and 2: the same run directory name ($n1)" || bad "threads changes the id: $n1 vs $n2"
"$ptcsim" run "$sc" --set traffic.requests=50 --set monitor.w_thres=0.2 --set 'monitor={"w_thres": 0.01}' --out "$tmp/lgA" -q >/dev/null 2>&1
"$ptcsim" run "$sc" --set traffic.requests=50 --set monitor.w_thres=0.1 --set threads=1 --out "$tmp/lgB" -q >/dev/null 2>&1
if "$src/tools/ptc-plot" "$tmp/lgA" "$tmp/lgB" "$tmp/thr1/runs/$n1" -o "$tmp/lg.png" --dump-json >"$tmp/lg.json" 2>"$tmp/err" && $py - "$tmp/lg.json" <<'PY'
import json, sys
names = [s["name"] for s in json.load(open(sys.argv[1]))["series"] if s["panel"] == "accuracy" and s["kind"] == "line"]
assert len(names) == 3 and "w_thres=0.01" in names[0] and "w_thres=0.1" in names[1], names
assert not any("threads" in n for n in names), names
PY
then ok "ptc-plot legends: the value the run used (a superseded --set is not named), no threads"; else bad "ptc-plot legend values: $(cat "$tmp/err" "$tmp/lg.json" | head -c 600)"; fi
# The same configuration and seed at two thread counts is one run twice, not two seeds.
"$src/tools/ptc-plot" "$tmp/thr1/runs/$n1" "$tmp/thr2/runs/$n2" -o "$tmp/same.png" --dump-json >"$tmp/same.json" 2>"$tmp/err" \
  && ! grep -q "mean of 2 seeds" "$tmp/same.json" && ok "ptc-plot: one seed at two thread counts is not a seed group" \
  || bad "ptc-plot seed group of one seed: $(cat "$tmp/err"; grep -o 'mean of [0-9] seeds' "$tmp/same.json" | head -1)"

# ---- config.resolved.json runs again, from its run directory and any working directory: the
# same files byte for byte and the same default run directory name. Its base_dir (absolute) is
# where relative paths resolve; the id (run directory name) leaves it out, so the same scenario
# copied to two places gets the same name.
(cd / && "$ptcsim" run "$tmp/a/config.resolved.json" --out "$tmp/again" -q >/dev/null 2>"$tmp/err")
same=1; for f in trace.csv events.jsonl summary.json stats.json config.resolved.json; do cmp -s "$tmp/a/$f" "$tmp/again/$f" || same=0; done
[ "$same" -eq 1 ] && ok "config.resolved.json run again from / gives the same bytes" || bad "run of config.resolved.json: $(cat "$tmp/err")"
$py -c "import json,sys; c=json.load(open(sys.argv[1])); assert c['base_dir'] == sys.argv[2], c['base_dir']" "$tmp/a/config.resolved.json" "$src/tests/cli" \
  && ok "config.resolved.json records base_dir as the scenario's absolute directory" || bad "base_dir in config.resolved.json"
# (copies of the resolved configuration, fragments already inlined, without its base_dir)
model="$($py -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['base_dir'] + '/' + c['model'])" "$tmp/a/config.resolved.json")"
mkdir -p "$tmp/p1/sub" "$tmp/p2/deeper/sub" "$tmp/p1/models" && cp "$model" "$tmp/p1/models/m.onnx"
for d in "$tmp/p1/sub" "$tmp/p2/deeper/sub"; do
  $py -c "import json,sys,os; c=json.load(open(sys.argv[1])); del c['base_dir']; c['model']=os.path.realpath(sys.argv[2]); c['name']='moved'; json.dump(c, open(sys.argv[3],'w'))" \
    "$tmp/a/config.resolved.json" "$model" "$d/moved.json"
  (cd "$d/.." && "$ptcsim" run sub/moved.json --set traffic.requests=50 -q >/dev/null 2>&1)
done
n1="$(ls "$tmp/p1/runs" 2>/dev/null)"; n2="$(ls "$tmp/p2/deeper/runs" 2>/dev/null)"
[ -n "$n1" ] && [ "$n1" = "$n2" ] && ok "the run directory name does not depend on where the scenario sits ($n1)" || bad "ids differ by location: '$n1' '$n2'"
$py -c "import json,sys; c=json.load(open(sys.argv[1])); del c['base_dir']; c['model']='models/m.onnx'; c['base_dir']='..'; json.dump(c, open(sys.argv[2],'w'))" \
  "$tmp/a/config.resolved.json" "$tmp/p1/sub/rel.json"
(cd / && "$ptcsim" validate "$tmp/p1/sub/rel.json" >/dev/null 2>"$tmp/err") \
  && ok "base_dir relative to the scenario file: the model resolves under it" || bad "relative base_dir: $(cat "$tmp/err")"
expect_error "base_dir that is not a directory" 'rel.json: base_dir: ".*nowhere" is not a directory' "$ptcsim" validate "$tmp/p1/sub/rel.json" --set base_dir=nowhere

# ---- the figure of real runs: two policies overlaid, markers from events.jsonl
"$ptcsim" run "$sc" --set 'controller.policy={"name":"none"}' --out "$tmp/none" -q >/dev/null 2>&1
if "$src/tools/ptc-plot" "$tmp/a" "$tmp/none" -o "$tmp/fig.png" --dump-json >"$tmp/plot.json" 2>"$tmp/err" && [ -s "$tmp/fig.png" ] &&
   $py - "$tmp/plot.json" "$tmp/a/events.jsonl" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
acc = [s for s in j["series"] if s["panel"] == "accuracy" and s["kind"] == "line"]
assert len(acc) == 2 and all(s["points"] == 6 for s in acc), acc
assert acc[0]["name"].startswith("doctor") and acc[1]["name"].startswith("none"), [s["name"] for s in acc]
ev = [json.loads(l) for l in open(sys.argv[2])]
cal = {(m["run"], m["type"]): m["count"] for m in j["markers"]}
assert cal[(0, "calibration")] == sum(e["type"] == "calibration" for e in ev) >= 1, cal
assert cal[(0, "remap")] == sum(e["type"] == "remap" for e in ev) >= 1 and cal[(1, "calibration")] == 0, cal
PY
then ok "ptc-plot draws the two real runs (doctor vs none) with their markers"; else bad "ptc-plot on real runs: $(head -c 300 "$tmp/err")"; fi

# ---- bad input: one line naming what and where, non-zero exit, no run directory
echo '{"name": "x", "model": ' >"$tmp/bad.json"
expect_error "malformed scenario JSON" "invalid JSON" "$ptcsim" run "$tmp/bad.json" --out "$tmp/bad_run"
[ ! -e "$tmp/bad_run" ] && ok "no run directory after a parse error" || bad "run directory created for a bad scenario"
expect_error "unknown key with suggestion" 'monitor.interval_request: unknown key; did you mean "interval_requests"' \
  "$ptcsim" run "$sc" --set monitor.interval_request=5 --out "$tmp/x1"
expect_error "unknown policy lists the registered ones" 'controller.policy.name: "doctr" is not one of doctor, global_drift_compensation, none, onchip_training, periodic_full, rns_recalibration, row_remap, swim, threshold_full; did you mean "doctor"? (a plug-in.s name? load its library with --plugin)' \
  "$ptcsim" run "$sc" --set 'controller.policy={"name":"doctr"}' --out "$tmp/x2"
expect_error "out-of-range value names path and range" 'controller.policy.sparsity: expected number in \[1e-06,1\], got 2' \
  "$ptcsim" run "$sc" --set controller.policy.sparsity=2 --out "$tmp/x3"
expect_error "noise process for another device" 'acts on ring_phase, which device "pcm" does not have (devices with ring_phase: mrr, rns)' "$ptcsim" run "$sc" --set 'device={"name":"pcm"}' --out "$tmp/x4"
expect_error "missing model" 'model: file' "$ptcsim" run "$sc" --set model=nothere.onnx --out "$tmp/x5"
expect_error "--set into a list needs an index" 'noise is a list' "$ptcsim" run "$sc" --set noise.kappa=1 --out "$tmp/x6"
expect_error "horizon beyond SystemC's 64-bit time" 'horizon_s' "$ptcsim" run "$sc" --set horizon_s=1e11 --out "$tmp/x7"
expect_error "missing dataset names the Debian package" 'dataset-fashion-mnist' "$ptcsim" run "$sc" --set dataset.dir=/nonexistent --out "$tmp/x8"
$py -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['status']=='failed'" "$tmp/x8/run.json" 2>/dev/null \
  && ok "a failed run says so in run.json" || bad "run.json of a failed run"

# ---- drift compensation's reference readout: aihwkit's (no read noise) unless the scenario says noisy
gdc="$src/scenarios/pcm/drift_gdc.json"
short=(--set horizon_s=100 --set 'accuracy={"mode":"scheduled","times_s":[0,100],"images":20}' -q)
"$ptcsim" run "$gdc" --set 'controller.policy={"name":"global_drift_compensation"}' "${short[@]}" --out "$tmp/g1" >/dev/null 2>&1
"$ptcsim" run "$gdc" "${short[@]}" --out "$tmp/g2" >/dev/null 2>&1
if $py - "$tmp/g1" "$tmp/g2" <<'PY'
import json, sys, os
def refs(d):
    ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
    return [x for x in ev if x["type"] == "compensation" and x["reference"]]
c = json.load(open(os.path.join(sys.argv[1], "config.resolved.json")))
assert c["controller"]["policy"]["reference"] == "noiseless", c["controller"]["policy"]
r = refs(sys.argv[1]); assert len(r) == 1 and r[0]["noiseless_reference"] is True, r
r = refs(sys.argv[2]); assert len(r) == 1 and "noiseless_reference" not in r[0], r   # the shipped file says noisy
PY
then ok "global_drift_compensation: the default reference is noiseless (aihwkit), a file's noisy is kept"; else bad "drift compensation reference default"; fi
# accuracy.read_draws (docs/pcm_drift_compensation.md §2). "scheduled" (default, g2): one read
# realisation per scheduled instant, so the noisy reference read at t = 0 and the readout before the
# evaluation scheduled at t = 0 (which starts after the reference readout's array time) read the same
# conductances: every alpha is 1 (to float rounding of 24 us of drift). "actual" (g3): the readout at
# t = 0 starts after the reference's array time and draws its own read noise, so alpha is not 1.
# The key stays in config.resolved.json for scheduled evaluations on a device with per-instant read
# draws (tag read_draws), so that the file runs the same computation again (it left "actual" out, and
# the re-run read with "scheduled": 91.0 % became 64.0 % at t = 0); the id leaves "actual" out (the id
# it had before the default changed), and elsewhere the key changes nothing and is left out.
mkdir -p "$tmp/ida" "$tmp/idb"   # default run directories: runs/<name>-<id>
(cd "$tmp/ida" && "$ptcsim" run "$gdc" "${short[@]}" --set accuracy.read_draws=actual >/dev/null 2>&1)
g3="$(ls -d "$tmp"/ida/runs/*/ | head -1)"; g3="${g3%/}"
(cd "$tmp/idb" && "$ptcsim" run "$g3/config.resolved.json" -q >/dev/null 2>&1)
g3r="$(ls -d "$tmp"/idb/runs/*/ | head -1)"; g3r="${g3r%/}"
"$ptcsim" run "$sc" --set horizon_s=1 --set 'accuracy={"mode":"scheduled","times_s":[0],"images":5}' -q --out "$tmp/g4" >/dev/null 2>&1
if $py - "$tmp/g2" "$g3" "$tmp/g4" "$g3r" <<'PY'
import json, sys, os
def comp(d):
    ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
    return [x for x in ev if x["type"] == "compensation" and not x["reference"]]
def acc(d): return json.load(open(os.path.join(d, "config.resolved.json")))["accuracy"]
c = comp(sys.argv[1])
assert len(c) == 2 and c[0]["t_s"] > 0, c
assert all(abs(x - 1) < 1e-6 for x in c[0]["alpha"]), c[0]["alpha"]   # 24 us of drift: float rounding
assert all(a > 1 for a in c[1]["alpha"]), c[1]["alpha"]   # drift by t = 100 s: alpha > 1
a = comp(sys.argv[2])
assert len(a) == 2 and max(abs(x - 1) for x in a[0]["alpha"]) > 1e-4, a[0]["alpha"]   # another read draw
assert acc(sys.argv[1])["read_draws"] == "scheduled", acc(sys.argv[1])
assert acc(sys.argv[2])["read_draws"] == "actual", acc(sys.argv[2])
for f in ("trace.csv", "events.jsonl", "config.resolved.json"):   # its config.resolved.json runs it again
    assert open(os.path.join(sys.argv[2], f), "rb").read() == open(os.path.join(sys.argv[4], f), "rb").read(), f
assert os.path.basename(sys.argv[2]) == os.path.basename(sys.argv[4]), (sys.argv[2], sys.argv[4])   # the same id
m = json.load(open(os.path.join(sys.argv[3], "config.resolved.json")))
assert m["device"]["name"] == "mrr" and m["accuracy"]["mode"] == "scheduled" and "read_draws" not in m["accuracy"], m["accuracy"]
PY
then ok "accuracy.read_draws: scheduled (default) reads the reference's realisation at t = 0 (alpha 1 to 1e-6), actual does not (another draw); the key is kept only for PCM at scheduled, and a resolved actual runs again the same"; else bad "accuracy.read_draws"; fi
# Without a readout before the evaluation both read_draws modes read the same draws: an evaluation
# scheduled at one year (31,536,000 s) happens at exactly that instant. SystemC's to_seconds() read
# the kernel's time back as 31536000.000000004 s, whose nanosecond keyed another read-noise draw
# under "actual" (hw/sim_seconds.h).
for m in actual scheduled; do
  "$ptcsim" run "$src/scenarios/pcm/drift_none.json" --set horizon_s=31536000 \
    --set "accuracy={\"mode\":\"scheduled\",\"times_s\":[86400,31536000],\"images\":50,\"read_draws\":\"$m\"}" -q --out "$tmp/y_$m" >/dev/null 2>&1
done
if cmp -s "$tmp/y_actual/trace.csv" "$tmp/y_scheduled/trace.csv" && cmp -s "$tmp/y_actual/summary.json" "$tmp/y_scheduled/summary.json" \
  && grep -q '"t_s":31536000.0,"type":"evaluation"' "$tmp/y_actual/events.jsonl"; then
  ok "no compensation: read_draws actual and scheduled give the same bytes at 1 day and 1 year (the year read back exactly)"
else bad "read_draws actual vs scheduled without a readout"; fi
# Monte-Carlo copies are measurements of other chips (docs/devices.md §2.4): what their
# evaluations re-run (bound management) or retry and count (RNS) is neither charged nor counted, so
# energy, latency, recomputations and the RNS counters read the same with 1 and 3 instances, and
# only the accuracy columns (mean and std over instances) differ. Copies' bound-management re-runs
# used to be charged (bound 1: 2.42 -> 3.65 mJ from 1 to 3 instances), and their RNS words counted.
for n in 1 3; do
  "$ptcsim" run "$src/scenarios/pcm/bound_management.json" --set hw.adc.bound=1 \
    --set "accuracy={\"mode\":\"scheduled\",\"times_s\":[1],\"images\":40,\"instances\":$n}" -q --out "$tmp/bmi$n" >/dev/null 2>&1
  "$ptcsim" run "$src/scenarios/rns/thermal_day_ci.json" --set horizon_s=3600 \
    --set "accuracy={\"mode\":\"scheduled\",\"times_s\":[0],\"images\":20,\"instances\":$n}" -q --out "$tmp/rnsi$n" >/dev/null 2>&1
done
if $py - "$tmp" <<'PY'
import csv, json, os, sys
t = sys.argv[1]
for run in ("bmi", "rnsi"):
    one, three = (os.path.join(t, run + n) for n in "13")
    rows = [list(csv.DictReader(open(os.path.join(d, "trace.csv")))) for d in (one, three)]
    assert len(rows[0]) == len(rows[1]) > 0, run
    for a, b in zip(*rows):
        for k in a:
            if not k.startswith("accuracy"): assert a[k] == b[k], (run, k, a[k], b[k])
    s1, s3 = (json.load(open(os.path.join(d, "summary.json"))) for d in (one, three))
    for k in s1:
        if not k.startswith("accuracy"): assert s1[k] == s3[k], (run, k, s1[k], s3[k])
    a1, a3 = (json.load(open(os.path.join(d, "stats.json")))["accelerator"] for d in (one, three))
    for k in ("recomputations", "bound_management_reruns", "rns_words", "rns_corrected"):
        if k in a1: assert a1[k] == a3[k], (run, k)
    ev = [json.loads(l) for l in open(os.path.join(three, "events.jsonl"))]
    assert any(e["type"] == "evaluation" and e["instances"] == 3 for e in ev), run
s = json.load(open(os.path.join(t, "bmi1", "summary.json")))
assert s["recomputations"] > 0, s   # the bound clips: there are re-runs to leak
PY
then ok "Monte-Carlo copies charge and count nothing: energy, latency, re-runs and RNS counters equal at 1 and 3 instances"
else bad "Monte-Carlo copies' recomputations"; fi
# Monte-Carlo chips: the evaluation event lists each instance's accuracy; their mean and sample std
# are the trace's accuracy and accuracy_std, and instance 0 is the simulated chip, so it reads what
# the single-chip run (g2: same seed, same settings) reads at every instant.
"$ptcsim" run "$gdc" "${short[@]}" --set accuracy.instances=3 --out "$tmp/g5" >/dev/null 2>&1
if $py - "$tmp/g5" "$tmp/g2" <<'PY'
import csv, json, os, statistics, sys
def evals(d): return [e for e in map(json.loads, open(os.path.join(d, "events.jsonl"))) if e["type"] == "evaluation"]
mc, one = evals(sys.argv[1]), evals(sys.argv[2])
rows = [r for r in csv.DictReader(open(os.path.join(sys.argv[1], "trace.csv"))) if r["accuracy"]]
assert len(mc) == len(one) == len(rows) == 2, (mc, one)
for e, o, r in zip(mc, one, rows):
    a = e["instance_accuracy"]
    assert len(a) == 3 and a[0] == o["accuracy"] and "instance_accuracy" not in o, (a, o)
    assert abs(statistics.mean(a) - float(r["accuracy"])) < 1e-9 and abs(statistics.stdev(a) - float(r["accuracy_std"])) < 1e-6, (a, r)
    assert len(set(a)) > 1, a   # independent chips
PY
then ok "Monte-Carlo chips: instance_accuracy per evaluation, mean and std are the trace's, instance 0 is the single chip"; else bad "instance_accuracy"; fi

# ---- column-wise weight scaling (docs/devices.md §2.1): without device noise and with ideal converters
# the digital per-output scales restore W exactly, so every prediction is the fp32 reference's, after
# deployment and after a re-programming of the same weights at t = 50 s
cw="$src/scenarios/pcm/columnwise_aihwkit_tiles.json"
quiet=(--set device.programming_noise=false --set device.drift=false --set device.read_noise=false
       --set hw.dac.quantize=false --set hw.adc.quantize=false --set horizon_s=100
       --set 'accuracy={"mode":"scheduled","times_s":[1,100],"images":40}' -q)
"$ptcsim" run "$cw" "${quiet[@]}" --set 'controller.policy={"name":"periodic_full","interval_s":50}' --out "$tmp/cw1" >/dev/null 2>"$tmp/cw.err"
"$ptcsim" run "$cw" "${quiet[@]}" --set device.weight_scaling_columnwise=false --out "$tmp/cw0" >/dev/null 2>>"$tmp/cw.err"
if $py - "$tmp/cw1" "$tmp/cw0" <<'PY'
import csv, json, sys, os
for d in sys.argv[1:]:
    s = json.load(open(os.path.join(d, "summary.json")))
    acc = [float(r["accuracy"]) for r in csv.DictReader(open(os.path.join(d, "trace.csv"))) if r["accuracy"]]
    assert len(acc) == 2 and all(a == s["accuracy_ideal"] for a in acc), (d, acc, s["accuracy_ideal"])
c = json.load(open(os.path.join(sys.argv[1], "config.resolved.json")))
assert c["device"]["weight_scaling_columnwise"] is True
s = json.load(open(os.path.join(sys.argv[1], "summary.json"))); assert s["writes"] > 0
PY
then ok "column-wise scaling without device noise reproduces the fp32 predictions, before and after a periodic re-programming"; else bad "column-wise scaling: $(cat "$tmp/cw.err")"; fi

# ---- a run killed by SIGKILL leaves "running"; validate (or the next run) finds it abandoned
gdc="$src/scenarios/pcm/drift_gdc.json"
"$ptcsim" run "$gdc" --out "$tmp/k" -q >/dev/null 2>&1 & kpid=$!
for _ in $(seq 100); do grep -q '"running"' "$tmp/k/run.json" 2>/dev/null && break; sleep 0.1; done
"$ptcsim" validate "$gdc" --out "$tmp/k" >/dev/null 2>"$tmp/vlive"; vlrc=$?  # as run: the directory is busy
live=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$tmp/k/run.json")
kill -9 "$kpid"; wait "$kpid" 2>/dev/null
"$ptcsim" validate "$gdc" --out "$tmp/k" >/dev/null 2>"$tmp/vdead"; vrc=$?
if [ "$live" = running ] && [ "$vlrc" -eq 1 ] && grep -q "k: run directory is in use by another ptcsim run (pid $kpid" "$tmp/vlive" \
   && [ "$(wc -l <"$tmp/vlive")" -eq 1 ] && [ "$vrc" -eq 0 ] && grep -q 'no process holds the run lock; marked "abandoned"' "$tmp/vdead" \
   && $py -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['status']=='abandoned' and 'SIGKILL' in j['error'] and 'pid' in j['error'], j" "$tmp/k/run.json"; then
  ok "validate refuses a live run's directory as run does (leaving the run alone) and marks a SIGKILLed one abandoned"
else bad "stale running run: live=$live rc=$vrc $(cat "$tmp/vlive" "$tmp/vdead")"; fi
"$ptcsim" run "$gdc" --out "$tmp/k2" -q >/dev/null 2>&1 & kpid=$!
for _ in $(seq 100); do grep -q '"running"' "$tmp/k2/run.json" 2>/dev/null && break; sleep 0.1; done
kill -9 "$kpid"; wait "$kpid" 2>/dev/null
"$ptcsim" run "$gdc" "${short[@]}" --out "$tmp/k2" >/dev/null 2>&1
if $py -c "import json,sys; j=json.load(open(sys.argv[1])); r=j['replaced_run']; assert j['status']=='complete' and r['status']=='abandoned' and r['holder'].startswith('pid '), j" "$tmp/k2/run.json"; then
  ok "a run into a SIGKILLed run's directory records it as abandoned (replaced_run) and replaces it"
else bad "run over an abandoned run: $(cat "$tmp/k2/run.json")"; fi

# ---- interrupted run: SIGINT -> exit 3, valid partial files saying "interrupted"
"$ptcsim" run "$sc" --set traffic.requests=200000 --out "$tmp/int" -q >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/int/run.json" ] && break; sleep 0.1; done
sleep 3; kill -INT "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 3 ] && $py - "$tmp/int" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
assert json.load(open(os.path.join(d, "summary.json")))["status"] == "interrupted"
assert json.load(open(os.path.join(d, "run.json")))["status"] == "interrupted"
rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
assert len(rows) >= 1 and int(rows[-1]["requests"]) < 200000
for l in open(os.path.join(d, "events.jsonl")): json.loads(l)
PY
then ok "SIGINT: exit 3, valid partial files marked interrupted"; else bad "interrupted run (exit $rc)"; fi
# A signal during a long scheduled evaluation (40,000 PCM classifications, about two minutes here)
# stops it at the next batch of images: the run ends "interrupted" within seconds, with no partial
# evaluation reported (it used to finish the evaluation first, outlasting a scheduler's grace).
"$ptcsim" run "$src/scenarios/pcm/drift_gdc.json" --set 'accuracy={"mode":"scheduled","times_s":[0],"images":10000,"instances":4}' \
  --set horizon_s=10 --out "$tmp/longeval" -q >/dev/null 2>"$tmp/longeval.err" &
pid=$!
for _ in $(seq 1 300); do [ -s "$tmp/longeval/run.json" ] && break; sleep 0.1; done
sleep 4; kill -TERM "$pid"; t0=$SECONDS; wait "$pid"; rc=$?; waited=$((SECONDS - t0))
if [ "$rc" -eq 3 ] && [ "$waited" -le 20 ] && $py - "$tmp/longeval" <<'PY'
import json, os, sys
d = sys.argv[1]
assert json.load(open(os.path.join(d, "run.json")))["status"] == "interrupted"
assert not [l for l in open(os.path.join(d, "events.jsonl")) if json.loads(l)["type"] == "evaluation"]
PY
then ok "SIGTERM during a long evaluation: interrupted within ${waited} s, no partial evaluation reported"
else bad "SIGTERM during an evaluation: exit $rc after ${waited} s: $(tail -c 300 "$tmp/longeval.err")"; fi
# a signal after the last event, while the served images are classified: "interrupted" (exit 3),
# never "complete" with requests left unclassified. 2.6 s at 3,000 requests/s: the last ~3,700
# served images wait for the classification after the last event, which ptcsim announces on
# stderr ("classifying the last N served images"); the signal goes right after that line.
"$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":3000,"batch_s":1}' --set horizon_s=2.6 --set accuracy.mode=served \
  --out "$tmp/late" >/dev/null 2>"$tmp/late.err" &
pid=$!
for _ in $(seq 1 1500); do grep -q "classifying the last" "$tmp/late.err" 2>/dev/null && break; sleep 0.02; done
kill -TERM "$pid"; wait "$pid"; rc=$?
# (Trace rows classify what waits, and on a loaded machine the last row can take everything: then
# nothing waits at the end, no line is printed, and the run must simply be complete.)
grep -q "simulation ended; classifying the last [0-9]* served images" "$tmp/late.err" && waited=1 || waited=0
if $py - "$tmp/late" "$rc" "$waited" <<'PY'
import csv, json, sys, os
d, rc, waited = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
st = json.load(open(os.path.join(d, "run.json")))["status"]
rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
n, served = sum(int(r["accuracy_n"]) for r in rows if r["accuracy_n"]), int(rows[-1]["requests"])
if waited:   # the signal came during the classification: some served images stay unclassified
    assert (st, rc) == ("interrupted", 3) and n < served, (st, rc, n, served)
else:
    assert (st, rc) == ("complete", 0) and n == served, (st, rc, n, served)
PY
then ok "SIGTERM while the served images are classified after the last event: interrupted (exit 3), not 'complete' (waited: $waited)"
else bad "late SIGTERM (exit $rc): $(cat "$tmp/late.err" | tail -2) $(head -c 300 "$tmp/late/run.json")"; fi

# Sends signal $1 to process $2 and waits up to 30 s for it to end: rc its exit status, ms the
# milliseconds it took. Returns 1 (after SIGKILL) if it was still running.
signal_and_wait() {
  local t0; t0=$(date +%s%N); kill -"$1" "$2"
  for _ in $(seq 1 300); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$2" 2>/dev/null; then kill -KILL "$2"; wait "$2" 2>/dev/null; return 1; fi
  wait "$2"; rc=$?; ms=$((($(date +%s%N) - t0) / 1000000))
}

# ---- a signal during an action's offline pass over the training set (SWIM's curvature pass at
# deployment over 20,000 images; a trial: SIGINT waited for the whole pass, 544 s with 60,000
# images): the pass stops at its next batch, the action is abandoned before it booked anything,
# and the run ends "interrupted" with balanced books.
"$ptcsim" run "$src/scenarios/swim/cnn3_swim_variation.json" --set controller.salience.images=20000 --set threads=1 \
  --out "$tmp/swimstop" -q >/dev/null 2>"$tmp/swimstop.err" &
pid=$!
sleep 4
if ! signal_and_wait INT "$pid"; then
  bad "SIGINT during SWIM's curvature pass: still running 30 s later"
else
  if $py - "$tmp/swimstop" "$rc" "$ms" <<'PY'
import json, os, sys
d, rc, ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(os.path.join(d, "run.json")))
assert rc == 3 and r["status"] == "interrupted" and ms < 10000, (rc, r["status"], ms)
ev = os.path.join(d, "events.jsonl")
if os.path.exists(ev):  # else: stopped before the first event (a slow machine)
    # The signal came during the pass (which takes minutes): no write-verify action was booked.
    assert not any(json.loads(l)["type"] == "write_verify" for l in open(ev) if l.strip()), "the pass had ended"
PY
  [ $? -eq 0 ] && { [ ! -f "$tmp/swimstop/summary.json" ] || $py "$src/tests/regression/check_books.py" "$tmp/swimstop" >/dev/null; }
  then ok "SIGINT during SWIM's curvature pass: interrupted within 10 s (exit $rc, ${ms} ms), no action booked, books balance"
  else bad "SIGINT during SWIM's curvature pass (exit $rc, ${ms} ms): $(tail -c 300 "$tmp/swimstop.err")"; fi
fi

# ---- a signal after the simulation, while the ideal reference is computed (it classifies every
# served image without noise, seconds here): the run stops at once, and an interrupted run reports
# no ideal reference (it used to compute it all and still say "interrupted")
"$ptcsim" run "$src/scenarios/quickstart.json" --set controller.salience.images=64 --out "$tmp/intideal" >/dev/null 2>"$tmp/intideal.err" &
pid=$!
for _ in $(seq 1 3000); do grep -q '100.0% simulated' "$tmp/intideal.err" 2>/dev/null && break; sleep 0.02; done
sleep 0.3; t0=$(date +%s%N); kill -INT "$pid"; wait "$pid"; rc=$?; ms=$((($(date +%s%N) - t0) / 1000000))
if $py - "$tmp/intideal" "$rc" "$ms" <<'PY'
import json, os, sys
d, rc, ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(os.path.join(d, "summary.json")))
if s["status"] == "interrupted":
    assert rc == 3 and s["accuracy_ideal"] is None and ms < 3000, (rc, s["accuracy_ideal"], ms)
else:  # the reference was done before the signal came (a fast machine)
    assert s["status"] == "complete" and rc == 0 and s["accuracy_ideal"] is not None, (s["status"], rc)
PY
then ok "SIGINT during the ideal reference: stops within 3 s, no accuracy_ideal (exit $rc, ${ms} ms)"
else bad "SIGINT during the ideal reference (exit $rc, ${ms} ms): $(tail -c 300 "$tmp/intideal.err")"; fi

# ---- a stop request while one image decodes for minutes: RNS under phase noise near pi with four
# redundant moduli and 16 retries per word (a trial: SIGTERM took effect between batches of images
# only, and this run ignored it for 8 minutes). The batch in flight is dropped: no request served.
"$ptcsim" run "$src/scenarios/rns/cnn3_rns6_rrns.json" --set traffic.requests=1 --set device.sigma_phi_rad=3.14159 \
  --set device.redundant=4 --set device.max_retries=16 --set threads=1 --out "$tmp/rnsstop" -q >/dev/null 2>"$tmp/rnsstop.err" &
pid=$!
sleep 4
if ! signal_and_wait TERM "$pid"; then
  bad "SIGTERM during a long RNS decoding: still running 30 s later"
else
  if $py - "$tmp/rnsstop" "$rc" "$ms" <<'PY'
import json, os, sys
d, rc, ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(os.path.join(d, "run.json")))
assert rc == 3 and r["status"] == "interrupted" and ms < 10000, (rc, r["status"], ms)
if os.path.exists(os.path.join(d, "summary.json")):  # else: stopped before the first event (a slow machine)
    s = json.load(open(os.path.join(d, "summary.json")))
    assert s["status"] == "interrupted" and s["accuracy_mean"] is None, s  # the request's image was not classified
PY
  [ $? -eq 0 ] && { [ ! -f "$tmp/rnsstop/summary.json" ] || $py "$src/tests/regression/check_books.py" "$tmp/rnsstop" >/dev/null; }
  then ok "SIGTERM during a long RNS decoding: interrupted within 10 s (exit $rc, ${ms} ms), the batch in flight dropped"
  else bad "SIGTERM during a long RNS decoding (exit $rc, ${ms} ms): $(tail -c 300 "$tmp/rnsstop.err")"; fi
fi

# ---- an interrupted run reports the time it reached, not the horizon: a SWIM policy acting every
# microsecond before any request (the runtime had nothing to serve and waited for the horizon in
# one step, so the summary said sim_time_s 10 and a trace row stood at t = 10 after 0.1 s simulated)
# (The signal goes after the first progress line, once the policy acts; each write-verify pass
# advances the time by about 2 ms.)
"$ptcsim" run "$src/scenarios/swim/lenet5_pcm_swim.json" --set accuracy.instances=1 --set accuracy.images=50 \
  --set controller.salience.images=64 --set controller.policy.interval_s=1e-6 --set horizon_s=10 --set 'accuracy.times_s=[10]' \
  --out "$tmp/intswim" >/dev/null 2>"$tmp/intswim.err" &
pid=$!
for _ in $(seq 1 600); do grep -q '% simulated' "$tmp/intswim.err" 2>/dev/null && break; sleep 0.1; done
sleep 1; kill -INT "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 3 ] && $py - "$tmp/intswim" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "summary.json")))
last_event = max(json.loads(l)["t_s"] for l in open(os.path.join(d, "events.jsonl")))
rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
assert s["status"] == "interrupted" and s["sim_time_s"] < 10, s["sim_time_s"]
# the end is within a write-verify pass (about 2 ms) of the last event; the old end was the horizon
assert last_event <= s["sim_time_s"] < last_event + 0.05, (last_event, s["sim_time_s"])
assert float(rows[-1]["t_s"]) <= s["sim_time_s"], rows[-1]["t_s"]
PY
then ok "SIGINT before the first request: sim_time_s is the time reached, not the horizon"
else bad "interrupted SWIM run (exit $rc): $(tail -c 300 "$tmp/intswim.err") $(head -c 400 "$tmp/intswim/summary.json")"; fi

# ---- the progress of an interrupted run stops where it was (it printed "100.0% simulated")
"$ptcsim" run "$sc" --set traffic.requests=200000 --out "$tmp/int2" >/dev/null 2>"$tmp/int2.err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/int2/run.json" ] && break; sleep 0.1; done
sleep 2; kill -INT "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 3 ] && ! grep -q '100.0% simulated' "$tmp/int2.err"; then
  ok "SIGINT: no 100 % progress line for an interrupted run"
else bad "interrupted run's progress (exit $rc): $(tail -c 300 "$tmp/int2.err")"; fi

# ---- the kernel paths give the same bytes (hw/hardware_gemm.cpp, hw/physics/rng.cpp): the
# AVX-512, AVX2 + FMA and portable kernels do the same float operations in the same order, so a
# DOCTOR run (dense panels) and a PCM run with ADC and DAC noise and bound management (fused ADC
# kernels, 16-bit and inverse-CDF normals) write identical files on every path this CPU has.
paths=(default)
grep -qw avx512f /proc/cpuinfo && paths+=(no_avx512)
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && paths+=(portable)
for p in "${paths[@]}"; do
  case $p in default) envs=();; no_avx512) envs=(PTC_NO_AVX512=1);; portable) envs=(PTC_NO_AVX512=1 PTC_NO_AVX2=1);; esac
  env "${envs[@]}" "$ptcsim" run "$src/scenarios/doctor/pv_high_linear_doctor.json" --set traffic.requests=600 \
    --out "$tmp/kp_doctor_$p" -q >"$tmp/log" 2>&1 || bad "DOCTOR run on path $p failed: $(tail -2 "$tmp/log")"
  env "${envs[@]}" "$ptcsim" run "$src/scenarios/pcm/bound_management.json" --set hw.adc.noise_std=0.02 \
    --set hw.dac.noise_std=0.01 --set accuracy.images=40 --out "$tmp/kp_pcm_$p" -q >"$tmp/log" 2>&1 ||
    bad "noisy PCM run on path $p failed: $(tail -2 "$tmp/log")"
done
for p in "${paths[@]:1}"; do
  for r in doctor pcm; do
    same=1
    for f in trace.csv events.jsonl summary.json stats.json; do cmp -s "$tmp/kp_${r}_default/$f" "$tmp/kp_${r}_$p/$f" || same=0; done
    [ "$same" = 1 ] && ok "$r run: kernel path $p writes the bytes of the default path" || bad "$r run: path $p differs from the default"
  done
done
[ "${#paths[@]}" -ge 2 ] || ok "one kernel path on this CPU (no AVX2): nothing to compare"

# --threads N is --set threads=N: the same outputs as the --set, the same bytes as 1 thread, every
# output file included (config.resolved.json recorded the count and differed; run.json records it),
# and the same default run directory (the count is not part of the configuration id).
"$ptcsim" run "$sc" --set traffic.requests=60 --threads 2 --out "$tmp/th2" -q >/dev/null 2>"$tmp/err" \
  && "$ptcsim" run "$sc" --set traffic.requests=60 --set threads=2 --out "$tmp/ts2" -q >/dev/null 2>>"$tmp/err" \
  && "$ptcsim" run "$sc" --set traffic.requests=60 --threads 1 --out "$tmp/th1" -q >/dev/null 2>>"$tmp/err"
same=yes
for f in config.resolved.json trace.csv events.jsonl summary.json stats.json; do cmp -s "$tmp/th2/$f" "$tmp/ts2/$f" || same="no ($f vs --set)"; done
for f in config.resolved.json trace.csv events.jsonl summary.json stats.json; do cmp -s "$tmp/th2/$f" "$tmp/th1/$f" || same="no ($f vs 1 thread)"; done
grep -q '"threads": 2' "$tmp/th2/run.json" || same="no (run.json does not record 2 threads)"
[ "$same" = yes ] && ok "run --threads 2 = --set threads=2, and the same bytes as --threads 1" || bad "--threads: $same $(cat "$tmp/err")"
expect_error "run --threads out of range is one line" "threads: .*1025" "$ptcsim" run "$sc" --threads 1025

# A served fleet: each chip's accuracy_ideal is over its own served images (it was the fleet's, over
# images the chip never served): k / n for the chip's n images, and the chips' references weighted
# by their images give the fleet's.
if "$ptcsim" run "$sc" --set traffic.requests=61 --set hw.chips=2 --set 'controller.policy={"name":"none"}' --out "$tmp/fl2" -q \
     >/dev/null 2>"$tmp/err" && /usr/bin/python3 - "$tmp/fl2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json")); chips = s["per_chip"]
n = [c["requests"] for c in chips]
assert sum(n) == 61 and min(n) > 0, n
for c, k in zip(chips, n):
    hits = c["accuracy_ideal"] * k
    assert abs(hits - round(hits)) < 1e-9, (c["accuracy_ideal"], k)
assert abs(sum(c["accuracy_ideal"] * k for c, k in zip(chips, n)) / 61 - s["accuracy_ideal"]) < 1e-12, (s["accuracy_ideal"], chips)
PY
then ok "served fleet: each chip's ideal reference is over its own images"
else bad "per-chip ideal accuracy: $(cat "$tmp/err")"; fi
# stats.json runtime of a fleet: nine 1-s Poisson windows at 200 req/s (none empty: e^-200), ready
# at 1 ... 9 s (the one at the 10-s horizon is not served), each split over 3 chips by round_robin:
# 9 traffic batches, 27 chip batches (the "batches" a fleet sums).
if "$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":200,"batch_s":1}' --set horizon_s=10 --set hw.chips=3 \
     --set dispatcher.name=round_robin --set 'controller.policy={"name":"none"}' --set 'accuracy={"mode":"none"}' \
     --out "$tmp/fl3" -q >/dev/null 2>"$tmp/err" \
   && /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['runtime']; assert (r['traffic_batches']['value'], r['batches']['value']) == (9, 27), r" "$tmp/fl3/stats.json"
then ok "fleet stats: 9 traffic batches, 27 chip batches"
else bad "fleet batches: $(cat "$tmp/err")"; fi
# tools/plot_fleet.py on it: a served run's panel is not called "scheduled", a figure format
# matplotlib cannot write is one error line (it was a traceback).
if /usr/bin/python3 "$src/tools/plot_fleet.py" "$tmp/fl2" -o "$tmp/fl2.png" >/dev/null 2>"$tmp/err" && [ -s "$tmp/fl2.png" ] \
   && MPLBACKEND=Agg /usr/bin/python3 - "$src/tools/plot_fleet.py" "$tmp/fl2" "$tmp/fl2.svg" <<'PY'
import subprocess, sys
subprocess.run(["/usr/bin/python3", sys.argv[1], sys.argv[2], "-o", sys.argv[3]], check=True, capture_output=True)
svg = open(sys.argv[3]).read()
assert "served accuracy per chip" in svg and "scheduled accuracy" not in svg, "panel title"
PY
then ok "plot_fleet.py on a served fleet: figure written, panel titled served"
else bad "plot_fleet.py served fleet: $(cat "$tmp/err")"; fi
expect_error "plot_fleet.py: an unknown figure format is one line" 'plot_fleet: -o .*fl2.txt: unknown figure format "txt"' \
  /usr/bin/python3 "$src/tools/plot_fleet.py" "$tmp/fl2" -o "$tmp/fl2.txt"

# A monitor interval shorter than its probe (DOCTOR's read-back, ~0.5 ms): a check that outlasts
# the interval skips the instants it covered. The checks used to run back to back, no request was
# served after the first and the run never ended. Also swim_variation's resolved configuration
# re-runs as it is, to the same bytes (it was refused: it held the policy's iteration defaults).
if timeout 120 "$ptcsim" run "$sc" --set traffic.requests=20 --set monitor.interval_s=1e-6 --out "$tmp/mon_short" -q \
     >/dev/null 2>"$tmp/err" \
   && /usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['status']=='complete' and s['requests']==20, s" \
        "$tmp/mon_short/summary.json"
then ok "monitor interval_s below the probe time: the run serves every request and ends"
else bad "monitor interval shorter than a probe: $(cat "$tmp/err")"; fi
sv="$src/scenarios/swim/lenet5_swim_variation.json"
if "$ptcsim" run "$sv" --set accuracy.instances=2 --set accuracy.images=50 --set controller.salience.images=64 \
     --out "$tmp/sv1" -q >/dev/null 2>"$tmp/err" \
   && "$ptcsim" run "$tmp/sv1/config.resolved.json" --out "$tmp/sv2" -q >/dev/null 2>>"$tmp/err" \
   && cmp -s "$tmp/sv1/summary.json" "$tmp/sv2/summary.json" && cmp -s "$tmp/sv1/trace.csv" "$tmp/sv2/trace.csv" \
   && cmp -s "$tmp/sv1/events.jsonl" "$tmp/sv2/events.jsonl"
then ok "swim_variation: config.resolved.json re-runs to the same bytes"
else bad "swim_variation re-run from config.resolved.json: $(cat "$tmp/err")"; fi

# Timer actions before the horizon only: SWIM verifying every day over 3 days verifies at deployment
# and at 1 and 2 days, not at the horizon (it did, after the traffic, and ran sim_time_s past
# horizon_s).
if "$ptcsim" run "$src/scenarios/swim/month_swim.json" --set horizon_s=259200 --set accuracy.log_spaced.stop_s=259200 \
     --set accuracy.images=20 --set accuracy.instances=1 --set controller.salience.images=64 --out "$tmp/ms" -q \
     >/dev/null 2>"$tmp/err" && /usr/bin/python3 - "$tmp/ms" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
ev = [json.loads(l) for l in open(d + "/events.jsonl")]
wv = [e for e in ev if e["type"] == "write_verify"]
assert s["sim_time_s"] == 259200, s["sim_time_s"]
assert [e["reason"] for e in wv] == ["deployment", "periodic", "periodic"], [(e["reason"], e["t_s"]) for e in wv]
assert [round(e["t_s"] / 86400) for e in wv] == [0, 1, 2], [e["t_s"] for e in wv]
PY
then ok "timer actions before the horizon only: SWIM verifies at 0, 1 and 2 days of 3, sim_time_s = horizon"
else bad "timer action at the horizon: $(cat "$tmp/err")"; fi

# Monte-Carlo chips under a thermal field: each instance has its own static ring offsets (they were
# instance 0's in every copy, so the instances' accuracies were the same at every evaluation).
if "$ptcsim" run "$src/scenarios/datacenter/year_doctor.json" --set horizon_s=120 --set accuracy.log_spaced.stop_s=120 \
     --set accuracy.log_spaced.points=2 --set accuracy.images=200 --set noise.0.ring_offset_sigma_k=0.2 --out "$tmp/ros" -q \
     >/dev/null 2>"$tmp/err" && /usr/bin/python3 - "$tmp/ros" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
ia = [e["instance_accuracy"] for e in ev if e["type"] == "evaluation"]
assert ia and all(len(a) == 2 for a in ia), ia
assert any(a[0] != a[1] for a in ia), ia
PY
then ok "thermal field ring offsets: Monte-Carlo instances are different chips"
else bad "thermal-field instances: $(cat "$tmp/err")"; fi

# A DOCTOR calibration step charges the chunks it reads: at a tiny sparsity one chunk per layer
# (LeNet-5: 5 weight layers; k = 8 cycles a chunk), 5 x 8 = 40 cycles per step, the step's
# read-back settles' count (round(probe_cycles x beta) charged 0 cycles while 5 chunks were read).
if "$ptcsim" run "$sc" --set controller.policy.sparsity=1e-6 --out "$tmp/sparse" -q >/dev/null 2>"$tmp/err" \
   && $py - "$tmp/sparse" <<'PY' 2>>"$tmp/err"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
cal = [e for e in ev if e["type"] == "calibration"]
assert cal, "no calibration"
for e in cal:
    assert e["cycles"] == e["steps"] * 5 * 8, e
PY
then ok "a sparse DOCTOR calibration charges the chunks it reads (one per layer at sparsity 1e-6: 40 cycles a step)"
else bad "sparse calibration cycles: $(cat "$tmp/err")"; fi

# Served requests see the physical thermal field at their own batch's instant, whoever else reads
# it: they saw the rings' temperatures of the last sensor read (t = 0 without a monitor: 93.2 %
# under a 0.5-K fluctuation, as with none; 31.9 % with a monitor that reads sensors and never acts).
cat >"$tmp/thsrv.json" <<EOF
{"name": "thermal_served", "seed": 1, "model": "$src/models/zoo/cnn3_fmnist.onnx",
 "hw": {"cores": {"rows": 4, "cols": 4, "block_size": 8}, "mapping": {"name": "cyclic"}},
 "device": {"name": "mrr"}, "time": {"step": "seconds", "step_s": 1},
 "noise": [{"name": "thermal_field", "daily_amplitude_k": 0.0, "ou_sigma_k": 0.5, "ou_tau_s": 5, "self_heating_k": 0.0}],
 "traffic": {"name": "poisson", "rate_hz": 50, "batch_s": 1}, "horizon_s": 30,
 "accuracy": {"mode": "served"}, "controller": {"policy": {"name": "none"}},
 "trace": {"every_requests": 0, "every_s": 5}}
EOF
if "$ptcsim" run "$tmp/thsrv.json" --out "$tmp/thsrv_none" -q >/dev/null 2>"$tmp/err" \
   && "$ptcsim" run "$tmp/thsrv.json" --out "$tmp/thsrv_mon" -q --set 'controller.policy={"name":"threshold_full"}' \
        --set monitor.t_thres_k=1000 --set monitor.w_thres=1000 --set monitor.probe_test=false \
        --set monitor.interval_requests=10 >/dev/null 2>>"$tmp/err" \
   && "$ptcsim" run "$tmp/thsrv.json" --out "$tmp/thsrv_quiet" -q --set noise.0.ou_sigma_k=0 >/dev/null 2>>"$tmp/err" \
   && $py - "$tmp" <<'PY' 2>>"$tmp/err"
import csv, json, sys
d = sys.argv[1]
s = {k: json.load(open(f"{d}/thsrv_{k}/summary.json")) for k in ("none", "mon", "quiet")}
acc = {k: [r["accuracy"] for r in csv.DictReader(open(f"{d}/thsrv_{k}/trace.csv"))] for k in ("none", "mon")}
assert s["mon"]["calibrations"] == 0, s["mon"]["calibrations"]
assert acc["none"] == acc["mon"], acc
assert s["none"]["accuracy_mean"] == s["mon"]["accuracy_mean"], (s["none"]["accuracy_mean"], s["mon"]["accuracy_mean"])
assert s["none"]["accuracy_mean"] < s["quiet"]["accuracy_mean"] - 0.2, (s["none"]["accuracy_mean"], s["quiet"]["accuracy_mean"])
PY
then ok "served requests see the thermal field at their instant: the same with and without a sensor-reading monitor"
else bad "served requests under a thermal field: $(cat "$tmp/err")"; fi

# A fleet that write-verifies (SWIM on PCM, two chips) keeps the chips' write_verify books at the fleet
# level too (it had none): each key the sum over the chips, the one-shot programming energy the fleet's
# initial writes x pcm_write_pj, its time the busiest core's rows by the compiled placement, and
# every chip verifies the same top 10 % of the weights.
swim="$src/scenarios/swim/lenet5_pcm_swim.json"
if "$ptcsim" run "$swim" --set hw.chips=2 --set accuracy.images=20 --set accuracy.instances=1 \
     --set controller.salience.images=64 --out "$tmp/fwv" -q >/dev/null 2>"$tmp/err" \
   && "$ptcsim" compile "$src/models/zoo/lenet5_fmnist.onnx" --hw "$src/scenarios/hw/pcm_4x4x8.json" -o "$tmp/fwv_wl.json" \
   && /usr/bin/python3 "$src/tests/regression/check_books.py" "$tmp/fwv" && /usr/bin/python3 - "$tmp/fwv" "$tmp/fwv_wl.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
cfg = json.load(open(sys.argv[1] + "/config.resolved.json"))
w, chips = s["write_verify"], [c["write_verify"] for c in s["per_chip"]]
assert len(chips) == 2 and chips[0]["weights_verified"] == chips[1]["weights_verified"] > 0, chips
assert w["weights_verified"] == 2 * chips[0]["weights_verified"], w
assert w["writes"] == sum(c["writes"] for c in chips) and w["reads"] == sum(c["reads"] for c in chips), w
e0 = s["writes_initial_programming"] * cfg["hw"]["energy"]["pcm_write_pj"] * 1e-12
assert abs(w["initial_programming_energy_j"] - e0) <= 1e-12 * e0, (w["initial_programming_energy_j"], e0)
assert abs(w["programming_energy_j"] - e0 - w["energy_j"]) <= 1e-12 * w["programming_energy_j"], w
# One-shot programming time: per layer group, the busiest core of the compiled placement writes its
# rows (k per block) one after another (the rows were spread evenly over the cores, which the
# cyclic placement does not give): sum over groups of max_c (k x blocks on core c) x pcm_write_us.
wl = json.load(open(sys.argv[2]))
k, cores = cfg["hw"]["cores"]["block_size"], cfg["hw"]["cores"]["rows"] * cfg["hw"]["cores"]["cols"]
t0 = 0.0
for L in wl["layers"]:
    for g in L["core_of_block"]:
        n = [0] * cores
        for row in g:
            for c in row:
                n[c % cores] += k
        t0 += max(n) * cfg["hw"]["energy"]["pcm_write_us"] * 1e-6
for c in s["per_chip"]:
    assert abs(c["write_verify"]["initial_programming_time_s"] - t0) <= 1e-12, (c["write_verify"]["initial_programming_time_s"], t0)
PY
then ok "write-verifying fleet: write_verify books summed over the chips"
else bad "fleet write_verify books: $(cat "$tmp/err")"; fi

# trace.csv keeps t_s to the kernel's 1 ns: each scheduled evaluation's row is the instant its
# event logged (to 1 ns), never before its scheduled instant. With 9 significant digits the
# drift-compensated row for 9187081.383609865 s read 9187081.38, before the instant (and
# ptc-plot left the run's t = 0 point off the 0 tick). Also a trace every 0.1 s past 2,048 s: the
# periodic instant stopped advancing there and the run never ended.
gdc="$src/scenarios/pcm/drift_gdc.json"
if "$ptcsim" run "$gdc" --set accuracy.images=20 --set traffic.rate_hz=0.001 --out "$tmp/gdc" -q >/dev/null 2>"$tmp/err" \
   && /usr/bin/python3 - "$tmp/gdc" <<'PY'
import csv, json, sys
d = sys.argv[1]
cfg = json.load(open(d + "/config.resolved.json"))["accuracy"]
rows = [r for r in csv.DictReader(open(d + "/trace.csv")) if r["accuracy"]]
ev = [json.loads(l) for l in open(d + "/events.jsonl") if '"evaluation"' in l]
ev = [e for e in ev if e["type"] == "evaluation"]
times = sorted(cfg["times_s"])
assert len(rows) == len(ev) == len(times) and times[-1] > 1e7, (len(rows), len(ev), times[-1])
for r, e, t in zip(rows, ev, times):
    assert t <= float(r["t_s"]) and abs(float(r["t_s"]) - e["t_s"]) <= 5e-10, (r["t_s"], e["t_s"], t)
PY
then ok "trace.csv t_s to 1 ns: evaluation rows at their events' instants, none before its scheduled instant"
else bad "trace t_s precision: $(cat "$tmp/err")"; fi
if timeout 60 "$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":0.5,"batch_s":10}' --set horizon_s=2100 \
     --set trace.every_s=0.1 --set trace.every_requests=0 --out "$tmp/tr01" -q >/dev/null 2>"$tmp/err" \
   && [ "$(awk -F, 'NR > 1 && $1 > 2048 && $1 <= 2100' "$tmp/tr01/trace.csv" | wc -l)" -ge 500 ]
then ok "a trace every 0.1 s runs past 2,048.1 s to the horizon"
else bad "trace every 0.1 s: $(cat "$tmp/err")"; fi

# ---- an interrupted fleet reports the accuracy of the instants every chip evaluated (its fleet
# rows): stopped while half the chips had evaluated at 657 s and half only at 60 s, the summary's
# accuracy_final was the mean of each chip's last evaluation, mixing the two instants
"$ptcsim" run "$src/scenarios/datacenter/fleet8_year.json" --threads 1 --set horizon_s=7200 --set accuracy.log_spaced.stop_s=7200 \
  --set accuracy.log_spaced.points=3 --out "$tmp/intfleet" -q >/dev/null 2>"$tmp/intfleet.err" &
pid=$!
for _ in $(seq 1 300); do [ -s "$tmp/intfleet/run.json" ] && break; sleep 0.1; done
sleep 8; kill -INT "$pid"; wait "$pid"; rc=$?
evals=$(awk -F, 'NR > 1 && $3 != ""' "$tmp/intfleet/trace.csv" 2>/dev/null | wc -l)
if [ "$rc" -eq 3 ] && [ "$evals" -ge 1 ]; then
  if $py "$src/tests/regression/check_books.py" "$tmp/intfleet" >"$tmp/intfleet.books" 2>&1; then
    ok "an interrupted fleet: summary accuracies are its fleet rows' ($evals fleet evaluation rows, books balance)"
  else bad "interrupted fleet books: $(head -c 600 "$tmp/intfleet.books")"; fi
elif [ "$rc" -eq 3 ] || [ "$rc" -eq 0 ]; then
  ok "an interrupted fleet: not exercised on this machine (exit $rc, signal before the first fleet evaluation or after the end)"
else bad "interrupted fleet (exit $rc): $(tail -c 300 "$tmp/intfleet.err")"; fi

# ---- the fleet's events.jsonl does not depend on the trace cadence: three chips whose monitors
# trigger at the same instants (a trial: 57 lines of same-instant events of different chips came
# in another order with trace.every_s 45 than with 600); each chip's own events never moved
for e in 600 45; do
  "$ptcsim" run "$src/scenarios/datacenter/fleet8_year.json" --threads 1 --set horizon_s=1800 --set accuracy.log_spaced.stop_s=1800 \
    --set accuracy.log_spaced.points=2 --set accuracy.images=50 --set hw.chips=3 --set trace.every_s=$e --out "$tmp/fev$e" -q >/dev/null 2>"$tmp/err"
done
if cmp -s "$tmp/fev600/events.jsonl" "$tmp/fev45/events.jsonl" && $py - "$tmp/fev600" <<'PY'
import json, os, sys
ev = [json.loads(l) for l in open(os.path.join(sys.argv[1], "events.jsonl"))]
keys = [(e["t_s"], e["chip"]) for e in ev]
assert keys == sorted(keys), "not in (t_s, chip) order"
same_t = sum(1 for a, b in zip(keys, keys[1:]) if a[0] == b[0] and a[1] != b[1])
assert same_t > 0, "no two chips had events at one instant: the test shows nothing"
per_chip = {}
for e in ev:
    per_chip.setdefault(e["chip"], []).append(e)
for c, es in per_chip.items():  # each chip's events in its own file's order
    own = [json.loads(l) for l in open(os.path.join(sys.argv[1], "chips", f"chip_{c}", "events.jsonl"))]
    assert [{k: v for k, v in e.items() if k != "chip"} for e in es] == own, c
PY
then ok "a fleet's events.jsonl is the same bytes at trace.every_s 600 and 45, in (t_s, chip) order"
else bad "fleet events order: $(diff "$tmp/fev600/events.jsonl" "$tmp/fev45/events.jsonl" | head -4)"; fi

# ---- every fleet trace row is the sum of the chips' rows (a trial: a chip re-tuning at a periodic
# instant writes its row when the re-tune ends, with its writes and calibration, while the fleet's
# row at the instant had its cycles only). Monitors check every 60 s, so re-tunes fall on the row
# instants.
if "$ptcsim" run "$src/scenarios/datacenter/fleet8_year.json" --threads 1 --set horizon_s=1800 --set accuracy.log_spaced.stop_s=1800 \
     --set accuracy.log_spaced.points=2 --set accuracy.images=50 --set hw.chips=3 --set trace.every_s=60 --out "$tmp/frows" -q \
     >/dev/null 2>"$tmp/err" && $py "$src/tests/regression/check_books.py" "$tmp/frows" >"$tmp/err" 2>&1 && $py - "$tmp/frows" <<'PY'
import csv, os, sys
d = sys.argv[1]
late = [r for i in range(3) for r in csv.DictReader(open(os.path.join(d, "chips", f"chip_{i}", "trace.csv")))
        if not r["accuracy"] and float(r["t_s"]) % 60 > 0 and float(r["t_s"]) < 1800]
assert late, "no chip row delayed by a re-tune: the test shows nothing"
PY
then ok "every fleet trace row is the sum of the chips' latest rows, also at a chip's re-tune"
else bad "fleet rows vs chip rows: $(head -c 400 "$tmp/err")"; fi

# ---- a fleet's events do not depend on the trace cadence when an action outlasts it (a review of
# a first version of the summed fleet rows, 6e7767c: the fleet's row waiting for a busy chip's row
# held every chip's lane and the dispatcher, so chip 1's count-based trigger moved from 63.9875 s to
# 63.9901 s at trace.every_s 0.0007). The review's case: two chips re-tune for about 4 ms around
# 64 s, rows every 0.7 ms (about 45 s for both runs; smaller cases did not show the failure).
for e in 100 0.0007; do
  "$ptcsim" run "$src/scenarios/datacenter/year_doctor.json" --threads 1 --set hw.chips=2 --set traffic.rate_hz=2000 \
    --set traffic.batch_s=0.001 --set monitor.interval_requests=500 --set horizon_s=70 --set accuracy.log_spaced.stop_s=70 \
    --set accuracy.log_spaced.points=2 --set trace.every_s=$e --out "$tmp/fcad$e" -q >/dev/null 2>"$tmp/err" ||
    bad "fleet cadence run ($e): $(head -c 300 "$tmp/err")"
done
if cmp -s "$tmp/fcad100/events.jsonl" "$tmp/fcad0.0007/events.jsonl" && cmp -s "$tmp/fcad100/summary.json" "$tmp/fcad0.0007/summary.json" &&
   $py "$src/tests/regression/check_books.py" "$tmp/fcad0.0007" >"$tmp/err" 2>&1 && $py - "$tmp/fcad0.0007" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
trig, longest = {}, 0.0
for e in ev:  # trigger -> calibration of the same chip: the action's length
    if e["type"] == "trigger":
        trig[e["chip"]] = e["t_s"]
    elif e["type"] == "calibration" and e["chip"] in trig:
        longest = max(longest, e["t_s"] - trig.pop(e["chip"]))
assert longest > 3 * 0.0007, f"no action outlasts the trace cadence ({longest} s): the test shows nothing"
late = [e for e in ev if e["type"] == "trigger" and e["t_s"] > 60]
assert sorted(e["chip"] for e in late) == [0, 1], late  # both chips re-tune after the cool-down
assert len(list(csv.DictReader(open(os.path.join(d, "trace.csv"))))) > 90000
PY
then ok "a fleet's events and summary are the same bytes at trace.every_s 100 and 0.0007 with actions longer than the cadence"
else bad "fleet events vs trace cadence: $(diff "$tmp/fcad100/events.jsonl" "$tmp/fcad0.0007/events.jsonl" | head -4) $(head -c 300 "$tmp/err")"; fi

# ---- a signal during a controller action: the action finishes and its books are whole (a trial:
# a fleet chip's re-program cut during its wait had booked array time, energy and conversions but
# no cycles, writes or event, and check_books failed; 3 of 5 runs stopped between 0.7 and 1.1 s).
# Signals at five instants of a three-chip fleet's first seconds: every run's books balance.
books_ok=1
for d in 0.5 0.7 0.9 1.1 1.4; do
  rm -rf "$tmp/intact"
  "$ptcsim" run "$src/scenarios/datacenter/fleet8_year.json" --set horizon_s=7200 --set accuracy.log_spaced.stop_s=7200 \
    --set hw.chips=3 --set threads=1 --out "$tmp/intact" -q >/dev/null 2>"$tmp/intact.err" &
  pid=$!
  sleep "$d"; kill -INT "$pid"; wait "$pid"; rc=$?
  [ -f "$tmp/intact/summary.json" ] || continue  # stopped before the first event: nothing to balance
  if [ "$rc" -ne 3 ] && [ "$rc" -ne 0 ]; then books_ok=0; echo "  rc $rc at ${d} s: $(tail -c 300 "$tmp/intact.err")"; continue; fi
  $py "$src/tests/regression/check_books.py" "$tmp/intact" >"$tmp/intact.books" 2>&1 || { books_ok=0; echo "  at ${d} s: $(head -c 400 "$tmp/intact.books")"; }
done
if [ "$books_ok" -eq 1 ]; then ok "a signal during a controller action: the action finishes, every interrupted fleet run's books balance"
else bad "a signal during a controller action: books do not balance"; fi

# ---- requests that arrive but are not served are counted: Poisson 40,000/s in 10-ms windows for
# 0.105 s is 10 windows ready before the horizon (Poisson(400) each: 4,000 +- 63 requests) on a
# chip that serves about 3,400/s; the summary's requests_arrived is the traffic's count (5 sigma),
# requests_unserved = arrived - served, and stats.json's runtime books say the same
"$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":40000,"batch_s":0.01}' --set horizon_s=0.105 \
  --set 'controller.policy={"name":"none"}' --set accuracy.mode=none --set noise=[] --out "$tmp/overload" -q >/dev/null 2>"$tmp/err"
if $py - "$tmp/overload" <<'PY'
import json, math, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "summary.json")))
st = json.load(open(os.path.join(d, "stats.json")))
a, n = s["requests_arrived"], s["requests"]
assert abs(a - 4000) <= 5 * math.sqrt(4000), a
assert s["requests_unserved"] == a - n and n < a / 2, (a, n, s["requests_unserved"])
assert st["runtime"]["requests_arrived"]["value"] == a, st["runtime"]
PY
then ok "an overloaded chip: requests_arrived is the traffic's count, requests_unserved the rest"
else bad "unserved requests: $(cat "$tmp/err") $(head -c 400 "$tmp/overload/summary.json")"; fi
# ... and an interrupted run counts what arrived by the time it reached, not what the dispatcher
# drew ahead of it (up to 1,024 windows: 10,298 "arrived" against 1,407 served at 1.4 s)
"$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":1000,"batch_s":0.01}' --set horizon_s=1000000 \
  --set 'controller.policy={"name":"none"}' --set accuracy.mode=none --set noise=[] --set trace.every_s=100 \
  --out "$tmp/intarr" >/dev/null 2>"$tmp/intarr.err" &
pid=$!
for _ in $(seq 1 300); do grep -q '% simulated' "$tmp/intarr.err" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 3 ] && $py - "$tmp/intarr" <<'PY'
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
# a chip 3.4x faster than the traffic: at most the window in flight and the next (Poisson(10) each)
assert s["status"] == "interrupted" and 0 <= s["requests_unserved"] <= 60, (s["requests"], s["requests_arrived"])
assert s["requests_arrived"] >= s["requests"] > 0, s
PY
then ok "an interrupted run: requests_arrived by the time reached (unserved: the window in flight)"
else bad "arrivals of an interrupted run (exit $rc): $(head -c 400 "$tmp/intarr/summary.json")"; fi

finish
