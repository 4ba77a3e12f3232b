#!/usr/bin/env bash
# `ptcsim sweep` as a user meets it, on reduced runs (tiny_doctor.json cut to 60 requests: about
# 0.4 s per run): expansion into a manifest (stable ids checked against an independent FNV-1a of
# config.resolved.json), `sweep task --index i` runs entry i only, the local pool, skip-complete,
# results byte-identical at --jobs 1 and 2, aggregates over seeds against a hand computation with
# Student t table values, missing / failed / died runs listed and re-run, a pool stopped by a
# signal leaves nothing that looks complete, the Slurm script (array range, %K, one `sweep task`
# per index, executable as is), and one-line errors.
# Usage: test_sweep_cli.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
. "$src/tests/lib/testlib.sh"
tiny="$src/tests/cli/tiny_doctor.json"
cat >"$tmp/spec.json" <<JSON
{"name": "tiny", "scenario": "$tiny",
 "set": {"traffic.requests": 60, "trace.every_requests": 20},
 "grid": {"monitor.w_thres": [0.02, 0.05]},
 "seeds": [1, 2, 3]}
JSON

# ---- discoverability
"$ptcsim" sweep --help >"$tmp/help" 2>&1
grep -q "run" "$tmp/help" && grep -q "task" "$tmp/help" && grep -q "slurm" "$tmp/help" && grep -q "collect" "$tmp/help" \
  && ok "sweep --help lists run, task, slurm, collect" || bad "sweep --help: $(cat "$tmp/help")"
"$ptcsim" --help | grep -q "sweep" && ok "ptcsim --help lists sweep" || bad "ptcsim --help lacks sweep"

# ---- expansion
if "$ptcsim" sweep "$tmp/spec.json" --out "$tmp/A" >"$tmp/out" 2>"$tmp/err"; then ok "expansion exits 0"; else bad "expansion: $(cat "$tmp/err")"; fi
grep -q "6 entries (swept: monitor.w_thres)" "$tmp/out" && ok "expansion says 6 entries" || bad "expansion output: $(cat "$tmp/out")"
[ "$(wc -l <"$tmp/A/manifest.jsonl")" -eq 6 ] && ok "manifest has 6 lines" || bad "manifest lines"
$py -c "import json,sys; assert all(json.loads(l)['sweep'] == 'tiny' for l in open(sys.argv[1]))" "$tmp/A/manifest.jsonl" \
  && ok "every manifest entry names its sweep (the spec's name)" || bad "manifest sweep name: $(head -c 300 "$tmp/A/manifest.jsonl")"
"$ptcsim" sweep "$tmp/spec.json" --out "$tmp/B" >/dev/null 2>&1
cmp -s "$tmp/A/manifest.jsonl" "$tmp/B/manifest.jsonl" && ok "same spec => byte-identical manifest" || bad "manifests differ"
ls "$tmp/A" | grep -q '\.tmp$' && bad "temporary file left" || ok "no temporary files"
# another sweep is not expanded over this one (its manifest would replace A's beside A's results)
sed 's/"name": "tiny"/"name": "other"/' "$tmp/spec.json" >"$tmp/other.json"
cp "$tmp/A/manifest.jsonl" "$tmp/A_manifest.before"
expect_error "a folder holding another sweep is refused, naming both sweeps" \
  "A: holds sweep \"tiny\" (6 entries in .*manifest.jsonl), not \"other\"; expand into another folder" "$ptcsim" sweep "$tmp/other.json" --out "$tmp/A"
cmp -s "$tmp/A/manifest.jsonl" "$tmp/A_manifest.before" && ok "its manifest is left as it was" || bad "the other sweep's manifest replaced A's"
"$ptcsim" sweep "$tmp/spec.json" --out "$tmp/A" >/dev/null 2>"$tmp/err" && cmp -s "$tmp/A/manifest.jsonl" "$tmp/A_manifest.before" \
  && ok "the same sweep expands again in place" || bad "re-expanding the same sweep: $(cat "$tmp/err")"

# ---- every shipped spec expands (each entry validated), with the documented number of entries
for spec in "$src"/scenarios/sweeps/*.json tools/bench/sweep_32.json; do
  case "$spec" in /*) ;; *) spec="$src/$spec" ;; esac
  name=$(basename "$spec" .json)
  want=$(case "$name" in doctor_grid) echo 48 ;; monitor_thresholds) echo 15 ;; quick_policies) echo 24 ;; sweep_32) echo 32 ;; swim_*) echo 24 ;; bound_management) echo 8 ;; pcm_npair) echo 4 ;; pcm_reconvert) echo 6 ;; pcm_gmin) echo 4 ;; pcm_adc_bits_drift) echo 40 ;; elight_endurance) echo 30 ;; elight_images_per_pass) echo 7 ;; *) echo "?" ;; esac)
  if "$ptcsim" sweep "$spec" --out "$tmp/shipped_$name" >"$tmp/out" 2>&1 && [ "$(wc -l <"$tmp/shipped_$name/manifest.jsonl")" = "$want" ]; then
    ok "shipped spec ${spec#$src/}: $want entries, all valid"
  else bad "shipped spec ${spec#$src/} (want $want entries): $(tail -1 "$tmp/out")"; fi
done

# ---- one-line errors, nothing written
sed 's/0.05\]/-5]/' "$tmp/spec.json" >"$tmp/bad.json"
expect_error "a bad value fails the expansion: spec, entry, path, rule" "bad.json: entry 3 (.*monitor.w_thres=-5, seed 1): monitor.w_thres.*\[0,1e+06\]" \
  "$ptcsim" sweep "$tmp/bad.json" --out "$tmp/bad"
[ ! -e "$tmp/bad" ] && ok "failed expansion writes nothing" || bad "failed expansion left $tmp/bad"
expect_error "unknown spec key" "spec2.json: seed: unknown key" bash -c "echo '{\"scenario\": \"$tiny\", \"seed\": 1}' > $tmp/spec2.json; \"$ptcsim\" sweep $tmp/spec2.json --out $tmp/bad"
expect_error "a misspelt spec key: the nearest key" 'spec3t.json: gird: unknown key (did you mean "grid"?); expected one of' bash -c "echo '{\"scenario\": \"$tiny\", \"gird\": {\"hw.dac.bits\": [4]}}' > $tmp/spec3t.json; \"$ptcsim\" sweep $tmp/spec3t.json --out $tmp/bad"
expect_error "a misspelt seeds key: the nearest key" 'spec4.json: seeds.cuont: unknown key (did you mean "count"?); expected first, count' bash -c "echo '{\"scenario\": \"$tiny\", \"seeds\": {\"cuont\": 2}}' > $tmp/spec4.json; \"$ptcsim\" sweep $tmp/spec4.json --out $tmp/bad"
expect_error "a description that is not a string" "spec3.json: description: expected a string, got 3" bash -c "echo '{\"scenario\": \"$tiny\", \"description\": 3}' > $tmp/spec3.json; \"$ptcsim\" sweep $tmp/spec3.json --out $tmp/bad3"
expect_error "an empty grid: one line, as an empty zip" "spec4.json: grid: expected a non-empty object" bash -c "echo '{\"scenario\": \"$tiny\", \"grid\": {}}' > $tmp/spec4.json; \"$ptcsim\" sweep $tmp/spec4.json --out $tmp/bad4"
expect_error "an empty list of zips" "spec5.json: zip: expected an object .* or a non-empty list" bash -c "echo '{\"scenario\": \"$tiny\", \"zip\": []}' > $tmp/spec5.json; \"$ptcsim\" sweep $tmp/spec5.json --out $tmp/bad5"
# 199^3 = 7,880,599 entries: refused before any is validated (it expanded silently for what would
# have been days)
$py -c "import json,sys; json.dump({'scenario': sys.argv[1], 'grid': {'monitor.w_thres': [i/1000 for i in range(1,200)], 'monitor.t_thres_k': [i/1000 for i in range(1,200)], 'trace.every_requests': list(range(1,200))}}, open(sys.argv[2], 'w'))" "$tiny" "$tmp/huge.json"
expect_error "a grid of 7.9 million entries: refused at once, with the count and the limit" \
  "huge.json: 7880599 entries (scenarios x grid and zip levels x seeds), more than the limit of 100000" timeout 20 "$ptcsim" sweep "$tmp/huge.json" --out "$tmp/huge"
[ ! -e "$tmp/huge" ] && ok "the refused expansion wrote nothing" || bad "the refused expansion left $tmp/huge"
expect_error "--out naming a file: one line saying why" "spec.json: cannot create the sweep folder (it exists and is not a folder)" \
  "$ptcsim" sweep "$tmp/spec.json" --out "$tmp/spec.json"
expect_error "index out of range" "manifest.jsonl: --index 6 out of range (6 entries: 0-5)" "$ptcsim" sweep task "$tmp/A/manifest.jsonl" --index 6
printf '{"index": 0}\n' >"$tmp/broken.jsonl"
expect_error "broken manifest names file and line" "broken.jsonl:1: not a manifest entry" "$ptcsim" sweep run "$tmp/broken.jsonl"
expect_error "sweep without spec or subcommand" "expected a spec file" "$ptcsim" sweep

# ---- sweep task --index 4 runs entry 4 only
"$ptcsim" sweep task "$tmp/A/manifest.jsonl" --index 4 >"$tmp/out" 2>&1 || bad "task 4 failed: $(tail -2 "$tmp/out")"
check_task() {
  $py - "$tmp/A" <<'PY'
import json, os, sys
d = sys.argv[1]
m = [json.loads(l) for l in open(os.path.join(d, "manifest.jsonl"))]
present = sorted(os.listdir(os.path.join(d, "runs")))
assert present == [m[4]["id"]], present
r = json.load(open(os.path.join(d, m[4]["run_dir"], "run.json")))
c = json.load(open(os.path.join(d, m[4]["run_dir"], "config.resolved.json")))
assert r["status"] == "complete", r["status"]
assert m[4]["point"] == {"monitor.w_thres": 0.05} and m[4]["seed"] == 2, m[4]
assert c["monitor"]["w_thres"] == 0.05 and c["seed"] == 2 and c["traffic"]["requests"] == 60, c
# the id is FNV-1a 64 of the resolved configuration as compact JSON with sorted keys, without
# base_dir (the absolute directory its relative paths resolve against) and threads (the outputs are
# the same bytes at any thread count): neither is part of the id
assert os.path.isabs(c["base_dir"]) and os.path.isdir(c["base_dir"]), c["base_dir"]
assert "threads" not in c, sorted(c)  # not written: the outputs are the same bytes at any count
text = json.dumps({k: v for k, v in c.items() if k not in ("base_dir", "threads")}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
h = 1469598103934665603
for b in text.encode():
    h = ((h ^ b) * 1099511628211) % 2**64
assert "%016x" % h == m[4]["id"], ("%016x" % h, m[4]["id"])
PY
}
check_task >"$tmp/check" 2>&1 && ok "task --index 4 ran entry 4 only (its values, seed, id = FNV-1a of its config)" || bad "task 4: $(tail -3 "$tmp/check")"
before=$(md5sum "$tmp"/A/runs/*/run.json)
"$ptcsim" sweep task "$tmp/A/manifest.jsonl" --index 4 >"$tmp/out" 2>&1
grep -q "complete, skipped" "$tmp/out" && [ "$before" = "$(md5sum "$tmp"/A/runs/*/run.json)" ] \
  && ok "task on a complete entry skips it" || bad "task re-ran a complete entry: $(cat "$tmp/out")"
# run.json records the thread count the run used: a task passes it in PTC_THREADS (1 by default),
# which run.json recorded as 0
id4=$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][4]['id'])" "$tmp/A/manifest.jsonl")
$py -c "import json,sys; t=json.load(open(sys.argv[1]))['threads']; assert t == 1, t" "$tmp/A/runs/$id4/run.json" 2>"$tmp/err" \
  && ok "the task's run.json records threads 1" || bad "task run.json threads: $(tail -1 "$tmp/err")"
PTC_THREADS=2 "$ptcsim" run "$tiny" --set traffic.requests=20 --out "$tmp/thr" -q >/dev/null 2>&1
$py -c "import json,sys; t=json.load(open(sys.argv[1]))['threads']; assert t == 2, t" "$tmp/thr/run.json" 2>"$tmp/err" \
  && ok "PTC_THREADS=2: run.json records threads 2" || bad "PTC_THREADS run.json threads: $(tail -1 "$tmp/err")"

# ---- a task for an entry whose run is still going (a resubmission while a cancelled run finishes
# its action) fails at once and leaves that run alone: it used to clear the directory, lock file
# included, so both runs wrote into it
cat >"$tmp/long.json" <<JSON
{"name": "long", "scenario": "$tiny", "set": {"traffic.requests": 200000}}
JSON
"$ptcsim" sweep "$tmp/long.json" --out "$tmp/L" >/dev/null 2>&1
lid=$($py -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['id'])" "$tmp/L/manifest.jsonl")
"$ptcsim" sweep task "$tmp/L/manifest.jsonl" --index 0 >/dev/null 2>&1 &
lp=$!
for _ in $(seq 1 600); do [ -s "$tmp/L/runs/$lid/.ptcsim.lock" ] && grep -q '"running"' "$tmp/L/runs/$lid/run.json" 2>/dev/null && break; sleep 0.05; done
expect_error "a task for an entry whose run is still going: refused, naming the holder" \
  "runs/$lid: entry 0's run is still going (pid $lp, started" "$ptcsim" sweep task "$tmp/L/manifest.jsonl" --index 0
kill -INT "$lp"; wait "$lp"; rc=$?
[ "$rc" -eq 3 ] && grep -q '"interrupted"' "$tmp/L/runs/$lid/run.json" && grep -q "pid $lp" "$tmp/L/runs/$lid/.ptcsim.lock" \
  && ok "the run still going was left alone (its lock, its files; interrupted by its own signal)" || bad "the running run after a second task: rc $rc, $(head -c 300 "$tmp/L/runs/$lid/run.json")"

# ---- local pool, skip-complete, --jobs independence
"$ptcsim" sweep run "$tmp/A/manifest.jsonl" --jobs 2 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 0 ] && grep -q "6 entries, 1 complete already, 5 to run with 2 jobs" "$tmp/err" && grep -q "5/5 done, 0 running, 0 failed" "$tmp/err" \
  && ok "pool --jobs 2 runs the 5 missing entries, with progress" || bad "pool A (rc $rc): $(cat "$tmp/err")"
"$ptcsim" sweep run "$tmp/B/manifest.jsonl" --jobs 1 -q >/dev/null 2>&1 || bad "pool B failed"
"$ptcsim" sweep collect "$tmp/A/manifest.jsonl" >"$tmp/out" 2>"$tmp/err" || bad "collect A: $(cat "$tmp/err")"
grep -q "6 of 6 runs complete, 2 points" "$tmp/out" && ok "collect: 6 of 6, 2 points" || bad "collect output: $(cat "$tmp/out")"
"$ptcsim" sweep collect "$tmp/B/manifest.jsonl" >/dev/null 2>&1
same=1; for f in results.csv results_aggregate.csv results.json; do cmp -s "$tmp/A/$f" "$tmp/B/$f" || same=0; done
[ "$same" -eq 1 ] && ok "results byte-identical at --jobs 2 and --jobs 1" || bad "results differ between --jobs 2 and 1"
before=$(cat "$tmp"/A/runs/*/run.json | md5sum)
"$ptcsim" sweep run "$tmp/A/manifest.jsonl" --jobs 2 >/dev/null 2>"$tmp/err"
grep -q "6 complete already, 0 to run" "$tmp/err" && [ "$before" = "$(cat "$tmp"/A/runs/*/run.json | md5sum)" ] \
  && ok "re-run skips every complete entry" || bad "re-run: $(cat "$tmp/err")"

# ---- results against the run directories and a hand computation over seeds
cat >"$tmp/check_results.py" <<'PY'
import csv, json, math, os, sys
d = sys.argv[1]
T975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305}   # Student t table, two-sided 95 %
m = [json.loads(l) for l in open(os.path.join(d, "manifest.jsonl"))]
rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
assert [int(r["index"]) for r in rows] == list(range(len(m)))
metrics = [k for k in rows[0] if k not in ("index", "id", "monitor.w_thres", "seed", "status")]
for k in ("accuracy_mean", "accuracy_final", "energy_j", "overhead_ratio", "calibrations", "writes"):
    assert k in metrics, metrics
assert "seed" not in metrics
runs = {}
for r, e in zip(rows, m):
    assert r["id"] == e["id"] and float(r["monitor.w_thres"]) == e["point"]["monitor.w_thres"] and int(r["seed"]) == e["seed"]
    if r["status"] != "complete":
        continue
    s = json.load(open(os.path.join(d, e["run_dir"], "summary.json")))
    for k in metrics:
        assert float(r[k]) == float(s[k]), (k, r[k], s[k])
    runs.setdefault(e["point"]["monitor.w_thres"], []).append(s)
agg = list(csv.DictReader(open(os.path.join(d, "results_aggregate.csv"))))
assert len(agg) == 2
for a in agg:
    got = runs.get(float(a["monitor.w_thres"]), [])
    assert int(a["n"]) == len(got) and int(a["n_expected"]) == 3, a
    for k in ("accuracy_mean", "energy_j", "overhead_ratio", "calibrations"):
        x = [float(s[k]) for s in got]
        n = len(x); mean = sum(x) / n
        assert abs(float(a[k + "_mean"]) - mean) <= 1e-9 * max(1, abs(mean)), (k, a[k + "_mean"], mean)
        if n >= 2:
            sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
            ci = T975[n - 1] * sd / math.sqrt(n)
            assert abs(float(a[k + "_std"]) - sd) <= 1e-9 * max(1e-12, sd) + 1e-15, (k, a[k + "_std"], sd)
            assert abs(float(a[k + "_ci95"]) - ci) <= 1e-8 * max(1e-12, ci) + 1e-15, (k, a[k + "_ci95"], ci)
        else:
            assert a[k + "_std"] == "" and a[k + "_ci95"] == "", a
j = json.load(open(os.path.join(d, "results.json")))
assert j["entries"] == len(m) and len(j["runs"]) == len(m)
assert j["name"] == "tiny", j["name"]
print(json.dumps([r["status"] for r in rows]))
PY
$py "$tmp/check_results.py" "$tmp/A" >"$tmp/check" 2>&1 && ok "results.csv = summaries; aggregate mean/std/CI95 = hand computation (t table)" \
  || bad "results: $(tail -3 "$tmp/check")"
$py -c "
import json,sys
a=json.load(open(sys.argv[1]))['aggregate']
assert all(x['metrics']['accuracy_mean']['std']>0 for x in a), 'seeds give identical accuracy: nothing aggregated'
" "$tmp/A/results.json" && ok "seeds differ (the aggregate is not over copies)" || bad "seeds do not matter"

# ---- missing, failed and died runs are listed, then re-run
id1=$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][1]['id'])" "$tmp/A/manifest.jsonl")
id2=$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][2]['id'])" "$tmp/A/manifest.jsonl")
id5=$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][5]['id'])" "$tmp/A/manifest.jsonl")
rm -rf "$tmp/A/runs/$id1"
sed -i 's/"status": "complete"/"status": "running"/' "$tmp/A/runs/$id2/run.json"        # a task that died mid-run
sed -i 's/"status": "complete"/"status": "failed"/' "$tmp/A/runs/$id5/run.json"
"$ptcsim" sweep collect "$tmp/A/manifest.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
# A partial collection writes its tables and exits 4 (a script must not plot it unnoticed), or 0
# with --allow-incomplete; the complete collections above exited 0.
[ "$rc" -eq 4 ] && grep -q "^sweep collect: 3 of 6 runs not complete .*exit status 4" "$tmp/err" \
  && ok "collect with 3 of 6 complete: exit status 4 and a closing line" || bad "partial collect: rc $rc, $(tail -1 "$tmp/err")"
cp "$tmp/A/results.json" "$tmp/partial_results.json"
"$ptcsim" sweep collect "$tmp/A/manifest.jsonl" --allow-incomplete >/dev/null 2>"$tmp/err2" \
  && ! grep -q "not complete" "$tmp/err2" && cmp -s "$tmp/A/results.json" "$tmp/partial_results.json" \
  && ok "collect --allow-incomplete: exit 0, the same tables" || bad "--allow-incomplete: $(cat "$tmp/err2")"
grep -q "3 of 6 runs complete" "$tmp/out" && [ "$(grep -c "^sweep collect: entry" "$tmp/err")" -eq 3 ] \
  && grep -q "entry 1 ($id1) missing" "$tmp/err" && grep -q "entry 2 ($id2) incomplete" "$tmp/err" && grep -q "entry 5 ($id5) failed" "$tmp/err" \
  && ok "collect lists the missing, died and failed entries on stderr" || bad "collect listing: $(cat "$tmp/out" "$tmp/err")"
$py - "$tmp/A" <<'PY' >"$tmp/check" 2>&1 && ok "results.json not_complete and aggregate n count them" || bad "not_complete: $(tail -3 "$tmp/check")"
import json, sys, csv, os
j = json.load(open(os.path.join(sys.argv[1], "results.json")))
nc = {x["index"]: x["status"] for x in j["not_complete"]}
assert nc == {1: "missing", 2: "incomplete", 5: "failed"}, nc
assert [(a["n"], a["n_expected"]) for a in j["aggregate"]] == [(1, 3), (2, 3)], j["aggregate"]
rows = list(csv.DictReader(open(os.path.join(sys.argv[1], "results.csv"))))
assert [r["status"] for r in rows] == ["complete", "missing", "incomplete", "complete", "complete", "failed"]
assert rows[1]["accuracy_mean"] == "" and rows[5]["accuracy_mean"] == ""
PY
$py "$tmp/check_results.py" "$tmp/A" >"$tmp/check" 2>&1 && ok "aggregate over the complete runs only (hand computation)" || bad "partial aggregate: $(tail -3 "$tmp/check")"

# ---- a run directory holding another configuration is not taken for complete
cp -r "$tmp/A/runs/$($py -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][0]['id'])" "$tmp/A/manifest.jsonl")" "$tmp/A/runs/$id1"
"$ptcsim" sweep collect "$tmp/A/manifest.jsonl" >/dev/null 2>"$tmp/err"
grep -q "entry 1 ($id1) mismatch: config.resolved.json is another configuration" "$tmp/err" \
  && ok "a complete run of another configuration in an entry's folder: status mismatch" || bad "mismatch: $(cat "$tmp/err")"
rm -rf "$tmp/A/runs/$id1"

# ---- the Slurm script over what is missing, runnable as is
"$ptcsim" sweep slurm "$tmp/A/manifest.jsonl" --max-parallel 2 --partition debug --time 00:05:00 --mem 1G >"$tmp/out" 2>"$tmp/err" \
  || bad "sweep slurm: $(cat "$tmp/err")"
s="$tmp/A/sweep.sbatch"
grep -qx "#SBATCH --array=1-2,5%2" "$s" && grep -qx "#SBATCH --partition=debug" "$s" && grep -qx "#SBATCH --time=00:05:00" "$s" \
  && grep -qx "#SBATCH --mem=1G" "$s" && grep -qx "#SBATCH --job-name=ptcsim-tiny" "$s" && [ "$(grep -vc '^#' "$s")" -eq 1 ] && grep -v '^#' "$s" | grep -q '^exec .* sweep task .*manifest.jsonl'"'"' --index "$SLURM_ARRAY_TASK_ID"' \
  && ok "sbatch script: array over the 3 missing entries %2, options, one sweep task per index" || bad "sbatch script: $(cat "$s")"
SLURM_ARRAY_TASK_ID=1 bash "$s" >"$tmp/out" 2>&1
[ "$("$ptcsim" sweep collect "$tmp/A/manifest.jsonl" 2>/dev/null | grep -c "4 of 6 runs complete")" -eq 1 ] \
  && ok "the script, run as array task 1, completes entry 1" || bad "script as task 1: $(tail -2 "$tmp/out")"
expect_error "--partition with a space or newline: one line, no script" "--partition \"a b\": expected one word" \
  "$ptcsim" sweep slurm "$tmp/A/manifest.jsonl" --partition "a b"
expect_error "--submit without sbatch: one line naming the script" "sbatch: cannot run it.*sweep.sbatch" \
  env PATH=/nonexistent "$ptcsim" sweep slurm "$tmp/A/manifest.jsonl" --submit

"$ptcsim" sweep run "$tmp/A/manifest.jsonl" --jobs 2 >/dev/null 2>"$tmp/err"
grep -q "4 complete already, 2 to run" "$tmp/err" && ok "pool re-runs only the died and failed entries" || bad "re-run: $(cat "$tmp/err")"
"$ptcsim" sweep collect "$tmp/A/manifest.jsonl" >/dev/null 2>&1
same=1; for f in results.csv results_aggregate.csv results.json; do cmp -s "$tmp/A/$f" "$tmp/B/$f" || same=0; done
[ "$same" -eq 1 ] && ok "after the re-runs, results byte-identical to the clean sweep" || bad "results differ after re-runs"
# An entry's point edited by hand would file its run under another grid value: refused
mkdir -p "$tmp/Apt" && cp -a "$tmp/A/runs" "$tmp/Apt/" && sed '2s/"monitor.w_thres":0.02}/"monitor.w_thres":0.5}/' "$tmp/A/manifest.jsonl" >"$tmp/Apt/manifest.jsonl"
expect_error "a hand-edited point: refused, naming the line, the point and the assignment" \
  'Apt/manifest.jsonl:2: point.monitor.w_thres: 0.5 is not what the entry sets (monitor.w_thres=0.02): the manifest was edited' \
  "$ptcsim" sweep collect "$tmp/Apt/manifest.jsonl"

# ---- an input file (here the trace the runs replay) edited after the runs: their ids cover the
# configuration, not the file's bytes, so run.json records those; collect calls the runs mismatch
# and sweep run runs them again (they were reported complete with the old results)
mkdir -p "$tmp/inp"
printf 't_s\n0.001\n0.002\n0.003\n0.004\n0.005\n0.006\n' >"$tmp/inp/arr.csv"
echo "{\"scenario\": \"$tiny\", \"set\": {\"traffic\": {\"name\": \"trace\", \"file\": \"$tmp/inp/arr.csv\"}, \"horizon_s\": 1, \"controller.policy\": {\"name\": \"none\"}}, \"seeds\": {\"count\": 2}}" >"$tmp/inp/spec.json"
"$ptcsim" sweep "$tmp/inp/spec.json" --out "$tmp/inp/out" >/dev/null 2>&1 && "$ptcsim" sweep run "$tmp/inp/out/manifest.jsonl" -q >/dev/null 2>&1 \
  && "$ptcsim" sweep collect "$tmp/inp/out/manifest.jsonl" >/dev/null 2>&1 || bad "input-file sweep: first collection"
printf 't_s\n0.001\n0.002\n0.003\n' >"$tmp/inp/arr.csv"
"$ptcsim" sweep collect "$tmp/inp/out/manifest.jsonl" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ "$rc" -eq 4 ] && [ "$(grep -c 'mismatch: traffic.file (.*arr.csv) changed since the run (fnv1a64 [0-9a-f]*, now [0-9a-f]*)' "$tmp/err")" -eq 2 ] \
  && ok "an edited input file: collect reports the runs that read it as mismatch" || bad "edited input: rc $rc, $(cat "$tmp/err")"
"$ptcsim" sweep run "$tmp/inp/out/manifest.jsonl" -q >/dev/null 2>"$tmp/err"
grep -q "0 complete already, 2 to run" "$tmp/err" && "$ptcsim" sweep collect "$tmp/inp/out/manifest.jsonl" >/dev/null 2>&1 \
  && [ "$(cat "$tmp"/inp/out/runs/*/summary.json | grep -c '"requests": 3,')" -eq 2 ] \
  && ok "sweep run runs them again on the new file (3 requests each, then complete)" || bad "re-run after an input edit: $(cat "$tmp/err")"

# ---- a scenario edited after expansion is refused before anything runs (it would otherwise run to
# the end, be marked "mismatch" and run again at every `sweep run`)
mkdir -p "$tmp/E/sc"
$py - "$tiny" "$tmp/E/sc/s.json" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]; d = os.path.dirname(os.path.abspath(src))
j = json.load(open(src)); j.pop("$schema")
for k in ("model", "hw"): j[k] = os.path.normpath(os.path.join(d, j[k]))
j["noise"] = [n if isinstance(n, dict) else os.path.normpath(os.path.join(d, n)) for n in j["noise"]]
json.dump(j, open(dst, "w"))
PY
echo "{\"name\": \"edited\", \"scenario\": \"sc/s.json\", \"set\": {\"traffic.requests\": 20}, \"seeds\": [1, 2]}" >"$tmp/E/spec.json"
"$ptcsim" sweep "$tmp/E/spec.json" --out "$tmp/E/out" >/dev/null 2>"$tmp/err" || bad "expand for the edit check: $(cat "$tmp/err")"
sed -i 's/"w_thres": 0.02/"w_thres": 0.03/' "$tmp/E/sc/s.json"
expect_error "sweep run after the scenario was edited: one line naming the entry, both ids and what to do" \
  "manifest.jsonl: entry 0 (.*s.json): the scenario now resolves to another configuration (id [0-9a-f]\{16\}, expanded as [0-9a-f]\{16\}).*expand it again: ptcsim sweep SPEC" \
  "$ptcsim" sweep run "$tmp/E/out/manifest.jsonl" --jobs 1
[ ! -d "$tmp/E/out/runs" ] || [ -z "$(ls -A "$tmp/E/out/runs")" ] && ok "nothing ran for the edited scenario" || bad "runs started: $(ls "$tmp/E/out/runs")"
expect_error "sweep task on an edited scenario: refused too" "entry 1 .*expand it again: ptcsim sweep SPEC" \
  "$ptcsim" sweep task "$tmp/E/out/manifest.jsonl" --index 1
sed -i 's/"w_thres": 0.03/"w_thres": 0.02/' "$tmp/E/sc/s.json"
"$ptcsim" sweep run "$tmp/E/out/manifest.jsonl" --jobs 1 >/dev/null 2>"$tmp/err" && grep -q "0 complete already, 2 to run" "$tmp/err" \
  && ok "the scenario restored: the same manifest runs" || bad "restored scenario: $(cat "$tmp/err")"
# Both entries complete, then the scenario is edited again: sweep slurm refuses as sweep run does
# (it used to say "all 2 entries complete; nothing to submit"), and sweep collect lists both as
# mismatch on stderr (it marked them in results.csv but said nothing).
sed -i 's/"w_thres": 0.02/"w_thres": 0.03/' "$tmp/E/sc/s.json"
expect_error "sweep slurm after the scenario was edited: refused as sweep run" \
  "manifest.jsonl: entry 0 (.*s.json): the scenario now resolves to another configuration" \
  "$ptcsim" sweep slurm "$tmp/E/out/manifest.jsonl"
"$ptcsim" sweep collect "$tmp/E/out/manifest.jsonl" >/dev/null 2>"$tmp/err"
[ "$(grep -c "sweep collect: entry [01] ([0-9a-f]*) mismatch: .*the scenario now resolves to another configuration" "$tmp/err")" -eq 2 ] \
  && ok "sweep collect lists complete runs of an edited scenario as mismatch on stderr" || bad "collect after an edit: $(cat "$tmp/err")"
sed -i 's/"w_thres": 0.03/"w_thres": 0.02/' "$tmp/E/sc/s.json"

# ---- a pool stopped by a signal: nothing looks complete that is not, and a re-run finishes it
cat >"$tmp/long.json" <<JSON
{"name": "long", "scenario": "$tiny", "set": {"traffic.requests": 5000, "noise.0.t_max_steps": 10000, "noise.1.t_max_steps": 10000}, "seeds": [1, 2]}
JSON
"$ptcsim" sweep "$tmp/long.json" --out "$tmp/L" >/dev/null 2>&1
"$ptcsim" sweep run "$tmp/L/manifest.jsonl" --jobs 2 >/dev/null 2>"$tmp/err" &
pool=$!
sleep 1.5
kill -TERM "$pool"; wait "$pool"; rc=$?
$py - "$tmp/L" <<'PY' >"$tmp/check" 2>&1
import json, os, sys
d = sys.argv[1]
for l in open(os.path.join(d, "manifest.jsonl")):
    e = json.loads(l)
    p = os.path.join(d, e["run_dir"], "run.json")
    st = json.load(open(p))["status"] if os.path.exists(p) else "missing"
    assert st != "complete", (e["index"], st)
    print(e["index"], st)
PY
prc=$?
[ "$rc" -eq 3 ] && [ "$prc" -eq 0 ] && grep -q "stopping (signal 15)" "$tmp/err" \
  && ok "SIGTERM to the pool: exit 3, runs stopped, none marked complete ($(tr '\n' ' ' <"$tmp/check"))" || bad "stopped pool (rc $rc): $(cat "$tmp/err" "$tmp/check")"
"$ptcsim" sweep collect "$tmp/L/manifest.jsonl" >"$tmp/out" 2>/dev/null
grep -q "0 of 2 runs complete" "$tmp/out" && ok "collect: 0 of 2 complete after the stop" || bad "collect after stop: $(cat "$tmp/out")"
# ---- per-instant accuracy of scheduled runs (an aihwkit-style study table): one column per
# instant for each run, read back from each run's own trace, and their mean over seeds
cat >"$tmp/inst.json" <<JSON
{"name": "inst", "scenario": "$src/scenarios/pcm/optical_drift_none.json",
 "set": {"horizon_s": 2000, "accuracy": {"mode": "scheduled", "times_s": [0, 60, 1000], "images": 40, "instances": 2}},
 "seeds": [1, 2]}
JSON
if "$ptcsim" sweep "$tmp/inst.json" --out "$tmp/I" >/dev/null 2>"$tmp/err" && "$ptcsim" sweep run "$tmp/I/manifest.jsonl" --jobs 2 -q >/dev/null 2>"$tmp/err" \
   && "$ptcsim" sweep collect "$tmp/I/manifest.jsonl" >/dev/null 2>"$tmp/err" && $py - "$tmp/I" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
head = list(rows[0].keys())
want = ["accuracy_std_t_0s", "accuracy_std_t_60s", "accuracy_std_t_1000s", "accuracy_t_0s", "accuracy_t_60s", "accuracy_t_1000s"]
assert [h for h in head if "_t_" in h] == want, head          # in time order
means = {k: [] for k in want}
for r in rows:
    tr = [x for x in csv.DictReader(open(os.path.join(d, "runs", r["id"], "trace.csv"))) if x["accuracy"]]
    assert len(tr) == 3, tr
    for t, x in zip(("0", "60", "1000"), tr):
        assert float(r["accuracy_t_%ss" % t]) == float(x["accuracy"]), (t, r, x)
        assert float(r["accuracy_std_t_%ss" % t]) == float(x["accuracy_std"]), (t, r, x)
        means["accuracy_t_%ss" % t].append(float(x["accuracy"]))
agg = list(csv.DictReader(open(os.path.join(d, "results_aggregate.csv"))))
assert len(agg) == 1 and agg[0]["n"] == "2", agg
for t in ("0", "60", "1000"):
    v = means["accuracy_t_%ss" % t]
    assert abs(float(agg[0]["accuracy_t_%ss_mean" % t]) - sum(v) / 2) < 1e-12, (t, agg[0], v)
PY
then ok "collect: per-instant accuracy and std columns of scheduled runs, in time order, and their mean over seeds"
else bad "per-instant collection: $(cat "$tmp/err")"; fi
# A string where the scenario expects an object names a fragment file, in a spec as in a scenario:
# relative to the spec. A grid over hw fragments: each entry's assignment holds the fragment's
# absolute path (the point keeps it as written), so a task run from another directory reads the
# same file; the fragment identical to the scenario's own hw gives the scenario's own id.
mkdir -p "$tmp/H/frags"
cp "$src/scenarios/hw/doctor_4x4x8.json" "$tmp/H/frags/same.json"
$py - "$src/scenarios/hw/doctor_4x4x8.json" "$tmp/H/frags/other.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["cores"]["rows"] = 2; json.dump(j, open(sys.argv[2], "w"))
PY
cat >"$tmp/H/spec.json" <<JSON
{"name": "hw", "scenario": "$tiny", "set": {"traffic.requests": 20}, "grid": {"hw": ["frags/same.json", "frags/other.json"]}}
JSON
cat >"$tmp/H/plain.json" <<JSON
{"name": "plain", "scenario": "$tiny", "set": {"traffic.requests": 20}}
JSON
if (cd / && "$ptcsim" sweep "$tmp/H/spec.json" --out "$tmp/H/out" >/dev/null 2>"$tmp/err") \
   && "$ptcsim" sweep "$tmp/H/plain.json" --out "$tmp/H/plain" >/dev/null 2>>"$tmp/err" \
   && (cd "$tmp" && "$ptcsim" sweep task "$tmp/H/out/manifest.jsonl" --index 1 >/dev/null 2>>"$tmp/err") \
   && $py - "$tmp/H" <<'PY'
import json, os, sys
d = sys.argv[1]
m = [json.loads(l) for l in open(os.path.join(d, "out", "manifest.jsonl"))]
plain = [json.loads(l) for l in open(os.path.join(d, "plain", "manifest.jsonl"))]
assert [e["point"]["hw"] for e in m] == ["frags/same.json", "frags/other.json"], m
assert "hw=\"%s\"" % os.path.join(d, "frags", "same.json") in m[0]["set"], m[0]["set"]
assert m[0]["id"] == plain[0]["id"] and m[1]["id"] != m[0]["id"], (m, plain)
run = json.load(open(os.path.join(d, "out", m[1]["run_dir"], "config.resolved.json")))
assert run["hw"]["cores"]["rows"] == 2, run["hw"]
PY
then ok "sweep: hw fragments in a grid resolve against the spec, tasks read them from any directory, same content = same id"
else bad "hw fragments in a sweep: $(cat "$tmp/err")"; fi
# ---- nested summary blocks are metrics too: a streaming sweep's passes are results.csv's
# streaming.passes, read from each run's summary.json (they were left out: only top-level numbers
# were collected). Windows of 5, 20 and 33 requests: 58 passes at one image per pass, 2 + 7 + 11 =
# 20 at three.
$py -c "
import sys
with open(sys.argv[1], 'w') as f:
    f.write('t_s\\n')
    for w, n in enumerate((5, 20, 33)):
        for i in range(n): f.write('%.6f\\n' % (w + 0.01 + 0.9 * i / n))
" "$tmp/ipp.csv"
cat >"$tmp/ipp.json" <<JSON
{"name": "ipp", "scenario": "$src/scenarios/elight/vgg8_short.json",
 "set": {"traffic": {"name": "trace", "file": "$tmp/ipp.csv", "batch_s": 1}, "horizon_s": 10, "accuracy": {"mode": "none"},
         "trace.every_requests": 0, "device.endurance_steps": 1e12},
 "grid": {"hw.mapping.images_per_pass": [1, 3]}}
JSON
if "$ptcsim" sweep "$tmp/ipp.json" --out "$tmp/ipp" >/dev/null 2>"$tmp/err" && "$ptcsim" sweep run "$tmp/ipp/manifest.jsonl" -q >/dev/null 2>>"$tmp/err" \
   && "$ptcsim" sweep collect "$tmp/ipp/manifest.jsonl" >/dev/null 2>>"$tmp/err" && $py - "$tmp/ipp" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
assert [r["streaming.passes"] for r in rows] == ["58", "20"], [r.get("streaming.passes") for r in rows]
for r, m in zip(rows, [json.loads(l) for l in open(os.path.join(d, "manifest.jsonl"))]):
    s = json.load(open(os.path.join(d, m["run_dir"], "summary.json")))
    assert float(r["streaming.program_energy_per_pass_j"]) == s["streaming"]["program_energy_per_pass_j"], r
    assert int(r["writes_streamed"]) == int(r["streaming.passes"]) * s["streaming"]["level_steps_per_pass"], r
    # no cell worn in the run (first_worn_time_s -1, "never"): an empty cell, not -1 averaged in
    assert s["streaming"]["first_worn_time_s"] == -1 and r.get("streaming.first_worn_time_s", "") == "", r
    assert s["streaming"]["first_worn_pass"] == -1 and r.get("streaming.first_worn_pass", "") == "", r
agg = list(csv.DictReader(open(os.path.join(d, "results_aggregate.csv"))))
assert [a["streaming.passes_mean"] for a in agg] == ["58", "20"], agg
assert all(a.get("streaming.first_worn_time_s_mean", "") == "" for a in agg), agg
PY
then ok "nested summary numbers are metrics: streaming.passes 58 and 20 in results.csv and the aggregate"
else bad "nested metrics: $(cat "$tmp/err")"; fi

finish
