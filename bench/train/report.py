"""Reads the JSON lines of bench/train/run.sh, prints the table and (with --write FILE)
replaces the `## han-models: training throughput` section of FILE (other sections are
left as they are; the section is appended when missing)."""

import json
import platform
import re
import sys

SECTION = "## han-models: training throughput"


def main():
    path = sys.argv[1]
    write = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--write" else None
    rows = [json.loads(l) for l in open(path) if l.strip()]
    best = {}
    for r in rows:  # best of the repetitions: the least disturbed by other load
        key = (r["model"], r["framework"])
        if key not in best or r["samples_per_s"] > best[key]["samples_per_s"]:
            best[key] = r
    models = [m for m in ("checkerboard", "mnist") if any(k[0] == m for k in best)]
    reps = max(sum(1 for r in rows if (r["model"], r["framework"]) == k) for k in best)
    lines = [
        "| model | params | batch | threads | han (candle) samples/s | PyTorch samples/s | han / PyTorch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    met = True
    torch_version = ""
    for m in models:
        h = next(v for k, v in best.items() if k[0] == m and k[1].startswith("han"))
        t = next(v for k, v in best.items() if k[0] == m and k[1].startswith("PyTorch"))
        torch_version = t["framework"]
        ratio = h["samples_per_s"] / t["samples_per_s"]
        met &= ratio >= 1.0
        name = {"checkerboard": "checkerboard HanNet (2-30-30, 17 x Han(30), 30-30-2)",
                "mnist": "MNIST HanNet (784-64, 8 x Han(64), 64-10)"}[m]
        lines.append(f"| {name} | {h['params']:,} | {h['batch_size']} | {h['threads']} | "
                     f"{h['samples_per_s']:,.0f} ({h['ms_per_step']:.2f} ms/step) | "
                     f"{t['samples_per_s']:,.0f} ({t['ms_per_step']:.2f} ms/step) | {ratio:.2f}x |")
    table = "\n".join(lines)
    verdict = ("**Goal met**: han trains at least as fast as PyTorch on both models." if met else
               "**Goal not met** on every model: see the ratio column (below 1.00x = slower than PyTorch).")
    print(table)
    print(verdict)
    if not write:
        return
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    body = f"""{SECTION}

Training throughput (forward, cross-entropy, backward, SGD step with momentum 0.9) on the CPU,
the same model, batch size, thread count and data shapes in both, measured side by side in
one run. Data: random samples of the right shape (a pool of 1,640 for the checkerboard, 10,000
for MNIST), reshuffled every pass; throughput does not depend on the values. Best of {reps}
alternating runs each, to damp the noise of other load on the machine.

```sh
bash bench/train/run.sh          # THREADS=1 SECONDS_EACH=6 REPS=2 by default
```

{table}

{verdict}

Machine: {cpu}; {torch_version} (the PyPI wheel, run on the CPU). han: candle 0.11.1, the training step of
`han-zoo train` (`han_models::train::Trainer::step`).
"""
    try:
        text = open(write).read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: body.rstrip("\n") + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    open(write, "w").write(text)
    print(f"wrote the section into {write}")


if __name__ == "__main__":
    main()
