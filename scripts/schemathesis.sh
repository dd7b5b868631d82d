#!/usr/bin/env bash
# Property-based API tests: schemathesis (PyPI) generates requests from the running server's
# /openapi.json and checks every response (see RELIABILITY.md for the checks and why).
#
#   bash scripts/schemathesis.sh            # 120 s budget
#   HAN_SCHEMATHESIS_SECS=30 bash scripts/schemathesis.sh
#
# Installs schemathesis into bench-out/venv-reliability (git-ignored) on first use, starts
# target/release/han-server (HAN_SERVER_BIN to override) on a free loopback port serving the
# bundled models, and fails when schemathesis reports a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=bench-out/venv-reliability
SECS=${HAN_SCHEMATHESIS_SECS:-120}
OUT=${HAN_RELIABILITY_OUT:-$PWD/bench-out/reliability}
BIN=${HAN_SERVER_BIN:-target/release/han-server}
mkdir -p "$OUT"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "schemathesis: installing $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ -x "$BIN" ] || cargo build --release -p han-server

LOG="$OUT/schemathesis-server.log"
coproc SERVER { HAN_HOST=127.0.0.1 HAN_PORT=0 RUST_LOG=warn HAN_API_KEY= exec "$BIN" 2>"$LOG"; }
SERVER_PID=$SERVER_PID
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
read -r -t 60 line <&"${SERVER[0]}"
ADDR=${line#han-server listening on http://}
case "$ADDR" in 127.0.0.1:*) ;; *) echo "schemathesis: unexpected server output: $line"; exit 1 ;; esac
"$VENV/bin/python" - "$ADDR" <<'PY' || { echo "schemathesis: server not ready"; cat "$LOG"; exit 1; }
import sys, time, urllib.request
for _ in range(600):
    try:
        if urllib.request.urlopen(f"http://{sys.argv[1]}/v2/health/ready", timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
PY

# Checks: all, except
# - positive_data_acceptance: the schema cannot say how many values a model takes (64, 784,
#   ...), so schema-valid bodies of another length are rightly refused with 422;
# - use_after_free, ensure_resource_availability: the API creates and deletes nothing.
set +e
"$VENV/bin/schemathesis" run "http://$ADDR/openapi.json" \
    --checks all \
    --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability \
    --max-time "$SECS" --workers 2 --request-timeout 10 \
    --suppress-health-check all \
    --report junit --report-dir "$OUT/schemathesis" \
    --continue-on-failure
rc=$?
set -e
if grep -q "panicked" "$LOG"; then
    echo "schemathesis: the server log has a panic:"; grep -n "panicked" "$LOG"; rc=1
fi
kill "$SERVER_PID" 2>/dev/null || true
echo "schemathesis: exit $rc (report in $OUT/schemathesis)"
exit $rc
