#!/usr/bin/env bash
# tools/plot_paired.py on synthetic run directories: the paired statistics it prints against
# hand-computed ones, a real PNG, and one-line errors with a non-zero exit (no instance_accuracy,
# different instance counts, no evaluation near --at, not a run directory).
# Usage: test_plot_paired.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/plot_paired.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fails=0
ok()  { echo "ok   - $1"; }
bad() { fails=$((fails+1)); echo "FAIL - $1"; }

# A: chips 0.80 0.90 0.70 0.60; B = A + (0.02, 0.04, 0.02, 0.04) at t = 1; at t = 3600 B = A - 0.1.
# Differences at t = 1 (points): 2 4 2 4: mean +3.00, sample std 1.1547. Between chips, pooled within
# each configuration: A 80 90 70 60 (mean 75, squared deviations 500, variance 166.67), B 82 94 72 64
# (mean 78, squared deviations 504, variance 168): sqrt((166.67 + 168)/2) = 12.936.
"$py" - "$tmp" <<'PY'
import json, os, sys
root = sys.argv[1]
A = [0.80, 0.90, 0.70, 0.60]
B1 = [a + d for a, d in zip(A, [0.02, 0.04, 0.02, 0.04])]
B2 = [a - 0.1 for a in A]
def run(name, evals, key="instance_accuracy", seed=1, images=300):
    d = os.path.join(root, name); os.makedirs(d)
    json.dump({"seed": seed, "accuracy": {"mode": "scheduled", "images": images, "first_image": 0, "read_draws": "scheduled"}},
              open(os.path.join(d, "config.resolved.json"), "w"))
    with open(os.path.join(d, "events.jsonl"), "w") as f:
        f.write(json.dumps({"type": "compensation", "t_s": 0.5}) + "\n")
        for t, acc in evals:
            e = {"type": "evaluation", "t_s": t, "accuracy": sum(acc) / len(acc), "instances": len(acc)}
            if key: e[key] = acc
            f.write(json.dumps(e) + "\n")
run("a", [(1.0000243, A), (3600.0000243, A)])
run("b", [(1.0000083, B1), (3600.0000083, B2)])
run("single", [(1.0, [0.8])], key=None)
run("three", [(1.0, A[:3])])
run("seed2", [(1.0000243, A)], seed=2)
run("img100", [(1.0000243, A)], images=100)
run("late", [(3600.0, A)])
run("t0", [(2.43e-05, A)])
run("t0b", [(8.3e-06, B2)])
PY
if "$py" "$plot" "x: A vs B=$tmp/a,$tmp/b" -o "$tmp/fig.png" >"$tmp/out" 2>"$tmp/err"; then ok "renders"; else bad "renders: $(cat "$tmp/err")"; fi
[ "$(head -c 8 "$tmp/fig.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$(stat -c %s "$tmp/fig.png")" -gt 10000 ] \
  && ok "a real PNG" || bad "PNG missing or empty"
grep -q "t = 1.000024 s, mean difference B - A +3.00 points, paired std 1.15, std between chips 12.94" "$tmp/out" \
  && ok "paired statistics at the first evaluation" || bad "paired statistics: $(cat "$tmp/out")"
"$py" "$plot" "x=$tmp/a,$tmp/b" --at 3600 -o "$tmp/fig2.png" >"$tmp/out" 2>"$tmp/err"
grep -q "mean difference B - A -10.00 points, paired std 0.00" "$tmp/out" && ok "--at picks the evaluation at 1 h" || bad "--at: $(cat "$tmp/out" "$tmp/err")"

expect_error() {  # name, expected substring, command...
  local name="$1" want="$2"; shift 2
  if "$@" >/dev/null 2>"$tmp/e"; then bad "$name: exit 0"; return; fi
  if [ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -qF -- "$want" "$tmp/e"; then ok "$name"; else bad "$name: $(cat "$tmp/e")"; fi
}
expect_error "no instance_accuracy" "has no instance_accuracy (accuracy.instances > 1 needed)" "$py" "$plot" "x=$tmp/a,$tmp/single" -o "$tmp/f.png"
expect_error "different instance counts" "4 and 3 instances" "$py" "$plot" "x=$tmp/a,$tmp/three" -o "$tmp/f.png"
# --at 0: evaluations after a compensation readout run tens of µs late and still match
"$py" "$plot" "x=$tmp/t0,$tmp/t0b" --at 0 -o "$tmp/fig3.png" >"$tmp/out" 2>"$tmp/err"
grep -q "t = 2.43e-05 s, mean difference B - A -10.00 points" "$tmp/out" && ok "--at 0 matches evaluations run after a readout" || bad "--at 0: $(cat "$tmp/out" "$tmp/err")"
expect_error "no evaluation near --at" "no evaluation within 1 % (or 1 ms) of t = 86400 s (instants: 1.00002, 3600)" "$py" "$plot" "x=$tmp/a,$tmp/b" --at 86400 -o "$tmp/f.png"
expect_error "different seeds" "seed 1 and 2; instance k is the same chip only with the same seed" "$py" "$plot" "x=$tmp/a,$tmp/seed2" -o "$tmp/f.png"
expect_error "different test images" "accuracy.images 300 and 100" "$py" "$plot" "x=$tmp/a,$tmp/img100" -o "$tmp/f.png"
expect_error "different instants" "evaluations at t = 1.00002 s and 3600 s; pick one instant with --at" "$py" "$plot" "x=$tmp/a,$tmp/late" -o "$tmp/f.png"
expect_error "not a run directory" "$tmp/nothere/events.jsonl: no such file" "$py" "$plot" "x=$tmp/a,$tmp/nothere" -o "$tmp/f.png"
expect_error "malformed panel" 'panel "x": expected TITLE=A_DIR,B_DIR' "$py" "$plot" "x" -o "$tmp/f.png"
[ ! -e "$tmp/f.png" ] && ok "no figure after an error" || bad "a figure was written after an error"

if [ "$fails" -eq 0 ]; then echo "all passed"; else echo "$fails failed"; exit 1; fi
