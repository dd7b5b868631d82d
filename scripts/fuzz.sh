#!/usr/bin/env bash
# cargo-fuzz targets (fuzz/), each for a bounded time; prints executions and crashes per target.
#
#   bash scripts/fuzz.sh              # 60 s a target
#   HAN_FUZZ_SECS=10 bash scripts/fuzz.sh
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); without them it
# says so and exits 0 unless HAN_FUZZ_REQUIRED=1. A crash fails the script and leaves its input
# in fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run <target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${HAN_FUZZ_SECS:-60}
TARGETS=${HAN_FUZZ_TARGETS:-"request_decode router card weights"}
OUT=${HAN_RELIABILITY_OUT:-$PWD/bench-out/reliability}
mkdir -p "$OUT/fuzz"

skip() {
    echo "fuzz: SKIPPED: $1"
    [ "${HAN_FUZZ_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}
cargo +nightly --version >/dev/null 2>&1 || skip "no nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"

cd fuzz
t0=$(date +%s)
cargo +nightly fuzz build 2>&1 | tail -n 3
echo "fuzz: build took $(( $(date +%s) - t0 )) s"
status=0
summary=()
for t in $TARGETS; do
    mkdir -p "corpus/$t"
    log="$OUT/fuzz/$t.log"
    set +e
    cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECS" -print_final_stats=1 -rss_limit_mb=4096 -timeout=10 -max_len=131072 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) 2>/dev/null | wc -l)
    line="$t: ${execs:-?} executions in ${SECS} s, exit $rc, $crashes crash/oom/timeout inputs in fuzz/artifacts/$t"
    echo "fuzz: $line"
    summary+=("$line")
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -m 5 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" || true
    fi
done
printf '%s\n' "${summary[@]}" >"$OUT/fuzz/summary.txt"
exit $status
