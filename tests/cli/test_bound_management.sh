#!/usr/bin/env bash
# Bound management in a run (docs/converters_energy.md, "Bound management"): every block re-run is
# a recomputation charged once, to the request or evaluation that made it; the books agree; and
# against closed forms: an ADC whose full scale is the block size k can never clip (|w|, |x| <= 1,
# so |partial sum| <= k), so iterative bound management then re-runs nothing and changes no
# result, while at a full scale of 1 (clipping everywhere) it recovers the accuracy clipping loses.
# Usage: test_bound_management.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
sc="$src/scenarios/pcm/bound_management.json"

# ---- served re-runs lengthen the request that made them. Back-to-back traffic issues each
# request when the previous completes, so the run ends at requests x inference latency + the
# recomputation time (+ controller work: none with policy none, served drift compensation needs a
# timer), and recomputations = bound_management_reruns.
if "$ptcsim" run "$sc" --set 'traffic={"name":"back_to_back","requests":6}' --set horizon_s=0 --set 'accuracy={"mode":"served"}' \
     --set 'controller.policy={"name":"none"}' --set hw.adc.bound=1 --out "$tmp/b2b" -q >"$tmp/log" 2>&1; then
  if $py - "$tmp/b2b" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json")); a = json.load(open(d + "/stats.json"))["accelerator"]
L, rt, n = a["inference_latency"]["value"], a["recomputation_time"]["value"], a["recomputations"]["value"]
assert n > 1000 and n == a["bound_management_reruns"]["value"], (n, a["bound_management_reruns"])
# ceil(recomputations / cores) cycles of the array per request
assert rt > 0 and a["recomputation_cycles"]["value"] >= n / 16, (rt, a["recomputation_cycles"])
clock = json.load(open(d + "/config.resolved.json"))["hw"]["clock_ghz"] * 1e9
want = s["requests"] * L + rt + s["overhead_cycles"] / clock  # + any controller work (none here)
assert abs(s["sim_time_s"] - want) <= 1e-9 * want + 2e-9, (s["sim_time_s"], want, s["requests"] * L)
assert s["latency_p50_s"] > L * (1 + 1e-4), (s["latency_p50_s"], L)
PY
  then ok "b2b run: each request pays its own bound-management re-runs (sim time = N x latency + recomputation time)"
  else bad "bound-management re-runs not charged to the requests that made them"; fi
  $py "$src/tests/regression/check_books.py" "$tmp/b2b" && ok "b2b bound-managed run: one set of books" || bad "b2b books"
else bad "b2b bound-managed run failed: $(tail -2 "$tmp/log")"; fi

# ---- scheduled evaluations: none vs iterative at full scale 1 and 8 (= k) on the same chips.
run() {  # run NAME BOUND MODE
  "$ptcsim" run "$sc" --set accuracy.images=100 --set accuracy.instances=2 --set horizon_s=2 --set hw.adc.bound="$2" \
    --set "hw.mvm.bound_management=\"$3\"" --out "$tmp/$1" -q >"$tmp/$1.log" 2>&1 || { bad "run $1 failed: $(tail -2 "$tmp/$1.log")"; return 1; }
  $py "$src/tests/regression/check_books.py" "$tmp/$1" || bad "$1: books disagree"
}
if run n1 1 none && run i1 1 iterative && run n8 8 none && run i8 8 iterative; then
  if $py - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
acc = {k: json.load(open(f"{t}/{k}/summary.json"))["accuracy_final"] for k in ("n1", "i1", "n8", "i8")}
st = {k: json.load(open(f"{t}/{k}/stats.json"))["accelerator"] for k in ("n1", "i1", "n8", "i8")}
print("accuracy", acc)
# k = 8 cannot clip: nothing re-run, the same evaluation to the last digit
assert st["i8"]["bound_management_reruns"]["value"] == 0 and st["i8"]["recomputations"]["value"] == 0, st["i8"]
assert acc["i8"] == acc["n8"], acc
# full scale 1: clipping costs accuracy, re-runs recover it to within 3 points of the unclipped chip
assert acc["n1"] < acc["n8"] - 0.10, acc
assert acc["i1"] > acc["n8"] - 0.03, acc
assert st["i1"]["bound_management_reruns"]["value"] > 0 and "recomputations" not in st["n1"], (st["i1"], st["n1"].keys())
# the re-runs are paid in energy: the iterative run costs more by exactly its recomputation energy
# plus the drift-compensation read-out's re-runs, ceil(re-runs / cores) array cycles each read-out
e = {k: json.load(open(f"{t}/{k}/summary.json"))["energy_j"] for k in ("n1", "i1")}
sm = {k: json.load(open(f"{t}/{k}/summary.json")) for k in ("n1", "i1")}
hw = json.load(open(f"{t}/i1/config.resolved.json"))["hw"]["cores"]
cores = hw["rows"] * hw["cols"]
comp = [json.loads(l) for l in open(f"{t}/i1/events.jsonl")]
comp = [c for c in comp if c["type"] == "compensation"]
extra = sum((c["bound_management_reruns"] + cores - 1) // cores for c in comp)
assert sm["i1"]["overhead_cycles"] - sm["n1"]["overhead_cycles"] == extra, (sm["i1"]["overhead_cycles"], sm["n1"]["overhead_cycles"], extra)
want = st["i1"]["recomputation_energy"]["value"] + extra * st["i1"]["energy_per_cycle"]["value"]
assert abs(e["i1"] - e["n1"] - want) <= 1e-6 * e["i1"], (e, want, st["i1"]["recomputation_energy"])
PY
  then ok "bound management: nothing re-run at full scale k, clipping loss recovered at full scale 1, re-runs paid in energy"
  else bad "bound management against its closed forms"; fi
fi

# ---- same scenario + seed, same bytes at 1 and 2 threads (re-run draws are numbered by block,
# vector and pass, not by the thread that makes them).
for t in 1 2; do
  PTC_THREADS=$t "$ptcsim" run "$sc" --set accuracy.images=40 --set accuracy.instances=2 --set hw.adc.bound=1 \
    --out "$tmp/t$t" -q >"$tmp/t$t.log" 2>&1 || bad "threads $t run failed: $(tail -2 "$tmp/t$t.log")"
done
diffs=""
for f in summary.json trace.csv stats.json events.jsonl; do cmp -s "$tmp/t1/$f" "$tmp/t2/$f" || diffs="$diffs $f"; done
[ -z "$diffs" ] && ok "bound-managed run: byte-identical at 1 and 2 threads" || bad "1 vs 2 threads differ in:$diffs"

# ---- an ADC that cannot clip: the error says which setting makes it so
expect_error "iterative with an ideal ADC (bits 0) names hw.adc.bits" 'hw.mvm.bound_management: .*(hw.adc.bits is 0, an ideal ADC)' \
  "$ptcsim" validate "$sc" --set hw.adc.bits=0
expect_error "iterative without ADC quantisation names hw.adc.quantize" 'hw.mvm.bound_management: .*(hw.adc.quantize is false)' \
  "$ptcsim" validate "$sc" --set hw.adc.quantize=false
finish
