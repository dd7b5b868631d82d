#!/usr/bin/env bash
# Retrains every zoo entry in weights/ with its exact recipe, then regenerates RESULTS.md.
#
#   bash scripts/train-zoo.sh                  # all 12 models, then RESULTS.md
#   bash scripts/train-zoo.sh hannet-digits    # only the named models, then RESULTS.md
#   HAN_ZOO_DIR=/tmp/zoo bash scripts/train-zoo.sh   # write the folders elsewhere
#
# Each model is trained by `han-zoo train` (the command and seed land on its card) and logged
# to runs/<name>.log. Models run one after another, cheapest first. The datasets must be in
# data/ (`han-zoo data fetch`, as scripts/test.sh does). Set RAYON_NUM_THREADS to the number
# of cores to give the trainer (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-$(nproc)}
export CI=${CI:-true}   # one line per epoch in the logs instead of a progress bar

# HAN_ZOO_BIN=path/to/han-zoo skips the build and uses that binary.
zoo=${HAN_ZOO_BIN:-target/release/han-zoo}
[ -n "${HAN_ZOO_BIN:-}" ] || cargo build --release --locked -p han-models --bin han-zoo
mkdir -p runs

# name, then the han-zoo train arguments. The seed is explicit on every line.
recipe() {
  case "$1" in
    # The paper's stylized problem: AdamW lr 5e-3, batch 64, 1,500 epochs with two x0.1 steps;
    # 10 % of the 1,640 training points held out for validation and the epoch chosen on it
    # (the test split is never looked at before the final number). Seed 0 is the first seed
    # tried with this recipe; other seeds land lower (see scripts/results-notes.md).
    hannet-checkerboard) echo --arch hannet-checkerboard --dataset checkerboard --optimizer adamw --lr 0.005 --batch-size 64 --epochs 1500 --milestones 1000,1300 --seed 0 ;;
    fcnet-checkerboard)  echo --arch fcnet --hidden 100,100,100,100,100,100 --dataset checkerboard --optimizer sgd --loss mse --lr 0.05 --batch-size 64 --epochs 1500 --milestones 800,1200 --val-fraction 0 --seed 0 ;;
    hannet-digits)   echo --arch hannet --width 64 --depth 8 --dataset digits --lr 1e-3 --epochs 200 --milestones 120,170 --seed 0 ;;
    fcnet-digits)    echo --arch fcnet --hidden 64,64 --dataset digits --lr 1e-3 --epochs 200 --milestones 120,170 --seed 0 ;;
    hannet-mnist1d)  echo --arch hannet --width 100 --depth 8 --dataset mnist1d --lr 1e-3 --epochs 200 --milestones 120,170 --seed 0 ;;
    fcnet-mnist1d)   echo --arch fcnet --hidden 100,100 --dataset mnist1d --lr 1e-3 --epochs 200 --milestones 120,170 --seed 0 ;;
    hannet-mnist)    echo --arch hannet --width 256 --depth 4 --dataset mnist --lr 1e-3 --epochs 12 --milestones 7,10 --seed 0 ;;
    fcnet-mnist)     echo --arch fcnet --hidden 256,128,100 --dataset mnist --lr 1e-3 --epochs 12 --milestones 7,10 --seed 0 ;;
    hannet-fashion)  echo --arch hannet --width 256 --depth 4 --dataset fashion --lr 1e-3 --epochs 12 --milestones 7,10 --seed 0 ;;
    fcnet-fashion)   echo --arch fcnet --hidden 256,128,100 --dataset fashion --lr 1e-3 --epochs 12 --milestones 7,10 --seed 0 ;;
    hanconv-mnist)   echo --arch hanconv --channels 8,16 --width 64 --depth 2 --dataset mnist --lr 2e-3 --epochs 3 --milestones 2 --seed 0 ;;
    hanconv-fashion) echo --arch hanconv --channels 16,32 --width 64 --depth 2 --dataset fashion --lr 2e-3 --epochs 6 --milestones 3,5 --gamma 0.3 --seed 0 ;;
    *) echo "unknown zoo entry: $1" >&2; return 1 ;;
  esac
}

ALL=(hannet-checkerboard fcnet-checkerboard hannet-digits fcnet-digits hannet-mnist1d fcnet-mnist1d
     hannet-mnist fcnet-mnist hannet-fashion fcnet-fashion hanconv-mnist hanconv-fashion)
names=("$@")
((${#names[@]})) || names=("${ALL[@]}")

started=$(date +%s)
for name in "${names[@]}"; do
  args=$(recipe "$name")
  echo "==> $name ($(date +%H:%M:%S)): han-zoo train $args --name $name"
  # shellcheck disable=SC2086  # the recipe is a list of words
  "$zoo" train $args --name "$name" >"runs/$name.log" 2>&1 || { tail -5 "runs/$name.log"; exit 1; }
  tail -1 "runs/$name.log"
done
total=$(( $(date +%s) - started ))
echo "trained ${#names[@]} models in ${total} s"

extra=(--machine "$(nproc) cores ($(uname -m)), RAYON_NUM_THREADS=$RAYON_NUM_THREADS, wall clock as measured by the trainer.")
((${#names[@]} == ${#ALL[@]})) && extra+=(--total-seconds "$total")
python3 scripts/results.py "${extra[@]}"
