#!/usr/bin/env bash
# tools/bench/run_bench.py --quick end to end (sizes reduced; no timing goal is asserted, a timed
# test would be a flaky one): every benchmark runs and reports, the noisy executor and the
# PyTorch reference agree within Monte-Carlo error, logits are the same bytes at 1 and 2 threads
# (the executor, the converter-noise benchmark with and without ADC/DAC noise, and the
# bound-management benchmark, which re-runs blocks at full scale 2 and changes nothing at 8),
# and a missing build folder is one clear error line. Usage: test_bench.sh SOURCE_DIR BUILD_DIR
set -u
src="$1"; build="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); echo "ok   - $1"; }
bad() { fails=$((fails+1)); echo "FAIL - $1"; }

if "$py" "$src/tools/bench/run_bench.py" --quick --build "$build" --out "$tmp/out" >"$tmp/log" 2>&1; then
  ok "run_bench --quick exits 0"
else
  bad "run_bench --quick: $(tail -n 5 "$tmp/log" | tr '\n' ' ')"
fi
if "$py" - "$tmp/out/bench.json" "$tmp/out/bench.md" >"$tmp/check" 2>&1 <<'PY'
import json, math, sys
b = json.load(open(sys.argv[1]))
B = b["benchmarks"]
for k in ("executor_floor", "torch_reference", "doctor_scenario", "long_horizon", "scaling_horizon", "scaling_models",
          "converter_noise", "memory"):
    assert k in B, f"missing benchmark {k}"
ex, tr = B["executor_floor"], B["torch_reference"]
assert "error" not in tr, tr
assert ex["deterministic_1_vs_n_threads"] is True
assert 0.6 <= ex["accuracy"] <= 1 and 0.6 <= tr["accuracy"] <= 1, (ex["accuracy"], tr["accuracy"])
assert abs(ex["accuracy"] - tr["accuracy"]) <= 4 * tr["accuracy_diff_se"], (ex["accuracy"], tr["accuracy"])
# ratios of two measured times are positive by construction; the scaling exponents are fits of
# tiny quick-mode timings and may come out of either sign under load: only their presence is checked
for v in (ex["ratio_noisy_over_sgemm"], tr["speedup"]):
    assert math.isfinite(v) and v > 0, v
for v in (B["scaling_horizon"]["exponent_event_time_vs_events"], B["scaling_models"]["exponent_time_vs_macs"]):
    assert math.isfinite(v), v
# converter noise: both models, the three converter settings, logits the same bytes at 1 and 2 threads
for m in ("cnn3_fmnist", "lenet5_fmnist"):
    r = B["converter_noise"][m]["runs"]
    for c in ("noiseless", "adc_noise", "dac_noise"):
        assert r[c]["deterministic_1_vs_n_threads"] is True, (m, c)
        assert math.isfinite(r[c]["ratio_over_noiseless"]) and r[c]["ratio_over_noiseless"] > 0, (m, c, r[c])
        assert 0.5 <= r[c]["accuracy"] <= 1, (m, c, r[c]["accuracy"])
# weight noise per MVM: both types, logits the same bytes at 1 and 2 threads, CNN3 still classifies
r = B["weight_noise"]["runs"]
for c in ("noiseless", "pcm_read", "additive_constant"):
    assert r[c]["deterministic_1_vs_n_threads"] is True, c
    assert math.isfinite(r[c]["ratio_over_noiseless"]) and r[c]["ratio_over_noiseless"] > 0, (c, r[c])
    assert 0.5 <= r[c]["accuracy"] <= 1, (c, r[c]["accuracy"])
# the ADC kernel alone: four timings per partial sum, each positive and finite
# (not run only on a CPU with neither AVX-512 nor AVX2: then /proc/cpuinfo must say so)
ak = B["adc_kernel"]
if "skipped" in ak:
    cpu = open("/proc/cpuinfo").read()
    assert "avx512f" not in cpu and "avx2" not in cpu and "AVX-512" in ak["skipped"], ak
else:
    cpu = open("/proc/cpuinfo").read()
    assert ak["kernels"] == ("avx512" if "avx512f" in cpu else "avx2"), ak
    for c in ("noiseless", "clipped_frame", "gaussian_adc_noise", "raw_bits_floor"):
        v = ak["ns_per_partial_sum"][c]
        assert math.isfinite(v) and v > 0, (c, v)
    assert ak["shape"]["row_blocks"] == 8 and ak["shape"]["column_blocks"] == 72, ak["shape"]
# bound management: a full scale of 2 re-runs some blocks, 8 (= k) none, and then changes nothing
bm = B["bound_management"]["runs"]
for c in ("none", "iterative", "none_bound8", "iterative_bound8"):
    assert bm[c]["deterministic_1_vs_n_threads"] is True, c
assert bm["iterative"]["bound_management_reruns_per_image"] > 0, bm["iterative"]
assert bm["iterative_bound8"]["bound_management_reruns_per_image"] == 0, bm["iterative_bound8"]
assert bm["iterative_bound8"]["accuracy"] == bm["none_bound8"]["accuracy"], bm
assert B["doctor_scenario"]["summary"]["status"] == "complete"
assert B["long_horizon"]["evaluations"] >= 1 and B["long_horizon"]["monitor_checks"] > 0
assert [r["horizon_s"] for r in B["scaling_horizon"]["runs"]] == [2 * 86400, 4 * 86400, 8 * 86400]
for name in ("executor cnn3", "DOCTOR scenario", "long horizon"):
    m = B["memory"][name]
    assert m["peak_rss_mb"] > m["state_mb"] > 0, m
md = open(sys.argv[2]).read().splitlines()
rows = [l for l in md if l.startswith("| ") and not l.startswith("| benchmark")]
assert len(rows) == len(b["table"]) == 18, (len(rows), len(b["table"]))
PY
then ok "bench.json and bench.md: every benchmark reported, executor and PyTorch agree, same bytes at 1 and 2 threads"
else bad "bench.json: $(tail -n 3 "$tmp/check" | tr '\n' ' ')"; fi

out="$("$py" "$src/tools/bench/run_bench.py" --quick --build "$tmp/nonexistent" --out "$tmp/o2" 2>&1)"; rc=$?
if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | grep -q "not found; build first"; then
  ok "missing build folder: one error line, non-zero exit"
else bad "missing build folder: rc=$rc, output: $out"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
