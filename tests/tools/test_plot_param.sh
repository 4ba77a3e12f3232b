#!/usr/bin/env bash
# tools/plot_param.py on synthetic run directories: the plotted points (x from config.resolved.json
# by dotted path, one line per group value, accuracy and std in % from the trace row nearest --at,
# a key left out read as --missing), a real PNG, and one-line errors with a non-zero exit.
# Usage: test_plot_param.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/plot_param.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

# Runs of two types x three w (w = 0 with no hw.mvm key for type "none"); accuracy at t = 1:
# 0.9 - w (a) or 0.9 - 2 w (b), std 0.01 + w; a second row at t = 100 with accuracy 0.5.
"$py" - "$tmp" <<'PY'
import json, os, sys
root = sys.argv[1]
i = 0
for ty, slope in [("a", 1), ("b", 2)]:
    for w in [0.2, 0.0, 0.1]:  # unsorted on purpose
        d = os.path.join(root, "r%d" % i); os.makedirs(d); i += 1
        cfg = {"hw": {"mvm": {"w_noise_type": ty, "w_noise": w}}}
        json.dump(cfg, open(os.path.join(d, "config.resolved.json"), "w"))
        json.dump({"accuracy_ideal": 0.95, "energy_j": 2 * slope}, open(os.path.join(d, "summary.json"), "w"))
        if w > 0:  # the stat is left out of the w = 0 runs (read as --right-missing)
            json.dump({"accelerator": {"rerun_energy": {"unit": "J", "value": 10 * w}}}, open(os.path.join(d, "stats.json"), "w"))
        else:
            json.dump({"accelerator": {}}, open(os.path.join(d, "stats.json"), "w"))
        with open(os.path.join(d, "trace.csv"), "w") as f:
            f.write("t_s,accuracy,accuracy_std\n0.5,,\n1,%r,%r\n100,0.5,0\n" % (0.9 - slope * w, 0.01 + w))
d = os.path.join(root, "plain"); os.makedirs(d)
json.dump({"hw": {}}, open(os.path.join(d, "config.resolved.json"), "w"))
json.dump({"accuracy_ideal": 0.95}, open(os.path.join(d, "summary.json"), "w"))
open(os.path.join(d, "trace.csv"), "w").write("t_s,accuracy,accuracy_std\n1,0.9,0.01\n")
PY
if "$py" "$plot" --x hw.mvm.w_noise --group hw.mvm.w_noise_type --at 1 --dump-json -o "$tmp/fig.png" "$tmp"/r* >"$tmp/dump.json" 2>"$tmp/err"; then ok "renders"; else bad "renders: $(cat "$tmp/err")"; fi
[ "$(head -c 8 "$tmp/fig.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$(stat -c %s "$tmp/fig.png")" -gt 15000 ] \
  && ok "a real PNG" || bad "PNG missing or empty"
if "$py" - "$tmp/dump.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [l["group"] for l in d] == ["a", "b"], d
for l, slope in zip(d, [1, 2]):
    assert l["x"] == [0.0, 0.1, 0.2], l["x"]
    for x, a, e in zip(l["x"], l["accuracy_pct"], l["std_pct"]):
        assert abs(a - 100 * (0.9 - slope * x)) < 1e-9 and abs(e - 100 * (0.01 + x)) < 1e-9, (l, x, a, e)
PY
then ok "plotted values (x sorted per group, the row at --at)"; else bad "plotted values: $(cat "$tmp/dump.json")"; fi
if "$py" "$plot" --x hw.mvm.w_noise --missing 0 --dump-json -o "$tmp/f2.png" "$tmp/plain" >"$tmp/d2.json" 2>"$tmp/err" \
  && "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[0]['x']==[0] and d[0]['accuracy_pct']==[90.0], d" "$tmp/d2.json"; then
  ok "a key left out reads as --missing"; else bad "--missing: $(cat "$tmp/err")"; fi

# A right-hand quantity: stats value / summary value x scale, per group, in x order; left-out keys
# read as --right-missing.
if "$py" "$plot" --x hw.mvm.w_noise --group hw.mvm.w_noise_type --at 1 --right stats:accelerator.rerun_energy.value \
     --right-per summary:energy_j --right-scale 100 --right-missing 0 --dump-json -o "$tmp/f3.png" "$tmp"/r* >"$tmp/d3.json" 2>"$tmp/err" \
  && "$py" - "$tmp/d3.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for l, slope in zip(d, [1, 2]):
    want = [100 * 10 * x / (2 * slope) for x in l["x"]]
    assert all(abs(a - b) < 1e-9 for a, b in zip(l["right"], want)), (l, want)
PY
then ok "--right: stats / summary x scale per group, missing keys as --right-missing"; else bad "--right: $(cat "$tmp/err")"; fi
expect_error "--right key missing without --right-missing: one line naming the run and the key" \
  "r1/stats.json has no accelerator.rerun_energy.value" \
  "$py" "$plot" --x hw.mvm.w_noise --right stats:accelerator.rerun_energy.value -o "$tmp/e.png" "$tmp/r1"
expect_error "--right not FILE:PATH: one line" "is not summary:PATH or stats:PATH" \
  "$py" "$plot" --x hw.mvm.w_noise --right accelerator.rerun_energy -o "$tmp/e.png" "$tmp/r0"

# Errors: one line, non-zero exit.
expect_error "missing key: one line naming the run and the key" "plain/config.resolved.json has no hw.mvm.w_noise" \
  "$py" "$plot" --x hw.mvm.w_noise -o "$tmp/e.png" "$tmp/plain"
expect_error "not a run directory: one line" "nothing: not a readable run directory" \
  "$py" "$plot" --x hw.mvm.w_noise -o "$tmp/e.png" "$tmp/nothing"
expect_error "a non-numeric x: one line" "is not a number" "$py" "$plot" --x hw.mvm.w_noise_type -o "$tmp/e.png" "$tmp/r0"
# --at far from every row is an error naming the instants (it silently plotted the nearest: 1 s for 3600)
expect_error "--at between two rows: one line naming the run's instants" "r0/trace.csv: --at 3600: no accuracy row at that time (rows at 1, 100 s)" \
  "$py" "$plot" --x hw.mvm.w_noise --at 3600 -o "$tmp/e.png" "$tmp/r0"
finish
