#!/usr/bin/env bash
# Removes the swarm's default ingress network so a custom one (SUBNET) can replace it. Runs on the first manager.
# Refuses while any service publishes ports through the ingress (removing it would cut them off).
# Env: SUBNET. stdout: "ingress: removed" | "ingress: already <SUBNET>" | "ingress: none"
set -euo pipefail

if ! docker network inspect ingress >/dev/null 2>&1; then
    echo "ingress: none"
    exit 0
fi
current="$(docker network inspect ingress --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}')"
if [[ " ${current} " == *" ${SUBNET} "* ]]; then
    echo "ingress: already ${SUBNET}"
    exit 0
fi
publishing="$(docker service ls -q | while read -r id; do
    docker service inspect "$id" --format '{{.Spec.Name}} {{range .Endpoint.Ports}}{{if eq .PublishMode "ingress"}}{{.PublishedPort}} {{end}}{{end}}'
done | awk 'NF > 1 { print $1 }')"
if [[ -n "$publishing" ]]; then
    echo "cannot replace the ingress network: these services publish ingress ports: ${publishing//$'\n'/, }" >&2
    exit 1
fi
# `docker network rm ingress` asks for confirmation on stdin; this script's stdin is the script itself (bash -s), so
# the question must get its answer here, or it reads (and eats) the rest of the script and keeps the network.
printf 'y\n' | docker network rm ingress >/dev/null
for _ in $(seq 30); do
    docker network inspect ingress >/dev/null 2>&1 || { echo "ingress: removed"; exit 0; }
    sleep 1
done
echo "the default ingress network is still present after 30s" >&2
exit 1
