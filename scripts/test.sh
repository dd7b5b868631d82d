#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs through the ordinary
# package clients, fetches the datasets into data/, then runs every test.
#
#   bash scripts/test.sh            # everything
#   HAN_TEST_QUICK=1 bash scripts/test.sh   # skip the browser and Docker image tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# candle re-reads /proc/cpuinfo on every matmul unless this is set (see DEVELOPERS notes).
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-$(nproc)}

step() { printf '\n==> %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "system packages"
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  else
    echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) and rerun" >&2
    exit 1
  fi
fi

step "build (release)"
cargo build --release --workspace --all-targets --locked

step "datasets"
cargo run --release --locked -p han-models --bin han-zoo -- data fetch

step "rust tests"
cargo test --release --workspace --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --release --workspace --no-deps --locked

step "docker/: Dockerfile lint and manifest validation (offline)"
bash docker/validate.sh

step "reliability suite, bounded (RELIABILITY.md has the full run)"
HAN_RELIABILITY_QUICK=1 bash scripts/reliability.sh

if [ -z "${HAN_TEST_QUICK:-}" ]; then
  step "demo page in headless Chromium"
  bash tests-browser/run.sh
  step "Docker image: build, run on loopback, compare answers, drain (needs root for dockerd)"
  bash docker/test-image.sh
fi

step "all tests passed"
