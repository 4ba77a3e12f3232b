#!/usr/bin/env bash
# Five years of data-centre traffic through ELight weight streaming with cell wear (docs/elight.md
# §8), on the shipped scenario scenarios/elight/vgg8_5y_dc_native.json with its full horizon and
# traffic (~972 M requests) but 50-image evaluations at 0 and near 5 y only:
# - the requests served equal the daily profile's Poisson mean, sum over hours of rate x 3600 s x
#   1,825 days, within 5 standard deviations;
# - the first worn cell comes at the same pass as at 1/1000 of the endurance times 1000, to the
#   ceiling (n_i = ceil(B_i / s_i) with every B_i scaled alike);
# - its time is where the integrated daily profile reaches that pass, within the Poisson spread of
#   the count, one 60-s window and the queue;
# - the streamed writes are requests x level steps per pass; the trace's worn_cells column ends at
#   the summary's worn cells and never falls;
# - at 10x the endurance the per-cell order wears no cell in 5 years and reads the same accuracy at
#   5 y as at 0 (same images, same state); the native order is at chance once every cell is worn.
# Usage: test_elight_5y.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
py=/usr/bin/python3
sc="$src/scenarios/elight/vgg8_5y_dc_native.json"
. "$src/tests/lib/testlib.sh"
short=(--set accuracy.images=50 --set accuracy.log_spaced.points=2 --set accuracy.log_spaced.start_s=157000000 -q)

run() {  # run NAME SCENARIO ARGS...
  local name="$1" s="$2"; shift 2
  if "$ptcsim" run "$s" "${short[@]}" "$@" --out "$tmp/$name" >"$tmp/out" 2>"$tmp/err"; then ok "$name: run exits 0"
  else bad "$name: run: $(head -c 400 "$tmp/err")"; fi
}
run native "$sc"
run native_e8 "$sc" --set device.endurance_steps=1e8 --set horizon_s=86400 \
  --set accuracy.log_spaced.start_s=3600 --set accuracy.log_spaced.stop_s=86400
run per_cell_e12 "$src/scenarios/elight/vgg8_5y_dc_per_cell.json" --set device.endurance_steps=1e12
$py "$src/tests/regression/check_books.py" "$tmp/native" && ok "native 5 y: one set of books" || bad "native 5 y books"

if $py - "$tmp" "$sc" <<'PY'
import csv, json, math, os, sys
t, sc = sys.argv[1], json.load(open(sys.argv[2]))
def load(n):
    d = os.path.join(t, n)
    s = json.load(open(os.path.join(d, "summary.json")))
    ev = [json.loads(l) for l in open(os.path.join(d, "events.jsonl")) if l.strip()]
    rows = list(csv.DictReader(open(os.path.join(d, "trace.csv"))))
    return s, [e for e in ev if e["type"] == "evaluation"], rows
s, ev, rows = load("native")
prof = sc["traffic"]["hourly_rate_hz"]
days = sc["horizon_s"] / 86400
mean = sum(prof) * 3600 * days
n = s["requests"]
print(f"requests {n} vs Poisson mean {mean:.0f} (sd {math.sqrt(mean):.0f})")
assert abs(n - mean) <= 5 * math.sqrt(mean), (n, mean)

st = s["streaming"]
e8 = load("native_e8")[0]["streaming"]
k = e8["first_worn_pass"]
print(f"first worn pass {st['first_worn_pass']} at endurance 1e11, {k} at 1e8")
assert 1000 * (k - 1) < st["first_worn_pass"] <= 1000 * k, (st["first_worn_pass"], k)

# Closed form: Lambda(t) = integral of the hourly profile; the time it reaches the first worn pass.
p = st["first_worn_pass"]
per_day = sum(prof) * 3600
d, rem = divmod(p, per_day)
tcf = d * 86400
for h in range(24):
    if rem <= prof[h] * 3600:
        tcf += h * 3600 + rem / prof[h]
        rate = prof[h]
        break
    rem -= prof[h] * 3600
tol = 5 * math.sqrt(p) / rate + 60 + 300
print(f"first worn at {st['first_worn_time_s']:.0f} s, closed form {tcf:.0f} s (tolerance {tol:.0f} s)")
assert abs(st["first_worn_time_s"] - tcf) <= tol, (st["first_worn_time_s"], tcf, tol)

assert s["writes_streamed"] == n * st["level_steps_per_pass"], (s["writes_streamed"], n, st["level_steps_per_pass"])
worn = [int(r["worn_cells"]) for r in rows]
assert worn == sorted(worn) and worn[-1] == st["worn_cells"] == 4096, (worn[-3:], st["worn_cells"])
assert ev[0]["accuracy"] >= 0.85 and ev[-1]["accuracy"] <= 0.15, [e["accuracy"] for e in ev]

s12, ev12, rows12 = load("per_cell_e12")
# No cell wore within the run: first_worn_pass and its time say none (-1); the pass the budgets
# predict, past the run's end, is stats.json's predicted_first_worn_pass.
assert s12["streaming"]["worn_cells"] == 0 and s12["streaming"]["first_worn_pass"] == -1 == s12["streaming"]["first_worn_time_s"], s12["streaming"]
pred = json.load(open(os.path.join(t, "per_cell_e12", "stats.json")))["accelerator"]["streaming"]["endurance"]["predicted_first_worn_pass"]["value"]
assert pred > s12["requests"], (pred, s12["requests"])
assert ev12[0]["accuracy"] == ev12[-1]["accuracy"] >= 0.85, [e["accuracy"] for e in ev12]
assert all(r["worn_cells"] == "0" for r in rows12)
PY
then ok "5 y: requests, first worn pass and time, writes, worn cells and accuracy against the closed forms"
else bad "5 y closed forms"; fi

finish
