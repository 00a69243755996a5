#!/usr/bin/env bash
# Sweeps everything the lab can have left on the host engine (after an interrupted run): the dev stack's node
# containers, volumes and bridge network, the gateway images the lab built (the docker provider never deletes a
# built image, not even on destroy), the release tags it made, its state.
# Only names the lab creates; bounded. Usage: bash test/lab/cleanup.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PREFIX=swarm-platform-dev-
t() { timeout 120 "$@"; }

ids=$(docker ps -aq --filter "name=^/${PREFIX}")
[[ -z $ids ]] || t docker rm -f -v $ids >/dev/null
vols=$(docker volume ls -q --filter "name=^${PREFIX}")
[[ -z $vols ]] || t docker volume rm -f $vols >/dev/null
nets=$(docker network ls -q --filter "name=^${PREFIX}")
[[ -z $nets ]] || t docker network rm $nets >/dev/null
imgs=$(docker images --format '{{.Repository}}:{{.Tag}}' swarm-platform/gateway)
[[ -z $imgs ]] || t docker rmi $imgs >/dev/null
tags=$(docker images --format '{{.Repository}}:{{.Tag}}' swarm-lab/demo-app | grep -v ':latest$' || true)
[[ -z $tags ]] || t docker rmi $tags >/dev/null
rm -f .lab/state-dev.json .lab/state-dev.json.tmp
rm -rf .lab/engine-tls # the client certificates the lab engine wrote for the manager's TLS API
left=$(docker ps -aq --filter "name=^/${PREFIX}"; docker volume ls -q --filter "name=^${PREFIX}"; docker network ls -q --filter "name=^${PREFIX}")
if [[ -n $left ]]; then
    echo "lab cleanup: still present: $left" >&2
    exit 1
fi
