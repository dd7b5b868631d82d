#!/usr/bin/env bash
# Runs the README's curl examples against the bundled models and prints them with their real
# output as markdown (paste into han-server/README.md).
#
#   bash han-server/examples/curl.sh > /tmp/examples.md
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p han-server --bin han-server >&2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HAN_PORT=$port RUST_LOG=warn target/release/han-server >/dev/null 2>&1 &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 1 300); do curl -fs "127.0.0.1:$port/v2/health/ready" >/dev/null && break; sleep 0.1; done

show() { # command (uses $H for the host)
  local shown=${1//\$H/localhost:8080}
  printf '```console\n$ %s\n' "$shown"
  local out
  out=$(H="127.0.0.1:$port" bash -c "$1" 2>&1 | sed "s/127.0.0.1:$port/localhost:8080/g")
  printf '%s\n```\n\n' "$out"
}

zero='[[0,0,5,13,9,1,0,0],[0,0,13,15,10,15,5,0],[0,3,15,2,0,11,8,0],[0,4,12,0,0,8,8,0],[0,5,8,0,0,9,8,0],[0,4,11,0,1,12,7,0],[0,2,14,5,10,12,0,0],[0,0,6,13,10,0,0,0]]'
show 'curl -s $H/v2/health/ready'
show 'curl -s $H/v1/models | jq -c ".models[] | {name, classes: .head.classes, params: .params.total, test_accuracy: .metrics.test_accuracy}"'
show "curl -s \$H/v1/models/hannet-digits/predict -H 'content-type: application/json' -d '{\"input\": $zero, \"top_k\": 3}'"
show "curl -s \$H/v1/models/hannet-checkerboard/predict -H 'content-type: application/json' -d '{\"inputs\": [[-0.25, -0.25], [0.25, -0.5]], \"top_k\": 1}'"
show 'curl -s $H/v2/models/hannet-digits | jq -c .'
show "curl -s \$H/v2/models/hannet-digits/infer -H 'content-type: application/json' -d '{\"id\": \"42\", \"inputs\": [{\"name\": \"input\", \"shape\": [1, 8, 8], \"datatype\": \"FP32\", \"data\": $zero}], \"outputs\": [{\"name\": \"probabilities\", \"parameters\": {\"classification\": 2}}]}'"
show "curl -si \$H/v1/models/hannet-checkerboard/predict -H 'content-type: application/json' -H 'x-request-id: demo-1' -d '{\"input\": [0.5, 0.5]}' | tr -d '\r' | grep -iE '^(HTTP|x-)'"
show "curl -s \$H/v1/models/hannet-mnist/predict -H 'content-type: application/json' -d '{\"input\": [1, 2, 3]}'"
show "curl -s \$H/v1/models/resnet50/predict -H 'content-type: application/json' -d '{\"input\": [0, 0]}'"
show 'curl -s $H/metrics | grep -E "^han_requests_total" | head -n 4'
