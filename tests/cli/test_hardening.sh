#!/usr/bin/env bash
# Issue 17 (hardening), as a hostile user meets ptcsim: inputs that used to crash, hang or be
# accepted, and faults that used to lose or mix outputs. Each bad input must give a non-zero exit
# (not a signal) and exactly one stderr line naming the file / JSON path / node and the rule; each
# fault must leave the run directory coherent (run.json never "running", no *.tmp, no mix of two
# runs). Usage: test_hardening.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
sc="$src/tests/cli/tiny_doctor.json"
py=/usr/bin/python3
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
. "$src/tests/lib/testlib.sh"

status_of() { $py -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$1/run.json" 2>/dev/null || echo none; }
no_tmp() { if find "$1" -name '*.tmp' | grep -q .; then bad "$2: *.tmp left in $1"; else ok "$2: no *.tmp left"; fi; }
# A scenario in $tmp that includes the tiny scenario's pieces by absolute path, with one edit.
scen() {  # scen FILE PYTHON-EXPR-ON-j
  $py - "$sc" "$1" "$2" <<'PY'
import json, os, sys
src, dst, edit = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(src)); d = os.path.dirname(os.path.abspath(src))
j.pop("$schema")
j["model"] = os.path.normpath(os.path.join(d, j["model"])); j["hw"] = os.path.normpath(os.path.join(d, j["hw"]))
j["noise"][2] = os.path.normpath(os.path.join(d, j["noise"][2]))
exec(edit)
open(dst, "w").write(json.dumps(j))
PY
}

# ---- parsing: depth, size, regular files only, number range, duplicate keys (validate and run alike)
$py -c "import sys; n=200000; open(sys.argv[1],'w').write('{\"name\": \"deep\", \"description\": ' + '['*n + ']'*n + '}')" "$tmp/deep.json"
expect_error "200,000-deep arrays (validate): depth limit, no stack overflow" 'deep.json: JSON nested deeper than 128 levels at description' "$ptcsim" validate "$tmp/deep.json"
expect_error "200,000-deep arrays (run)" 'nested deeper than 128 levels' "$ptcsim" run "$tmp/deep.json" --out "$tmp/r_deep"
expect_error "deep --set value" '--set description: JSON nested deeper than 128' "$ptcsim" validate "$sc" --set "description=$($py -c "print('['*1000 + ']'*1000)")"
scen "$tmp/devzero.json" 'j["hw"] = "/dev/zero"'
expect_error "fragment /dev/zero: refused, no hang" '/dev/zero: not a regular file' timeout -k 1 20 "$ptcsim" validate "$tmp/devzero.json"
expect_error "fragment /dev/zero (run)" '/dev/zero: not a regular file' timeout -k 1 20 "$ptcsim" run "$tmp/devzero.json" --out "$tmp/r_devzero"
mkfifo "$tmp/fifo.json"
scen "$tmp/fifo_frag.json" "j['hw'] = '$tmp/fifo.json'"
expect_error "fragment naming a FIFO: refused, no hang" 'fifo.json: not a regular file' timeout -k 1 20 "$ptcsim" validate "$tmp/fifo_frag.json"
pcm_table=(--set 'device={"name":"pcm_table","file":"/dev/zero"}' --set 'noise=[]')
expect_error "device table /dev/zero: refused, no hang" '/dev/zero: not a regular file' timeout -k 1 20 "$ptcsim" validate "$sc" "${pcm_table[@]}"
expect_error "device table that is a FIFO: refused, no hang" 'fifo.json: not a regular file' timeout -k 1 20 "$ptcsim" run "$sc" --set "device={\"name\":\"pcm_table\",\"file\":\"$tmp/fifo.json\"}" --set 'noise=[]' --out "$tmp/r_tab"
printf '{"g_max_us": 25, "g_max_us": 30, "points": []}' >"$tmp/dup_table.json"
expect_error "device table JSON with a duplicate key" 'dup_table.json: duplicate key "g_max_us"' "$ptcsim" validate "$sc" --set "device={\"name\":\"pcm_table\",\"file\":\"$tmp/dup_table.json\"}" --set 'noise=[]'
mkdir "$tmp/adir.json"
scen "$tmp/dir_frag.json" "j['hw'] = '$tmp/adir.json'"
expect_error "fragment naming a directory" 'adir.json: is a directory' "$ptcsim" validate "$tmp/dir_frag.json"
expect_error "scenario that is a directory" 'adir.json: is a directory, expected a scenario file' "$ptcsim" run "$tmp/adir.json" --out "$tmp/r_dir"
head -c $((65 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
expect_error "a 65 MiB scenario: size limit before reading" 'huge.json: scenario file is 68157440 bytes, more than the limit' "$ptcsim" validate "$tmp/huge.json"
rm -f "$tmp/huge.json"
scen "$tmp/big_number.json" 'j["horizon_s"] = "@@"'
sed -i 's/"@@"/1e400/' "$tmp/big_number.json"
# aihwkit's g_min (device.g_min_us): below g_max, one pair per weight only (docs/devices.md §2).
gmin="$src/scenarios/pcm/gmin.json"
expect_error "g_min at or above g_max" 'gmin.json: device.g_min_us: must be below device.g_max_us (25 uS), got 25' "$ptcsim" validate "$gmin" --set device.g_min_us=25
expect_error "g_min with two conductance pairs" 'gmin.json: device.g_min_us: a minimum conductance is modelled for one conductance pair per weight' "$ptcsim" validate "$gmin" --set 'device.f_lst=[1,3]'
expect_error "1e400 names the file, the path and the rule" 'big_number.json: invalid JSON at line 1, column [0-9]* (horizon_s): number 1e400 is out of range' "$ptcsim" run "$tmp/big_number.json" --out "$tmp/r_num"
printf '{"name": "dup", "seed": 1, "seed": 2}' >"$tmp/dup.json"
expect_error "duplicate key names file and path" 'dup.json: duplicate key "seed" at seed' "$ptcsim" validate "$tmp/dup.json"
printf '{"rows": 4, "cols": 4, "rows": 2}' >"$tmp/dup_cores.json"
scen "$tmp/dup_frag.json" "j['hw'] = {'cores': '$tmp/dup_cores.json'}"
expect_error "duplicate key in a fragment names the fragment" 'dup_cores.json: duplicate key "rows" at rows' "$ptcsim" run "$tmp/dup_frag.json" --out "$tmp/r_dup"
expect_error "duplicate key in a --set value" 'duplicate key "name" at name' "$ptcsim" run "$sc" --set 'controller.policy={"name":"none","name":"doctor"}' --out "$tmp/r_dup2"
for d in r_deep r_devzero r_num r_dup r_dup2; do [ -e "$tmp/$d" ] && bad "run directory $d created for bad input"; done

expect_error "model that is a directory: no 9.2e18-byte file" 'adir.json: is a directory, expected a model file' "$ptcsim" eval "$tmp/adir.json"
mkfifo "$tmp/model.onnx"
expect_error "model that is a FIFO: refused, no hang" 'model.onnx: not a regular file' timeout -k 1 20 "$ptcsim" eval "$tmp/model.onnx"

# An input shape the model's preprocessing and the dataset disagree on names the model file.
$py - "$src/models/zoo/lenet5_fmnist.onnx" "$tmp/m32.onnx" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
for p in m.metadata_props:
    if p.key == "ptcsim.preprocess": p.value = p.value.replace("[1, 28, 28]", "[1, 32, 32]")
onnx.save(m, sys.argv[2])
PY
expect_error "eval: input-shape mismatch names the model file" 'm32.onnx: model expects inputs \[1,32,32\], dataset fashion-mnist/test has \[1,28,28\]' "$ptcsim" eval "$tmp/m32.onnx" --limit 10
expect_error "run: input-shape mismatch names the model file" 'model: .*m32.onnx: the model expects inputs \[1,32,32\]' "$ptcsim" run "$sc" --set "model=$tmp/m32.onnx" --out "$tmp/r_m32"

mkfifo "$tmp/plugin.so"
expect_error "--plugin naming a FIFO: refused, no hang" 'plugin.so: not a regular file' timeout -k 1 20 "$ptcsim" list --plugin "$tmp/plugin.so"

mkdir "$tmp/idx" && mkfifo "$tmp/idx/t10k-images-idx3-ubyte.gz"
expect_error "dataset file that is a FIFO: refused, no hang" 't10k-images-idx3-ubyte.gz: not a regular file' timeout -k 1 20 "$ptcsim" validate "$sc" --set "dataset.dir=$tmp/idx"
# A fleet whose devices cannot fit: chip 0's device, built by validate, takes about 0.1 GB at
# 256 x 256 cores of 8 x 8 rings; 100 chips need at least 10 GB, more than a 4 GB address-space
# limit. Refused before the run, naming hw.chips (the limit makes the test machine-independent;
# SIGKILL after 60 s in case OpenBLAS meets the limit and retries forever).
expect_error "a fleet whose devices cannot fit in memory is refused by validate, naming hw.chips" \
  'hw.chips: 100 chips of device "mrr" need at least [0-9.]* GB for their devices alone (chip 0.s took 0.[0-9]* GB here), more than the address-space limit (ulimit -v) (4.1 GB)' \
  bash -c 'ulimit -v 4000000 && exec timeout -s KILL 60 "$0" validate "$1" --set hw.cores.rows=256 --set hw.cores.cols=256 --set hw.chips=100' "$ptcsim" "$src/scenarios/quickstart.json"
# A truncated training split: on-chip training reads every training image, so validate reads the
# whole split (it used to read one image and the run failed at its first calibration, after its
# first event).
mkdir "$tmp/trunc" && cp -L /usr/share/datasets/fashion-mnist/*.gz "$tmp/trunc/"
$py - "$tmp/trunc/train-images-idx3-ubyte.gz" <<'PY'
import gzip, sys
data = gzip.open(sys.argv[1]).read()
gzip.open(sys.argv[1], "wb").write(data[:2_000_000])
PY
expect_error "a truncated training split is refused by validate when the policy trains on it" \
  'dataset.dir: policy "onchip_training" (as configured) needs the training split: .*train-images-idx3-ubyte.gz: header says 47040000 bytes of data, the file has 1999984' \
  "$ptcsim" validate "$sc" --set "dataset.dir=$tmp/trunc" --set 'controller.policy={"name": "onchip_training"}'
# Out of memory after the last event (here the outputs of 16.8 M ring weights under a 2 GB
# address-space limit): the run's out-of-memory line naming the phase and the scale, as during the
# simulation; it used to be a bare "std::bad_alloc" (SIGKILL after 120 s guards against OpenBLAS
# retrying forever at the limit).
expect_error "out of memory after the simulation: the out-of-memory line, not std::bad_alloc" \
  'quickstart.json: out of memory while \(writing the outputs\|classifying the served images without noise (the ideal reference, after the simulation)\): hw.cores 4 x 4 cores of 1024 x 1024 on 1 chip (16777216 device weights, device "mrr") under an address-space limit of' \
  bash -c 'ulimit -v 2000000 && exec timeout -s KILL 120 "$0" run "$1" --set hw.cores.block_size=1024 --set traffic.requests=20 --out "$2" -q' "$ptcsim" "$src/scenarios/quickstart.json" "$tmp/oom1024"
expect_error "an empty dataset.dir is refused (not read as the root directory)" 'dataset.dir: expected a directory path, got ""$' "$ptcsim" validate "$sc" --set 'dataset.dir=""'

# ---- run rejects everything validate rejects
scen "$tmp/desc5.json" 'j["description"] = 5'
expect_error "validate: description 5" 'description' "$ptcsim" validate "$tmp/desc5.json"
expect_error "run: description 5, as validate" 'desc5.json: description' "$ptcsim" run "$tmp/desc5.json" --out "$tmp/r_d5"
expect_error "run: --set hw.cores=null" 'hw.cores' "$ptcsim" run "$sc" --set hw.cores=null --out "$tmp/r_cn"
expect_error "run: --set hw.energy=null" 'hw.energy' "$ptcsim" run "$sc" --set hw.energy=null --out "$tmp/r_en"
expect_error "run: --seed '' is an error, not ignored" 'seed' "$ptcsim" run "$sc" --seed '' --out "$tmp/r_seed"
scen "$tmp/escape.json" 'j["name"] = "../../escaped"'
mkdir -p "$tmp/cwd/a/b"
(cd "$tmp/cwd/a/b" && "$ptcsim" run "$tmp/escape.json" -q >"$tmp/out" 2>"$tmp/err"); rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'name: expected a plain name' "$tmp/err" && ! ls -d "$tmp/cwd/a/escaped-"* >/dev/null 2>&1 && [ ! -e "$tmp/cwd/a/b/runs" ]; then
  ok "a scenario name ../../escaped is rejected, nothing written outside runs/"
else bad "name ../../escaped (exit $rc: $(head -c 300 "$tmp/err"); $(ls "$tmp/cwd" "$tmp/cwd/a/b"))"; fi
expect_error "validate rejects the escaping name too" 'name: expected a plain name' "$ptcsim" validate "$tmp/escape.json"
for d in r_d5 r_cn r_en r_seed; do [ -e "$tmp/$d" ] && bad "run directory $d created for input validate rejects"; done
long=$($py -c "print('k' * 20000)")
"$ptcsim" run "$sc" --set "monitor.$long=1" --out "$tmp/r_long" >"$tmp/out" 2>"$tmp/err"; rc=$?
len=$(wc -c <"$tmp/err")
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ "$len" -lt 1000 ] && grep -q "more characters" "$tmp/err" \
  && ok "a 20,000-character key gives one bounded error line ($len bytes)" || bad "long error line (exit $rc, $len bytes)"

# ---- sizes and counts checked before they are allocated or overflow (validate and run alike)
cores='hw.cores={"rows":1024,"cols":1024,"block_size":1024}'
expect_error "1024^3 cores (validate): named, with the memory, no bad_alloc" 'hw.cores: 1024 x 1024 cores of 1024 x 1024 weights = 1.09951163e+12 device weights, more than the limit.*GiB' \
  "$ptcsim" validate "$sc" --set "$cores"
expect_error "1024^3 cores (run)" 'hw.cores: 1024 x 1024 cores' "$ptcsim" run "$sc" --set "$cores" --out "$tmp/r_cores"
steps=(--set time.step=seconds --set time.step_s=1e-12 --set horizon_s=1e8 --set 'traffic={"name":"poisson","rate_hz":0.001,"batch_s":1e7}' --set trace.every_requests=0)
expect_error "a step count beyond int64 names time.step_s (validate)" 'time.step_s: 1e-12 s per step gives 1e+20 steps over horizon_s' "$ptcsim" validate "$sc" "${steps[@]}"
expect_error "a step count beyond int64 names time.step_s (run), not 'MRR bank: negative step'" 'time.step_s: 1e-12 s per step' "$ptcsim" run "$sc" "${steps[@]}" --out "$tmp/r_steps"

# ---- the command line: numbers must be finite, a bad command line is one line (exit 2)
expect_cli() {  # expect_cli NAME PATTERN ARGS...: exit 2, one stderr line matching PATTERN, nothing on stdout
  local name="$1" pat="$2"; shift 2
  "$ptcsim" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then ok "$name"
  else bad "$name (exit $rc: $(head -c 300 "$tmp/err"); stdout $(head -c 100 "$tmp/out"))"; fi
}
expect_cli "device mrr --weights nan: refused, no NaN rows" '--weights: expected a finite number, got nan' device mrr --weights nan,0.5
expect_cli "device mrr --phase-noise-rad inf: refused in a short line" '--phase-noise-rad: expected a finite number, got inf' device mrr --weights 0.5 --phase-noise-rad inf
expect_cli "device pcm --g-max-us nan: refused" '--g-max-us: expected a finite number, got nan' device pcm --g-target-rel 0.5 --g-max-us nan
expect_cli "device pcm --g-target-rel 2: range named" '--g-target-rel: expected a number in \[0,1\], got 2' device pcm --g-target-rel 2
expect_cli "a missing argument is one line" 'scenario is required' run

# ---- output files: never replace a FIFO or a device node
mkfifo "$tmp/out.fifo"
expect_error "compile -o onto a FIFO is refused" 'out.fifo: exists and is not a regular file' \
  timeout -k 1 60 "$ptcsim" compile "$src/models/zoo/lenet5_fmnist.onnx" --hw "$src/scenarios/hw/doctor_4x4x8.json" -o "$tmp/out.fifo"
[ -p "$tmp/out.fifo" ] && ok "the FIFO is still a FIFO" || bad "compile -o replaced the FIFO"
no_tmp "$tmp" "refused compile -o"

# ---- the run directory as a transaction
# A complete run is not overwritten without --force; with it, it is.
"$ptcsim" run "$sc" --set traffic.requests=50 --out "$tmp/done" -q >/dev/null 2>&1
[ "$(status_of "$tmp/done")" = complete ] && ok "a run completes" || bad "reference run failed"
cp "$tmp/done/summary.json" "$tmp/done_summary.json"
expect_error "a complete run is not replaced without --force" 'done: holds a complete run.*--force' "$ptcsim" run "$sc" --set traffic.requests=60 --out "$tmp/done"
cmp -s "$tmp/done/summary.json" "$tmp/done_summary.json" && ok "refused: the complete run is untouched" || bad "refused run changed the directory"
"$ptcsim" run "$sc" --set traffic.requests=60 --out "$tmp/done" --force -q >/dev/null 2>&1
$py -c "import json,sys; assert json.load(open(sys.argv[1]))['requests']==60" "$tmp/done/summary.json" \
  && ok "--force replaces a complete run" || bad "--force did not replace the run"

# A failing run into a directory of an earlier (interrupted) run leaves no file of the earlier one.
"$ptcsim" run "$sc" --set traffic.requests=50 --out "$tmp/mixed" -q >/dev/null 2>&1
$py - "$tmp/mixed/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["status"] = "interrupted"; json.dump(r, open(sys.argv[1], "w"))
PY
touch "$tmp/mixed/summary.json.4242.0.tmp"   # left by a writer that was killed
expect_error "failing run into an earlier run's directory" 'dataset-fashion-mnist' "$ptcsim" run "$sc" --set dataset.dir=/nonexistent --out "$tmp/mixed"
left=$(cd "$tmp/mixed" && ls)
[ "$(status_of "$tmp/mixed")" = failed ] && [ "$left" = "$(printf 'config.resolved.json\nrun.json')" ] \
  && ok "the failed run's directory holds its own config and run.json only (no mix)" || bad "mixed directory: $left"
no_tmp "$tmp/mixed" "stale temporaries of a killed writer"

# Two runs into one --out: the second fails at once naming the holder; the first is unaffected.
"$ptcsim" run "$sc" --set traffic.requests=200000 --out "$tmp/busy" >/dev/null 2>"$tmp/busy.err" &
first=$!; pids+=("$first")
for _ in $(seq 1 200); do [ -s "$tmp/busy/.ptcsim.lock" ] && break; sleep 0.05; done
t0=$(date +%s)
expect_error "second run into a busy directory fails naming the holder" "busy: run directory is in use by another ptcsim run (pid $first" \
  "$ptcsim" run "$sc" --set traffic.requests=50 --out "$tmp/busy"
[ $(( $(date +%s) - t0 )) -le 5 ] && ok "the second run fails at once" || bad "the second run waited"
# The signal goes once the first run simulates (its first progress line): a signal during its
# preflight (a loaded machine) ends it before the simulation, without a summary.json.
for _ in $(seq 1 600); do grep -q '% simulated' "$tmp/busy.err" 2>/dev/null && break; sleep 0.05; done
kill -INT "$first"; wait "$first"; rc=$?
[ "$rc" -eq 3 ] && [ "$(status_of "$tmp/busy")" = interrupted ] && $py -c "import json,sys; assert json.load(open(sys.argv[1]))['status']=='interrupted'" "$tmp/busy/summary.json" 2>/dev/null \
  && ok "the first run's files are its own, interrupted (exit 3)" || bad "first run after the collision (exit $rc, $(status_of "$tmp/busy"))"

# SIGINT before the simulation starts (during the preflight): exit 3, run.json "interrupted", one line.
"$ptcsim" run "$sc" --out "$tmp/early" -q >/dev/null 2>"$tmp/early.err" &
p=$!; pids+=("$p")
for _ in $(seq 1 400); do [ -e "$tmp/early/.ptcsim.lock" ] && break; sleep 0.005; done
kill -STOP "$p"; kill -INT "$p"; kill -CONT "$p"; wait "$p"; rc=$?
if [ "$rc" -eq 3 ] && [ "$(status_of "$tmp/early")" = interrupted ] && [ "$(wc -l <"$tmp/early.err")" -eq 1 ] && grep -q "interrupted before the simulation started" "$tmp/early.err"; then
  ok "SIGINT before the first event: exit 3, run.json interrupted, one line"
else bad "early SIGINT (exit $rc, status $(status_of "$tmp/early"), stderr: $(head -c 300 "$tmp/early.err"))"; fi
no_tmp "$tmp/early" "early SIGINT"

# ---- Poisson at the schema's maximum rate: bounded memory, SIGTERM honoured within seconds.
"$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":1e12,"batch_s":1}' --set horizon_s=10 --set 'monitor={"interval_s":1}' \
  --set 'trace={"every_s":1}' --out "$tmp/flood" -q >/dev/null 2>"$tmp/flood.err" &
p=$!; pids+=("$p")
for _ in $(seq 1 200); do [ "$(status_of "$tmp/flood")" = running ] && break; sleep 0.05; done
sleep 3
rss=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
t0=$(date +%s%N); kill -TERM "$p"; wait "$p"; rc=$?; dt=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rss" -lt 1500000 ] && ok "Poisson at 1e12/s: memory bounded (RSS ${rss} kB after 3 s)" || bad "Poisson flood RSS ${rss} kB"
[ "$rc" -eq 3 ] && [ "$dt" -lt 15000 ] && [ "$(status_of "$tmp/flood")" = interrupted ] \
  && ok "Poisson at 1e12/s: SIGTERM honoured in ${dt} ms (exit 3, interrupted)" || bad "Poisson flood SIGTERM (exit $rc after ${dt} ms, $(status_of "$tmp/flood"): $(head -c 300 "$tmp/flood.err"))"

expect_error "Poisson with 1e18 (empty) windows: refused, no endless loop" 'traffic.batch_s: 1e-09 s windows over horizon_s 1e+09 s are 1e+18 windows' \
  timeout -k 1 20 "$ptcsim" run "$sc" --set 'traffic={"name":"poisson","rate_hz":1e-12,"batch_s":1e-9}' --set horizon_s=1e9 --out "$tmp/r_windows"

# ---- same seed, same bytes, whatever the wall clock does: a run paused (SIGSTOP) for longer than
# the 5-s partial-output interval asks the latency histogram for quantiles mid-run; the bytes of
# every output must still equal those of an unpaused run (latency_p99_s used to differ).
pcm=(run "$src/scenarios/pcm/drift_gdc.json" --set accuracy.images=50 --set accuracy.instances=1 -q)  # a year: 8,760 windows
"$ptcsim" "${pcm[@]}" --out "$tmp/pcm_a" >/dev/null 2>&1 &   # the unpaused run, meanwhile
pa=$!; pids+=("$pa")
"$ptcsim" "${pcm[@]}" --out "$tmp/pcm_b" >/dev/null 2>&1 &
p=$!; pids+=("$p")
for _ in $(seq 1 400); do [ "$(status_of "$tmp/pcm_b")" = running ] && break; sleep 0.01; done
sleep 1; kill -STOP "$p"; sleep 5.5; kill -CONT "$p"; wait "$p" "$pa"
same=1; for f in trace.csv events.jsonl summary.json stats.json config.resolved.json; do cmp -s "$tmp/pcm_a/$f" "$tmp/pcm_b/$f" || same=0; done
[ "$same" -eq 1 ] && [ "$(status_of "$tmp/pcm_b")" = complete ] && ok "PCM run paused 5.5 s by SIGSTOP: byte-identical outputs" \
  || bad "paused PCM run differs: $(diff "$tmp/pcm_a/summary.json" "$tmp/pcm_b/summary.json" | head -4 | tr '\n' ' ')"

# ---- a fleet's live files agree with each other: its summary.json is the sum of per_chip, and
# each chip's own summary.json is its per_chip entry (chips wrote theirs on their own timers, so a
# watcher, or a run killed, saw a fleet summary of 62,918 requests beside chip files of 66,011);
# sim_time_s is the simulated time reached (it read 0.0 while running) and requests_arrived
# counts requests ready by then (the dispatcher draws ahead), so never below requests.
"$ptcsim" run "$src/scenarios/datacenter/fleet8_year.json" --set horizon_s=2592000 --set accuracy.log_spaced.stop_s=2592000 \
  --set accuracy.images=50 --set trace.every_s=3600 --out "$tmp/live" -q >/dev/null 2>&1 &
p=$!; pids+=("$p")
for _ in $(seq 1 2400); do [ -s "$tmp/live/summary.json" ] && break; sleep 0.05; done
live_ok=0; live_msg="no partial summary.json while running"
for _ in $(seq 1 10); do
  sleep 0.5; kill -STOP "$p"
  # (stopped in the middle of a write burst the chips' files may be newer: try again)
  if live_msg=$($py - "$tmp/live" 2>&1 <<'PY'
import glob, json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json"))
assert s["status"] == "running", "status " + s["status"]
chips = [json.load(open(f"{d}/chips/chip_{i}/summary.json")) for i in range(len(s["per_chip"]))]
for k in ("requests", "writes", "calibrations", "overhead_cycles"):
    assert s[k] == sum(c[k] for c in s["per_chip"]), k
    assert [c[k] for c in chips] == [c[k] for c in s["per_chip"]], "chip files vs per_chip: " + k
assert s["sim_time_s"] > 0 and all(c["sim_time_s"] == s["sim_time_s"] for c in chips), "sim_time_s %r" % s["sim_time_s"]
assert s["requests_arrived"] >= s["requests"] > 0, "arrived %d < served %d" % (s["requests_arrived"], s["requests"])
assert all(c["requests_arrived"] >= c["requests"] for c in chips), "a chip's arrived < served"
print("%d requests at t = %g s" % (s["requests"], s["sim_time_s"]))
PY
  ); then live_ok=1; kill -CONT "$p"; break; fi
  kill -CONT "$p"
done
kill -TERM "$p"; wait "$p"; rc=$?
[ "$live_ok" -eq 1 ] && ok "a running fleet's summaries agree (fleet, per_chip, chip files; $live_msg)" || bad "running fleet: $(echo "$live_msg" | tail -1)"
[ "$rc" -eq 3 ] && $py "$src/tests/regression/check_books.py" "$tmp/live" >/dev/null 2>&1 && ok "the fleet stopped by SIGTERM: exit 3, books balance" \
  || bad "fleet SIGTERM (exit $rc): $($py "$src/tests/regression/check_books.py" "$tmp/live" 2>&1 | tail -1)"

# ---- other ways to stop: a closed terminal (SIGHUP) is an interruption; a file size limit
# (ulimit -f, SIGXFSZ) is a failed write with its reason, not a killed process.
"$ptcsim" run "$sc" --set traffic.requests=200000 --out "$tmp/hup" -q >/dev/null 2>&1 &
p=$!; pids+=("$p")
for _ in $(seq 1 400); do [ "$(status_of "$tmp/hup")" = running ] && break; sleep 0.02; done
kill -HUP "$p"; wait "$p"; rc=$?
[ "$rc" -eq 3 ] && [ "$(status_of "$tmp/hup")" = interrupted ] && ok "SIGHUP: exit 3, run.json interrupted" || bad "SIGHUP (exit $rc, $(status_of "$tmp/hup"))"
(ulimit -f 12; exec "$ptcsim" run "$sc" --set trace.every_requests=1 --out "$tmp/fsize" -q >/dev/null 2>"$tmp/err"); rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "file size limit exceeded" "$tmp/err" && [ "$(status_of "$tmp/fsize")" = failed ] \
  && ok "ulimit -f: one line naming the file and the limit, run.json failed" || bad "ulimit -f (exit $rc: $(head -c 300 "$tmp/err"); $(status_of "$tmp/fsize"))"
no_tmp "$tmp/fsize" "ulimit -f"

# ---- full disk: a small tmpfs in a private mount namespace (unmounted with it). One line saying
# "no space left on device", no *.tmp, run.json not "running".
mkdir "$tmp/disk"
if unshare -m true 2>/dev/null && unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$tmp/disk'" 2>/dev/null; then
  unshare -m sh -c "mount -t tmpfs -o size=48k tmpfs '$tmp/disk' && cd '$tmp/disk' &&
      '$ptcsim' run '$sc' --set traffic.requests=300 --set trace.every_requests=1 --out full -q >/dev/null 2>'$tmp/full.err';
      echo \$? >'$tmp/full.rc'; find full -name '*.tmp' >'$tmp/full.tmps'; cp full/run.json '$tmp/full_run.json' 2>/dev/null; true"
  rc=$(cat "$tmp/full.rc")
  st=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$tmp/full_run.json" 2>/dev/null || echo none)
  if [ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/full.err")" -eq 1 ] && grep -q "no space left on device" "$tmp/full.err"; then
    ok "full disk: one line saying no space left on device"
  else bad "full disk message (exit $rc: $(head -c 300 "$tmp/full.err"))"; fi
  [ ! -s "$tmp/full.tmps" ] && ok "full disk: no *.tmp left" || bad "full disk: left $(cat "$tmp/full.tmps")"
  [ "$st" = failed ] && ok "full disk: run.json says failed" || bad "full disk: run.json status $st"
else
  echo "SKIP - full disk: cannot mount a tmpfs in a private mount namespace here (needs root and unshare -m)"
fi

finish
