#!/usr/bin/env bash
# The image test: builds the han-server image with a real Docker engine, runs it and checks
# it, on a machine where only Debian packages are reachable and no image registry is.
#
#   bash docker/test-image.sh               # as root; from a clean machine or not
#   bash docker/test-image.sh --full-build  # also build the default target (compiles in Docker)
#
# What it does (logs in bench-out/docker/):
#   1. installs docker.io and debootstrap with apt-get if missing; starts dockerd if none is
#      running (no bridge, no iptables changes: everything here uses --network host);
#   2. makes the base image han-local/bookworm-slim with `debootstrap --variant=minbase
#      bookworm` from the machine's own apt mirror, trimmed like debian:bookworm-slim
#      (skipped when the image exists: the cache across runs);
#   3. builds han-server on the host (`cargo build --release -p han-server`) and the image
#      from docker/Dockerfile's runtime-only target `runtime-prebuilt` (the build stage
#      needs a Rust image, which cannot be pulled here; --full-build makes one from the
#      host's toolchain and builds the default target as well);
#   4. runs the image with --network host on a loopback port, read-only, all capabilities
#      dropped, next to the same binary run on the host on another loopback port, and checks:
#      readiness, Docker's HEALTHCHECK, every model's answers equal to the host's, non-root
#      uid, the image size, extra models from a /models mount, and that `docker stop` ends
#      it with exit code 0 within the grace period;
#   5. cleans up: containers, the test image, the host server, and dockerd if it started it.
#      The base image stays (the cache). HAN_IMAGE_TEST_KEEP=1 keeps the image and dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

FULL_BUILD=0
for arg in "$@"; do
    case $arg in
        --full-build) FULL_BUILD=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

WORK=$root/bench-out/docker
BASE_IMAGE=han-local/bookworm-slim
RUST_IMAGE=han-local/rust-bookworm
IMAGE=han-server:image-test
PORT=${HAN_IMAGE_TEST_PORT:-18080}      # the container (host network, loopback)
REF_PORT=${HAN_IMAGE_TEST_REF_PORT:-18081}  # the reference server on the host
DRAIN_MS=5000                           # HAN_SHUTDOWN_GRACE_MS given to the container
STOP_TIMEOUT=15                         # docker stop -t: SIGKILL after this many seconds
MAX_IMAGE_MB=${HAN_IMAGE_TEST_MAX_MB:-200}
NAME=han-image-test-$$
mkdir -p "$WORK"

t_start=$SECONDS
summary=()
step() { printf '\n==> %s (%s, +%ds)\n' "$1" "$(date +%H:%M:%S)" $((SECONDS - t_start)); }
pass() { summary+=("ok    $1"); echo "ok: $1"; }
fail() { summary+=("FAIL  $1"); echo "FAIL: $1" >&2; exit 1; }
timed() { # timed LABEL CMD...: runs CMD, records its duration, returns its status
    local label=$1 t0=$SECONDS rc=0
    shift
    "$@" || rc=$?
    summary+=("time  $label: $((SECONDS - t0)) s")
    return "$rc"
}

started_dockerd=""
ref_pid=""
compose=()
compose_project=""
cleanup() {
    local rc=$?
    set +e
    docker rm -f -v "$NAME" "$NAME-models" "$NAME-cp" >/dev/null 2>&1
    [[ -n $compose_project ]] && "${compose[@]}" down -v >/dev/null 2>&1
    [[ -n $ref_pid ]] && kill "$ref_pid" 2>/dev/null && wait "$ref_pid" 2>/dev/null
    if [[ -z ${HAN_IMAGE_TEST_KEEP:-} ]]; then
        docker image rm -f "$IMAGE" "$IMAGE-full" >/dev/null 2>&1
        if [[ -n $started_dockerd ]]; then
            kill "$started_dockerd" 2>/dev/null
            for _ in $(seq 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
            # dockerd leaves its network namespace mounted; nothing else uses it.
            umount /run/docker/netns/default 2>/dev/null
        fi
    fi
    printf '\n==> summary (%d s in all)\n' $((SECONDS - t_start))
    printf '%s\n' "${summary[@]}"
    ((rc == 0)) && echo "docker/test-image.sh: all checks passed" || echo "docker/test-image.sh: FAILED (rc $rc)"
    exit "$rc"
}
trap cleanup EXIT

apt_install() {
    [[ $(id -u) == 0 ]] || { echo "need root to install $*" >&2; exit 1; }
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -q)
    # Update first when the package lists are missing or stale enough to fail.
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "$@" >>"$WORK/apt.log" 2>&1; then
        "${apt[@]}" update >>"$WORK/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "$@" >>"$WORK/apt.log" 2>&1
    fi
}

# The first Debian mirror that apt on this machine uses for bookworm (not -security), from
# sources.list (one-line style) or sources.list.d/*.sources (deb822 style).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             /(^|\n)Suites:[^\n]*bookworm/ && !/security/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); print u[2]; exit } }' "$f"
    done
}

# --------------------------------------------------------------------------------------
step "docker engine"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
    echo "installing ${need[*]} with apt-get (log: $WORK/apt.log)"
    timed "apt-get install ${need[*]}" apt_install "${need[@]}"
fi
if ! docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: $WORK/dockerd.log)"
    # No default bridge and no iptables rules: this test uses the host network only, and
    # leaves the machine's firewall as it found it.
    dockerd --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$started_dockerd" 2>/dev/null || { tail -20 "$WORK/dockerd.log"; fail "dockerd exited"; }
        sleep 1
    done
    docker info >/dev/null 2>&1 || fail "dockerd did not answer within 60 s (see $WORK/dockerd.log)"
fi
pass "docker engine $(docker version --format '{{.Server.Version}}') answering"

# --------------------------------------------------------------------------------------
step "base image $BASE_IMAGE"
make_rootfs() { # make_rootfs DIR: a minbase bookworm tree from this machine's apt mirror
    local dir=$1 mirror
    command -v debootstrap >/dev/null || apt_install debootstrap
    mirror=$(apt_mirror | awk 'NR == 1')
    [[ -n $mirror ]] || fail "no bookworm mirror found in /etc/apt/sources.list*"
    rm -rf "$dir"
    echo "debootstrap --variant=minbase bookworm (log: $WORK/debootstrap.log)"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
}
slim_rootfs() { # what debian:bookworm-slim leaves out: apt caches and lists, docs, man pages, locales
    local dir=$1
    rm -rf "${dir:?}"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/man/* \
        "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log
    find "$dir"/usr/share/doc -type f ! -name copyright -delete
}
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    pass "$BASE_IMAGE cached ($(docker image inspect --format '{{.Created}}' "$BASE_IMAGE" | cut -c1-19))"
else
    t0=$SECONDS
    make_rootfs "$WORK/rootfs"
    slim_rootfs "$WORK/rootfs"
    tar -C "$WORK/rootfs" -c . | docker import -c 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$WORK/rootfs"
    summary+=("time  debootstrap + import $BASE_IMAGE: $((SECONDS - t0)) s")
    pass "$BASE_IMAGE made ($(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}'))"
fi

# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
step "han-server binary (host build)"
timed "cargo build --release -p han-server" cargo build --release --locked -p han-server
binary=target/release/han-server
[[ -x $binary ]] || fail "$binary missing after the build"
# The image gets a copy without debug info (the release profile keeps line tables, ~90 %
# of the file); .dockerignore lets target/docker/han-server into the build context.
command -v strip >/dev/null || apt_install binutils
mkdir -p target/docker
strip --strip-debug -o target/docker/han-server "$binary"
# The runtime is bookworm (glibc 2.36): the binary must not need a newer glibc.
need_glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "binary: $(du -h "$binary" | cut -f1), without debug info $(du -h target/docker/han-server | cut -f1); needs $need_glibc"
[[ $(printf '%s\n' "$need_glibc" GLIBC_2.36 | sort -V | tail -1) == GLIBC_2.36 ]] ||
    fail "the binary needs $need_glibc, newer than bookworm's GLIBC_2.36"

# --------------------------------------------------------------------------------------
step "models"
# The bundled zoo (weights/) goes into the image. A model folder for the /models mount:
# a copy of the first bundled model, or, while weights/ is still empty, a small
# checkerboard HanNet trained here in a second (then the answers are compared on that).
bundled=$(find weights -mindepth 2 -maxdepth 2 -name config.json 2>/dev/null | wc -l)
rm -rf "$WORK/models" && mkdir -p "$WORK/models"
if ((bundled > 0)); then
    mounted=$(find weights -mindepth 2 -maxdepth 2 -name config.json | sort | awk -F/ 'NR == 1 { print $2 }')
    cp -r "weights/$mounted" "$WORK/models/"
    echo "bundling $bundled model(s) from weights/ ($(du -sh weights | cut -f1)); the /models test uses a copy of $mounted"
else
    echo "weights/ holds no models yet: training a small one for the /models tests"
    cargo build --release --locked -p han-models --bin han-zoo >/dev/null 2>&1 || fail "cargo build han-zoo failed"
    mounted=hannet-checkerboard
    target/release/han-zoo train --arch hannet-checkerboard --dataset checkerboard --epochs 3 \
        --weights-dir "$WORK/models" --no-plots --progress quiet || fail "han-zoo train failed"
fi
# The container runs as uid 10001: what it reads through a mount must be world-readable.
chmod -R u=rwX,go=rX "$WORK/models"

# --------------------------------------------------------------------------------------
step "docker build --target runtime-prebuilt"
build_log=$WORK/build.log
timed "docker build (runtime-prebuilt)" docker build --network host -f docker/Dockerfile \
    --target runtime-prebuilt --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
    --build-arg HAN_SERVER_BINARY=target/docker/han-server -t "$IMAGE" . >"$build_log" 2>&1 ||
    { tail -30 "$build_log"; fail "docker build failed (log: $build_log)"; }
grep -E 'Sending build context' "$build_log" | tail -1 || true
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')
base_mb=$(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%.1f", $1 / 1e6 }')
echo "image $IMAGE: $size_mb MB (base $base_mb MB, server $(du -h target/docker/han-server | cut -f1), weights $(du -sh weights | cut -f1))"
awk -v s="$size_mb" -v m="$MAX_IMAGE_MB" 'BEGIN { exit !(s <= m) }' ||
    fail "image size $size_mb MB over $MAX_IMAGE_MB MB"
pass "image size $size_mb MB (base image $base_mb MB; limit $MAX_IMAGE_MB MB)"

# --------------------------------------------------------------------------------------
wait_ready() { # wait_ready URL SECONDS
    local url=$1 limit=$2 t0=$SECONDS
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/v2/health/ready") == 200 ]]; do
        ((SECONDS - t0 < limit)) || return 1
        sleep 0.2
    done
}
# The reference serves the very files the image holds (copied out of it with docker cp),
# so that models trained into weights/ while the test runs cannot make the lists differ.
# Without bundled models both serve the trained folder: the host through HAN_MODELS_DIR,
# the container through the /models mount.
run_extra=()
((bundled > 0)) || run_extra=(-v "$WORK/models:/models:ro")
start_reference() { # start_reference IMAGE: the host binary on the image's bundled zoo
    if [[ -n $ref_pid ]]; then
        kill "$ref_pid" 2>/dev/null && wait "$ref_pid" 2>/dev/null
        ref_pid=""
    fi
    rm -rf "$WORK/image-weights"
    docker create --name "$NAME-cp" "$1" >/dev/null
    docker cp "$NAME-cp:/opt/han/weights" "$WORK/image-weights"
    docker rm "$NAME-cp" >/dev/null
    local env=(HAN_HOST=127.0.0.1 HAN_PORT="$REF_PORT" HAN_ZOO_DIR="$WORK/image-weights")
    ((bundled > 0)) || env+=(HAN_MODELS_DIR="$WORK/models")
    env -u HAN_MODELS_DIR -u HAN_MODELS_MODE "${env[@]}" "$binary" >"$WORK/reference.log" 2>&1 &
    ref_pid=$!
    wait_ready "http://127.0.0.1:$REF_PORT" 60 ||
        { tail -20 "$WORK/reference.log"; fail "the host server did not become ready"; }
}

step "reference: the same binary on the host, 127.0.0.1:$REF_PORT"
start_reference "$IMAGE"
pass "host server ready, on the $(find "$WORK/image-weights" -mindepth 2 -maxdepth 2 -name config.json | wc -l) model folders copied out of the image"

# --------------------------------------------------------------------------------------
step "docker run --network host, 127.0.0.1:$PORT"
# As in docker/k8s: read-only root, no capabilities, no privilege escalation.
docker run -d --name "$NAME" --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges "${run_extra[@]}" \
    -e HAN_HOST=127.0.0.1 -e HAN_PORT="$PORT" -e HAN_SHUTDOWN_GRACE_MS="$DRAIN_MS" \
    --health-interval 2s --health-start-period 30s \
    "$IMAGE" >/dev/null
t0=$SECONDS
wait_ready "http://127.0.0.1:$PORT" 60 || { docker logs "$NAME" 2>&1 | tail -20; fail "the container did not become ready"; }
pass "container ready after $((SECONDS - t0)) s (GET /v2/health/ready -> 200)"

health=""
for _ in $(seq 30); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$NAME")
    [[ $health == healthy ]] && break
    sleep 1
done
[[ $health == healthy ]] || fail "HEALTHCHECK status '$health' (the bash /dev/tcp probe of /v2/health/live)"
pass "Docker HEALTHCHECK: $health"

uid=$(docker exec "$NAME" id -u)
pid1=$(docker exec "$NAME" cat /proc/1/comm)
[[ $uid != 0 && $pid1 == han-server ]] || fail "uid $uid, PID 1 $pid1"
pass "runs as uid $uid ($(docker exec "$NAME" id -un)), non-root; PID 1 is $pid1 (exec-form entrypoint)"

step "answers: container vs host binary vs pure-Python forward pass"
served_dir=$WORK/image-weights
((bundled > 0)) || served_dir=$WORK/models
python3 docker/tests/compare_servers.py "http://127.0.0.1:$PORT" "http://127.0.0.1:$REF_PORT" "$served_dir" ||
    fail "the container's answers differ"
if ((bundled > 0)); then
    pass "every bundled model's metadata, v1 predict and v2 infer equal the host server's; linear/Han models' = pure-Python forward"
else
    pass "the mounted model's answers equal the host server's and the pure-Python forward (no bundled models yet)"
fi

# --------------------------------------------------------------------------------------
step "docker stop (SIGTERM, drain $DRAIN_MS ms, SIGKILL after $STOP_TIMEOUT s)"
t0=$(date +%s.%N)
docker stop -t "$STOP_TIMEOUT" "$NAME" >/dev/null
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
code=$(docker inspect --format '{{.State.ExitCode}}' "$NAME")
docker logs "$NAME" >"$WORK/container.log" 2>&1
[[ $code == 0 ]] || { tail -20 "$WORK/container.log"; fail "exit code $code after docker stop (0 expected; 137 = killed)"; }
awk -v t="$took" -v m="$STOP_TIMEOUT" 'BEGIN { exit !(t < m) }' || fail "docker stop took $took s"
pass "docker stop: exit code 0 after $took s (SIGKILL would come at $STOP_TIMEOUT s)"
docker rm -v "$NAME" >/dev/null

# --------------------------------------------------------------------------------------
step "a /models mount with HAN_MODELS_MODE=replace"
docker run -d --name "$NAME-models" --network host --read-only --cap-drop ALL \
    -v "$WORK/models:/models:ro" -e HAN_MODELS_MODE=replace \
    -e HAN_HOST=127.0.0.1 -e HAN_PORT="$PORT" "$IMAGE" >/dev/null
wait_ready "http://127.0.0.1:$PORT" 60 || { docker logs "$NAME-models" 2>&1 | tail -20; fail "not ready with /models"; }
served=$(python3 -c 'import sys; sys.path.insert(0, "docker/tests"); import compare_servers as c; print(" ".join(c.model_names(sys.argv[1])))' "http://127.0.0.1:$PORT")
[[ $served == "$mounted" ]] || fail "with only /models/$mounted mounted the server lists: $served"
pass "serves exactly the mounted /models/$mounted"
docker rm -f -v "$NAME-models" >/dev/null

# --------------------------------------------------------------------------------------
step "docker/compose.yaml (its healthcheck, volume and limits; host network instead of ports)"
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
else
    command -v docker-compose >/dev/null || timed "apt-get install docker-compose" apt_install docker-compose
    compose=(docker-compose)
fi
compose_version=$("${compose[@]}" version 2>/dev/null | awk 'NR == 1 { match($0, /[0-9]+(\.[0-9]+)+/); print substr($0, RSTART, RLENGTH) }')
# docker/compose.yaml as users run it, except that the image just built runs on a loopback
# port of the host network (this machine has no bridge): `ports:` dropped (compose rejects
# it next to network_mode: host), and an override file.
awk '/^    ports:/ { skip = 1; next } skip && /^      / { next } { skip = 0; print }' \
    docker/compose.yaml >"$WORK/compose.test.yaml"
printf '%s\n' "services:" "  han-server:" "    image: $IMAGE" "    network_mode: host" \
    "    environment:" "      HAN_HOST: 127.0.0.1" "      HAN_PORT: \"$PORT\"" >"$WORK/compose.override.yaml"
compose+=(-p "han-image-test-$$" --project-directory docker
    -f "$WORK/compose.test.yaml" -f "$WORK/compose.override.yaml")
compose_project=1
"${compose[@]}" up -d --no-build >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up failed"; }
cid=$("${compose[@]}" ps -q han-server)
health=""
for _ in $(seq 45); do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$cid")
    [[ $health == healthy ]] && break
    sleep 1
done
[[ $health == healthy ]] || fail "compose service health '$health' (log: $WORK/compose.log)"
"${compose[@]}" down -v >>"$WORK/compose.log" 2>&1 || fail "compose down failed (log: $WORK/compose.log)"
compose_project=""
pass "compose $compose_version: up, healthy by the compose file's own healthcheck, down"

# --------------------------------------------------------------------------------------
if ((FULL_BUILD)); then
    step "full build: the default target, compiled in Docker with the host's Rust toolchain"
    if ! docker image inspect "$RUST_IMAGE" >/dev/null 2>&1; then
        t0=$SECONDS
        toolchain=$(rustc --print sysroot)
        make_rootfs "$WORK/rust-rootfs"
        # The C toolchain (mimalloc is C), CA certificates for crates.io (the host's bundle,
        # which also trusts whatever this machine's network needs), and the Rust toolchain.
        cp /etc/resolv.conf "$WORK/rust-rootfs/etc/resolv.conf"
        chroot "$WORK/rust-rootfs" apt-get -q update >>"$WORK/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive chroot "$WORK/rust-rootfs" apt-get -q install -y --no-install-recommends \
            gcc libc6-dev ca-certificates >>"$WORK/apt.log" 2>&1 || fail "apt-get in the Rust rootfs failed"
        cp /etc/ssl/certs/ca-certificates.crt "$WORK/rust-rootfs/etc/ssl/certs/ca-certificates.crt"
        mkdir -p "$WORK/rust-rootfs/usr/local/rust" "$WORK/rust-rootfs/usr/local/cargo"
        cp -a "$toolchain/bin" "$toolchain/lib" "$WORK/rust-rootfs/usr/local/rust/"
        slim_rootfs "$WORK/rust-rootfs"
        tar -C "$WORK/rust-rootfs" -c . | docker import \
            -c 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            -c 'ENV CARGO_HOME=/usr/local/cargo' - "$RUST_IMAGE" >/dev/null
        rm -rf "$WORK/rust-rootfs"
        summary+=("time  make $RUST_IMAGE: $((SECONDS - t0)) s")
    fi
    pass "$RUST_IMAGE: $(docker run --rm --network host "$RUST_IMAGE" rustc --version)"
    timed "docker build (default target, full compile)" docker build --network host -f docker/Dockerfile \
        --build-arg RUST_IMAGE="$RUST_IMAGE" --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
        -t "$IMAGE-full" . >"$WORK/build-full.log" 2>&1 ||
        { tail -30 "$WORK/build-full.log"; fail "full docker build failed (log: $WORK/build-full.log)"; }
    start_reference "$IMAGE-full"
    docker run -d --name "$NAME" --network host --read-only --cap-drop ALL "${run_extra[@]}" \
        -e HAN_HOST=127.0.0.1 -e HAN_PORT="$PORT" "$IMAGE-full" >/dev/null
    wait_ready "http://127.0.0.1:$PORT" 60 || { docker logs "$NAME" 2>&1 | tail -20; fail "full-build image not ready"; }
    python3 docker/tests/compare_servers.py "http://127.0.0.1:$PORT" "http://127.0.0.1:$REF_PORT" "$served_dir" ||
        fail "the full-build image's answers differ"
    full_mb=$(docker image inspect --format '{{.Size}}' "$IMAGE-full" | awk '{ printf "%.1f", $1 / 1e6 }')
    pass "full-build image: $full_mb MB, answers equal the host server's"
    docker rm -f -v "$NAME" >/dev/null
fi
