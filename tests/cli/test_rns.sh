#!/usr/bin/env bash
# The `rns` device in a run (docs/rns.md §7): retries are charged once, to the request that made
# them, and to scheduled evaluations alike; the ADC energy laws price the per-modulus converters
# (docs/converters_energy.md §3); on-chip training on the core (docs/onchip_training.md §2).
# Usage: test_rns.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
rrns="$src/scenarios/rns/cnn3_rns6_rrns.json"

# ---- served retries lengthen the retried request's own service. Back-to-back traffic issues
# each request when the previous completes, so with retries in every request the run ends at
# requests x inference latency + the recomputation time (each request pays its own), and a
# request's latency exceeds the inference latency. sigma_phi = 0.03 rad on {63, 62, 61} + {65, 67}:
# p_e = 2 Q(pi / (m 0.03)) ~ 0.1 per channel, so a few % of the 7.3 M words per image need retries.
if "$ptcsim" run "$rrns" --set traffic.requests=6 --set trace.every_requests=0 --set device.sigma_phi_rad=0.03 \
     --out "$tmp/b2b" -q >"$tmp/log" 2>&1; then
  if $py - "$tmp/b2b" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json")); a = json.load(open(d + "/stats.json"))["accelerator"]
L, rt, n = a["inference_latency"]["value"], a["recomputation_time"]["value"], a["recomputations"]["value"]
assert n > 1000 and n == s["rns_retried"], (n, s["rns_retried"])
want = s["requests"] * L + rt
assert abs(s["sim_time_s"] - want) <= 1e-9 * want + 2e-9, (s["sim_time_s"], want, s["requests"] * L)
assert s["latency_p99_s"] > L * (1 + 1e-4), (s["latency_p99_s"], L)
PY
  then ok "b2b RNS run: each request pays its own retries (sim time = N x latency + recomputation time)"
  else bad "b2b RNS retries not charged to the retried requests"; fi
  $py "$src/tests/regression/check_books.py" "$tmp/b2b" && ok "b2b RNS run: one set of books" || bad "b2b RNS books"
else bad "b2b RNS run failed: $(tail -2 "$tmp/log")"; fi

# ---- retries of scheduled evaluations are charged too: the counters count every word, and every
# counted retry is a charged recomputation (check_books.py: recomputations = rns_retried, energy =
# recomputations x energy per recomputation).
if "$ptcsim" run "$src/scenarios/rns/thermal_day_ci.json" --set horizon_s=3600 --set 'accuracy.times_s=[0,3600]' \
     --set accuracy.images=4 --set device.sigma_phi_rad=0.03 --out "$tmp/ev" -q >"$tmp/log" 2>&1; then
  if $py - "$tmp/ev" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json")); a = json.load(open(d + "/stats.json"))["accelerator"]
assert s["rns_retried"] > 1000 and a["recomputations"]["value"] == s["rns_retried"], (s["rns_retried"], a["recomputations"])
assert a["recomputation_energy"]["value"] > 0
PY
  then ok "scheduled evaluations' retries are charged (recomputations = rns_retried)"
  else bad "evaluation retries not charged"; fi
  $py "$src/tests/regression/check_books.py" "$tmp/ev" && ok "evaluated RNS run: one set of books" || bad "evaluated RNS books"
else bad "evaluated RNS run failed: $(tail -2 "$tmp/log")"; fi

# ---- rns_recalibration against the closed form (docs/rns.md §4, §7): on a chip without drift the
# channel phase error is the per-read N(0, sigma_phi^2) alone, so a word is detected as erroneous
# when any of its n + k channels errs (up to k = 2 errors are always detected; undetected words
# need >= 3 errors, ~1e-9): rate = 1 - prod_c (1 - 2 Q(pi / (m_c sigma_phi))). The rate the policy
# logs at every check must match it within 5 binomial standard deviations, and it re-calibrates
# exactly when the rate exceeds its threshold.
for thr in 5e-4 2e-3; do
  "$ptcsim" run "$rrns" --set traffic.requests=6 --set trace.every_requests=0 --set device.sigma_phi_rad=0.013 \
    --set 'controller.policy={"name":"rns_recalibration","interval_requests":2,"min_words":1000,"detected_rate":'$thr'}' \
    --out "$tmp/pol_$thr" -q >"$tmp/log" 2>&1 || bad "rns_recalibration run failed: $(tail -2 "$tmp/log")"
done
if $py - "$tmp" <<'PY'
import json, math, sys
d = sys.argv[1]
sig = 0.013
p = [math.erfc(math.pi / (m * sig) / math.sqrt(2)) for m in (63, 62, 61, 65, 67)]  # 2 Q(x) = erfc(x / sqrt 2)
want = 1 - math.prod(1 - x for x in p)
for thr in ("5e-4", "2e-3"):
    ev = [json.loads(l) for l in open(f"{d}/pol_{thr}/events.jsonl")]
    checks = [e for e in ev if e["type"] == "rns_error_rate"]
    assert len(checks) >= 2, checks
    for e in checks:
        sd = math.sqrt(want * (1 - want) / e["words"])
        assert abs(e["rate"] - want) < 5 * sd, (e, want, sd)
    s = json.load(open(f"{d}/pol_{thr}/summary.json"))
    fired = want > float(thr)
    assert (s["calibrations"] == len(checks)) if fired else (s["calibrations"] == 0), (thr, want, s["calibrations"], len(checks))
print("closed-form detected rate %.4g" % want)
PY
then ok "rns_recalibration: logged detected-word rate = 1 - prod(1 - 2Q(pi/(m sigma))), re-calibrates above its threshold only"
else bad "rns_recalibration rate vs closed form"; fi

# ---- rns_recalibration scope channels (docs/rns.md §7): DOCTOR's global temperature drift with
# the corner hotspot map heats core 0 fastest (every other core gets exp(-distance) <= 0.37 of it),
# so the first rings whose corrected-residue rate rises are core 0's: the first selective
# re-calibration re-tunes rings of core 0 only, writing less than the full re-calibration (one
# write per programmed weight, = the initial programming); over the same 6 hours the selective
# policy writes less in total than scope all, and the books agree in both runs.
hot="$src/scenarios/rns/hotspot_day_channels.json"
for scope in all channels; do
  "$ptcsim" run "$hot" --set horizon_s=21600 --set 'accuracy.times_s=[0,7200,14400,21600]' --set accuracy.images=50 \
    --set controller.policy.scope=$scope --out "$tmp/hot_$scope" -q >"$tmp/log" 2>&1 || bad "hotspot run ($scope) failed: $(tail -2 "$tmp/log")"
done
if $py - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
w = {}
for scope in ("all", "channels"):
    s = json.load(open(f"{d}/hot_{scope}/summary.json"))
    ev = [json.loads(l) for l in open(f"{d}/hot_{scope}/events.jsonl")]
    prog = [e for e in ev if e["type"] == "program"]
    assert prog, scope
    full = s["writes_initial_programming"]
    if scope == "all":
        assert all(e["writes"] == full for e in prog), [e["writes"] for e in prog]
    else:
        assert prog[0]["cores"] == [0], prog[0]
        assert 0 < prog[0]["rings"] <= 8 * 5, prog[0]  # core 0 has 8 rows x 5 channel rings
        assert all(0 < e["writes"] < full for e in prog), [e["writes"] for e in prog]
        checks = [e for e in ev if e["type"] == "rns_error_rate" and "rings_selected" in e]
        assert [c["rings_selected"] for c in checks if c["rings_selected"] > 0][0] == prog[0]["rings"], checks
        # time_s: k probe vectors and one settle per probed chunk, then one settle
        hw = json.load(open(f"{d}/hot_{scope}/config.resolved.json"))["hw"]
        k, settle = hw["cores"]["block_size"], hw["energy"]["ring_settle_us"] * 1e-6
        for e in prog:
            want = e["chunks_probed"] * (k / (hw["clock_ghz"] * 1e9) + settle) + settle
            assert abs(e["time_s"] - want) <= 1e-12 + 1e-9 * want, (e, want)
    w[scope] = sum(e["writes"] for e in prog)
    assert w[scope] == s["writes"], (scope, w[scope], s["writes"])
assert w["channels"] < w["all"], w
print("writes: all %d, channels %d" % (w["all"], w["channels"]))
PY
then ok "rns_recalibration scope channels: re-tunes the hot corner's rings first, fewer writes than scope all"
else bad "rns_recalibration scope channels"; fi
for scope in all channels; do
  $py "$src/tests/regression/check_books.py" "$tmp/hot_$scope" && ok "hotspot run ($scope): one set of books" || bad "hotspot ($scope) books"
done
if "$ptcsim" validate "$hot" --set device.redundant=1 >"$tmp/log" 2>&1; then bad "scope channels with 1 redundant modulus accepted"
else grep -q "controller.policy.scope.*device.redundant >= 2" "$tmp/log" && ok "scope channels needs >= 2 redundant moduli (validate)" ||
  bad "scope channels refusal message: $(cat "$tmp/log")"; fi

# ---- ADC energy laws: the RNS core's per-modulus ADCs ({63, 62, 61}: three 6-bit ADCs per
# output) and a conventional core's 14-bit ADC (Blueprint's b_out for h = 8, b = 6), priced from
# 1.48 pJ at 8 bits: linear 1.48 b/8, walden 1.48 2^(b-8), thermal 1.48 4^(b-8) pJ.
rns6="$src/scenarios/rns/cnn3_rns6.json"; an="$src/scenarios/rns/cnn3_analog6.json"
for law in linear walden thermal; do
  "$ptcsim" run "$rns6" --set traffic.requests=1 --set hw.energy.adc_law=$law --out "$tmp/r_$law" -q >"$tmp/log" 2>&1 &&
  "$ptcsim" run "$an" --set traffic.requests=1 --set hw.adc.bits=14 --set hw.energy.adc_law=$law --out "$tmp/a_$law" -q \
    >>"$tmp/log" 2>&1 || bad "energy-law runs ($law) failed: $(tail -2 "$tmp/log")"
done
if $py - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
E = {"linear": lambda b: 1.48 * b / 8, "walden": lambda b: 1.48 * 2.0 ** (b - 8), "thermal": lambda b: 1.48 * 4.0 ** (b - 8)}
for law, e in E.items():
    r = json.load(open(f"{d}/r_{law}/stats.json"))["accelerator"]
    a = json.load(open(f"{d}/a_{law}/stats.json"))["accelerator"]
    # RNS: 3 ADCs per output, the bank's energy per conversion is their mean; stats.json names
    # the moduli Blueprint's rule chose (config.resolved.json says "auto")
    assert r["adcs_per_output"]["value"] == 3
    assert r["device_resolved"] == {"base_moduli": [63, 62, 61], "redundant_moduli": [], "channel_adc_bits": [6, 6, 6],
                                    "legitimate_range": 63 * 62 * 61}, r.get("device_resolved")
    assert abs(r["adc"]["energy_per_conversion"]["value"] - e(6) * 1e-12) < 1e-9 * e(6) * 1e-12, (law, r["adc"])
    assert r["adc"]["channel_bits"]["value"] == [6, 6, 6] and r["adc"]["bits"]["value"] == 6, r["adc"]
    assert "channel_bits" not in a["adc"], a["adc"]  # one ADC per output
    assert abs(a["adc"]["energy_per_conversion"]["value"] - e(14) * 1e-12) < 1e-9 * e(14) * 1e-12, (law, a["adc"])
    cfg = json.load(open(f"{d}/r_{law}/config.resolved.json"))
    assert ("adc_law" in cfg["hw"]["energy"]) == (law != "linear"), cfg["hw"]["energy"]
# the default is the linear law: identical to an explicit linear
for run in ("r", "a"):
    x = json.load(open(f"{d}/{run}_linear/stats.json"))["accelerator"]["inference_energy"]["value"]
    assert x > 0
PY
then ok "ADC energy laws price RNS and conventional ADCs by their closed forms; linear is the default and not in the resolved config"
else bad "ADC energy laws"; fi
expect_error "unknown ADC law is one error line" 'hw.energy.adc_law' "$ptcsim" validate "$rns6" --set hw.energy.adc_law=murmann
# The core's own converters: the array's converter settings but hw.dac.bits are left out of the
# resolved configuration (a given one is refused), so an RNS run's config.resolved.json runs again.
if $py -c "import json,sys; h=json.load(open(sys.argv[1]))['hw']; assert 'adc' not in h and h['dac'] == {'bits': 8}, h" \
     "$tmp/r_linear/config.resolved.json" && "$ptcsim" validate "$tmp/r_linear/config.resolved.json" >"$tmp/log" 2>&1
then ok "an RNS run's config.resolved.json has no ignored converter settings and validates again"
else bad "RNS config.resolved.json: $(cat "$tmp/log")"; fi
# BFP groups: a multiple of the core size (8) is accepted; a group inside one tile is refused with
# the reason, by validate as by run.
"$ptcsim" validate "$rns6" --set device.group=16 >"$tmp/log" 2>&1 && ok "BFP group 16 = 2 tiles validates" ||
  bad "BFP group 16 refused: $(cat "$tmp/log")"
expect_error "BFP group inside a tile is one error line" 'device.group: a BFP group of 4 values is smaller than the core size 8.*set hw.cores.block_size = 4 instead' \
  "$ptcsim" validate "$rns6" --set device.group=4
# A fleet of RNS chips reports the decoder's counters at the fleet level too (they were only in
# the chips' files): summary.json and the fleet trace's last row hold the sums of the chips'.
if "$ptcsim" run "$rrns" -q --set hw.chips=2 --set traffic.requests=11 --out "$tmp/rfleet" >/dev/null 2>"$tmp/err" \
   && $py - "$tmp/rfleet" <<'PY'
import csv, json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json")); chips = s["per_chip"]
keys = ["rns_words", "rns_attempts", "rns_residue_errors", "rns_detected", "rns_corrected", "rns_retried", "rns_failed", "rns_silent"]
last = list(csv.DictReader(open(d + "/trace.csv")))[-1]
for k in keys:
    assert s[k] == sum(c[k] for c in chips), (k, s.get(k), [c[k] for c in chips])
    assert int(last[k]) == s[k], (k, last, s[k])
assert all(c["rns_words"] > 0 for c in chips) and s["rns_residue_errors"] > 0, s
PY
then ok "fleet of RNS chips: decoder counters summed in summary.json and trace.csv"
else bad "RNS fleet counters: $(cat "$tmp/err")"; fi
$py "$src/tests/regression/check_books.py" "$tmp/rfleet" >"$tmp/log" 2>&1 && ok "RNS fleet: one set of books" || bad "RNS fleet books: $(tail -3 "$tmp/log")"
# RNS settings that cannot work name the setting to change (they named internal functions, or
# were accepted): moduli that fit no range, ADCs above 16 bits (base or redundant), retries
# without a redundant modulus.
expect_error "device.bits too small names device.bits" \
  'device.bits: no pairwise-coprime moduli below 2^2 reach the 14-bit range of a dot product (mantissa_bits 6, core size 8' \
  "$ptcsim" validate "$rns6" --set device.bits=2
expect_error "special_k16 is refused by its 17-bit ADC, naming the sets that fit" \
  'device.moduli: modulus 65537 needs a 17-bit ADC; the channels. ADCs have at most 16 bits (special_k2 .. special_k15 fit)' \
  "$ptcsim" validate "$rns6" --set device.moduli=special_k16
expect_error "a redundant modulus above 16 bits is refused under device.redundant" \
  'device.redundant: redundant modulus 65537 (above the base moduli {65535}) needs a 17-bit ADC' \
  "$ptcsim" validate "$rrns" --set device.bits=16
# A list of moduli is integers >= 2: a trailing comma was dropped silently, and an empty entry, a
# sign or a modulus below 2 said "unknown moduli set"; bits with a named or listed set was ignored.
expect_error "a trailing comma in the moduli is an empty entry" 'device.moduli: "63,62,61,": entry 4 is empty' \
  "$ptcsim" validate "$rns6" --set 'device.moduli="63,62,61,"'
expect_error "a signed modulus names its entry" 'device.moduli: "-5,63,62": entry 1 ("-5") is not a modulus' \
  "$ptcsim" validate "$rns6" --set 'device.moduli="-5,63,62"'
expect_error "a modulus below 2 names its entry" 'device.moduli: "63,1": entry 2 (1) is not a modulus: a modulus must be >= 2' \
  "$ptcsim" validate "$rns6" --set 'device.moduli="63,1"'
expect_error "an unknown set lists the sets that fit the ADCs" 'unknown moduli set "special_kx"; known: "auto", blueprint_b4 .. blueprint_b8, special_k2 .. special_k15' \
  "$ptcsim" validate "$rns6" --set device.moduli=special_kx
expect_error "bits with listed moduli is refused" 'device.bits: 4 bits choose the moduli of "auto" only' \
  "$ptcsim" validate "$rns6" --set 'device.moduli="255,254,253"' --set device.bits=4
expect_error "retries without a redundant modulus are refused" \
  'device.max_retries: 2 retries of a word with a detected error, but with no redundant modulus' \
  "$ptcsim" validate "$rns6" --set device.max_retries=2
expect_error "BFP group not a multiple of the core is one error line" 'device.group: a BFP group must be a multiple of the core size 8 (e.g. 8, 16, 32; 0 = 8), got 12' \
  "$ptcsim" run "$rns6" --set device.group=12 --out "$tmp/g12"

# ---- on-chip training on the RNS core (Mirage; docs/onchip_training.md §2): the backward words
# are read through the noisy channels and decoded like forward words: with sigma_phi = 0.03 rad on
# {63, 62, 61} + {65, 67} their wrong residues per attempt match sum_c 2 Q(pi / (m_c sigma)) within
# 5 binomial standard deviations, and the RRNS corrects them; the run is byte-identical at 1 and 2
# threads.
train="$src/scenarios/rns/cnn3_train_rns6.json"
targs=(--set horizon_s=8 --set 'accuracy.times_s=[0,8]' --set accuracy.images=2 --set controller.policy.interval_requests=4
       --set controller.policy.batches=1 --set controller.policy.batch_size=1 --set device.sigma_phi_rad=0.03
       --set device.redundant=2 --set device.max_retries=1 --set traffic.rate_hz=1 --set traffic.batch_s=1)
if PTC_THREADS=1 "$ptcsim" run "$train" "${targs[@]}" --out "$tmp/tr1" -q >"$tmp/log" 2>&1 &&
   PTC_THREADS=2 "$ptcsim" run "$train" "${targs[@]}" --out "$tmp/tr2" -q >>"$tmp/log" 2>&1; then
  if $py - "$tmp/tr1" <<'PY'
import json, math, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/events.jsonl")]
tr = [e for e in ev if e["type"] == "onchip_training"]
assert tr, "no onchip_training event"
words = sum(e["backward_words"] for e in tr); errs = sum(e["backward_residue_errors"] for e in tr)
assert all(e["backward_reads"] == e["backward_words"] for e in tr)
Q = lambda x: 0.5 * math.erfc(x / math.sqrt(2))
p = sum(2 * Q(math.pi / (m * 0.03)) for m in (63, 62, 61, 65, 67))
# attempts = words + retries; each attempt reads the five channels afresh
att = words + sum(e["backward_retried"] for e in tr)
assert words > 10**6, words
assert abs(errs - p * att) < 5 * math.sqrt(p * att), (errs, p * att)
assert sum(e["backward_corrected"] for e in tr) > 0.5 * sum(e["backward_detected"] for e in tr) > 0
PY
  then ok "RNS on-chip training: backward words err at the closed-form residue rate and the RRNS corrects them"
  else bad "RNS on-chip training backward word counts"; fi
  same=1
  for f in events.jsonl trace.csv summary.json; do
    cmp -s "$tmp/tr1/$f" "$tmp/tr2/$f" || { [ "$f" = summary.json ] && $py - "$tmp/tr1/$f" "$tmp/tr2/$f" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for j in (a, b): j.pop("wall_s", None)
sys.exit(0 if a == b else 1)
PY
    } || { same=0; bad "RNS on-chip training: $f differs between 1 and 2 threads"; }
  done
  [ "$same" = 1 ] && ok "RNS on-chip training: outputs identical at 1 and 2 threads"
else bad "RNS on-chip training run failed: $(tail -2 "$tmp/log")"; fi

# ---- on-chip training raises accuracy (docs/onchip_training.md §2): the untrained CNN3 (14.7 %
# on the full test set) trained on the chip's arithmetic -- an event of 320 images on the 6-bit
# analog core, 160 on the 6-bit RNS core (a second one if the Poisson traffic brings it) -- must
# beat its accuracy before training by more than 5 standard deviations of the difference of two
# 200-image binomial estimates.
for arith in analog6:32 rns6:16; do
  name=${arith%%:*}; bs=${arith##*:}
  "$ptcsim" run "$src/scenarios/rns/cnn3_train_$name.json" --set horizon_s=100 --set 'accuracy.times_s=[0,100]' \
    --set controller.policy.batch_size=$bs --out "$tmp/learn_$name" -q >"$tmp/log" 2>&1 || bad "training run ($name) failed: $(tail -2 "$tmp/log")"
  if $py - "$tmp/learn_$name" <<'PY'
import json, math, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.jsonl")]
acc = [e for e in ev if e["type"] == "evaluation"]
tr = [e for e in ev if e["type"] == "onchip_training"]
assert len(acc) == 2 and len(tr) >= 1, (len(acc), len(tr))
assert all(acc[0]["t_s"] < e["t_s"] < acc[1]["t_s"] for e in tr), (acc, tr)
n = acc[0]["images"]
p0, p1 = acc[0]["accuracy"], acc[1]["accuracy"]
sd = math.sqrt(p0 * (1 - p0) / n + p1 * (1 - p1) / n)
assert p1 - p0 > 5 * sd, (p0, p1, sd)
print("accuracy %.3f -> %.3f (5 sd = %.3f)" % (p0, p1, 5 * sd))
PY
  then ok "on-chip training on the $name chip raises accuracy beyond 5 sd of the evaluation noise"
  else bad "on-chip training on the $name chip did not raise accuracy"; fi
done

finish
