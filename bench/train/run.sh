#!/usr/bin/env bash
# Training throughput of han (candle) vs PyTorch on the CPU, side by side, into BENCHMARKS.md.
#
#   bash bench/train/run.sh
#
# THREADS (default: 1), SECONDS_EACH (6), REPS (2) and VENV (bench-out/venv-torch)
# may be set. PyTorch comes from PyPI into a virtual environment under bench-out/ (git-ignored)
# the first time; later runs reuse it. Takes about 2 minutes after that.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-1}
SECONDS_EACH=${SECONDS_EACH:-6}
REPS=${REPS:-2}
VENV=${VENV:-bench-out/venv-torch}
OUT=bench-out/train
mkdir -p "$OUT"

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "installing PyTorch into $VENV (once)..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch
fi
cargo build --release -q -p han-models --bin han-zoo

export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
results="$OUT/results.jsonl"
: > "$results"
for rep in $(seq "$REPS"); do
    for model in checkerboard mnist; do
        echo "rep $rep/$REPS: $model" >&2
        target/release/han-zoo bench-train --model "$model" --batch-size 128 --seconds "$SECONDS_EACH" --json >> "$results"
        "$VENV/bin/python" bench/train/bench_torch.py --model "$model" --batch-size 128 \
            --seconds "$SECONDS_EACH" --threads "$THREADS" >> "$results"
    done
done
python3 bench/train/report.py "$results" --write BENCHMARKS.md
