#!/usr/bin/env bash
# tools/rns/plot_onchip_training.py on synthetic run directories: each evaluation is plotted at
# the training images seen before it (sum of batches x batch_size of the earlier onchip_training
# events), its accuracy in %, a real PNG, and one-line errors with exit code 2.
# Usage: test_plot_onchip_training.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/rns/plot_onchip_training.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

"$py" - "$tmp" <<'PY'
import json, os, sys
d = os.path.join(sys.argv[1], "run"); os.makedirs(d)
json.dump({"controller": {"policy": {"name": "onchip_training", "batch_size": 16}}}, open(os.path.join(d, "config.resolved.json"), "w"))
ev = [{"type": "evaluation", "accuracy": 0.1}, {"type": "onchip_training", "batches": 3},
      {"type": "program"}, {"type": "onchip_training", "batches": 2}, {"type": "evaluation", "accuracy": 0.55},
      {"type": "onchip_training", "batches": 1}, {"type": "evaluation", "accuracy": 0.7}]
open(os.path.join(d, "events.jsonl"), "w").write("".join(json.dumps(e) + "\n" for e in ev))
PY
if out=$("$py" "$plot" -o "$tmp/f.png" --dump-json "A=$tmp/run") &&
   "$py" -c 'import json,sys; d=json.loads(sys.argv[1])["A"]; w=[[0, 10], [80, 55], [96, 70]]; assert len(d) == 3 and all(abs(a-b) < 1e-9 for p, q in zip(d, w) for a, b in zip(p, q)), d' "$out"; then
  ok "points at the training images seen (0, 80, 96) with accuracy in %"
else bad "plotted points: $out"; fi
[ -s "$tmp/f.png" ] && head -c 8 "$tmp/f.png" | grep -q PNG && ok "writes a PNG" || bad "no PNG written"
mkdir -p "$tmp/empty"
expect_error "a directory without events is one error line" "events.jsonl: missing" "$py" "$plot" -o "$tmp/g.png" "B=$tmp/empty"
expect_error "a run without LABEL= is one error line" "expected LABEL=RUN_DIR" "$py" "$plot" -o "$tmp/g.png" "$tmp/run"
finish
