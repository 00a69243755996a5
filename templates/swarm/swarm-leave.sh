#!/usr/bin/env bash
# swarm-leave: take this node out of its swarm (docker swarm leave --force); fine when it is in none.
#   A manager must be demoted first (node-remove does that) or the swarm may lose its quorum.
#   With BOOTSTRAP=true (the swarm's creator) it leaves only when no other node is left in the swarm: while
#   others are members (its container is being replaced, keeping its data), leaving would strand them.
# env:    BOOTSTRAP  optional: true on the bootstrap manager
# stdout: swarm-leave: left|not-in-swarm|stayed
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [[ $state == inactive ]]; then
    echo "swarm-leave: not-in-swarm" >&3
    exit 0
fi
if [[ ${BOOTSTRAP:-false} == true && $state == active ]]; then
    others=$(docker node ls --format '{{.Self}}' 2>/dev/null | grep -c false || true)
    if ((others > 0)); then
        echo "swarm-leave: $others other nodes are still members: staying (the swarm's state stays on this node's data)" >&2
        echo "swarm-leave: stayed" >&3
        exit 0
    fi
fi
# Task containers still here belong to services being deleted (a destroy): a node that is removed or rebuilt was
# drained first, and a drain that did not complete fails before this. `swarm leave` would wait for each to finish its
# own graceful stop (the gateway's drain: about 10 s per gateway node); nothing is served through them any more.
mapfile -t leftovers < <(docker ps -q --filter label=com.docker.swarm.task.id)
if ((${#leftovers[@]})); then
    echo "swarm-leave: stopping ${#leftovers[@]} task container(s) of deleted services at once" >&2
    docker kill "${leftovers[@]}" >/dev/null 2>&1 || true
fi
echo "swarm-leave: leaving the swarm (state $state)" >&2
docker swarm leave --force >/dev/null
echo "swarm-leave: left" >&3
