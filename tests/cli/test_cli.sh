#!/usr/bin/env bash
# CLI behaviour as a user meets it: exit codes, one-line errors on stderr, no half-written
# outputs, deterministic files. Usage: test_cli.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
lenet="$src/models/zoo/lenet5_fmnist.onnx"
hw="$src/scenarios/hw/doctor_4x4x8.json"
. "$src/tests/lib/testlib.sh"

expect_error "missing model file" "cannot open model" "$ptcsim" eval /nonexistent/model.onnx
head -c 5000 /dev/urandom >"$tmp/junk.onnx"
expect_error "corrupt model file" "junk.onnx" "$ptcsim" eval "$tmp/junk.onnx"
head -c 2000 "$lenet" >"$tmp/cut.onnx"
expect_error "truncated model file" "cut.onnx" "$ptcsim" eval "$tmp/cut.onnx"
expect_error "missing dataset names the Debian package" "dataset-fashion-mnist" "$ptcsim" eval "$lenet" --data-dir /nonexistent
data=/usr/share/libonnx-testdata/data/node
expect_error "unsupported op names node, op and supported list" "unsupported op; supported: Add" "$ptcsim" eval "$data/test_lstm_defaults/model.onnx"
expect_error "model without preprocessing" "no input preprocessing found" "$ptcsim" eval "$data/test_relu/model.onnx"
echo '{"cores": {"rows": 4,' >"$tmp/bad_hw.json"
expect_error "malformed hw JSON" "invalid JSON" "$ptcsim" compile "$lenet" --hw "$tmp/bad_hw.json" -o "$tmp/wl.json"
[ ! -e "$tmp/wl.json" ] && ok "no output file after an error" || bad "output file written despite error"
echo '{"cores": {"rows": 4, "colz": 4}}' >"$tmp/typo_hw.json"
expect_error "unknown hw key" "hw.cores.colz: unknown key" "$ptcsim" compile "$lenet" --hw "$tmp/typo_hw.json"
# the shipped hw fragments are scenario hw sections: compile takes every one that needs no
# other device (the streaming one needs a device with levels and says so), and checks the keys
# compile does not use by the scenario's rules
if "$ptcsim" compile "$lenet" --hw "$src/scenarios/hw/pcm_4x4x8.json" -o "$tmp/pcm_wl.json" >/dev/null 2>"$tmp/err" &&
   [ -s "$tmp/pcm_wl.json" ]; then ok "compile --hw takes a scenario hw fragment (converter bounds and all)"
else bad "compile --hw scenarios/hw/pcm_4x4x8.json: $(cat "$tmp/err")"; fi
# The summary line names the device that priced the chip, and says when the hw file named none
# (scenarios/hw/pcm_4x4x8.json names no device: compile prices the default thermo-optic rings).
if "$ptcsim" compile "$lenet" --hw "$src/scenarios/hw/pcm_4x4x8.json" -o "$tmp/pcm_wl2.json" 2>&1 |
     grep -q 'device mrr (thermo_optic; the hw file names no device: the default)' &&
   echo '{"cores": {"rows": 4, "cols": 4, "block_size": 8}, "mapping": {"name": "cyclic"}, "device": {"name": "pcm"}}' >"$tmp/pcm_dev_hw.json" &&
   "$ptcsim" compile "$lenet" --hw "$tmp/pcm_dev_hw.json" -o "$tmp/pcm_wl3.json" 2>&1 | grep -q 'device pcm (nonvolatile), latency'
then ok "compile's summary names the pricing device and a defaulted one"; else bad "compile summary device"; fi
expect_error "compile --hw: the streaming fragment names the device rule, and the file once" \
  ': error: [^ ]*optical_4x4x16_streaming.json: hw.device.name: the streaming mapping needs a device with transmission levels .*got "mrr" (the default: the hw file names no device. add "device": {"name": "pcm_optical"} to it)' \
  "$ptcsim" compile "$lenet" --hw "$src/scenarios/hw/optical_4x4x16_streaming.json"
# hw.energy reaches compile's cost report as it reaches a run's: no ring hold power, less energy
echo '{"cores": {"rows": 4, "cols": 4, "block_size": 8}, "mapping": {"name": "cyclic"}}' >"$tmp/hold_hw.json"
echo '{"cores": {"rows": 4, "cols": 4, "block_size": 8}, "mapping": {"name": "cyclic"}, "energy": {"ring_hold_mw": 0}}' >"$tmp/nohold_hw.json"
e_hold=$("$ptcsim" compile "$lenet" --hw "$tmp/hold_hw.json" -o "$tmp/hold.json" 2>&1 | sed -n 's/.*energy \([0-9.e+-]*\) J.*/\1/p')
e_none=$("$ptcsim" compile "$lenet" --hw "$tmp/nohold_hw.json" -o "$tmp/nohold.json" 2>&1 | sed -n 's/.*energy \([0-9.e+-]*\) J.*/\1/p')
if [ -n "$e_hold" ] && [ -n "$e_none" ] && /usr/bin/python3 -c "import sys; sys.exit(0 if float('$e_none') < float('$e_hold') else 1)"; then
  ok "compile --hw: hw.energy.ring_hold_mw changes the reported energy ($e_hold -> $e_none J)"
else bad "compile --hw: hw.energy not used ($e_hold / $e_none)"; fi
expect_error "compile: a missing model names the model, not the hw file" '^ptcsim: error: /nonexistent/m.onnx' \
  "$ptcsim" compile /nonexistent/m.onnx --hw "$src/scenarios/hw/pcm_4x4x8.json"
echo '{"mvm": {"bound_managment": "iterative"}}' >"$tmp/mvm_typo_hw.json"
expect_error "compile --hw: a typo in a key compile does not use" \
  'mvm_typo_hw.json: hw.mvm.bound_managment: unknown key; did you mean "bound_management"' \
  "$ptcsim" compile "$lenet" --hw "$tmp/mvm_typo_hw.json"
echo '{"cores": {"rows": 2, "cols": 2}, "mapping": {"name": "stationary"}}' >"$tmp/small_hw.json"
# compile builds the hw file's device as a run does: an RNS core ({63, 62, 61}, 6-bit channels)
# has one ADC per modulus channel, each at ceil(log2 m) = 6 bits, priced by the linear converter
# law E(b) = 1.48 pJ x b / 8 (docs/rns.md §7): 3x the conversions and PD/TIA energy of one ADC
# per output, the rest of the cost unchanged.
/usr/bin/python3 - "$src/scenarios/hw/doctor_4x4x8.json" "$tmp/rns_hw.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1])); h.pop("$schema", None)
h["device"] = {"name": "rns", "moduli": "auto", "bits": 6, "mantissa_bits": 6}
json.dump(h, open(sys.argv[2], "w"))
PY
if "$ptcsim" compile "$src/models/zoo/cnn3_fmnist.onnx" --hw "$tmp/rns_hw.json" -o "$tmp/rns_wl.json" >/dev/null 2>"$tmp/err" &&
   "$ptcsim" compile "$src/models/zoo/cnn3_fmnist.onnx" --hw "$src/scenarios/hw/doctor_4x4x8.json" -o "$tmp/mrr_wl.json" >/dev/null 2>&1 &&
   /usr/bin/python3 - "$tmp/rns_wl.json" "$tmp/mrr_wl.json" <<'PY' 2>"$tmp/err"
import json, math, sys
r, m = (json.load(open(f)) for f in sys.argv[1:3])
assert r["hardware"]["adc_bits_per_output"] == [6, 6, 6], r["hardware"]
a, b = r["per_inference"], m["per_inference"]
ea, eb = a["energy_breakdown_j"], b["energy_breakdown_j"]
n = b["adc_conversions"]
assert a["adc_conversions"] == 3 * n, (a["adc_conversions"], n)
assert math.isclose(ea["adc"], n * 3 * 1.48e-12 * 6 / 8, rel_tol=1e-12), (ea["adc"], n)
assert math.isclose(ea["pd_tia"], 3 * eb["pd_tia"], rel_tol=1e-12)
for k in ("dac", "digital_accumulate", "laser"):
    assert math.isclose(ea[k], eb[k], rel_tol=1e-12), k
assert a["dac_conversions"] == b["dac_conversions"]
assert math.isclose(a["energy_j"], sum(ea.values()), rel_tol=1e-12), (a["energy_j"], ea)
PY
then ok "compile --hw with an RNS device prices its per-channel ADCs (closed form)"
else bad "compile --hw RNS: $(cat "$tmp/err")"; fi
expect_error "stationary mapping with too few cores: one line naming the hw file and the path" \
  "small_hw.json: hw.mapping.name: stationary mapping needs" "$ptcsim" compile "$lenet" --hw "$tmp/small_hw.json"

# eval --json
if "$ptcsim" eval "$lenet" --limit 500 --json >"$tmp/eval.json" 2>"$tmp/err" &&
   /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['samples']==500 and 0.8<j['accuracy']<=1.0, j" "$tmp/eval.json"; then
  ok "eval --json has accuracy and samples"
else bad "eval --json ($(cat "$tmp/err"))"; fi

# A model exported with a fixed batch of 1 (torch.onnx.export without dynamic_axes): eval runs it
# one image at a time and counts the same correct images as the same weights with a free batch
# (eval --batch 16 would have failed on it); validate refuses it (the simulator batches).
/usr/bin/python3 -c "
import onnx, sys
m = onnx.load(sys.argv[1]); m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1; onnx.save(m, sys.argv[2])" \
  "$lenet" "$tmp/lenet_b1.onnx"
if "$ptcsim" eval "$tmp/lenet_b1.onnx" --limit 300 --batch 16 --json >"$tmp/b1.json" 2>"$tmp/err" &&
   "$ptcsim" eval "$lenet" --limit 300 --json >"$tmp/free.json" 2>>"$tmp/err" &&
   /usr/bin/python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a['samples'] == b['samples'] == 300 and a['correct'] == b['correct'] and a['batch_size'] == 1, (a, b)" "$tmp/b1.json" "$tmp/free.json"
then ok "eval runs a fixed-batch-1 model one image at a time, same correct count as the free batch"
else bad "eval of a fixed-batch model ($(cat "$tmp/err"))"; fi
expect_error "validate refuses a fixed-batch model before the run, with the export hint" \
  "lenet_b1.onnx: input 'input' has a fixed batch dimension of 1.*dynamic_axes" \
  "$ptcsim" validate "$src/tests/cli/tiny_doctor.json" --set model="$tmp/lenet_b1.onnx"

# compile: file written, totals present, byte-identical on a second run
if "$ptcsim" compile "$lenet" --hw "$hw" -o "$tmp/a.json" >/dev/null 2>"$tmp/err" &&
   "$ptcsim" compile "$lenet" --hw "$hw" -o "$tmp/b.json" >/dev/null 2>&1 &&
   cmp -s "$tmp/a.json" "$tmp/b.json" &&
   /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['totals']['cycles_per_inference']>0 and len(j['layers'])==5" "$tmp/a.json"; then
  ok "compile writes a deterministic workload JSON"
else bad "compile ($(cat "$tmp/err"))"; fi

# check-onnx: a real passing case, and a case whose expected output was swapped in from elsewhere
if "$ptcsim" check-onnx "$data/test_relu" "$data/test_conv_with_strides_padding" >"$tmp/out" 2>&1 && grep -q "2 passed, 0 failed" "$tmp/out"; then
  ok "check-onnx passes real cases"
else bad "check-onnx on passing cases: $(cat "$tmp/out")"; fi
cp -r "$data/test_relu" "$tmp/relu_wrong"
cp "$data/test_sigmoid/test_data_set_0/output_0.pb" "$tmp/relu_wrong/test_data_set_0/output_0.pb"
"$ptcsim" check-onnx "$tmp/relu_wrong" >"$tmp/out" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && grep -q "^FAIL" "$tmp/out"; then ok "check-onnx fails a wrong expectation with exit 1"
else bad "check-onnx on a wrong case: exit $rc $(cat "$tmp/out")"; fi
# A case whose model cannot be imported (LSTM) was not checked: exit 1, the skip and its reason listed
"$ptcsim" check-onnx "$data/test_lstm_defaults" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q "^SKIP .*test_lstm_defaults.*unsupported op" "$tmp/out" &&
   grep -q "no case was checked (1 skipped as unsupported" "$tmp/err"; then ok "check-onnx with every case skipped fails and says why"
else bad "check-onnx on an unsupported case: exit $rc $(cat "$tmp/out" "$tmp/err")"; fi
expect_error "compile refuses a model with no weight layer, as validate does" \
  "test_relu/model.onnx: no weight layers to map onto tensor cores" "$ptcsim" compile "$data/test_relu/model.onnx" --hw "$hw" -o "$tmp/relu_wl.json"
[ ! -e "$tmp/relu_wl.json" ] && ok "no workload written for it" || bad "an empty workload was written"

# device characterisation: JSON fields, bad values rejected
if "$ptcsim" device pcm --g-target-rel 1 --times 1,3600 --samples 2000 --seed 3 --json >"$tmp/pcm.json" 2>"$tmp/err" &&
   /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['times_s']==[1,3600] and len(j['g_mean_us'])==2 and len(j['g_std_us'])==2 and 18<j['g_mean_us'][1]<21, j" "$tmp/pcm.json" &&
   "$ptcsim" device mrr --weights 0,0.5,1 --delta-t-k 1 --phase-noise-rad 0.01 --samples 100 --json >"$tmp/mrr.json" 2>>"$tmp/err" &&
   /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert len(j['effective_mean'])==3 and len(j['effective_std'])==3 and j['weights']==[0,0.5,1]" "$tmp/mrr.json"; then
  ok "device pcm / mrr --json"
else bad "device commands ($(cat "$tmp/err"))"; fi
"$ptcsim" device pcm --g-target-rel 2 >"$tmp/out" 2>&1; rc=$?
[ "$rc" -ne 0 ] && grep -q "g-target-rel" "$tmp/out" && ok "device pcm rejects g_target_rel > 1" || bad "device pcm range check (exit $rc)"
# device pcm --set: the law's parameters by the pcm device's names. A fixed drift exponent (nu 0.1,
# no spread) without programming or read noise gives g_max ((t + t0)/t0)^-0.1 exactly; a constant
# programming noise c0 = 1 uS (c1 = c2 = 0, fitted at g_max 25) gives a spread of 1 uS at mid range.
if "$ptcsim" device pcm --g-target-rel 1 --no-programming --no-read-noise --set nu_mu_min=0.1 --set nu_mu_max=0.1 \
     --set nu_sigma_min=0 --set device.nu_sigma_max=0 --set t0_s=10 --times 0,1e6 --samples 50 --json >"$tmp/pcmset.json" 2>"$tmp/err" &&
   "$ptcsim" device pcm --g-target-rel 0.5 --no-drift --no-read-noise --set prog_c0=1 --set prog_c1=0 --set prog_c2=0 \
     --times 0 --samples 40000 --seed 2 --json >"$tmp/pcmprog.json" 2>>"$tmp/err" &&
   /usr/bin/python3 - "$tmp/pcmset.json" "$tmp/pcmprog.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["device"]["t0_s"] == 10 and d["device"]["nu_mu_max"] == 0.1, d["device"]
assert abs(d["g_mean_us"][1] / (25 * ((1e6 + 10) / 10) ** -0.1) - 1) < 1e-9 and d["g_std_us"][1] == 0, d
p = json.load(open(sys.argv[2]))
assert abs(p["g_mean_us"][0] - 12.5) < 0.03 and abs(p["g_std_us"][0] - 1) < 0.02, p
PY
then ok "device pcm --set: drift and programming noise follow the law's parameters (closed forms)"; else bad "device pcm --set: $(cat "$tmp/err")"; fi
"$ptcsim" device pcm --g-target-rel 1 --set nu_mu_x=1 >"$tmp/out" 2>&1; rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q 'device.nu_mu_x: unknown key; did you mean "nu_mu_a"' "$tmp/out" \
  && ok "device pcm --set: an unknown name is one error line with a suggestion" || bad "device pcm --set unknown name (exit $rc): $(cat "$tmp/out")"
# an unknown key that abbreviates one parameter (a trial typed sigma_prog for sigma_prog_rel): the
# suggestion is that parameter, not the hint to replace the whole section
"$ptcsim" device pcm --g-target-rel 1 --set prog_g_max=1 >"$tmp/out" 2>&1; rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q 'device.prog_g_max: unknown key; did you mean "prog_g_max_reference_us"' "$tmp/out" \
  && ok "an abbreviated parameter name gets its full name as the suggestion" || bad "abbreviation hint (exit $rc): $(cat "$tmp/out")"
"$ptcsim" device pcm --g-target-rel 1 --g-max-us 30 --set g_max_us=20 >"$tmp/out" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q 'give g_max once' "$tmp/out" && ok "device pcm: --g-max-us with --set g_max_us is an error" || bad "device pcm g_max twice (exit $rc)"

# scenarios: validate (schema + semantics), list, schema
good="$src/scenarios/doctor/pv_high_cosine_doctor.json"
if "$ptcsim" validate "$good" >"$tmp/out" 2>"$tmp/err" && grep -q "valid" "$tmp/out" && [ ! -s "$tmp/err" ]; then ok "validate a shipped scenario"
else bad "validate a shipped scenario ($(cat "$tmp/err"))"; fi
if "$ptcsim" validate "$good" --threads 1 -q --force --seed 3 >"$tmp/out" 2>"$tmp/err" && grep -q "valid" "$tmp/out"; then
  ok "validate takes a run's command line as it is (--threads, -q, --force, --seed)"
else bad "validate with run's options ($(cat "$tmp/err"))"; fi
echo "{\"model\": \"$lenet\", \"hw\": {\"cores\": {\"rows\": 0}}}" >"$tmp/bad_scenario.json"
echo "{\"model\": \"$lenet\", \"dataset\": {\"dir\": \"/nonexistent\"}}" >"$tmp/bad_dataset.json"
expect_error "validate names the path and the range" "bad_scenario.json: hw.cores.rows: expected integer in \[1,1024\], got 0" \
  "$ptcsim" validate "$tmp/bad_scenario.json"
echo "{\"model\": \"$lenet\", \"controller\": {\"policy\": {\"name\": \"doctr\"}}}" >"$tmp/typo_scenario.json"
expect_error "validate suggests a policy name" 'controller.policy.name: "doctr" is not one of .*did you mean "doctor"' \
  "$ptcsim" validate "$tmp/typo_scenario.json"
expect_error "validate --set is checked too" "monitor.w_thres: expected number" "$ptcsim" validate "$good" --set monitor.w_thres=-1
# validate makes every check run makes before its first event (issue 11)
echo "{\"model\": \"$lenet\", \"device\": {\"name\": \"pcm\"}, \"controller\": {\"policy\": {\"name\": \"doctor\"}}}" >"$tmp/pcm_doctor.json"
expect_error "validate: a remapping policy on a device without tile remapping" \
  'pcm_doctor.json: controller.policy: policy "doctor" (as configured) uses tile remapping, which device "pcm" does not support' \
  "$ptcsim" validate "$tmp/pcm_doctor.json"
"$ptcsim" validate "$tmp/pcm_doctor.json" --set controller.policy.remap=false >/dev/null 2>"$tmp/err" &&
  ok "validate: doctor without remapping on PCM" || bad "validate: doctor without remapping on PCM ($(cat "$tmp/err"))"
"$ptcsim" validate "$tmp/pcm_doctor.json" --set controller.policy.name=none --set accuracy.mode=scheduled \
  --set 'accuracy.times_s=[0]' --set accuracy.instances=2 >/dev/null 2>"$tmp/err" &&
  ok "validate: Monte-Carlo instances of PCM chips" || bad "validate: Monte-Carlo instances of PCM chips ($(cat "$tmp/err"))"
expect_error "validate: instants given in served mode (they would never be evaluated)" \
  'accuracy.times_s: instants are evaluated only in accuracy.mode "scheduled", and the mode is "served"' \
  "$ptcsim" validate "$good" --set accuracy.mode=served --set 'accuracy.times_s=[0,60]'
expect_error "validate: scheduled instants after the horizon" \
  'accuracy.times_s: evaluation instant 7200 s is after horizon_s 3600 s' \
  "$ptcsim" validate "$good" --set horizon_s=3600 --set 'traffic={"name":"poisson"}' --set accuracy.mode=scheduled --set 'accuracy.times_s=[0,7200]'
expect_error "validate: scheduled instants after the end of the traffic (horizon_s 0)" \
  'accuracy.times_s: evaluation instant 1000000 s is after the end of the traffic (horizon_s 0' \
  "$ptcsim" validate "$good" --set accuracy.mode=scheduled --set 'accuracy.times_s=[0,1e6]'
expect_error "validate: missing dataset" 'bad_dataset.json: dataset.dir: .*dataset-fashion-mnist' \
  "$ptcsim" validate "$tmp/bad_dataset.json"
# layers on the array (docs/layers.md): unknown node names, run and validate alike; BatchNorm kept
# digital needs a model with BatchNorm nodes
cnn3_pcm="$src/scenarios/pcm/layers_digital_ends.json"
expect_error "validate: an unknown digital layer names file, JSON path and node" \
  'layers_digital_ends.json: hw.mapping.digital_layers\[1\]: "conv9" is not a weight layer of model .*cnn3_fmnist.onnx (weight layers: ' \
  "$ptcsim" validate "$cnn3_pcm" --set 'hw.mapping.digital_layers=["first","conv9"]'
expect_error "run: the same error before any output" \
  'layers_digital_ends.json: hw.mapping.digital_layers\[1\]: "conv9" is not a weight layer' \
  "$ptcsim" run "$cnn3_pcm" --set 'hw.mapping.digital_layers=["first","conv9"]' --out "$tmp/layers_bad" -q
expect_error "validate: a digital layer is a node name" 'hw.mapping.digital_layers\[0\]: expected a string' \
  "$ptcsim" validate "$cnn3_pcm" --set 'hw.mapping.digital_layers=[3]'
expect_error "validate: batchnorm is fold or digital" 'hw.mapping.batchnorm: "folded" is not one of fold, digital' \
  "$ptcsim" validate "$cnn3_pcm" --set hw.mapping.batchnorm=folded
expect_error "validate: BatchNorm digital on a model without BatchNorm (the zoo's were folded at export)" \
  'layers_digital_ends.json: hw.mapping.batchnorm: "digital" keeps BatchNormalization nodes after the array, but model .*cnn3_fmnist.onnx has none' \
  "$ptcsim" validate "$cnn3_pcm" --set hw.mapping.batchnorm=digital
if "$ptcsim" list sections >"$tmp/out" 2>"$tmp/err" && grep -q "batchnorm" "$tmp/out" && grep -q "digital_layers" "$tmp/out"; then
  ok "list sections shows hw.mapping.batchnorm and digital_layers"
else bad "list sections: no batchnorm / digital_layers ($(cat "$tmp/err"))"; fi
echo '{"mapping": {"name": "cyclic", "digital_layers": ["first", "last"]}}' >"$tmp/layers_hw.json"
echo '{"mapping": {"name": "cyclic", "digital_layers": ["last", "fc9"]}}' >"$tmp/layers_bad_hw.json"
expect_error "compile --hw: an unknown digital layer names the hw file, JSON path and node" \
  'layers_bad_hw.json: mapping.digital_layers\[1\]: "fc9" is not a weight layer of model .*cnn3_fmnist.onnx' \
  "$ptcsim" compile "$src/models/zoo/cnn3_fmnist.onnx" --hw "$tmp/layers_bad_hw.json"
if "$ptcsim" compile "$src/models/zoo/cnn3_fmnist.onnx" --hw "$tmp/layers_hw.json" -o "$tmp/layers_wl.json" >/dev/null 2>"$tmp/err" &&
   /usr/bin/python3 -c "
import json,sys; j=json.load(open(sys.argv[1]))
assert len(j['layers'])==2 and j['digital_layers']==['/features/features.0/Conv', '/fc/MatMul'], j['digital_layers']
assert j['totals']['digital_macs_per_inference']==1*9*64*28*28+1600*10, j['totals']" "$tmp/layers_wl.json"; then
  ok "compile --hw: first and last layer digital"
else bad "compile --hw with layer choices ($(cat "$tmp/err"))"; fi
if "$ptcsim" list policies >"$tmp/out" 2>"$tmp/err"; then
  missing=""
  for p in doctor global_drift_compensation none onchip_training periodic_full rns_recalibration row_remap swim threshold_full; do
    grep -q "^  $p -- " "$tmp/out" || missing="$missing $p"
  done
  [ -z "$missing" ] && grep -q "sparsity" "$tmp/out" && ok "list policies shows the 9 built-ins with parameters" || bad "list policies: missing$missing"
else bad "list policies ($(cat "$tmp/err"))"; fi
expect_error "list of an unknown kind" "unknown kind" "$ptcsim" list polices
"$ptcsim" schema >"$tmp/schema.json" 2>"$tmp/err" && cmp -s "$tmp/schema.json" "$src/scenarios/schema.json" &&
  ok "scenarios/schema.json equals ptcsim schema" || bad "scenarios/schema.json is stale: run ptcsim schema > scenarios/schema.json"

"$ptcsim" >/dev/null 2>&1; rc=$?
[ "$rc" -ne 0 ] && ok "no subcommand is an error" || bad "no subcommand exits 0"

# --set takes one value per use: a scenario after it is the scenario, not a second override
"$ptcsim" validate --set monitor.w_thres=0.1 "$good" >/dev/null 2>"$tmp/err" && ok "validate --set X FILE: FILE is the scenario" \
  || bad "validate --set before the file: $(cat "$tmp/err")"
expect_error "compile --hw given a whole scenario: one line saying so and naming its hw section" \
  "pv_high_cosine_doctor.json: a scenario, not a hardware description: --hw takes a scenario's hw section (this scenario's is ../hw/" \
  "$ptcsim" compile "$lenet" --hw "$good"
# SWIM on swim_variation verifies by the device's own model: the policy's iteration settings are refused, not ignored
expect_error "swim on swim_variation: controller.policy.tolerance is refused, naming the device's own settings" \
  "lenet5_swim_variation.json: controller.policy.tolerance: device \"swim_variation\" write-verifies by its own model (device.write_var after device.verify_iterations)" \
  "$ptcsim" validate "$src/scenarios/swim/lenet5_swim_variation.json" --set controller.policy.tolerance=0.5
"$ptcsim" validate "$src/scenarios/swim/lenet5_mrr_swim.json" >/dev/null 2>"$tmp/err" && ok "swim on mrr keeps its tolerance" \
  || bad "swim on mrr with tolerance: $(cat "$tmp/err")"
# Monte-Carlo instances of a device that draws nothing (pcm_optical: deterministic levels and
# drift, no converter noise) are identical copies: their std is exactly 0 (it printed 1.6e-17)
"$ptcsim" run "$src/scenarios/pcm/optical_drift_none.json" --out "$tmp/opt_mc" -q --set horizon_s=2000 \
  --set 'accuracy={"mode":"scheduled","times_s":[0,1000],"images":50,"instances":3}' >/dev/null 2>"$tmp/err" \
  || bad "pcm_optical instances run: $(cat "$tmp/err")"
if /usr/bin/python3 - "$tmp/opt_mc/trace.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["accuracy"]]
assert len(rows) == 2 and all(r["accuracy_std"] == "0" for r in rows), rows
PY
then ok "identical Monte-Carlo instances have accuracy_std exactly 0"; else bad "accuracy_std of identical instances"; fi
# an error at a path a fragment gave names the fragment (the top-level file alone sent users to
# the wrong file); a --set that replaced the value is not blamed on the fragment
mkdir -p "$tmp/frag/hw"
sed 's/"noise_std": *[0-9.e-]*/"noise_std": -0.2/' "$src/scenarios/hw/pcm_4x4x8.json" >"$tmp/frag/hw/bad_hw.json"
grep -q '"noise_std": -0.2' "$tmp/frag/hw/bad_hw.json" || /usr/bin/python3 - "$tmp/frag/hw/bad_hw.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j.setdefault("adc", {})["noise_std"] = -0.2; json.dump(j, open(sys.argv[1], "w"))
PY
/usr/bin/python3 - "$src/scenarios/pcm/drift_gdc.json" "$tmp/frag/top.json" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1])); j["hw"] = "hw/bad_hw.json"
j["model"] = os.path.normpath(os.path.join(os.path.dirname(sys.argv[1]), j["model"])); j.pop("$schema", None)
json.dump(j, open(sys.argv[2], "w"))
PY
for cmd in validate run; do
  expect_error "$cmd: an error inside a fragment names the fragment" \
    'top.json: hw.adc.noise_std (from fragment .*frag/hw/bad_hw.json): ' "$ptcsim" $cmd "$tmp/frag/top.json" --out "$tmp/frag/out"
done
"$ptcsim" validate "$tmp/frag/top.json" --set hw.adc.noise_std=-0.3 2>"$tmp/err" >/dev/null
grep -q 'hw.adc.noise_std: ' "$tmp/err" && ! grep -q 'from fragment' "$tmp/err" && ok "a --set value is not blamed on the fragment" \
  || bad "--set over a fragment: $(cat "$tmp/err")"
# A fragment is blamed only for paths it holds: the pcm hw fragment has no mvm section, so an error
# at hw.mvm.nm_thres (a default, made invalid by a --set of noise_management) names no fragment.
# It used to say "(from fragment .../pcm_4x4x8.json)" because that fragment gave "hw".
"$ptcsim" validate "$src/scenarios/pcm/drift_gdc.json" --set hw.mvm.noise_management=constant 2>"$tmp/err" >/dev/null
grep -q 'drift_gdc.json: hw.mvm.nm_thres: noise_management "constant"' "$tmp/err" && ! grep -q 'from fragment' "$tmp/err" \
  && ok "a default below a fragment's root is not blamed on the fragment" || bad "origin of a default: $(cat "$tmp/err")"
# --set hw=FILE names a fragment, relative to the working directory, as "hw": "FILE" does in a
# scenario (it used to say "hw: expected an object, got string"); an error inside it names it.
(cd "$tmp/frag" && "$ptcsim" validate "$src/scenarios/pcm/drift_gdc.json" --set hw=hw/bad_hw.json >/dev/null 2>"$tmp/err")
grep -q '^ptcsim: error: .*drift_gdc.json: hw.adc.noise_std (from fragment hw/bad_hw.json): ' "$tmp/err" \
  && ok "--set hw=FILE reads the fragment relative to the working directory and blames it" || bad "--set hw=FILE: $(cat "$tmp/err")"
(cd "$src/scenarios" && "$ptcsim" validate pcm/drift_gdc.json --set hw=hw/doctor_4x4x8.json >/dev/null 2>"$tmp/err") \
  && ok "--set hw=FILE with a valid fragment validates" || bad "--set hw=valid: $(cat "$tmp/err")"
expect_error "--set device=WORD: no such fragment; the hint names device.name" \
  'drift_gdc.json: device: fragment file "pcm_table" not found (a string here names a fragment file; to choose the plug-in named "pcm_table", set device.name=pcm_table)$' \
  "$ptcsim" validate "$src/scenarios/pcm/drift_gdc.json" --set device=pcm_table
# Drift compensation on the RNS core is refused before the first event: its readouts never drift
# (alpha stayed 1) and cost 11 % of the array time (it was accepted).
expect_error "global_drift_compensation on the rns device is refused" \
  'hotspot_day_all.json: controller.policy: policy "global_drift_compensation" scales each layer.s outputs by digital gains .* device "rns" computes with its own arithmetic' \
  "$ptcsim" validate "$src/scenarios/rns/hotspot_day_all.json" --set 'controller.policy={"name":"global_drift_compensation"}'
# ... and it is blamed for the elements of a list it holds (traffic.hourly_rate_hz[3]).
mkdir -p "$tmp/frl"
/usr/bin/python3 - "$src" "$tmp/frl" <<'PY'
import json, os, sys
src, d = sys.argv[1], sys.argv[2]
j = json.load(open(os.path.join(src, "scenarios/quickstart.json"))); j.pop("$schema")
j["model"] = os.path.join(src, "models/zoo/cnn3_fmnist.onnx"); j["hw"] = os.path.join(src, "scenarios/hw/doctor_4x4x8.json")
j["noise"] = [n if isinstance(n, dict) else os.path.join(src, "scenarios", n) for n in j["noise"]]
j.update({"traffic": "traffic.json", "horizon_s": 3600, "time": {"step": "seconds", "step_s": 1}})
json.dump(j, open(os.path.join(d, "top.json"), "w"))
r = [20.0] * 24; r[3] = -1
json.dump({"name": "daily_profile", "hourly_rate_hz": r}, open(os.path.join(d, "traffic.json"), "w"))
PY
expect_error "an element of a fragment's list is blamed on the fragment" \
  'top.json: traffic.hourly_rate_hz\[3\] (from fragment .*frl/traffic.json): expected number in \[0,1e+12\], got -1' \
  "$ptcsim" validate "$tmp/frl/top.json"
# A trace whose every arrival is at or after the horizon would serve nothing: refused by validate
# (it used to pass validate and "complete" with 0 requests and accuracy n/a).
printf 't_s\n200\n' >"$tmp/late.csv"
expect_error "a trace starting after the horizon is refused (served accuracy)" \
  'trace_replay.json: horizon_s: accuracy mode "served" measures served requests, and traffic "trace" makes its first request ready at 200 s (its first arrival' \
  "$ptcsim" validate "$src/scenarios/traffic/trace_replay.json" --set "traffic.file=$tmp/late.csv"
# validate meets the run directory as run would: one it cannot create is an error (run failed
# there before its first event while validate said valid); one holding a complete run gets a note
# (run needs --force), and validate leaves nothing behind.
expect_error "validate: a run directory that cannot be created" \
  'quickstart.json: /proc/ptcsim_x: cannot create the run directory (in /proc: ' "$ptcsim" validate "$src/scenarios/quickstart.json" --out /proc/ptcsim_x
mkdir -p "$tmp/done" && echo '{"status": "complete"}' >"$tmp/done/run.json"
if "$ptcsim" validate "$src/scenarios/quickstart.json" --out "$tmp/done" >/dev/null 2>"$tmp/err" \
  && grep -q "note: .*done holds a complete run: .ptcsim run. needs --force" "$tmp/err" \
  && "$ptcsim" validate "$src/scenarios/quickstart.json" --out "$tmp/new/a/b" >/dev/null 2>&1 && [ ! -e "$tmp/new" ] \
  && ! ls -a "$tmp" | grep -q ptcsim-validate; then
  ok "validate: a complete run gets a note; a directory run would create is checked and not left behind"
else bad "validate run directory checks: $(cat "$tmp/err")"; fi
# A trace exported by a spreadsheet starts with a UTF-8 byte-order mark: read past it (it used to
# give 'expected the header "t_s" ..., got "t_s"' with the mark invisible).
printf '\357\273\277t_s\n1\n2\n' >"$tmp/bom.csv"
"$ptcsim" validate "$src/scenarios/traffic/trace_replay.json" --set "traffic.file=$tmp/bom.csv" >/dev/null 2>"$tmp/err" \
  && ok "a trace CSV with a byte-order mark is read" || bad "BOM trace: $(cat "$tmp/err")"
# A --set that replaces a whole list whose entries came from fragments: no entry is blamed on a
# fragment any more. DOCTOR's scenario lists its noise as fragments; here the list is replaced by
# one crosstalk process whose couplings (kappa 0 couples every ring of a 128 x 128 bank with every
# other: sparse rows and the dense noise form, 4.29 GB) exceed the 4 GB limit.
doctor="$src/scenarios/doctor/pv_high_linear_doctor.json"
expect_error "a list replaced by --set is not blamed on its fragments; the crosstalk limit names the JSON path" \
  'pv_high_linear_doctor.json: noise\[0\].kappa_per_um: 0 /um couples each ring of a 128 x 128 bank with 1.64e+04 others on average: 3.22 GB of sparse couplings plus 1.07 GB for the dense float matrix the per-draw noise needs (32767 diagonals above 2^-24, more than 16), 4.29 GB in all, limit 4 GB; raise kappa_per_um or lower hw.cores.block_size$' \
  "$ptcsim" validate "$doctor" --set hw.cores.block_size=128 --set 'noise=[{"name":"thermal_crosstalk","kappa_per_um":0}]'
# A list index in --set as errors print it (noise[2]) is the same as noise.2.
expect_error "--set noise[2].kappa_per_um addresses the list entry" \
  'pv_high_linear_doctor.json: noise\[2\].kappa_per_um: 0 /um couples each ring of a 128 x 128 bank' \
  "$ptcsim" validate "$doctor" --set hw.cores.block_size=128 --set 'noise[2].kappa_per_um=0'
finish
