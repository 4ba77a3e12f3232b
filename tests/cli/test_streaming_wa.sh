#!/usr/bin/env bash
# ELight write-aware training as ptcsim measures it (docs/elight.md §7): `ptcsim streaming` on the
# plain and the write-aware VGG-8 (scenarios/elight/vgg8_short{,_wa}.json).
# - The level steps ptcsim counts equal those of tools/train_zoo.py's own level mapping (the one
#   the training loss is computed on), native order and per-cell bound, for both models: the loss
#   targets what ptcsim counts.
# - ELight's cuts (Zhu et al., ASP-DAC 2022; the write counts logged in its public repository for a
#   CIFAR-10 VGG-8: 7.6x from reordering, 5.6x from write-aware training alone, 34x from both;
#   issue 14 asks for >= 5x and >= 15x): the write-aware model streams fewer steps than the plain
#   one in every order; reordering (per-cell) cuts the
#   plain model's writes >= 5x; write-aware training + the per-cell order cut them >= 15x.
# - "Comparable accuracy" (ELight's abstract): the write-aware model's test accuracy (PyTorch,
#   10k images) within 1.5 points of the plain model's.
# Usage: test_streaming_wa.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
py=/usr/bin/python3
. "$src/tests/lib/testlib.sh"

for m in plain wa; do
  sc="$src/scenarios/elight/vgg8_short.json"; [ $m = wa ] && sc="$src/scenarios/elight/vgg8_short_wa.json"
  if "$ptcsim" streaming "$sc" --json >"$tmp/$m.json" 2>"$tmp/err"; then ok "ptcsim streaming ($m) exits 0"
  else bad "ptcsim streaming ($m): $(cat "$tmp/err")"; fi
done

if $py -c "import torch, onnx" 2>/dev/null; then
  for m in plain wa; do
    onnx="$src/models/zoo/vgg8_fmnist.onnx"; [ $m = wa ] && onnx="$src/models/zoo/vgg8_fmnist_wa.onnx"
    if $py "$src/tools/train_zoo.py" --level-steps "$onnx" >"$tmp/py_$m.json" 2>"$tmp/err" &&
       $py - "$tmp/$m.json" "$tmp/py_$m.json" <<'PY'
import json, sys
o = {x["order"]: x for x in json.load(open(sys.argv[1]))["orders"]}
p = json.load(open(sys.argv[2]))
assert p["native_level_steps"] == o["native"]["level_steps"], (p, o["native"]["level_steps"])
assert p["per_cell_bound_steps"] == o["native"]["per_cell_bound_steps"], (p, o["native"]["per_cell_bound_steps"])
PY
    then ok "train_zoo.py's level mapping counts ptcsim's level steps ($m: native, per-cell bound)"
    else bad "train_zoo.py vs ptcsim level steps ($m): $(tail -n 2 "$tmp/err")"; fi
  done
else
  echo "note: $py has no torch/onnx; the train_zoo.py cross-check is left out"
fi

if $py - "$tmp/plain.json" "$tmp/wa.json" "$src/models/zoo/vgg8_fmnist.json" "$src/models/zoo/vgg8_fmnist_wa.json" <<'PY'
import json, sys
P = {x["order"]: x["level_steps"] for x in json.load(open(sys.argv[1]))["orders"]}
W = {x["order"]: x["level_steps"] for x in json.load(open(sys.argv[2]))["orders"]}
base = P["native"]
for o in P:
    assert W[o] < P[o], (o, W[o], P[o])
assert base / P["per_cell"] >= 5, base / P["per_cell"]
assert base / W["per_cell"] >= 15, base / W["per_cell"]
assert W["per_cell"] <= W["greedy"] < W["native"] and W["per_cell"] <= W["sort_mean"] < W["native"], W
acc_p = json.load(open(sys.argv[3]))["pytorch_test_accuracy"]
meta = json.load(open(sys.argv[4]))
assert meta["write_aware"]["lambda"] > 0 and meta["write_aware"]["block_size"] == 16, meta
assert meta["pytorch_test_accuracy"] >= acc_p - 0.015, (meta["pytorch_test_accuracy"], acc_p)
print("plain native / wa native %.2fx, plain native / wa per_cell %.2fx" % (base / W["native"], base / W["per_cell"]))
PY
then ok "write-aware < plain in every order; reordering >= 5x, write-aware + per_cell >= 15x; accuracy within 1.5 points"
else bad "ELight's write cuts or accuracy"; fi

# The figure's script on the two outputs, and its one-line error on a file that is not one.
if $py "$src/tools/plot_elight_write_aware.py" -o "$tmp/wa.png" "plain=$tmp/plain.json" "write-aware=$tmp/wa.json" 2>"$tmp/err" &&
   [ "$(head -c 8 "$tmp/wa.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
then ok "plot_elight_write_aware.py draws a PNG"; else bad "plot_elight_write_aware.py: $(cat "$tmp/err")"; fi
echo '{"orders": []}' >"$tmp/empty.json"
expect_error "plot_elight_write_aware.py on an output without orders: one line" "orders missing" \
  $py "$src/tools/plot_elight_write_aware.py" -o "$tmp/x.png" "x=$tmp/empty.json"
finish
