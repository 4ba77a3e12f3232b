#!/usr/bin/env bash
# Smoke test of every shipped scenario (scenarios/**/*.json with a "model"): each runs to completion
# in a reduced form (stated per traffic kind below) and writes a complete summary.
# Usage: smoke_scenarios.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
passes=0; fails=0
while IFS= read -r f; do
  kind=$(/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('skip' if 'model' not in j else ('b2b' if not isinstance(j.get('traffic'),dict) or j['traffic'].get('name','back_to_back')=='back_to_back' else 'timed'))" "$f")
  [ "$kind" = skip ] && continue
  # back_to_back: the first 40 requests; timed traffic: the first 2 simulated hours with 50-image evaluations.
  if [ "$kind" = b2b ]; then args=(--set traffic.requests=40 --set controller.salience.images=64)
  else args=(--set horizon_s=7200 --set accuracy.images=50 --set accuracy.instances=1 --set controller.salience.images=64); fi
  name=$(basename "$f" .json)
  if "$ptcsim" run "$f" "${args[@]}" --out "$tmp/$name" -q >"$tmp/log" 2>&1 &&
     /usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['status']=='complete' and s['accuracy_final'] is not None and 0<=s['accuracy_final']<=1, s" "$tmp/$name/summary.json"; then
    passes=$((passes+1)); echo "ok   - ${f#$src/}"
  else
    fails=$((fails+1)); echo "FAIL - ${f#$src/}: $(tail -2 "$tmp/log")"
  fi
done < <(find "$src/scenarios" "$src/tests/cli" -name '*.json' | sort)
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -ge 20 ]
