#!/usr/bin/python3
"""The Python PyTorch side of `make bench` (bench/vs_python.sh): lowbit's small_cnn written in
PyTorch on the same kernels (Debian's python3-torch, the LibTorch lowbit links), for full
precision, TTQ and SLB 1/2-bit, timed the way bench/bench.cpp times lowbit:

  step   one training step on a fixed random batch of 128 (3 warm-ups, median of N): forward
         with the cross-entropy, zero_grad + backward, optimizer step, each timed apart
  epoch  EPOCHS epochs on the first TRAIN Fashion-MNIST images (shuffled, batch 128), each
         with an evaluation of the full test set (batch 1000, no_grad), and for SLB the
         batch-norm calibration of lowbit's bn_mode calibrate_each_epoch (10 batches, hard
         weights, cumulative average); the first epoch is a warm-up, and each figure is the
         median over the others. SLB's temperature rises over 20-100% of training, as in
         bench/vs_python.sh's lowbit config, so that every timed epoch is a soft one

--layout nhwc hands each convolution a channels-last weight, as lowbit does on the CPU
(core/nn/qlayers.cpp), so that both sides run the same oneDNN kernels; the default nchw is how
a Python script is usually written. It prints one JSON object per line. The quantizers follow lowbit's forward and gradients
(core/quant/ttq.cpp, core/quant/slb.cpp) closely enough for timing; they are not a second
reference implementation.
"""
import argparse
import gzip
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
LAYOUT = "nchw"  # set by --layout


class TTQFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, wp, wn, t):
        delta = t * w.abs().max()
        pos, neg = (w > delta).float(), (w < -delta).float()
        ctx.save_for_backward(pos, neg, wp, wn)
        return wp * pos - wn * neg

    @staticmethod
    def backward(ctx, g):
        pos, neg, wp, wn = ctx.saved_tensors
        mid = 1.0 - pos - neg
        return (wp * pos * g + wn * neg * g + mid * g, (pos * g).sum().view(1),
                (-neg * g).sum().view(1), None)


class QConv(nn.Module):
    """A conv (or linear, as 1x1 on pooled features) whose weight a quantizer produces."""

    def __init__(self, cin, cout, k, method, bits):
        super().__init__()
        self.k, self.method = k, method
        w = torch.empty(cout, cin, k, k)
        nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
        self.hard = False
        if method == "slb":
            n = 2 ** bits
            self.register_buffer("values", torch.linspace(-1, 1, n))
            self.logits = nn.Parameter(torch.randn(cout, cin, k, k, n) * 0.1)
            self.T = 1.0
        else:
            self.weight = nn.Parameter(w)
            if method == "ttq":
                self.wp = nn.Parameter(torch.ones(1))
                self.wn = nn.Parameter(torch.ones(1))

    def qweight(self):
        if self.method == "ttq":
            return TTQFn.apply(self.weight, self.wp, self.wn, 0.05)
        if self.method == "slb":
            if self.hard or not self.training:  # lowbit evaluates the one-hot network
                return self.values[self.logits.argmax(-1)]
            return (F.softmax(self.logits * self.T, -1) * self.values).sum(-1)
        return self.weight

    def forward(self, x):
        w = self.qweight()
        if LAYOUT == "nhwc":  # explicit strides: contiguous() is a no-op for one input channel
            w = torch.empty_like(w, memory_format=torch.channels_last).copy_(w)
        return F.conv2d(x, w, padding=self.k // 2)


class SmallCnn(nn.Module):
    """lowbit's small_cnn (core/models/models.cpp): first and last layers full precision."""

    def __init__(self, method, bits):
        super().__init__()
        self.conv1 = QConv(1, 32, 3, "fp", 32)
        self.conv2 = QConv(32, 64, 3, method, bits)
        self.conv3 = QConv(64, 128, 3, method, bits)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(32), nn.BatchNorm2d(64), nn.BatchNorm2d(128)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.conv3(x)))
        return self.fc(x.mean((2, 3)))


def make(method, bits):
    torch.manual_seed(0)
    model = SmallCnn(method, bits)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    return model, opt


def read_idx(name, offset):
    with gzip.open(f"{DATA}/{name}", "rb") as f:
        return torch.frombuffer(bytearray(f.read()[offset:]), dtype=torch.uint8)


def load(train_limit):
    xtr = read_idx("train-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28)[:train_limit]
    ytr = read_idx("train-labels-idx1-ubyte.gz", 8).long()[:train_limit]
    xte = read_idx("t10k-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28)
    yte = read_idx("t10k-labels-idx1-ubyte.gz", 8).long()
    mean = xtr.float().mean() / 255
    std = xtr.float().std() / 255
    return xtr, ytr, xte, yte, mean, std


def batch(x, idx, mean, std):
    return (x[idx].float() / 255 - mean) / std


def bench_step(method, bits, steps):
    model, opt = make(method, bits)
    model.train()
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
    f, b, o = [], [], []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        loss.item()
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 3:
            f.append(t1 - t0), b.append(t2 - t1), o.append(t3 - t2)
    return {"forward_s": statistics.median(f), "backward_s": statistics.median(b),
            "optimizer_s": statistics.median(o)}


def calibrate(model, xtr, mean, std, batches=10):
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    qs = [m for m in model.modules() if isinstance(m, QConv)]
    with torch.no_grad():
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        for q in qs:
            q.hard = True
        model.train()
        for i in range(batches):
            model(batch(xtr, torch.arange(i * 128, (i + 1) * 128), mean, std))
        for bn in bns:
            bn.momentum = 0.1
        for q in qs:
            q.hard = False


def bench_epoch(method, bits, data, epochs):
    xtr, ytr, xte, yte, mean, std = data
    model, opt = make(method, bits)
    timed = []
    for epoch in range(epochs):
        # Temperature from 1 to 100 over 20-100% of training, per epoch (timing only).
        progress = min(max((epoch / epochs - 0.2) / 0.8, 0.0), 1.0)
        for q in model.modules():
            if isinstance(q, QConv):
                q.T = 100.0 ** progress
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(ytr))
        nb = len(ytr) // 128
        for i in range(nb):
            idx = order[i * 128:(i + 1) * 128]
            loss = F.cross_entropy(model(batch(xtr, idx, mean, std)), ytr[idx])
            loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        t1 = time.perf_counter()
        if method == "slb":
            calibrate(model, xtr, mean, std)
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(yte), 1000):
                idx = torch.arange(i, min(i + 1000, len(yte)))
                correct += (model(batch(xte, idx, mean, std)).argmax(1) == yte[idx]).sum().item()
        t2 = time.perf_counter()
        if epoch > 0:
            timed.append({"train_s": t1 - t0, "epoch_s": t2 - t0, "eval_s": t2 - t1})
    out = {k: statistics.median(t[k] for t in timed) for k in ("train_s", "epoch_s", "eval_s")}
    return {**out, "epochs_timed": len(timed), "test_acc": correct / len(yte)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=4, help="epochs: one warm-up, the rest timed")
    p.add_argument("--what", default="step,epoch")
    p.add_argument("--layout", choices=["nchw", "nhwc"], default="nchw")
    p.add_argument("--methods", default="fp,ttq,slb1,slb2", help="labels, comma-separated")
    p.add_argument("--round", type=int, default=0, help="written into each line (0: none)")
    a = p.parse_args()
    global LAYOUT
    LAYOUT = a.layout
    suffix = "" if a.layout == "nchw" else "_nhwc"
    torch.set_num_threads(a.threads)
    known = {"fp": ("fp", 32), "ttq": ("ttq", 2), "slb1": ("slb", 1), "slb2": ("slb", 2)}
    methods = [(label, *known[label]) for label in a.methods.split(",")]
    tag = {"malloc": "lowbit" if os.environ.get("MALLOC_MMAP_THRESHOLD_") else "default",
           **({"round": a.round} if a.round else {})}
    if "step" in a.what:
        for label, m, bits in methods:
            print(json.dumps({"bench": "py_step" + suffix, "method": label, **tag, **bench_step(m, bits, a.steps)}),
                  flush=True)
    if "epoch" in a.what:
        data = load(a.train)
        for label, m, bits in methods:
            print(json.dumps({"bench": "py_epoch" + suffix, "method": label, **tag, **bench_epoch(m, bits, data, a.epochs)}),
                  flush=True)


if __name__ == "__main__":
    main()
