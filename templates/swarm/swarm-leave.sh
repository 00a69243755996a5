#!/usr/bin/env bash
# swarm-leave: take this node out of its swarm (docker swarm leave --force); fine when it is in none.
#   A manager must be demoted first (node-remove does that) or the swarm may lose its quorum.
# env:    none
# stdout: swarm-leave: left|not-in-swarm
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [[ $state == inactive ]]; then
    echo "swarm-leave: not-in-swarm" >&3
    exit 0
fi
echo "swarm-leave: leaving the swarm (state $state)" >&2
docker swarm leave --force >/dev/null
echo "swarm-leave: left" >&3
