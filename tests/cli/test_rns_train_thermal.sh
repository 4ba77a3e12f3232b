#!/usr/bin/env bash
# On-chip training on a warming RNS chip (docs/onchip_training.md §2), the shipped scenario
# scenarios/rns/cnn3_train_rns6_thermal.json cut to its first 4 hours with 20-image evaluations:
# the backward words of every training batch read the rings their blocks run on, with the thermal
# field's offset at the batch's instant, so their wrong residues per word equal those of the
# batch's own forward words (same rings, same instant; within 10 % wherever both count at least
# 1,000) while the chip warms the rate by more than 10x -- a backward path that saw only the
# channels' per-read noise would stay at the first batch's rate. One set of books, and the figure's
# script on the run.
# Usage: test_rns_train_thermal.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"

if "$ptcsim" run "$src/scenarios/rns/cnn3_train_rns6_thermal.json" --set horizon_s=14400 --set accuracy.images=20 \
     --set 'accuracy.times_s=[0,14400]' --out "$tmp/r" -q >"$tmp/out" 2>"$tmp/err"; then ok "run exits 0"
else bad "run: $(head -c 400 "$tmp/err")"; fi
$py "$src/tests/regression/check_books.py" "$tmp/r" && ok "one set of books" || bad "books"
if "$py" "$src/tools/rns/plot_train_thermal.py" --dump-json "$tmp/r" >"$tmp/w.json" 2>"$tmp/err" && $py - "$tmp/w.json" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))
for x in w:
    print(f"t {x['t_s']:.0f} s  T {x['temp_k']:.2f} K  forward {x['forward_rate']:.3e}  backward {x['backward_rate']:.3e}")
big = [x for x in w if x["forward_residue_errors"] >= 1000 and x["backward_residue_errors"] >= 1000]
assert len(big) >= 2, w
for x in big:
    assert abs(x["backward_rate"] / x["forward_rate"] - 1) < 0.10, x
assert max(x["backward_rate"] for x in w) > 10 * w[0]["backward_rate"], w
PY
then ok "backward words err at their forward words' rate as the chip warms (rate up more than 10x)"
else bad "backward vs forward rates: $(head -c 400 "$tmp/err")"; fi
if "$py" "$src/tools/rns/plot_train_thermal.py" -o "$tmp/f.png" "$tmp/r" && head -c 8 "$tmp/f.png" | grep -q PNG; then ok "figure script writes a PNG"
else bad "figure"; fi
expect_error "plot_train_thermal: a folder that is not a run is one error line" "missing" "$py" "$src/tools/rns/plot_train_thermal.py" --dump-json "$tmp"
finish
