#!/usr/bin/env bash
# tools/plot_elight_images_per_pass.py on synthetic streaming runs: the points it reads (sorted by
# images per pass, the served share against the run that served most, energy and level steps per
# served request, hand-computed), a real PNG, and one-line errors.
# Usage: test_plot_elight_images_per_pass.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/plot_elight_images_per_pass.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

"$py" - "$tmp" <<'PY'
import json, os, sys
t = sys.argv[1]
# (B, requests, energy J, streamed writes, p50, p99): B = 1 serves a quarter of what B = 16 serves.
for B, n, e, w, p50, p99 in [(16, 600, 0.108, 5.4e7, 0.7, 1.1), (1, 150, 1.05, 6.6e8, 200.0, 440.0), (4, 600, 0.6, 6.0e8, 2.5, 6.0)]:
    d = os.path.join(t, f"b{B}"); os.makedirs(d)
    st = {"level_steps_per_pass": 1000}
    if B != 1:
        st["images_per_pass"] = B
    json.dump({"status": "complete", "requests": n, "energy_j": e, "writes_streamed": w, "latency_p50_s": p50,
               "latency_p99_s": p99, "streaming": st}, open(os.path.join(d, "summary.json"), "w"))
os.makedirs(os.path.join(t, "cyclic"))
json.dump({"status": "complete", "requests": 5}, open(os.path.join(t, "cyclic", "summary.json"), "w"))
os.makedirs(os.path.join(t, "stopped"))
json.dump({"status": "interrupted", "requests": 5, "streaming": {}}, open(os.path.join(t, "stopped", "summary.json"), "w"))
os.makedirs(os.path.join(t, "torn"))
open(os.path.join(t, "torn", "summary.json"), "w").write('{"status": "compl')
PY
if out=$("$py" "$plot" --dump-json "$tmp/b16" "$tmp/b1" "$tmp/b4") && "$py" - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert [p["B"] for p in r] == [1, 4, 16], r          # sorted; B = 1 from a summary without the key
assert [p["served_pct"] for p in r] == [25.0, 100.0, 100.0], r
near = lambda a, b: abs(a - b) <= 1e-9 * abs(b)
assert near(r[0]["mj"], 7.0) and near(r[1]["mj"], 1.0) and near(r[2]["mj"], 0.18), r  # 1.05 J / 150 = 7 mJ
assert near(r[0]["writes"], 4.4e6) and near(r[2]["writes"], 9.0e4), r
assert r[0]["p99"] == 440.0 and r[2]["p50"] == 0.7, r
PY
then ok "reads each run: sorted by images per pass, served share 25/100/100 %, 7.0/1.0/0.18 mJ per request"
else bad "dump: $out"; fi
if "$py" "$plot" -o "$tmp/f.png" "$tmp/b1" "$tmp/b4" "$tmp/b16" && head -c 8 "$tmp/f.png" | grep -q PNG; then ok "writes a PNG"; else bad "no PNG"; fi
expect_error "a run without the streaming mapping is one error line" "cyclic/summary.json: not a complete streaming run" \
  "$py" "$plot" --dump-json "$tmp/b1" "$tmp/cyclic"
expect_error "an interrupted run is one error line" "stopped/summary.json: not a complete streaming run" \
  "$py" "$plot" --dump-json "$tmp/stopped"
expect_error "a missing run directory is one error line" "nowhere/summary.json: cannot read: No such file" \
  "$py" "$plot" --dump-json "$tmp/nowhere"
expect_error "a torn summary is one error line" "torn/summary.json: cannot read" "$py" "$plot" --dump-json "$tmp/torn"
expect_error "two runs at the same images per pass are one error line" "two runs at the same images_per_pass" \
  "$py" "$plot" --dump-json "$tmp/b4" "$tmp/b4"
expect_error "neither an output nor --dump-json is one error line" "give -o FIG.png or --dump-json" "$py" "$plot" "$tmp/b4"
finish
