#!/usr/bin/env bash
# Waits (bounded) until this node's Docker engine answers. Env: DOCKER_WAIT_SECONDS (default 90).
# stdout: "docker: ready <server version>"
set -euo pipefail

wait_seconds="${DOCKER_WAIT_SECONDS:-90}"
for _ in $(seq "$wait_seconds"); do
    if version="$(docker version --format '{{.Server.Version}}' 2>/dev/null)"; then
        echo "docker: ready ${version}"
        exit 0
    fi
    sleep 1
done
echo "docker engine did not answer within ${wait_seconds}s" >&2
docker info >&2 || true
exit 1
