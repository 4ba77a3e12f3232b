#!/usr/bin/python3
"""Train and export ptcsim's model zoo (models/zoo/) on Fashion-MNIST.

Run with Debian's interpreter: /usr/bin/python3 tools/train_zoo.py [--only NAME] [--epochs N]
Needs python3-torch, python3-onnx, python3-numpy and dataset-fashion-mnist (tools/setup.sh).
Deterministic: fixed seed, deterministic algorithms, 2 threads. Training never runs in CI.

Each model is exported as ONNX (opset 13, dynamic batch) with its input preprocessing in the
ONNX metadata_props key "ptcsim.preprocess" (JSON), and a sidecar NAME.json records PyTorch's
test accuracy on the full 10k test set, epochs, seed and versions.

By default the exporter folds each BatchNorm into the preceding conv's weights. Models listed
with keep_bn (cnn3_fmnist_bn), or any model trained with --keep-batchnorm, are exported with
their BatchNormalization nodes kept (eval-mode running statistics), so that ptcsim's
hw.mapping.batchnorm "digital" can leave them off the array (docs/layers.md).

Write-aware training (--write-aware LAMBDA, docs/elight.md section 7): the loss becomes
CE + LAMBDA * D, where D is ELight's block-similarity term (Zhu et al., ASP-DAC 2022, public code
`pcm_conv2d.get_difference_loss_*`) computed on the blocks ptcsim streams: every weight layer's
(BN-folded) matrix [outputs, inputs] cut into k x k blocks [P, Q, k, k] (--wa-block, 16 as in
scenarios/elight/), each block mapped to ptcsim's pcm_optical signed levels (per-block tanh
normalisation, geometric levels beta^j; straight-through rounding). Models listed in WRITE_AWARE
(vgg8_fmnist_wa) carry their own LAMBDA/mode/norm; --write-aware overrides LAMBDA for any model.
--wa-qat 1 also trains with ptcsim's realised levels in the forward pass (straight-through).
--level-steps MODEL.onnx prints a model's per-pass level steps (native order, per-cell bound).
"""
import argparse
import gzip
import math
import json
import os
import struct
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
ZOO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "zoo")
# Fashion-MNIST training-set pixel statistics after scaling to [0, 1].
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32)
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x / 255.0 - MEAN) / STD
    return torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(y.copy())


class AdaptiveAvgPool(nn.Module):
    """AdaptiveAvgPool2d for a static input size, written as Slice + ReduceMean so that it
    exports to plain ONNX (torch 1.13 refuses adaptive pooling whose output size does not
    divide the input size). Windows are PyTorch's: [floor(i*H/o), ceil((i+1)*H/o))."""

    def __init__(self, in_size, out_size):
        super().__init__()
        self.win = [((i * in_size) // out_size, -(-((i + 1) * in_size) // out_size))
                    for i in range(out_size)]

    def forward(self, x):
        x = torch.cat([x[:, :, s:e, :].mean(dim=2, keepdim=True) for s, e in self.win], dim=2)
        return torch.cat([x[:, :, :, s:e].mean(dim=3, keepdim=True) for s, e in self.win], dim=3)


class NoisyWeight:
    """Multiplicative Gaussian weight noise W*(1+N(0,sigma^2)) during training (DOCTOR's
    noise-aware baseline, docs/doctor.md §7)."""
    sigma = 0.0


class LevelQuant:
    """Quantisation-aware training on ptcsim's pcm_optical levels (--wa-qat): in training mode the
    forward pass uses the weight ptcsim will realise (per 16 x 16 block of the BN-folded matrix,
    docs/devices.md section 3), the gradient passes straight through to the float weight."""
    on = False
    block = 16


def weight_of(layer):
    w = layer.weight
    if layer.training and NoisyWeight.sigma > 0:
        w = w * (1 + NoisyWeight.sigma * torch.randn_like(w))
    if layer.training and LevelQuant.on:
        w2 = w.reshape(w.shape[0], -1)
        bn = getattr(layer, "folded_bn", None)
        scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().unsqueeze(1) if bn is not None else None
        with torch.no_grad():
            q = realise_levels(w2 * scale if scale is not None else w2, LevelQuant.block)
            if scale is not None:
                q = q / scale
        w = w + (q.reshape(w.shape) - w).detach()
    return w


class NConv(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, weight_of(self), self.bias)


class NLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, weight_of(self), self.bias)


class CNN3(nn.Module):
    """DOCTOR's CNN3 (Lu et al. JLT 2024; docs/doctor.md §8): 3 x [conv3x3 64ch s1 p1 no bias, BN, ReLU6],
    adaptive average pool to 5x5, FC 1600->10 no bias."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 1
        for _ in range(3):
            layers += [NConv(cin, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6()]
            cin = 64
        self.features = nn.Sequential(*layers)
        self.pool = AdaptiveAvgPool(28, 5)
        self.fc = NLinear(1600, 10, bias=False)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = NConv(1, 6, 5, padding=2)
        self.c2 = NConv(6, 16, 5)
        self.f1 = NLinear(400, 120)
        self.f2 = NLinear(120, 84)
        self.f3 = NLinear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.view(x.size(0), -1)  # exports the Shape/Gather/Unsqueeze/Concat/Reshape pattern
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


class VGG8(nn.Module):
    """VGG-8-style net adapted to 28x28: 6 conv (32,32,M,64,64,M,128,128,M) + 2 FC."""

    def __init__(self):
        super().__init__()
        cfg, layers, cin = [32, 32, "M", 64, 64, "M", 128, 128, "M"], [], 1
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [NConv(cin, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(NLinear(128 * 3 * 3, 256), nn.ReLU(), nn.Dropout(0.5),
                                        NLinear(256, 10))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


ZOO = {
    # name: (constructor, epochs, lr, weight-noise sigma, keep BatchNorm nodes in the ONNX)
    "cnn3_fmnist": (CNN3, 6, 2e-3, 0.0, False),
    "cnn3_fmnist_bn": (CNN3, 1, 2e-3, 0.0, True),
    "cnn3_fmnist_nat": (CNN3, 4, 2e-3, 0.01, False),
    # untrained (PyTorch's default initialisation at the seed): the starting point of on-chip
    # training from scratch (Mirage, docs/onchip_training.md)
    "cnn3_fmnist_init": (CNN3, 0, 2e-3, 0.0, False),
    "lenet5_fmnist": (LeNet5, 8, 2e-3, 0.0, False),
    "vgg8_fmnist": (VGG8, 3, 2e-3, 0.0, False),
    "vgg8_fmnist_wa": (VGG8, 3, 2e-3, 0.0, False),
}
# Write-aware recipes (docs/elight.md section 7): lambda, mode, norm.
WRITE_AWARE = {
    "vgg8_fmnist_wa": {"lambda": 10.0, "mode": "meanR", "norm": "l2", "qat": False},
}
# ptcsim's pcm_optical defaults (docs/devices.md section 3) and the ELight scenarios' block size.
PCM_LEVELS, PCM_BETA, WA_BLOCK = 16, 0.872, 16


def weight_matrices(model):
    """The weight matrices ptcsim maps onto the array, in model order, as [outputs, inputs]:
    a conv's weight [M, C, kh, kw] becomes [M, C*kh*kw] (models/compiler.cpp), with the following
    BatchNorm folded in (W * gamma / sqrt(running_var + eps), as the exporter does; the running
    variance is a constant here, gamma is trained through); a Linear's weight is [out, in]."""
    mods = list(model.modules())
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Conv2d):
            w = m.weight.reshape(m.weight.shape[0], -1)
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(nxt, nn.BatchNorm2d):
                w = w * (nxt.weight / torch.sqrt(nxt.running_var + nxt.eps)).unsqueeze(1)
            out.append(w)
        elif isinstance(m, nn.Linear):
            out.append(m.weight)
    return out


def to_blocks(w, k):
    """[rows, cols] -> [P, Q, k*k], zero-padded (ptcsim's tiling: block (p, q) holds rows
    p*k..p*k+k-1 and columns q*k..q*k+k-1, row-major inside the block)."""
    rows, cols = w.shape
    P, Q = -(-rows // k), -(-cols // k)
    w = F.pad(w, (0, Q * k - cols, 0, P * k - rows))
    return w.reshape(P, k, Q, k).permute(0, 2, 1, 3).reshape(P, Q, k * k)


def signed_levels(blocks, levels=PCM_LEVELS, beta=PCM_BETA, ste=True):
    """ptcsim's pcm_optical signed levels of each block (docs/devices.md section 3), divided by
    levels-1 so that they lie in [-1, 1] (ELight's normalisation): wt = tanh(w)/max_block|tanh(w)|,
    u = |wt|(1 - T_min) + T_min, level j = log_beta(u) rounded to the nearer transmission
    (ties to the floor), magnitude levels-1-j, sign of w. ste: the forward value is the rounded
    level, the gradient that of the continuous one (straight-through); else continuous."""
    t = torch.tanh(blocks)
    a = t.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
    tmin = beta ** (levels - 1)
    u = (t / a).abs() * (1 - tmin) + tmin
    j = torch.log(u) / math.log(beta)
    if ste:
        jf = torch.floor(j).clamp(0, levels - 1)
        jc = torch.ceil(j).clamp(0, levels - 1)
        jq = torch.where((u - beta ** jf).abs() <= (u - beta ** jc).abs(), jf, jc)
        j = j + (jq - j).detach()
    return torch.sign(blocks) * ((levels - 1) - j) / (levels - 1)


def from_blocks(b, rows, cols, k):
    """Inverse of to_blocks: [P, Q, k*k] -> [rows, cols]."""
    P, Q = b.shape[0], b.shape[1]
    return b.reshape(P, Q, k, k).permute(0, 2, 1, 3).reshape(P * k, Q * k)[:rows, :cols]


def realise_levels(w, k=WA_BLOCK, levels=PCM_LEVELS, beta=PCM_BETA):
    """The weight matrix ptcsim realises from w [rows, cols] (docs/devices.md section 3): each
    block's signed level, dequantised to sign*(beta^j - T_min)/(1 - T_min), times the block's
    max|tanh(w)|, through atanh (ptcsim's inverse-tanh realisation)."""
    b = to_blocks(w, k)
    a = torch.tanh(b).abs().amax(dim=-1, keepdim=True)
    mag = signed_levels(b, levels, beta).abs() * (levels - 1)
    mag = torch.round(mag)
    tmin = beta ** (levels - 1)
    wn = torch.sign(b) * (beta ** ((levels - 1) - mag) - tmin) / (1 - tmin)
    wn = torch.where(mag == 0, torch.zeros_like(wn), wn)
    r = torch.atanh((wn * a).clamp(-1 + 1e-7, 1 - 1e-7))
    return from_blocks(r, w.shape[0], w.shape[1], k)


def difference_loss(lv, mode="meanR", norm="l2"):
    """ELight's block-similarity term of one layer, lv = signed levels [P, Q, k*k].
    meanR: every block against its block-row's mean block; meanG: against the layer's mean block;
    neighbor: against the previous block of its row (the first against the row mean). The
    reference is a constant (stop-gradient). l2: mean squared difference with the positive and
    negative arrays of the differential pair kept apart (ELight's l2 form); l1: mean absolute
    difference of the signed level, which is the level steps between the two blocks."""
    x = torch.cat([F.relu(lv), F.relu(-lv)], dim=-1) if norm == "l2" else lv
    if mode == "meanR":
        ref = x.mean(dim=1, keepdim=True).detach().expand_as(x)
    elif mode == "meanG":
        ref = x.mean(dim=(0, 1), keepdim=True).detach().expand_as(x)
    elif mode == "neighbor":
        first = x.mean(dim=1, keepdim=True)
        ref = torch.cat([first, x[:, :-1]], dim=1).detach()
    else:
        raise ValueError(f"unknown write-aware mode {mode!r}")
    d = x - ref
    return (d * d).mean() if norm == "l2" else d.abs().mean()


def write_aware_loss(model, mode, norm, k=WA_BLOCK):
    """D summed over the layers (ELight)."""
    return sum(difference_loss(signed_levels(to_blocks(w, k)), mode, norm) for w in weight_matrices(model))


def matrix_level_steps(mats, k=WA_BLOCK):
    """Per-pass level steps of the native streaming order and the per-cell bound (docs/elight.md
    sections 2-3) of weight matrices [outputs, inputs]: a Python cross-check of `ptcsim streaming`
    (in double precision, as ptcsim quantises)."""
    native = bound = 0
    with torch.no_grad():
        for w in mats:
            lv = torch.round(signed_levels(to_blocks(w.double(), k)) * (PCM_LEVELS - 1)).to(torch.int64)
            prev = torch.cat([torch.zeros_like(lv[:, :1]), lv[:, :-1]], dim=1)
            native += (lv - prev).abs().sum().item()
            mn, mx = lv.min(dim=1).values, lv.max(dim=1).values
            bound += (torch.minimum(mn.abs(), mx.abs()) + mx - mn).sum().item()
    return native, bound


def level_steps(model, k=WA_BLOCK):
    return matrix_level_steps(weight_matrices(model), k)


def onnx_matrices(path):
    """The Conv/Gemm weight matrices of an exported model, [outputs, inputs], as ptcsim's compiler
    reads them (Gemm without transB: B is [in, out] and is transposed)."""
    from onnx import numpy_helper
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    mats = []
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in init:
            w = torch.from_numpy(init[n.input[1]].astype(np.float32))
            trans_b = any(a.name == "transB" and a.i for a in n.attribute)
            if n.op_type != "Conv" and not trans_b:
                w = w.t()
            mats.append(w.reshape(w.shape[0], -1))
    return mats


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train(name, epochs_override, seed, batch, keep_batchnorm=False, wa_lambda=None, wa_mode=None,
          wa_norm=None, out_dir=ZOO_DIR, wa_qat=None, wa_block=None):
    ctor, epochs, lr, sigma, keep_bn = ZOO[name]
    wa = dict(WRITE_AWARE.get(name, {"lambda": 0.0, "mode": "meanR", "norm": "l2", "qat": False}))
    if wa_qat is not None:
        wa["qat"] = wa_qat
    k = wa_block or WA_BLOCK
    if wa_lambda is not None:
        wa["lambda"] = wa_lambda
    if wa_mode:
        wa["mode"] = wa_mode
    if wa_norm:
        wa["norm"] = wa_norm
    keep_bn = keep_bn or keep_batchnorm
    if epochs_override:
        epochs = epochs_override
    torch.manual_seed(seed)
    np.random.seed(seed)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = ctor()
    mods = list(model.modules())
    for i, m in enumerate(mods[:-1]):
        if isinstance(m, nn.Conv2d) and isinstance(mods[i + 1], nn.BatchNorm2d):
            object.__setattr__(m, "folded_bn", mods[i + 1])  # not a child module: state_dict and export unchanged
    NoisyWeight.sigma = sigma
    LevelQuant.on, LevelQuant.block = bool(wa["qat"]), k
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            if wa["lambda"] > 0:
                dloss = write_aware_loss(model, wa["mode"], wa["norm"], k)
                loss = loss + wa["lambda"] * dloss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        extra = ""
        if wa["lambda"] > 0:
            extra = f" D {dloss.item():.4f} steps native/bound %d/%d" % level_steps(model, k)
        print(f"{name}: epoch {ep + 1}/{epochs} loss {loss.item():.4f} test {acc:.4f}{extra} "
              f"({time.time() - t0:.0f}s)", flush=True)
    NoisyWeight.sigma = 0.0
    LevelQuant.on = False
    acc = evaluate(model, xte, yte)
    export(model, name, keep_bn, path=os.path.join(out_dir, name + ".onnx"))
    meta = {
        "model": name,
        "dataset": "fashion-mnist (Debian dataset-fashion-mnist)",
        "pytorch_test_accuracy": acc,
        "test_samples": len(xte),
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch,
        "optimizer": f"Adam lr {lr}, cosine annealing" if epochs > 0 else "none (0 epochs: untrained)",
        "weight_noise_sigma": sigma,
        "batchnorm": "kept (BatchNormalization nodes)" if keep_bn else "folded into conv weights",
        "torch_version": torch.__version__,
        "onnx_opset": 13,
        "train_time_s": round(time.time() - t0, 1) if epochs > 0 else 0.0,
    }
    if wa["lambda"] > 0:
        native, bound = level_steps(model, k)
        with torch.no_grad():
            d_final = write_aware_loss(model, wa["mode"], wa["norm"], k).item()
        meta["write_aware"] = {
            "loss": "cross-entropy + lambda * D (ELight block similarity, lambda applied once)",
            "lambda": wa["lambda"], "mode": wa["mode"], "norm": wa["norm"], "block_size": k,
            "quantisation_aware": bool(wa["qat"]),
            "levels": PCM_LEVELS, "beta": PCM_BETA, "D_final": round(d_final, 6),
            "python_level_steps_native": native, "python_per_cell_bound": bound,
        }
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: final test accuracy {acc:.4f}", flush=True)


def export(model, name, keep_bn=False, path=None):
    """Export to ONNX. keep_bn: TrainingMode.PRESERVE on an eval-mode model skips the exporter's
    eval-only Conv+BatchNorm fusion, so each BatchNormalization node (running mean/var, gamma,
    beta, epsilon) stays in the graph; constant folding is off so nothing else folds it."""
    model.eval()
    path = path or os.path.join(ZOO_DIR, name + ".onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=not keep_bn)
    m = onnx.load(path)
    n_bn = sum(n.op_type == "BatchNormalization" for n in m.graph.node)
    n_bn_expected = sum(isinstance(x, nn.BatchNorm2d) for x in model.modules()) if keep_bn else 0
    if n_bn != n_bn_expected:
        raise SystemExit(f"{path}: {n_bn} BatchNormalization nodes after export, expected {n_bn_expected}")
    pre = {"input_shape": [1, 28, 28], "scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD],
           "dataset": "fashion-mnist", "classes": 10}
    entry = m.metadata_props.add()
    entry.key, entry.value = "ptcsim.preprocess", json.dumps(pre)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", choices=sorted(ZOO), action="append")
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write-aware", type=float, default=None, metavar="LAMBDA",
                    help="add LAMBDA x ELight's block-similarity loss (0: off; default: the model's recipe)")
    ap.add_argument("--wa-mode", choices=["meanR", "meanG", "neighbor"], help="reference block (default meanR)")
    ap.add_argument("--wa-norm", choices=["l2", "l1"], help="difference norm (default l2)")
    ap.add_argument("--wa-block", type=int, default=None, metavar="K",
                    help="block size of the write-aware loss (default 16, the cores of scenarios/elight/)")
    ap.add_argument("--wa-qat", type=int, choices=[0, 1], default=None,
                    help="1: train with ptcsim's pcm_optical levels in the forward pass (straight-through); default: the model's recipe")
    ap.add_argument("--out-dir", default=ZOO_DIR, help="where the ONNX and JSON go (default models/zoo)")
    ap.add_argument("--keep-batchnorm", action="store_true",
                    help="export with BatchNormalization nodes kept instead of folded into the conv weights")
    ap.add_argument("--level-steps", metavar="ONNX",
                    help="print the per-pass level steps (native order, per-cell bound) of an exported model as JSON and exit")
    args = ap.parse_args()
    if args.wa_block is not None and args.wa_block < 1:  # before --level-steps, which takes it too
        sys.exit(f"train_zoo.py: --wa-block K must be >= 1, got {args.wa_block}")
    if args.level_steps:
        if not os.path.isfile(args.level_steps):
            sys.exit(f"train_zoo.py: --level-steps: no such file {args.level_steps}")
        k = args.wa_block or WA_BLOCK
        native, bound = matrix_level_steps(onnx_matrices(args.level_steps), k)
        print(json.dumps({"model": args.level_steps, "block_size": k, "native_level_steps": native,
                          "per_cell_bound_steps": bound}))
        return 0
    if args.write_aware is not None and args.write_aware < 0:
        sys.exit(f"train_zoo.py: --write-aware LAMBDA must be >= 0, got {args.write_aware}")
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    for name in args.only or sorted(ZOO):
        train(name, args.epochs, args.seed, args.batch, args.keep_batchnorm, args.write_aware, args.wa_mode,
              args.wa_norm, args.out_dir, None if args.wa_qat is None else bool(args.wa_qat), args.wa_block)


if __name__ == "__main__":
    sys.exit(main())
