#!/usr/bin/env bash
# han-server HTTP benchmark, one run side by side, on loopback with wrk:
#   (a) han-server: batch-1 JSON predict on hannet-checkerboard and hannet-mnist,
#   (b) an empty axum handler (the ceiling: han-server/examples/empty.rs),
#   (c) FastAPI + uvicorn + PyTorch serving the same model folders (fastapi_server.py),
# each at 1, 16 and 64 connections. Writes bench/server/out/results.md and replaces the
# "## han-server: HTTP" section of BENCHMARKS.md.
#
#   bash bench/server/run.sh              # 10 s per point
#   DURATION=5s CONNS="1 64" bash bench/server/run.sh
#
# If weights/hannet-checkerboard or weights/hannet-mnist is missing, a stand-in with the same
# architecture and random weights is written to a temp folder (han-server/examples/bench_models.rs)
# and the table says so. The load generator runs on the same machine as the servers.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
DURATION=${DURATION:-10s}
CONNS=${CONNS:-"1 16 64"}
out=bench/server/out
mkdir -p "$out"
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-1}

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi

cargo build --release --locked -p han-server --bin han-server --example empty --example bench_models

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

standins=()
for m in hannet-checkerboard hannet-mnist; do
  [ -f "weights/$m/config.json" ] || standins+=("$m")
done
mkdir -p "$tmp/models"
if ((${#standins[@]})); then
  target/release/examples/bench_models "$tmp/models" "${standins[@]}"
fi

venv=bench/server/.venv
if ! "$venv/bin/python" -c "import fastapi, uvicorn, torch, safetensors" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check fastapi uvicorn torch safetensors numpy
fi

# Request bodies: one checkerboard point; one 28x28 image of pixel values 0..255.
python3 - "$tmp" <<'PY'
import json, random, sys
random.seed(0)
d = sys.argv[1]
json.dump({"input": [0.3, -0.7]}, open(f"{d}/checker.json", "w"))
json.dump({"input": [random.choice([0, 0, 0, 64, 128, 255]) for _ in range(784)]}, open(f"{d}/mnist.json", "w"))
PY
cat > "$tmp/post.lua" <<'LUA'
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA

wait_up() { # url
  for _ in $(seq 1 600); do
    if curl -fs -o /dev/null -X POST -H 'content-type: application/json' --data @"$tmp/checker.json" "$1"; then return 0; fi
    sleep 0.1
  done
  echo "server at $1 did not come up" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
han_port=$(free_port) empty_port=$(free_port) py_port=$(free_port)
HAN_PORT=$han_port HAN_MODELS_DIR="$tmp/models" RUST_LOG=warn target/release/han-server >"$tmp/han.log" 2>&1 &
pids+=($!)
target/release/examples/empty 127.0.0.1:$empty_port >"$tmp/empty.log" 2>&1 &
pids+=($!)
"$venv/bin/python" bench/server/fastapi_server.py $py_port weights "$tmp/models" >"$tmp/fastapi.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:$han_port/v1/models/hannet-checkerboard/predict
wait_up http://127.0.0.1:$empty_port/v1/models/x/predict
wait_up http://127.0.0.1:$py_port/v1/models/hannet-checkerboard/predict

load_start=$(cut -d' ' -f1 /proc/loadavg)
: >"$out/raw.txt"
run() { # label url body conns
  local label=$1 url=$2 body=$3 c=$4
  echo "== $label c=$c" | tee -a "$out/raw.txt"
  # Warm up, then measure.
  BODY="$tmp/$body" wrk -t1 -c"$c" -d1s -s "$tmp/post.lua" "$url" >/dev/null 2>&1 || true
  BODY="$tmp/$body" wrk -t1 -c"$c" -d"$DURATION" --latency -s "$tmp/post.lua" "$url" | tee -a "$out/raw.txt"
}
for c in $CONNS; do
  run "han-server hannet-checkerboard" http://127.0.0.1:$han_port/v1/models/hannet-checkerboard/predict checker.json "$c"
  run "han-server hannet-mnist" http://127.0.0.1:$han_port/v1/models/hannet-mnist/predict mnist.json "$c"
  run "empty axum handler" http://127.0.0.1:$empty_port/v1/models/x/predict checker.json "$c"
  run "FastAPI+PyTorch hannet-checkerboard" http://127.0.0.1:$py_port/v1/models/hannet-checkerboard/predict checker.json "$c"
  run "FastAPI+PyTorch hannet-mnist" http://127.0.0.1:$py_port/v1/models/hannet-mnist/predict mnist.json "$c"
done

torch_version=$("$venv/bin/python" -c "import torch; print(torch.__version__)")
python3 bench/server/report.py "$out/raw.txt" "$out/results.md" "BENCHMARKS.md" \
  "$DURATION" "${standins[*]:-}" "$(nproc)" "$torch_version" "$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)" \
  "$load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
cat "$out/results.md"
