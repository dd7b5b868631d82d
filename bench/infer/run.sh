#!/usr/bin/env bash
# Inference of the authors' checkerboard HanNet (20 layers, width 30, 3,032 parameters), side by
# side in one run: han's fast path (FastNet), the candle Sequential, and PyTorch eager, at batch 1
# (per-sample latency, in process) and on the whole test set (4,921 points, throughput). Writes
# bench-out/infer/results.jsonl and replaces the "## Zoo: fast inference path" section of
# BENCHMARKS.md.
#
#   bash bench/infer/run.sh
#
# SECONDS_EACH (default 3) per measurement, REPS (3) alternating rounds, THREADS (1: the
# threads of PyTorch and candle, and of the single-thread FastNet rows; FastNet's batch row is
# also measured on every core), VENV (bench-out/venv-torch) and REFERENCE
# (../shared/reference/checkerboard) may be set. PyTorch and safetensors come from PyPI into
# the virtual environment (git-ignored) the first time; later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${SECONDS_EACH:-3}
REPS=${REPS:-3}
THREADS=${THREADS:-1}
VENV=${VENV:-bench-out/venv-torch}
REFERENCE=${REFERENCE:-$(cd .. && pwd)/shared/reference/checkerboard}
OUT=bench-out/infer
mkdir -p "$OUT"

if ! "$VENV/bin/python" -c "import torch, safetensors, numpy" 2>/dev/null; then
    echo "installing PyTorch and safetensors into $VENV (once)..." >&2
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check torch safetensors numpy
fi
cargo build --release -q -p han-models --example bench_infer

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
results="$OUT/results.jsonl"
: > "$results"
for rep in $(seq "$REPS"); do
    echo "round $rep/$REPS" >&2
    # Single-thread rows (candle and FastNet on one rayon thread).
    RAYON_NUM_THREADS=$THREADS target/release/examples/bench_infer "$REFERENCE" "$SECONDS_EACH" >> "$results"
    # FastNet's batch split over every core (its batch-1 and candle rows are kept from above).
    target/release/examples/bench_infer "$REFERENCE" "$SECONDS_EACH" --only fastnet-batch >> "$results"
    "$VENV/bin/python" bench/infer/bench_torch.py "$REFERENCE" --seconds "$SECONDS_EACH" --threads "$THREADS" >> "$results"
done
python3 bench/infer/report.py "$results" --write BENCHMARKS.md
