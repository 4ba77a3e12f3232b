#!/usr/bin/env bash
# tools/plot_elight_5y.py on a synthetic sweep folder (manifest + two runs): the numbers it reads
# from each run, the closed-form time of the worst cell at the median endurance (hand-computed
# from a two-level daily profile), a real PNG, and one-line errors.
# Usage: test_plot_elight_5y.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/plot_elight_5y.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

"$py" - "$tmp" <<'PY'
import json, os, sys
t = sys.argv[1]
prof = [2.0] * 12 + [1.0] * 12
man = []
for i, (model, order, e, worst, first) in enumerate([("vgg8_fmnist.onnx", "native", 1e6, 100, 4000.0),
                                                       ("vgg8_fmnist_wa.onnx", "per_cell", 1e6, 10, -1.0)]):
    d = os.path.join(t, "sw", "runs", f"r{i}"); os.makedirs(d)
    man.append({"index": i, "run_dir": f"runs/r{i}"})
    json.dump({"model": "/x/" + model, "hw": {"mapping": {"order": order}}, "device": {"endurance_steps": e},
               "horizon_s": 86400.0, "traffic": {"hourly_rate_hz": prof}}, open(os.path.join(d, "config.resolved.json"), "w"))
    json.dump({"status": "complete", "requests": 129600,
               "streaming": {"worst_cell_steps_per_pass": worst, "level_steps_per_pass": 50 * worst, "first_worn_time_s": first,
                             "first_worn_pass": 9000 if first > 0 else 200000, "worn_cells": 7 if first > 0 else 0}},
              open(os.path.join(d, "summary.json"), "w"))
    ev = [{"type": "evaluation", "t_s": 0.0, "accuracy": 0.9}, {"type": "evaluation", "t_s": 3600.0, "accuracy": 0.8}]
    open(os.path.join(d, "events.jsonl"), "w").write("".join(json.dumps(x) + "\n" for x in ev))
    open(os.path.join(d, "trace.csv"), "w").write("t_s,worn_cells\n0,0\n3600,%d\n" % (7 if first > 0 else 0))
open(os.path.join(t, "sw", "manifest.jsonl"), "w").write("".join(json.dumps(m) + "\n" for m in man))
PY
if out=$("$py" "$plot" --dump-json "$tmp/sw") && "$py" - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert [x["order"] for x in r] == ["native", "per_cell"] and [x["write_aware"] for x in r] == [False, True], r
# 1e6 / 100 = 10,000 passes: 7,200 per hour at 2 req/s, so hour 1 reaches it after 2,800 / 2 s: 5,000 s.
assert abs(r[0]["closed_form_first_worn_s"] - 5000.0) < 1e-6, r[0]
# 1e6 / 10 = 100,000 passes: 86,400 in hours 0-11, 13,600 more at 1 req/s: 43,200 + 13,600 s.
assert abs(r[1]["closed_form_first_worn_s"] - 56800.0) < 1e-6, r[1]
assert r[0]["first_worn_time_s"] == 4000.0 and r[1]["worn_cells"] == 0
PY
then ok "reads each run; closed-form worst-cell times 5,000 s and 56,800 s"
else bad "dump: $out"; fi
if "$py" "$plot" -o "$tmp/f.png" --at 1e6 "$tmp/sw" && head -c 8 "$tmp/f.png" | grep -q PNG; then ok "writes a PNG"; else bad "no PNG"; fi
expect_error "no run at the endurance asked is one error line" "no run at endurance" "$py" "$plot" -o "$tmp/g.png" --at 1e9 "$tmp/sw"
mkdir -p "$tmp/empty"
expect_error "a folder without a manifest is one error line" "manifest.jsonl: not found" "$py" "$plot" -o "$tmp/g.png" "$tmp/empty"
finish
