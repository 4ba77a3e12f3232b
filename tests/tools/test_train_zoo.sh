#!/usr/bin/env bash
# tools/train_zoo.py's write-aware pieces (docs/elight.md §7) against independent references:
# ptcsim's pcm_optical signed levels of a block against a brute-force nearest-transmission search,
# ELight's block-similarity term (meanR, meanG, neighbor x l2, l1) and its stop-gradient against
# explicit loops, the per-pass level steps and per-cell bound of a hand-made matrix against a
# count by hand, --wa-qat's realised weights, minimising D alone cuts the level steps, and one-line errors.
# No training, no dataset: a few seconds. SKIP (77) without Debian's torch.
# Usage: test_train_zoo.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"
$py -c "import torch, onnx" 2>/dev/null || { echo "SKIP: $py has no torch/onnx"; exit 77; }
export PYTHONPATH="$src/tools"

check() {  # check NAME: runs the Python on stdin, ok when it exits 0
  if $py - >"$tmp/out" 2>&1; then ok "$1"; else bad "$1: $(tail -n 3 "$tmp/out")"; fi
}

check "signed levels = nearest transmission level, brute force (docs/devices.md §3)" <<'PY'
import math, numpy as np, torch, train_zoo as tz
rng = np.random.default_rng(3)
beta, L = 0.872, 16
w = rng.normal(0, 0.7, size=(37, 53)).astype(np.float32)
w[rng.random(w.shape) < 0.05] = 0.0
lv = torch.round(tz.signed_levels(tz.to_blocks(torch.from_numpy(w), 16)) * (L - 1)).numpy()
k = 16
P, Q = -(-37 // k), -(-53 // k)
ref = np.zeros((P, Q, k * k))
tmin = beta ** (L - 1)
for p in range(P):
    for q in range(Q):
        blk = np.zeros((k, k))
        sub = w[p * k:(p + 1) * k, q * k:(q + 1) * k]
        blk[:sub.shape[0], :sub.shape[1]] = sub
        t = np.tanh(blk.astype(np.float64)).ravel()
        a = np.abs(t).max()
        for c in range(k * k):
            if t[c] == 0:
                continue
            u = abs(t[c]) / a * (1 - tmin) + tmin
            d = [abs(u - beta ** j) for j in range(L)]
            j = min(range(L), key=lambda j: (d[j], j))  # nearest, ties to the higher transmission
            ref[p, q, c] = math.copysign(L - 1 - j, t[c])
bad = np.argwhere(lv != ref)
# fp32 vs fp64 may flip a level exactly at a midpoint; none is expected on this draw
assert len(bad) == 0, (len(bad), bad[:5])
assert np.abs(ref).max() == L - 1 and (ref == 0).sum() > 0
PY

check "block-similarity D (meanR, meanG, neighbor x l2, l1) = explicit loops" <<'PY'
import numpy as np, torch, train_zoo as tz
rng = np.random.default_rng(5)
lv = rng.integers(-15, 16, size=(3, 5, 8)) / 15.0
P, Q, n = lv.shape
def arrays(x, norm):
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1) if norm == "l2" else x
for norm in ("l2", "l1"):
    x = arrays(lv, norm)
    f = (lambda d: d * d) if norm == "l2" else abs
    tot = {"meanR": 0.0, "meanG": 0.0, "neighbor": 0.0}
    g = x.reshape(P * Q, -1).mean(0)
    for p in range(P):
        r = x[p].mean(0)
        for q in range(Q):
            tot["meanR"] += f(x[p, q] - r).sum()
            tot["meanG"] += f(x[p, q] - g).sum()
            tot["neighbor"] += f(x[p, q] - (r if q == 0 else x[p, q - 1])).sum()
    for mode, v in tot.items():
        got = tz.difference_loss(torch.tensor(lv), mode, norm).item()
        want = v / x.size
        assert abs(got - want) <= 1e-12 * max(1, want), (mode, norm, got, want)
# stop-gradient (neighbor, where it matters; for meanR l2 the mean's own gradient sums to zero):
# the gradient is 2 (x_q - ref_q) / N per array, the previous block / row mean held constant
t = torch.tensor(lv, requires_grad=True)
tz.difference_loss(t, "neighbor", "l2").backward()
x = arrays(lv, "l2")
ref = np.concatenate([x.mean(1, keepdims=True), x[:, :-1]], axis=1)
d = 2 * (x - ref) / x.size
want = np.where(lv > 0, d[..., :n], 0) - np.where(lv < 0, d[..., n:], 0)
assert np.allclose(t.grad.numpy(), want, atol=1e-15), np.abs(t.grad.numpy() - want).max()
PY

check "level steps per pass and per-cell bound of a hand-made matrix (docs/elight.md §2-3)" <<'PY'
import torch, train_zoo as tz
# k = 2: block 0 = [[a, 0], [0, -a]] -> levels 15, 0, 0, -15; block 1 = [[0, a], [a, a]] -> 0, 15, 15, 15
a = 0.5
w = torch.tensor([[a, 0, 0, a], [0, -a, a, a]])
native, bound = tz.matrix_level_steps([w], k=2)
# native: from reset 15 + 15, then |0-15| + |15-0| + |15-0| + |15+15|
assert native == 30 + 75, native
# bound per cell: min(|min|, |max|) + max - min: 15, 15, 15, 15 + 30
assert bound == 90, bound
# an odd size is zero-padded: a 1 x 3 row [a, -a, a] in k = 2 blocks -> block 0 = 15, -15, 0, 0,
# block 1 = 15, 0, 0, 0: native 15 + 15, then 0 + 15; bound: cell 0 {15, 15} 15, cell 1 {-15, 0} 0 + 15
native, bound = tz.matrix_level_steps([torch.tensor([[a, -a, a]])], k=2)
assert (native, bound) == (15 + 15 + 0 + 15, 15 + 15), (native, bound)
PY

check "minimising D alone (straight-through levels) cuts the native level steps" <<'PY'
import torch, train_zoo as tz
torch.manual_seed(0)
w = torch.nn.Parameter(0.5 * torch.randn(64, 256))
before = tz.matrix_level_steps([w.detach()])[0]
opt = torch.optim.Adam([w], lr=1e-2)
for _ in range(60):
    d = tz.difference_loss(tz.signed_levels(tz.to_blocks(w, 16)), "meanR", "l2")
    opt.zero_grad(); d.backward(); opt.step()
after = tz.matrix_level_steps([w.detach()])[0]
assert after < 0.7 * before, (before, after)
PY

check "--wa-qat's realised weights hold the same levels and equal w where w sits on a level" <<'PY'
import math, torch, train_zoo as tz
torch.manual_seed(1)
w = 0.6 * torch.randn(40, 70, dtype=torch.float64)
r = tz.realise_levels(w)
lv = lambda m: torch.round(tz.signed_levels(tz.to_blocks(m, 16)) * 15)
assert torch.equal(lv(w), lv(r))
# a 16 x 16 block whose weights are exactly on levels: atanh(a * (beta^j - T_min) / (1 - T_min))
beta, tmin, a = 0.872, 0.872 ** 15, math.tanh(0.9)
vals = [math.atanh(a * (beta ** j - tmin) / (1 - tmin)) for j in range(16)]
x = torch.tensor([[vals[(i + c) % 16] * (-1) ** c for c in range(16)] for i in range(16)], dtype=torch.float64)
assert torch.allclose(tz.realise_levels(x), x, atol=1e-9), (tz.realise_levels(x) - x).abs().max()
PY

expect_error "--level-steps of a missing file: one error line" "no such file" $py "$src/tools/train_zoo.py" --level-steps "$tmp/none.onnx"
expect_error "negative --write-aware: one error line" "must be >= 0" $py "$src/tools/train_zoo.py" --write-aware -1
finish
