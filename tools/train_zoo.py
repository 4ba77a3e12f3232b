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
"""
import argparse
import gzip
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


def weight_of(layer):
    w = layer.weight
    if layer.training and NoisyWeight.sigma > 0:
        w = w * (1 + NoisyWeight.sigma * torch.randn_like(w))
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
}


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train(name, epochs_override, seed, batch, keep_batchnorm=False):
    ctor, epochs, lr, sigma, keep_bn = ZOO[name]
    keep_bn = keep_bn or keep_batchnorm
    if epochs_override:
        epochs = epochs_override
    torch.manual_seed(seed)
    np.random.seed(seed)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    model = ctor()
    NoisyWeight.sigma = sigma
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
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        print(f"{name}: epoch {ep + 1}/{epochs} loss {loss.item():.4f} test {acc:.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)
    NoisyWeight.sigma = 0.0
    acc = evaluate(model, xte, yte)
    export(model, name, keep_bn)
    meta = {
        "model": name,
        "dataset": "fashion-mnist (Debian dataset-fashion-mnist)",
        "pytorch_test_accuracy": acc,
        "test_samples": len(xte),
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch,
        "optimizer": f"Adam lr {lr}, cosine annealing",
        "weight_noise_sigma": sigma,
        "batchnorm": "kept (BatchNormalization nodes)" if keep_bn else "folded into conv weights",
        "torch_version": torch.__version__,
        "onnx_opset": 13,
        "train_time_s": round(time.time() - t0, 1),
    }
    with open(os.path.join(ZOO_DIR, name + ".json"), "w") as f:
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
    ap.add_argument("--keep-batchnorm", action="store_true",
                    help="export with BatchNormalization nodes kept instead of folded into the conv weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    for name in args.only or sorted(ZOO):
        train(name, args.epochs, args.seed, args.batch, args.keep_batchnorm)


if __name__ == "__main__":
    sys.exit(main())
