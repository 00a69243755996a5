#!/usr/bin/env bash
# Waits (bounded) until this node's Docker engine answers. Env: DOCKER_WAIT_SECONDS (default 90).
# stdout: "docker: ready <server version>"
set -euo pipefail

wait_seconds="${DOCKER_WAIT_SECONDS:-90}"
deadline=$((SECONDS + wait_seconds))
# Asked every 0.2 s: an engine starts within a second or two, and on a first `up` the swarm's init and the image
# loads wait for this answer (a 1 s poll answered up to a second late). A refused call returns at once.
until version="$(docker version --format '{{.Server.Version}}' 2>/dev/null)"; do
    if ((SECONDS >= deadline)); then
        echo "docker engine did not answer within ${wait_seconds}s" >&2
        docker info >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "docker: ready ${version}"
