#!/usr/bin/env bash
# The demo page in real headless Chromium against the real han-server, from a clean state:
# installs Chromium (Debian package) and playwright-core (npm ci) when missing, builds and
# starts the server on a free loopback port, runs demo.test.mjs, stops the server.
#
#   bash tests-browser/run.sh           # screenshots in tests-browser/screenshots/
#   bash tests-browser/run.sh --docs    # also refresh docs/demo.png and docs/demo-checkerboard.png
#
# Exits non-zero when any check fails; the server log is then printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
here="$root/tests-browser"

if [ "${1:-}" = "--docs" ]; then
  export HAN_DOCS=1
  mkdir -p docs
fi

step() { printf '\n--> %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "system packages (chromium, node)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) and rerun" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
/usr/bin/chromium --version

step "playwright-core (npm ci)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

step "build han-server (release)"
cargo build --release --locked -p han-server

step "start han-server on 127.0.0.1"
port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
work=$(mktemp -d)
log="$work/server.log"
HAN_HOST=127.0.0.1 HAN_PORT=$port "$root/target/release/han-server" >"$log" 2>&1 &
server=$!
stop() {
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT

url="http://127.0.0.1:$port/"
ready() { node -e "fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "${url}v2/health/ready"; }
for i in $(seq 240); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "han-server exited before it was ready; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  ready && break
  if [ "$i" = 240 ]; then
    echo "han-server not ready after 120 s; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "ready at $url"

step "browser test"
if ! HAN_URL="$url" node "$here/demo.test.mjs"; then
  echo "--- han-server log (last 60 lines)" >&2
  tail -n 60 "$log" >&2
  exit 1
fi
