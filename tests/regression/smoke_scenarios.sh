#!/usr/bin/env bash
# Smoke test of every shipped scenario (scenarios/**/*.json with a "model"): each runs to completion
# in a reduced form (stated per traffic kind below) and writes a complete summary, and its books
# balance (one set of books): stats.json's accelerator energy and writes after deployment equal
# the summary's, the writes of the events (program, calibration, on-chip training) add up to the
# summary's, the last trace row carries the summary's energy, writes and overhead cycles, and the
# controller's overhead cycles equal the summary's.
# Usage: smoke_scenarios.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
passes=0; fails=0
while IFS= read -r f; do
  kind=$(/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('skip' if 'model' not in j else ('b2b' if not isinstance(j.get('traffic'),dict) or j['traffic'].get('name','back_to_back')=='back_to_back' else 'timed'))" "$f")
  [ "$kind" = skip ] && continue
  # back_to_back: the first 40 requests; timed traffic: the first 2 simulated hours with 50-image
  # evaluations (instants after 2 h dropped: a run rejects instants after its horizon; shorter
  # horizons kept), and on-chip training events of one batch of 8 images at most every 200
  # requests (training on the chip's arithmetic costs seconds per batch).
  if [ "$kind" = b2b ]; then args=(--set traffic.requests=40 --set controller.salience.images=64)
  else
    args=(--set controller.salience.images=64)
    while IFS= read -r a; do [ -n "$a" ] && args+=(--set "$a"); done < <(/usr/bin/python3 - "$f" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("horizon_s=%r" % min(float(j.get("horizon_s", 7200.0)), 7200.0))
a = j.get("accuracy", {})
if isinstance(a, dict):
    if a.get("mode") == "scheduled":  # the batch belongs to scheduled evaluations (refused elsewhere)
        print("accuracy.images=50"); print("accuracy.instances=1")
    if "log_spaced" in a: print("accuracy.log_spaced.stop_s=%r" % min(a["log_spaced"]["stop_s"], 7200.0))
    if "times_s" in a: print("accuracy.times_s=%s" % json.dumps([t for t in a["times_s"] if t <= 7200]))
c = j.get("controller", {})
p = c.get("policy", {}) if isinstance(c, dict) else {}
if isinstance(p, dict) and p.get("name") == "onchip_training":
    print("controller.policy.batches=1"); print("controller.policy.batch_size=8")
    print("controller.policy.interval_requests=%d" % max(int(p.get("interval_requests", 500)), 200))
PY
)
  fi
  name=$(basename "$f" .json); t0=$SECONDS
  if "$ptcsim" run "$f" "${args[@]}" --out "$tmp/$name" -q >"$tmp/log" 2>&1 &&
     /usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['status']=='complete' and s['accuracy_final'] is not None and 0<=s['accuracy_final']<=1, s" "$tmp/$name/summary.json" &&
     /usr/bin/python3 "$src/tests/regression/check_books.py" "$tmp/$name"; then
    passes=$((passes+1)); echo "ok   - ${f#$src/} ($((SECONDS - t0)) s)"
  else
    fails=$((fails+1)); echo "FAIL - ${f#$src/}: $(tail -2 "$tmp/log")"
  fi
done < <(find "$src/scenarios" "$src/tests/cli" -name '*.json' | sort)
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -ge 20 ]
