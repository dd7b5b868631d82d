"""PyTorch eager side of the inference benchmark (bench/infer/run.sh).

The authors' checkerboard HanNet as their code computes it (Linear + abs, 17 Han layers with
v = u / (||u|| + 1e-14), y = |x - 2 (x . v) v + b|, Linear + abs, classifier), weights loaded
from the same safetensors file with the `safetensors` package. Same method as the Rust side:
median over timed runs of about 2 ms each (and the calling thread's CPU time over all runs), batch 1 cycling through the test points, and the
whole test set at once. Prints one JSON line per measurement.

    python bench_torch.py REFERENCE_DIR [--seconds 3] [--threads 1]
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file


class Han(torch.nn.Module):
    def __init__(self, vector, bias):
        super().__init__()
        self.vector = torch.nn.Parameter(vector)  # [d, 1]
        self.bias = torch.nn.Parameter(bias)

    def forward(self, x):
        v = self.vector / (torch.norm(self.vector) + 1e-14)
        return torch.abs(x - 2 * torch.mm(torch.mm(x, v), v.t()) + self.bias)


class HanNet(torch.nn.Module):
    def __init__(self, sd):
        super().__init__()
        layers = []
        for i in range(0, 39, 2):
            name = f"feature.{i}"
            if f"{name}.weight" in sd:
                w = sd[f"{name}.weight"]
                lin = torch.nn.Linear(w.shape[1], w.shape[0])
                lin.weight.data.copy_(w)
                lin.bias.data.copy_(sd[f"{name}.bias"])
                layers.append(lin)
            else:
                layers.append(Han(sd[f"{name}.vector"], sd[f"{name}.bias"]))
            layers.append(Abs())
        self.feature = torch.nn.Sequential(*layers)
        w = sd["classifer.weight"]
        self.classifer = torch.nn.Linear(w.shape[1], w.shape[0])
        self.classifer.weight.data.copy_(w)
        self.classifer.bias.data.copy_(sd["classifer.bias"])

    def forward(self, x):
        return self.classifer(self.feature(x))


class Abs(torch.nn.Module):
    def forward(self, x):
        return torch.abs(x)


def measure(seconds, f):
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < 0.2 or calls < 3:
        f()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    iters = max(1, int(np.ceil(2e-3 / per_call)))
    runs = []
    start, cpu0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - start < seconds or len(runs) < 5:
        t = time.perf_counter()
        for _ in range(iters):
            f()
        runs.append((time.perf_counter() - t) / iters)
    cpu = (time.thread_time() - cpu0) / (len(runs) * iters)
    return statistics.median(runs), cpu


def report(batch, threads, timing):
    t, cpu = timing
    # The calling thread's CPU time only means something when it did all the work.
    cpu = cpu if threads == 1 else None
    print(json.dumps({
        "impl": "pytorch", "batch": batch, "threads": threads,
        "us_per_call": t * 1e6, "us_per_sample": t * 1e6 / batch, "samples_per_s": batch / t,
        "cpu_us_per_call": cpu and cpu * 1e6, "cpu_us_per_sample": cpu and cpu * 1e6 / batch,
        "version": torch.__version__,
    }), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference_dir")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    d = args.reference_dir
    model = HanNet(load_file(f"{d}/hannet-reference.safetensors")).eval()
    x = torch.from_numpy(np.loadtxt(f"{d}/testset.csv", delimiter=",", skiprows=1, dtype=np.float32)[:, :2].copy())
    expected = np.loadtxt(f"{d}/expected_test_outputs.csv", delimiter=",", skiprows=1, dtype=np.float32)
    n = x.shape[0]
    with torch.inference_mode():
        worst = float(np.abs(model(x).numpy() - expected).max())
        print(f"{n} test points; PyTorch {torch.__version__} vs expected outputs: largest difference {worst:.2e}; "
              f"threads: {torch.get_num_threads()}", file=sys.stderr)
        if worst > 1e-4:
            sys.exit("the PyTorch model does not reproduce the expected outputs")
        rows = [x[i:i + 1] for i in range(n)]
        state = {"i": 0}

        def one():
            model(rows[state["i"]])
            state["i"] = (state["i"] + 1) % n

        report(1, args.threads, measure(args.seconds, one))
        report(n, args.threads, measure(args.seconds, lambda: model(x)))


if __name__ == "__main__":
    main()
