#!/usr/bin/env bash
# The `rns` device in a run (docs/rns.md §7): retries are charged once, to the request that made
# them, and to scheduled evaluations alike.
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

finish
