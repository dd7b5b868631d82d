"""Turns wrk output (bench/server/run.sh) into a markdown table and writes it into the
`## han-server: HTTP` section of BENCHMARKS.md, leaving every other section alone."""

import re
import sys
from pathlib import Path

raw, out, bench, duration, standins, cpus, torch_version, wrk_version = sys.argv[1:9]
load = sys.argv[9] if len(sys.argv) > 9 else ""


def ms(v: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x, unit = float(m.group(1)), m.group(2)
    return x / 1000 if unit == "us" else x * 1000 if unit == "s" else x


rows = []
for block in open(raw).read().split("== ")[1:]:
    head, _, body = block.partition("\n")
    label, c = head.rsplit(" c=", 1)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", body).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", body).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", body).group(1))
    total = int(re.search(r"(\d+) requests in", body).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", body)) else 0
    sock = sum(map(int, m.groups())) if (m := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", body)) else 0
    rows.append((label, int(c), rps, p50, p99, total, non2xx + sock))

by = {(l, c): (r, p50, p99) for l, c, r, p50, p99, _, _ in rows}
lines = [
    "| server | model | conns | req/s | p50 ms | p99 ms | requests | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
]
for label, c, rps, p50, p99, total, err in sorted(rows, key=lambda r: (r[1], r[0])):
    server, _, model = label.partition(" hannet")
    model = ("hannet" + model) if model else "-"
    lines.append(f"| {server} | {model} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {total:,} | {err} |")

goals = []
for model in ("hannet-checkerboard", "hannet-mnist"):
    han = by.get((f"han-server {model}", 64))
    empty = by.get(("empty axum handler", 64))
    py = by.get((f"FastAPI+PyTorch {model}", 64))
    if han and empty and py:
        ok = lambda b: "**met**" if b else "**not met**"
        goals.append(
            f"- {model}, 64 connections: {han[0] / empty[0]:.0%} of the empty handler's rate (goal >= 50 %: {ok(han[0] >= 0.5 * empty[0])}), "
            f"{han[0] / py[0]:.1f}x the FastAPI server (goal >= 10x: {ok(han[0] >= 10 * py[0])}), "
            f"p99 {han[2]:.2f} ms (goal <= 5 ms: {ok(han[2] <= 5)})."
        )
errors = sum(r[6] for r in rows)
note = (
    f"Stand-ins with the zoo architecture and random weights were used for: {standins} (trained weights were not there)."
    if standins.strip()
    else "The bundled zoo models were used."
)
section = "\n".join(
    [
        "## han-server: HTTP",
        "",
        "Batch-1 JSON `POST /v1/models/{name}/predict` on loopback; wrk "
        f"({wrk_version}, 1 thread) for {duration} per point after a 1 s warm-up, one run side by side: "
        "han-server (defaults: 2 HTTP workers, no queue delay), an empty axum handler on the same runtime "
        "(`han-server/examples/empty.rs`, the ceiling), and FastAPI + uvicorn (1 worker) + PyTorch "
        f"{torch_version} serving the same model folders (`bench/server/fastapi_server.py`). "
        f"{note} The machine has {cpus} CPUs shared by the load generator and the servers, so "
        "every number here is lower than on a machine where they run apart"
        + (f" (1-minute load average {load}, from other work on the machine)." if load else "."),
        "",
        "```",
        "bash bench/server/run.sh",
        "```",
        "",
        *lines,
        "",
        *goals,
        f"- Errors (non-2xx and socket errors) over all runs: {errors}.",
        "",
    ]
)
Path(out).write_text(section)

path = Path(bench)
text = path.read_text() if path.exists() else "# Benchmarks\n\nEach section comes from the command shown in it.\n"
pattern = re.compile(r"^## han-server: HTTP\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda _: section + "\n", text)
else:
    text = text.rstrip("\n") + "\n\n" + section
path.write_text(text)
