#!/usr/bin/env bash
# swarm-join: join this node to the swarm (as worker or manager, by the token); skip if already in it.
# env:    JOIN_TOKEN     worker or manager join token (secret)
#         MANAGER_ADDR   <address>:2377 of a manager
#         ADVERTISE_ADDR address other nodes reach this node on
# stdout: one JSON line {"nodeId":…}
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${JOIN_TOKEN:?JOIN_TOKEN is required}"
: "${MANAGER_ADDR:?MANAGER_ADDR is required}"
: "${ADVERTISE_ADDR:?ADVERTISE_ADDR is required}"

DOCKER_SOCKET=${DOCKER_SOCKET:-/var/run/docker.sock}

log() { echo "swarm-join: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# An active node must belong to this swarm, not to another one: its managers include MANAGER_ADDR.
check_same_swarm() {
    local managers
    managers=$(docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}')
    [[ " $managers " == *" $MANAGER_ADDR "* ]] ||
        die "this node is in another swarm (managers: ${managers:-none}); run swarm-leave first"
}

wait_active() {
    local deadline=$((SECONDS + 60)) state
    while ((SECONDS < deadline)); do
        state=$(swarm_state)
        [[ $state == active ]] && return 0
        sleep 1
    done
    die "the node is still '$state' 60 s after joining"
}

state=$(swarm_state)
case "$state" in
    active)
        check_same_swarm
        log "already in the swarm: not joining again"
        ;;
    inactive)
        log "joining the swarm at $MANAGER_ADDR as $ADVERTISE_ADDR"
        # Through the Engine API with the request on stdin (printf is a builtin): the token is on no command
        # line (the CLI would put it in the process list, on a docker-in-docker host visible to the host too).
        if ! answer=$(printf '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"%s","RemoteAddrs":["%s"],"JoinToken":"%s"}' \
            "$ADVERTISE_ADDR" "$MANAGER_ADDR" "$JOIN_TOKEN" |
            curl -sS --fail-with-body --unix-socket "$DOCKER_SOCKET" -H 'Content-Type: application/json' \
                --data-binary @- http://localhost/swarm/join 2>&1); then
            answer=${answer//"$JOIN_TOKEN"/<token>}
            # The engine gives up waiting after swarm's join deadline (20 s; a manager joining a busy swarm can take
            # longer) and answers 503 while the join goes on in the background: then wait for it like any join.
            [[ $answer == *"Timeout was reached before node joined"* ]] ||
                die "the engine refused to join the swarm at $MANAGER_ADDR: ${answer//$'\n'/ }"
            log "the join goes on in the background after swarm's join deadline: waiting for it"
        fi
        wait_active
        ;;
    pending) wait_active ;;
    locked) die "this node's swarm is locked (autolock): unlock it with 'docker swarm unlock'" ;;
    *) die "unexpected swarm state '$state' on this node" ;;
esac

node_id=$(docker info --format '{{.Swarm.NodeID}}')
[[ $node_id =~ ^[a-z0-9]+$ ]] || die "unexpected node id '$node_id'"
printf '{"nodeId":"%s"}\n' "$node_id" >&3
