#!/usr/bin/env bash
# tools/rns/plot_group_sweep.py on a synthetic sweep: the accuracies it prints per group, the
# largest group within 0.5 points of the finest (worked out by hand below), a real PNG, and
# one-line errors for a missing column and a non-integer group.
# Usage: test_plot_group_sweep.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
plot="$src/tools/rns/plot_group_sweep.py"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"

cat > "$tmp/s.csv" <<'CSV'
net,bits,group,accuracy,ideal_accuracy,words
cnn3,4,8,0.900,0.92,10
cnn3,4,16,0.896,0.92,10
cnn3,4,32,0.897,0.92,10
cnn3,4,64,0.880,0.92,10
cnn3,6,8,0.910,0.92,10
cnn3,6,64,0.909,0.92,10
vgg8,5,16,0.930,0.94,10
vgg8,5,8,0.935,0.94,10
CSV
# By hand: cnn3 b=4: 89.7 >= 90.0 - 0.5 but 88.0 is not -> 32; b=6: 90.9 >= 90.5 -> 64; vgg8 b=5
# (rows out of order): g=8 93.5, g=16 93.0 >= 93.0 -> 16.
if "$py" "$plot" "$tmp/s.csv" "$tmp/g.png" >"$tmp/out" 2>"$tmp/err"; then ok "plot exits 0"; else bad "plot failed: $(cat "$tmp/err")"; fi
grep -q "^cnn3 b=4: g=8 90.0 %, g=16 89.6 %, g=32 89.7 %, g=64 88.0 %; largest group within 0.5 pt of g=8: 32$" "$tmp/out" &&
  ok "cnn3 b=4 line" || bad "cnn3 b=4 line: $(cat "$tmp/out")"
grep -q "^cnn3 b=6: .*largest group within 0.5 pt of g=8: 64$" "$tmp/out" && ok "cnn3 b=6 line" || bad "cnn3 b=6 line"
grep -q "^vgg8 b=5: g=8 93.5 %, g=16 93.0 %; largest group within 0.5 pt of g=8: 16$" "$tmp/out" && ok "vgg8 sorted by group" ||
  bad "vgg8 line: $(cat "$tmp/out")"
[ "$(head -c 8 "$tmp/g.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok "a PNG" || bad "not a PNG"
printf 'net,bits,accuracy,ideal_accuracy\ncnn3,4,0.9,0.92\n' > "$tmp/nogroup.csv"
expect_error "missing column is one error line" "missing column group" "$py" "$plot" "$tmp/nogroup.csv" "$tmp/x.png"
printf 'net,bits,group,accuracy,ideal_accuracy\ncnn3,4,eight,0.9,0.92\n' > "$tmp/bad.csv"
expect_error "non-integer group is one error line" "row 2: bits and group must be integers" "$py" "$plot" "$tmp/bad.csv" "$tmp/x.png"
[ ! -e "$tmp/x.png" ] && ok "no figure written on bad input" || bad "figure written on bad input"
finish
