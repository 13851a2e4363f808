#!/usr/bin/python3
"""A second Python baseline for `make bench`: lowbit's small_cnn at full precision written the
way a PyTorch user writes it (nn.Sequential, default layout, no helpers), with none of
bench/py_bench.py's code. bench/vs_python.sh runs both on the same work and compares the two
Python figures: if py_bench.py's are more than 10% from these, it is not a fair baseline and
the bench says so.

  step   one SGD step on a fixed random batch of 128: 3 warm-ups, the median of N timed steps
  epoch  EPOCHS epochs on the first TRAIN Fashion-MNIST images (shuffled, batch 128), each with
         an evaluation of the test set (batch 1000, no_grad); the first is a warm-up and each
         figure is the median over the others
--layout nhwc is PyTorch's own way to channels-last: model.to(memory_format=torch.channels_last)
and the same for the inputs. One JSON object per line ("py_plain_step", "py_plain_epoch").
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def optimizer(net):
    return torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)


def idx(name, offset):
    with gzip.open(f"{DATA}/{name}") as f:
        return torch.from_numpy(np.frombuffer(f.read(), np.uint8, offset=offset).copy())


def step(steps, fmt):
    net, loss_fn = model().to(memory_format=fmt), nn.CrossEntropyLoss()
    opt = optimizer(net)
    x, y = torch.randn(128, 1, 28, 28).to(memory_format=fmt), torch.randint(0, 10, (128,))
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times)}


def epoch(train, epochs, fmt):
    xtr = idx("train-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28)[:train].float() / 255
    ytr = idx("train-labels-idx1-ubyte.gz", 8).long()[:train]
    xte = idx("t10k-images-idx3-ubyte.gz", 16).view(-1, 1, 28, 28).float() / 255
    yte = idx("t10k-labels-idx1-ubyte.gz", 8).long()
    mean, std = xtr.mean(), xtr.std()
    xtr, xte = ((xtr - mean) / std).to(memory_format=fmt), ((xte - mean) / std).to(memory_format=fmt)
    net, loss_fn = model().to(memory_format=fmt), nn.CrossEntropyLoss()
    opt = optimizer(net)
    timed = []
    for e in range(epochs):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(ytr))
        for i in range(0, len(ytr) - 127, 128):
            b = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(net(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
        t1 = time.perf_counter()
        net.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(yte), 1000):
                correct += (net(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        t2 = time.perf_counter()
        if e > 0:
            timed.append((t1 - t0, t2 - t0, t2 - t1))
    train_s, epoch_s, eval_s = (statistics.median(t[k] for t in timed) for k in range(3))
    return {"train_s": train_s, "epoch_s": epoch_s, "eval_s": eval_s, "test_acc": correct / len(yte)}


def malloc_setting():
    """"lowbit" where bench/vs_python.sh gave glibc lowbit's allocator setting, else "default"."""
    return "lowbit" if os.environ.get("MALLOC_MMAP_THRESHOLD_") else "default"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--what", default="step,epoch")
    p.add_argument("--layout", choices=["nchw", "nhwc"], default="nchw")
    p.add_argument("--round", type=int, default=0)
    a = p.parse_args()
    fmt = torch.channels_last if a.layout == "nhwc" else torch.contiguous_format
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tag = {"layout": a.layout, "malloc": malloc_setting(), **({"round": a.round} if a.round else {})}
    if "step" in a.what:
        print(json.dumps({"bench": "py_plain_step", "method": "fp", **tag, **step(a.steps, fmt)}), flush=True)
    if "epoch" in a.what:
        print(json.dumps({"bench": "py_plain_epoch", "method": "fp", **tag, **epoch(a.train, a.epochs, fmt)}),
              flush=True)


if __name__ == "__main__":
    main()
