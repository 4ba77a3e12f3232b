#!/usr/bin/python3
"""PyTorch baseline of the benchmarks (README "Performance"): the noisy tiled CNN3 forward written
the way DOCTOR-style research code does it -- for every inference, fresh phase noise on every ring
of every 8x8 block, thermal crosstalk, the ring transmission T(phi), the block weights, then the
layer with an 8-bit DAC on abs-max normalised inputs and an 8-bit ADC on each block's partial sums
(docs/doctor.md §1, docs/devices.md §1, docs/noise.md §2-§4).

Same configuration as `ptc_bench executor`: models/zoo/cnn3_fmnist.onnx (weights read with
python3-onnx), Fashion-MNIST test images, a = 0.865, r = 0.87, 4x4 cores, cyclic mapping (block
(p, q) on core (p mod 4, q mod 4)), the phase-variation std map written by `ptc_bench --dump-std`,
crosstalk kappa 0.1/um with 60/200 um pitches, ADC bound 8. Prints one JSON object.

usage: torch_reference.py --std STD.json [--images 200] [--threads 2] [--seed 1]
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
A_RING, R_RING, K = 0.865, 0.87, 8
CORES_R, CORES_C = 4, 4


def load_fmnist(n):
    d = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return x, y


def transmission(phi):
    a, r = A_RING, R_RING
    c = torch.cos(phi)
    return (a * a + r * r - 2 * a * r * c) / (1 + a * a * r * r - 2 * a * r * c)


def weight_scale():
    t0 = transmission(torch.tensor(0.0, dtype=torch.float64))
    tpi = transmission(torch.tensor(math.pi, dtype=torch.float64))
    return float(min(abs(2 * t0 - 1), abs(2 * tpi - 1)))


def encode(w2d):
    """[rows, cols] -> phases [P, Q, k, k], scales [P, Q] (DOCTOR's inverse mapping, clamped)."""
    rows, cols = w2d.shape
    P, Q = -(-rows // K), -(-cols // K)
    w = torch.zeros(P * K, Q * K, dtype=torch.float32)
    w[:rows, :cols] = w2d
    blocks = w.reshape(P, K, Q, K).permute(0, 2, 1, 3).contiguous()  # [P, Q, k, k]
    mx = blocks.abs().amax(dim=(2, 3))
    scale = mx / weight_scale()
    wn = torch.where(scale[..., None, None] > 0, blocks / scale.clamp_min(1e-30)[..., None, None], torch.zeros_like(blocks))
    a, r = A_RING, R_RING
    t = ((wn + 1) / 2).clamp(max=1 - 1e-7)
    cphi = ((a * a + r * r - t * (1 + a * a * r * r)) / (2 * a * r * (1 - t))).clamp(0, 1)
    return torch.acos(cphi), scale, rows, cols


def crosstalk_matrix(kappa=0.1, ph=60.0, pv=200.0):
    n = K * K
    m = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            d = math.hypot((i // K - j // K) * pv, (i % K - j % K) * ph)
            v = 1.0 if i == j else math.exp(-kappa * d)
            m[i, j] = v if v >= 1e-12 else 0.0
    return m.float()


def quantize(x, bits, bound):
    step = 2 * bound / (2 ** bits - 2)
    return torch.round(x.clamp(-bound, bound) / step) * step


class NoisyLayer:
    def __init__(self, w2d, std_map, mt):
        self.phase, self.scale, self.rows, self.cols = encode(w2d)
        P, Q = self.scale.shape
        core = (torch.arange(P)[:, None] % CORES_R) * CORES_C + (torch.arange(Q)[None, :] % CORES_C)
        self.std = std_map.reshape(CORES_R * CORES_C, K * K)[core]  # [P, Q, k*k]
        self.mt = mt

    def forward(self, xcol):
        """xcol [cols, L] -> y [rows, L]; fresh noise (one inference)."""
        P, Q = self.scale.shape
        phi = self.phase.reshape(P, Q, K * K) + self.std * torch.randn(P, Q, K * K)
        phi = phi @ self.mt  # crosstalk: phi' = M phi
        wn = (2 * transmission(phi) - 1).reshape(P, Q, K, K)
        # DAC: abs-max normalisation per input vector, 8 bits.
        s = xcol.abs().amax(dim=0).clamp_min(1e-30)
        xn = quantize(xcol / s, 8, 1.0)
        xp = torch.zeros(Q * K, xn.shape[1])
        xp[: self.cols] = xn
        part = torch.einsum("pqij,qjl->pqil", wn, xp.reshape(Q, K, -1))  # per-block partial sums
        y = (quantize(part, 8, 8.0) * self.scale[..., None, None]).sum(dim=1)  # ADC per block, digital sum
        return y.reshape(P * K, -1)[: self.rows] * s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--std", required=True)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)
    m = onnx.load(os.path.join(ROOT, "models/zoo/cnn3_fmnist.onnx"))
    init = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    pre = json.loads({p.key: p.value for p in m.metadata_props}["ptcsim.preprocess"])
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    mm = [n for n in m.graph.node if n.op_type == "MatMul"][0]
    std_map = torch.tensor(json.load(open(o.std))["std_rad"], dtype=torch.float32)
    mt = crosstalk_matrix().t().contiguous()
    layers, biases = [], []
    for n in convs:
        w = init[n.input[1]]
        layers.append(NoisyLayer(w.reshape(w.shape[0], -1), std_map, mt))
        biases.append(init[n.input[2]])
    fc = NoisyLayer(init[mm.input[1]].t().contiguous(), std_map, mt)

    x, labels = load_fmnist(o.images)
    x = (torch.from_numpy(x.astype(np.float32)) * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    correct = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(o.images):
            h = x[i : i + 1]
            for layer, b in zip(layers, biases):
                hw_ = h.shape[-1]
                col = F.unfold(h, 3, padding=1)[0]  # [Cin*9, H*W]
                h = (layer.forward(col) + b[:, None]).reshape(1, -1, hw_, hw_).clamp(0, 6)
            h = F.adaptive_avg_pool2d(h, 5).reshape(-1, 1)
            logits = fc.forward(h)[:, 0]
            correct += int(int(logits.argmax()) == int(labels[i]))
    dt = time.perf_counter() - t0
    print(json.dumps({"images": o.images, "threads": o.threads, "seconds": dt, "images_per_s": o.images / dt,
                      "accuracy": correct / o.images, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
