#!/usr/bin/env bash
# tools/swim/plot_swim.py on a synthetic SWIM sweep folder: what is plotted (per metric: p sorted,
# accuracy and std in % from each run's last trace row, programming time in ms from
# summary.json write_verify), a real PNG, and one-line errors with a non-zero exit for a missing
# manifest or an incomplete run. Usage: test_plot_swim.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/swim/plot_swim.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fails=0
ok()  { echo "ok   - $1"; }
bad() { fails=$((fails+1)); echo "FAIL - $1"; }

# A sweep of 2 metrics x 3 fractions; accuracy = 0.8 + 0.1 p (+0.01 for swim), std = 0.02 - 0.01 p,
# programming time = 1 ms + 4 ms p (p = 0: no write_verify block, time 0).
"$py" - "$tmp/sw" <<'PY'
import json, os, sys
root = sys.argv[1]
os.makedirs(root)
with open(os.path.join(root, "manifest.jsonl"), "w") as man:
    i = 0
    for m in ["random", "swim"]:
        for p in [1, 0, 0.1]:  # unsorted on purpose
            d = f"runs/r{i}"
            os.makedirs(os.path.join(root, d))
            acc = 0.8 + 0.1 * p + (0.01 if m == "swim" else 0)
            s = {"status": "complete", "name": "fake_swim", "accuracy_ideal": 0.9}
            if p > 0:
                s["write_verify"] = {"programming_time_s": 1e-3 + 4e-3 * p}
            json.dump(s, open(os.path.join(root, d, "summary.json"), "w"))
            with open(os.path.join(root, d, "trace.csv"), "w") as f:
                f.write("t_s,accuracy,accuracy_std,accuracy_n\n0,0.1,0.0,100\n")
                f.write(f"1,{acc},{0.02 - 0.01 * p},100\n")
            man.write(json.dumps({"run_dir": d, "point": {"controller.policy.metric": m, "controller.policy.fraction": p}}) + "\n")
            i += 1
PY
if "$py" "$plot" "$tmp/sw" -o "$tmp/fig.png" --dump-json >"$tmp/dump.json" 2>"$tmp/err"; then ok "renders"; else bad "renders: $(cat "$tmp/err")"; fi
[ "$(head -c 8 "$tmp/fig.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$(stat -c %s "$tmp/fig.png")" -gt 20000 ] \
  && ok "a real PNG" || bad "PNG missing or empty"
if "$py" - "$tmp/dump.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {s["metric"]: s for s in d}
assert sorted(by) == ["random", "swim"], by.keys()
for m, bonus in [("random", 0.0), ("swim", 1.0)]:
    s = by[m]
    assert s["p"] == [0, 0.1, 1], s["p"]
    for p, a, e, t in zip(s["p"], s["accuracy_pct"], s["std_pct"], s["time_ms"]):
        assert abs(a - (80 + 10 * p + bonus)) < 1e-9, (m, p, a)
        assert abs(e - (2 - 1 * p)) < 1e-9, (m, p, e)
        assert abs(t - ((1 + 4 * p) if p > 0 else 0)) < 1e-9, (m, p, t)
PY
then ok "plotted values"; else bad "plotted values"; fi

# A sweep over p alone (the metric is the scenario's: read from each run's config.resolved.json;
# it was a KeyError traceback) with two seeds per p. The seeds' runs are one point: the chips of
# both as one sample. Seed runs of 4 chips with means 0.80 / 0.90 and stds 0.02 / 0.04 give
# mean 0.85 and std sqrt((3 (0.02^2 + 0.04^2) + 4 (0.05^2 + 0.05^2)) / 7) = sqrt(0.026 / 7) = 0.0609449.
"$py" - "$tmp/sp" <<'PY'
import json, os, sys
root = sys.argv[1]
os.makedirs(root)
with open(os.path.join(root, "manifest.jsonl"), "w") as man:
    i = 0
    for p in [0.1, 0.5]:
        for seed, (acc, std) in [(1, (0.8, 0.02)), (2, (0.9, 0.04))]:
            d = f"runs/r{i}"
            os.makedirs(os.path.join(root, d))
            json.dump({"status": "complete", "name": "p_only", "accuracy_ideal": None,
                       "write_verify": {"programming_time_s": 1e-3 * seed}}, open(os.path.join(root, d, "summary.json"), "w"))
            json.dump({"accuracy": {"instances": 4}, "controller": {"policy": {"name": "swim", "metric": "magnitude", "fraction": p}}},
                      open(os.path.join(root, d, "config.resolved.json"), "w"))
            with open(os.path.join(root, d, "trace.csv"), "w") as f:
                f.write(f"t_s,accuracy,accuracy_std,accuracy_n\n1,{acc},{std},400\n")
            man.write(json.dumps({"run_dir": d, "point": {"controller.policy.fraction": p}, "seed": seed}) + "\n")
            i += 1
PY
if "$py" "$plot" "$tmp/sp" -o "$tmp/sp.png" --dump-json >"$tmp/sp.json" 2>"$tmp/err" && "$py" - "$tmp/sp.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["metric"] == "magnitude", d
s = d[0]
assert s["p"] == [0.1, 0.5] and s["runs"] == [2, 2], s
for a, e, t in zip(s["accuracy_pct"], s["std_pct"], s["time_ms"]):
    assert abs(a - 85.0) < 1e-9 and abs(e - 100 * (0.026 / 7) ** 0.5) < 1e-9 and abs(t - 1.5) < 1e-9, (a, e, t)
PY
then ok "a sweep over p alone, two seeds per p: one point per p, the chips of both seeds pooled"
else bad "p-only sweep with seeds: $(cat "$tmp/err")"; fi

# Errors: one line, non-zero exit, no figure left behind.
rm -f "$tmp/e.png"
"$py" "$plot" "$tmp/nothing" -o "$tmp/e.png" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "no manifest" "$tmp/err" && [ ! -e "$tmp/e.png" ] \
  && ok "missing manifest: one line" || bad "missing manifest (rc $rc): $(cat "$tmp/err")"
rm "$tmp/sw/runs/r4/trace.csv"
"$py" "$plot" "$tmp/sw" -o "$tmp/e.png" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "runs/r4" "$tmp/err" && [ ! -e "$tmp/e.png" ] \
  && ok "incomplete run: one line naming it" || bad "incomplete run (rc $rc): $(cat "$tmp/err")"

[ $fails -eq 0 ] || { echo "$fails failed"; exit 1; }
