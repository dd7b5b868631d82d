"""Training throughput of the same Han networks in PyTorch (CPU), for bench/train/run.sh.

Same models, data shapes, batch size, optimiser (SGD, momentum 0.9, lr 0.01), loss
(cross-entropy) and batching (a fixed pool of random samples, reshuffled each pass) as
`han-zoo bench-train`. The Han layer is written as the authors wrote it:
v = u / (||u|| + 1e-14); y = x - 2 (x v) v^T + b, followed by abs.
"""

import argparse
import json
import time

import torch
import torch.nn as nn


class Han(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.vector = nn.Parameter(torch.randn(d, 1))
        bound = 1.0 / d**0.5
        self.bias = nn.Parameter(torch.empty(d).uniform_(-bound, bound))

    def forward(self, x):
        v = self.vector / (self.vector.norm(p=2) + 1e-14)
        return x - 2 * x.mm(v) * v.t() + self.bias


class Abs(nn.Module):
    def forward(self, x):
        return x.abs()


def model(name):
    if name == "checkerboard":
        layers = [nn.Linear(2, 30), Abs(), nn.Linear(30, 30), Abs()]
        layers += [m for _ in range(17) for m in (Han(30), Abs())]
        layers += [nn.Linear(30, 30), Abs(), nn.Linear(30, 2)]
        return nn.Sequential(*layers), 2, 2, 1640
    layers = [nn.Linear(784, 64), Abs()]
    layers += [m for _ in range(8) for m in (Han(64), Abs())]
    layers += [nn.Linear(64, 10)]
    return nn.Sequential(*layers), 784, 10, 10000


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["checkerboard", "mnist"], required=True)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, features, classes, n = model(a.model)
    x = torch.rand(n, features) * 2 - 1
    y = torch.randint(0, classes, (n,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    state = {"order": None, "pos": n}

    def next_batch():
        if state["pos"] + a.batch_size > n:
            state["order"] = torch.randperm(n)
            state["pos"] = 0
        idx = state["order"][state["pos"] : state["pos"] + a.batch_size]
        state["pos"] += a.batch_size
        return idx

    def step():
        idx = next_batch()
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return loss.item()  # as the Rust step reads its loss back

    for _ in range(a.warmup):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < a.seconds:
        step()
        steps += 1
    secs = time.perf_counter() - start
    print(json.dumps({
        "framework": f"PyTorch {torch.__version__}", "model": a.model,
        "params": sum(p.numel() for p in net.parameters()), "batch_size": a.batch_size,
        "threads": str(torch.get_num_threads()), "steps": steps, "seconds": secs,
        "samples_per_s": steps * a.batch_size / secs, "ms_per_step": 1e3 * secs / steps,
    }))


if __name__ == "__main__":
    main()
