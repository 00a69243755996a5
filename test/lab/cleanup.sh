#!/usr/bin/env bash
# Sweeps everything the lab can have left on the host engine (after an interrupted run): the dev stack's node
# containers, volumes and bridge network, the prod-like profile's machines, volumes and network (prod.sh), the gateway images the lab built (the docker provider never deletes a
# built image, not even on destroy), the release tags it made, its state and its saved image copies.
# Only names the lab creates; bounded. Usage: bash test/lab/cleanup.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PREFIXES=(swarm-platform-dev- swarm-platform-prodlab-)
t() { timeout 120 "$@"; }

for PREFIX in "${PREFIXES[@]}"; do
    ids=$(docker ps -aq --filter "name=^/${PREFIX}")
    [[ -z $ids ]] || t docker rm -f -v $ids >/dev/null
    vols=$(docker volume ls -q --filter "name=^${PREFIX}")
    [[ -z $vols ]] || t docker volume rm -f $vols >/dev/null
    nets=$(docker network ls -q --filter "name=^${PREFIX}")
    [[ -z $nets ]] || t docker network rm $nets >/dev/null
done
imgs=$(docker images --format '{{.Repository}}:{{.Tag}}' swarm-platform/gateway)
[[ -z $imgs ]] || t docker rmi $imgs >/dev/null
tags=$(docker images --format '{{.Repository}}:{{.Tag}}' swarm-lab/demo-app | grep -v ':latest$' || true)
[[ -z $tags ]] || t docker rmi $tags >/dev/null
rm -f .lab/state-dev.json .lab/state-dev.json.tmp .lab/state-prod.json .lab/state-prod.json.tmp
rm -rf .lab/prod # the prod-like profile's generated host keys, deploy key and stack file
rm -rf .lab/engine-tls # the client certificates the lab engine wrote for the manager's TLS API
rm -rf .lab/build/images # the saved image copies delivery loads from: every run (and every bench cold up) saves afresh
left=$(for PREFIX in "${PREFIXES[@]}"; do docker ps -aq --filter "name=^/${PREFIX}"; docker volume ls -q --filter "name=^${PREFIX}"; docker network ls -q --filter "name=^${PREFIX}"; done)
if [[ -n $left ]]; then
    echo "lab cleanup: still present: $left" >&2
    exit 1
fi
