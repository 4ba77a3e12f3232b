#!/usr/bin/env bash
# tools/plot_fleet.py on synthetic fleet run directories: the fleet curve it draws (mean and range
# across chips at each evaluation instant, drawn at the latest chip's instant) against hand-computed
# values, chips without accuracy rows left out of the curve and named, a real PNG, and one-line
# errors with a non-zero exit and no half-written figure (missing output folder, a chip's missing
# trace, not a fleet run).
# Usage: test_plot_fleet.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/plot_fleet.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

# Fleet "f3": chip 0 evaluates at 100 s and 200 s (80 %, 70 %), chip 1 at 100.5 s and 200 s
# (90 %, 60 %), chip 2 at 100 s and 201 s (70 %, 50 %). Fleet at instant 0: t = 100.5 s, mean
# (80+90+70)/3 = 80, range 70..90; instant 1: t = 201 s, mean 60, range 50..70.
# Fleet "quiet": chips 1 and 2 have no accuracy rows (served mode: they served nothing); the curve
# is chip 0's alone (75 % at 10 s).
"$py" - "$tmp" <<'PY'
import json, os, sys
root = sys.argv[1]
def fleet(name, mode, chips, policy="threshold_full"):
    d = os.path.join(root, name)
    os.makedirs(d)
    json.dump({"name": name, "chips": len(chips), "dispatcher": "round_robin", "policy": policy, "accuracy_mean": 0.7,
               "accuracy_ideal": 0.9, "latency_p99_s": 0.01, "calibrations": 3}, open(os.path.join(d, "summary.json"), "w"))
    json.dump({"accuracy": {"mode": mode}, "noise": []}, open(os.path.join(d, "config.resolved.json"), "w"))
    for i, rows in enumerate(chips):
        c = os.path.join(d, "chips", f"chip_{i}")
        os.makedirs(c)
        with open(os.path.join(c, "trace.csv"), "w") as f:
            f.write("t_s,requests,accuracy,accuracy_std,accuracy_n,temp_k_mean,calibrations\n")
            for t, acc in rows:
                f.write(f"{t},10,{'' if acc is None else acc},,{'' if acc is None else 50},300.15,1\n")
fleet("f3", "scheduled", [[(100, 0.8), (200, 0.7)], [(100.5, 0.9), (200, 0.6)], [(100, 0.7), (201, 0.5)]])
fleet("quiet", "served", [[(10, 0.75), (20, None)], [(10, None)], [(10, None), (20, None)]])
PY

if "$py" "$plot" "$tmp/f3" -o "$tmp/f3.png" --dump-json "$tmp/f3.json" >/dev/null 2>"$tmp/err" \
  && "$py" - "$tmp/f3.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["unit"] == "s" and j["chips_without_accuracy"] == [], j
assert j["t"] == [100.5, 201.0], j["t"]
for got, want in ((j["mean_pct"], [80, 60]), (j["lo_pct"], [70, 50]), (j["hi_pct"], [90, 70])):
    assert all(abs(g - w) < 1e-9 for g, w in zip(got, want)) and len(got) == 2, (got, want)
PY
then ok "fleet curve: mean and range across chips at each instant, at the latest chip's instant"
else bad "fleet curve: $(cat "$tmp/err" "$tmp/f3.json" 2>/dev/null | tail -3)"; fi
[ "$(head -c 8 "$tmp/f3.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && ok "a PNG is written" || bad "f3.png is not a PNG"

"$py" "$plot" "$tmp/quiet" -o "$tmp/quiet.png" --dump-json "$tmp/quiet.json" >/dev/null 2>"$tmp/err"; rc=$?
if [ "$rc" -eq 0 ] && grep -qx "plot_fleet: no accuracy rows (served nothing): chips 1, 2" "$tmp/err" \
  && "$py" -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['chips_without_accuracy']==[1,2] and j['t']==[10.0] and j['mean_pct']==[75.0], j" "$tmp/quiet.json"; then
  ok "chips without accuracy rows: left out of the curve and named"
else bad "chips without accuracy rows (exit $rc): $(cat "$tmp/err")"; fi

expect_error "a missing output folder: one line" "plot_fleet: -o .*/nowhere/x.png: output directory does not exist" \
  "$py" "$plot" "$tmp/f3" -o "$tmp/nowhere/x.png"
rm "$tmp/quiet/chips/chip_2/trace.csv"
expect_error "a chip's missing trace: one line naming it" "plot_fleet: .*chip_2/trace.csv: cannot read chip 2's trace" \
  "$py" "$plot" "$tmp/quiet" -o "$tmp/q2.png"
[ ! -e "$tmp/q2.png" ] && ok "no figure after a failure" || bad "a figure was written after a failure"
expect_error "not a fleet run: one line" "plot_fleet: .*: not a fleet run directory" "$py" "$plot" "$tmp" -o "$tmp/x.png"
ls -a "$tmp" | grep -q '\.tmp$' && bad "a temporary figure was left" || ok "no temporary figure left"
finish
