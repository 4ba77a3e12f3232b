#!/usr/bin/env bash
# tools/rns/plot_recalibration.py on a synthetic trace.csv: the per-evaluation detected rate is the
# words detected since the previous row with new words over those words, wrong words are the new
# silent + failed ones, writes and accuracy are read as traced; a real PNG; one-line errors (exit 2).
# Usage: test_plot_recalibration.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/rns/plot_recalibration.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

mkdir -p "$tmp/run"
cat >"$tmp/run/trace.csv" <<'CSV'
t_s,requests,accuracy,writes,rns_words,rns_detected,rns_silent,rns_failed
0,0,0.9,0,1000,10,0,0
3600,5,,0,1000,10,0,0
7200,9,0.8,500,3000,110,2,1
10800,12,,500,3000,110,2,1
CSV
if out=$("$py" "$plot" -o "$tmp/f.png" --dump-json "A=$tmp/run") &&
   "$py" -c '
import json, sys
d = json.loads(sys.argv[1])["A"]
assert d["t_h"] == [0, 2], d
assert all(abs(a - b) < 1e-12 for a, b in zip(d["rate"], [0.01, 0.05])), d["rate"]
assert d["wrong"] == [0, 3], d["wrong"]
assert d["writes"] == [[0, 0], [1, 0], [2, 500], [3, 500]], d["writes"]
assert [p[1] for p in d["accuracy"]] == [90.0, 80.0], d["accuracy"]
' "$out"; then ok "per-evaluation rate 100/2000, wrong words 3, writes and accuracy as traced"
else bad "plotted points: $out"; fi
[ -s "$tmp/f.png" ] && head -c 8 "$tmp/f.png" | grep -q PNG && ok "writes a PNG" || bad "no PNG written"
mkdir -p "$tmp/empty" "$tmp/mrr"
printf 't_s,accuracy,writes\n0,0.9,0\n' >"$tmp/mrr/trace.csv"
expect_error "a directory without a trace is one error line" "trace.csv: missing" "$py" "$plot" -o "$tmp/g.png" "B=$tmp/empty"
expect_error "a trace without decoder counters is one error line" "no column rns_words" "$py" "$plot" -o "$tmp/g.png" "C=$tmp/mrr"
expect_error "a run without LABEL= is one error line" "expected LABEL=RUN_DIR" "$py" "$plot" -o "$tmp/g.png" "$tmp/run"
finish
