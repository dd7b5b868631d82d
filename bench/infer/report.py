"""Turns bench-out/infer/results.jsonl (bench/infer/run.sh) into a markdown table and
replaces the `## Zoo: fast inference path` section of FILE (other sections are left as they
are; the section is appended when missing).

    python3 bench/infer/report.py RESULTS.jsonl [--write BENCHMARKS.md]
"""

import argparse
import json
import os
import platform
import re
import subprocess
from collections import defaultdict

SECTION = "## Zoo: fast inference path"
NAMES = {"fastnet": "han FastNet", "candle": "han candle `Sequential`", "pytorch": "PyTorch eager"}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def rustc_version():
    try:
        return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "rustc"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--write")
    args = ap.parse_args()

    # (impl, threads, batch) -> list of (wall us per call, cpu us per call or None), one a round.
    runs = defaultdict(list)
    torch_version = "PyTorch"
    for line in open(args.results):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        runs[(r["impl"], r["threads"], r["batch"])].append((r["us_per_call"], r.get("cpu_us_per_call")))
        if r["impl"] == "pytorch":
            torch_version = f"PyTorch {r['version']}"
    reps = max(len(v) for v in runs.values())
    big = max(b for (_, _, b) in runs)

    def best(impl, threads, batch):
        """Best (smallest) of the rounds' medians, and the matching CPU time."""
        v = runs.get((impl, threads, batch))
        return min(v, key=lambda t: t[0]) if v else None

    keys = sorted({(i, t) for (i, t, _) in runs}, key=lambda k: (list(NAMES).index(k[0]), k[1]))
    torch1 = best("pytorch", 1, 1)
    torch_big = best("pytorch", 1, big)

    def cpu(t):
        return f" ({t[1]:,.2f})" if t and t[1] is not None else ""

    rows = [
        "| implementation | threads | batch 1: µs per sample (CPU) | vs PyTorch | batch 4,921: ms per batch (CPU) | samples/s | vs PyTorch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for impl, threads in keys:
        one, many = best(impl, threads, 1), best(impl, threads, big)
        c1 = f"{one[0]:,.2f}{cpu(one)}" if one else "–"
        s1 = f"{torch1[0] / one[0]:,.0f}x" if one and torch1 else "–"
        cb = f"{many[0] / 1e3:,.3f}{' (' + format(many[1] / 1e3, ',.3f') + ')' if many and many[1] is not None else ''}" if many else "–"
        sps = f"{big / (many[0] / 1e6):,.0f}" if many else "–"
        sb = f"{torch_big[0] / many[0]:,.1f}x" if many and torch_big else "–"
        rows.append(f"| {NAMES.get(impl, impl)} | {threads} | {c1} | {s1} | {cb} | {sps} | {sb} |")
    table = "\n".join(rows)

    fast1, fast_big = best("fastnet", 1, 1), best("fastnet", 1, big)
    verdict = []
    if fast1 and torch1:
        f = torch1[0] / fast1[0]
        verdict.append(
            f"- Batch 1, at least 100x faster than PyTorch eager: **{'met' if f >= 100 else 'missed'}**, "
            f"{f:,.0f}x ({fast1[0]:.2f} µs vs {torch1[0]:,.0f} µs; the issue's earlier PyTorch measurement was 580 µs)."
        )
    if fast_big and torch_big:
        f = torch_big[0] / fast_big[0]
        verdict.append(
            f"- Batch 4,921, faster than PyTorch eager (both on one thread): **{'met' if f > 1 else 'missed'}**, "
            f"{f:,.1f}x ({fast_big[0] / 1e3:.2f} ms vs {torch_big[0] / 1e3:.2f} ms)."
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    body = f"""{SECTION}

The authors' checkerboard HanNet (`FC(2->30)+abs`, `FC(30->30)+abs`, 17 x `Han(30)+abs`,
`FC(30->30)+abs`, `FC(30->2)`: 20 layers, 3,032 parameters), its published weights
(`../shared/reference/checkerboard/hannet-reference.safetensors`), evaluated in process on the
4,921 test points: one point a call (batch 1, cycling through the points) and all of them in
one call. han's fast path (`han_models::fast::FastNet`, what `zoo::Classifier` runs), the same
network on candle (`han_models::sequential::Sequential`), and the authors' model in PyTorch
eager mode under `torch.inference_mode()` (`bench/infer/bench_torch.py`, the same weights read
with the `safetensors` package). Each time is the median of timed runs of about 2 ms over
{int(os.environ.get('SECONDS_EACH', 3))} s, best of {reps} alternating rounds; in parentheses the
CPU time of the calling thread, which leaves out time spent waiting for a core on this shared
machine.

```sh
bash bench/infer/run.sh          # SECONDS_EACH=3 REPS=3 THREADS=1 by default
```

{table}

{chr(10).join(verdict)}

Machine: {cpu_model()}, {os.cpu_count()} CPUs shared with other builds (load average {load:.1f}
at the end of the run); {rustc_version()}, candle 0.11.1; {torch_version} (the PyPI wheel, on
the CPU). FastNet on more threads helps only on a machine with idle cores.
"""
    print(body)
    if args.write:
        try:
            text = open(args.write).read()
        except FileNotFoundError:
            text = "# Benchmarks\n\nEach section comes from the command shown in it.\n"
        pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: body.rstrip("\n") + "\n", text)
        else:
            text = text.rstrip("\n") + "\n\n" + body
        open(args.write, "w").write(text)
        print(f"wrote the section into {args.write}")


if __name__ == "__main__":
    main()
