#!/usr/bin/env bash
# The reliability suite (RELIABILITY.md): bad-input table, faults, load and soak, overload,
# schemathesis, fuzzing. One command:
#
#   bash scripts/reliability.sh                              # full: 10 min soak, 60 s a fuzz target
#   HAN_RELIABILITY_QUICK=1 bash scripts/reliability.sh      # CI: 30 s soak (after 10 s warm-up), 30 s schemathesis, 10 s a fuzz target
#
# Figures land in bench-out/reliability/ (HAN_RELIABILITY_OUT). Fuzzing is skipped with a
# message when the nightly toolchain or cargo-fuzz is missing, and in quick mode also when the
# fuzz targets were never built (fuzz/target absent; HAN_RELIABILITY_FUZZ=1 builds them anyway).
# Quick mode never installs cargo-fuzz; full mode does. Any real failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${HAN_RELIABILITY_QUICK:-0}
export HAN_RELIABILITY_OUT=${HAN_RELIABILITY_OUT:-$PWD/bench-out/reliability}
mkdir -p "$HAN_RELIABILITY_OUT"
if [ "$QUICK" = 1 ]; then
    SOAK=${HAN_SOAK_SECS:-30} WARMUP=${HAN_SOAK_WARMUP_SECS:-10} SCHEMA=${HAN_SCHEMATHESIS_SECS:-30} FUZZ=${HAN_FUZZ_SECS:-10}
    # 30 s is still warm-up for memory (RSS saws ±15 % and climbs for the first minute):
    # only a gross leak fails quick mode; the full run holds the 5 % line.
    export HAN_SOAK_MAX_RSS_GROWTH_PERCENT=${HAN_SOAK_MAX_RSS_GROWTH_PERCENT:-50}
else
    SOAK=${HAN_SOAK_SECS:-600} WARMUP=${HAN_SOAK_WARMUP_SECS:-30} SCHEMA=${HAN_SCHEMATHESIS_SECS:-300} FUZZ=${HAN_FUZZ_SECS:-60}
fi
t0=$(date +%s)
step() { echo; echo "== reliability [$(( $(date +%s) - t0 )) s]: $*"; }
# Runs a command with its whole output in $HAN_RELIABILITY_OUT/<name>.log; prints the lines that
# matter, or the tail of the log and fails.
run() {
    local name=$1; shift
    local log="$HAN_RELIABILITY_OUT/$name.log"
    if "$@" >"$log" 2>&1; then
        grep -E "^(test |bad-input|refused|SIGTERM|trickled|50 requests|a silent|soak|overload|test result)|^ +\"[a-z_0-9]+\": [-0-9.]+,?$" "$log" | cut -c1-160 || true
    else
        tail -n 100 "$log"
        echo "== reliability: FAILED: $name (whole log: $log)"
        exit 1
    fi
}

# One feature set for every step, so the server is built once. The fault-injection hook is
# inert unless HAN_FAULT_PANIC_VALUE is set (only the panic test sets it).
CARGO_TEST=(cargo test --release -p han-server --features fault-injection)

step "build"
run build "${CARGO_TEST[@]}" --no-run --test reliability_bad_input --test reliability_faults --test reliability_soak
run build-bin cargo build --release -p han-server --features fault-injection

step "bad-input table and faults"
run table-and-faults "${CARGO_TEST[@]}" --test reliability_bad_input --test reliability_faults -- --nocapture --test-threads=1

step "load and soak ($SOAK s, 64 connections) and overload burst"
export HAN_SOAK_SECS=$SOAK HAN_SOAK_WARMUP_SECS=$WARMUP
run soak "${CARGO_TEST[@]}" --test reliability_soak -- --ignored --nocapture --test-threads=1

step "schemathesis ($SCHEMA s)"
HAN_SCHEMATHESIS_SECS=$SCHEMA HAN_SERVER_BIN=target/release/han-server bash scripts/schemathesis.sh

step "fuzzing ($FUZZ s a target)"
if [ "$QUICK" = 1 ] && [ "${HAN_RELIABILITY_FUZZ:-0}" != 1 ] && [ ! -d fuzz/target ]; then
    # A cold build of the fuzz targets (candle with sanitizers, nightly) takes far longer than
    # the quick budget; build once with `bash scripts/fuzz.sh` and quick mode fuzzes from then on.
    echo "fuzz: SKIPPED in quick mode: fuzz/target is not built yet (run bash scripts/fuzz.sh once, or set HAN_RELIABILITY_FUZZ=1)"
else
    if [ "$QUICK" != 1 ] && cargo +nightly --version >/dev/null 2>&1 && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
    HAN_FUZZ_SECS=$FUZZ bash scripts/fuzz.sh
fi

step "done in $(( $(date +%s) - t0 )) s; figures in $HAN_RELIABILITY_OUT"
