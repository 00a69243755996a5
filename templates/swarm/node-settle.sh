#!/usr/bin/env bash
# node-settle: wait until a (re)built node is back at work (runs on the bootstrap manager): Ready, and every task
#   the swarm placed on it (the gateway's, on a gateway node) running and healthy. The next node of a rollout is
#   drained only after this, so a rebuilt node image reaches the nodes one at a time.
#   Then it rebalances: the swarm never moves running tasks, so after a drain elsewhere a release may have all its
#   tasks on one node, and losing that node would stop it. A replicated service (2 or more replicas) that may run
#   here, has no task here and 2 or more on another node gets one replica more (spread places it here) and then
#   its count back (the swarm removes a task from the node with the most).
# env:    NODE_ID          swarm node id
#         MEMBER_NAME      the node's name in the stack (for messages)
#         WAIT_TASKS       optional: false = wait for Ready only (the node's drain step, before its tasks can start)
#         SETTLE_SECONDS   optional: extra seconds once its tasks run (a gateway node's VRRP check turning healthy)
#         GATEWAY_SERVICE  optional: the gateway's service, on a gateway node: its task here is waited for too, unless
#                          it has no routes yet (see below)
#         DRAIN_TIMEOUT    optional: seconds to wait (default 120)
#         REBALANCE        optional: false = no rebalancing (default true when WAIT_TASKS is)
# stdout: node-settle: ready
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${NODE_ID:?NODE_ID is required}"
: "${MEMBER_NAME:?MEMBER_NAME is required}"
[[ $NODE_ID =~ ^[a-z0-9]+$ ]] || { echo "node-settle: NODE_ID '$NODE_ID' is not a swarm node id" >&2; exit 1; }

log() { echo "node-settle ($MEMBER_NAME): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

deadline=$((SECONDS + ${DRAIN_TIMEOUT:-120}))
until [[ $(docker node inspect --format '{{.Status.State}}' "$NODE_ID") == ready ]]; do
    ((SECONDS < deadline)) || die "not Ready after ${DRAIN_TIMEOUT:-120} s"
    sleep 0.2
done
# Tasks desired on the node that are not Running yet (a healthchecked task is Running only once healthy).
# The gateway's task is waited for like any other: the next gateway node of a rollout goes down only once this
# one's gateway serves (a rebuilt gateway node keeps its routes: the docker driver keeps them on a volume, a host on
# its disk). Except on a gateway node with no routes yet (a new one): its gateway exits 78 until the node's routes
# step writes them, and that step waits for the release gates, which wait for the zone's nodes, which wait for
# this step (a cycle that would never resolve).
pending() {
    docker node ps "$NODE_ID" --filter desired-state=running --format '{{.Name}} {{.CurrentState}}' |
        awk -v gateway="${GATEWAY_SERVICE:-}" -v unrouted="$unrouted" '$2 != "Running" { split($1, name, "."); if (!(unrouted && name[1] == gateway)) print }'
}
# The gateway's task here has no routes: its latest finished task on this node exited 78 (newest first per node).
gateway_unrouted() {
    [[ -n ${GATEWAY_SERVICE:-} ]] || return 1
    docker service ps "$GATEWAY_SERVICE" --filter "node=$NODE_ID" --no-trunc --format '{{.DesiredState}}|{{.CurrentState}}|{{.Error}}' 2>/dev/null |
        awk -F'|' '$1 == "Shutdown" { found = ($3 ~ /non-zero exit \(78\)/); exit } END { exit !found }'
}
unrouted=0
# One docker call a poll: the gateway's task history is read only while one of its tasks is among those pending.
while [[ ${WAIT_TASKS:-true} == true ]]; do
    waiting=$(pending)
    [[ -n $waiting ]] || break
    ((SECONDS < deadline)) || die "tasks not running after ${DRAIN_TIMEOUT:-120} s: $(paste -sd, - <<<"$waiting")"
    if ((!unrouted)) && [[ -n ${GATEWAY_SERVICE:-} && $'\n'$waiting == *$'\n'"$GATEWAY_SERVICE".* ]] && gateway_unrouted; then
        unrouted=1
        log "the gateway here has no routes yet (a new gateway node; its routes step comes later): not waited for"
        continue
    fi
    sleep 1
done
sleep "${SETTLE_SECONDS:-0}"

# Does node NODE_ID satisfy every placement constraint of service $1? Understood: node.labels.<key>, node.role,
# node.hostname and node.id with == or !=; a service with any other constraint is left alone.
eligible() {
    local c key op value actual
    while IFS= read -r c; do
        [[ -n $c ]] || continue
        [[ $c =~ ^([A-Za-z0-9._-]+)[[:space:]]*(==|!=)[[:space:]]*(.+)$ ]] || return 1
        key=${BASH_REMATCH[1]} op=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
        case $key in
            node.labels.*) actual=$(docker node inspect --format "{{index .Spec.Labels \"${key#node.labels.}\"}}" "$NODE_ID") ;;
            node.role) actual=$(docker node inspect --format '{{.Spec.Role}}' "$NODE_ID") ;;
            node.hostname) actual=$hostname ;;
            node.id) actual=$NODE_ID ;;
            *) return 1 ;;
        esac
        [[ $actual != "<no value>" ]] || actual=""
        if [[ $op == "==" ]]; then [[ $actual == "$value" ]] || return 1; else [[ $actual != "$value" ]] || return 1; fi
    done < <(docker service inspect --format '{{range .Spec.TaskTemplate.Placement.Constraints}}{{println .}}{{end}}' "$1")
}

converged() {
    local replicas
    replicas=$(docker service ls --filter "name=$1" --format '{{.Name}} {{.Replicas}}' | awk -v s="$1" '$1 == s {print $2; exit}')
    [[ -n $replicas && ${replicas%%/*} == "${replicas#*/}" ]]
}

wait_converged() {
    until converged "$1"; do
        ((SECONDS < deadline)) || die "$1 did not run all its tasks within ${DRAIN_TIMEOUT:-120} s while rebalancing"
        sleep 1
    done
}

rebalanced=()
if [[ ${WAIT_TASKS:-true} == true && ${REBALANCE:-true} == true ]]; then
    hostname=$(docker node inspect --format '{{.Description.Hostname}}' "$NODE_ID")
    for service in $(docker service ls --filter mode=replicated --format '{{.Name}}'); do
        replicas=$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "$service")
        if [[ ! $replicas =~ ^[0-9]+$ ]] || ((replicas < 2)); then continue; fi
        eligible "$service" || continue
        counts=$(docker service ps "$service" --filter desired-state=running --format '{{.Node}}' | sort | uniq -c)
        here=$(awk -v n="$hostname" '$2 == n {print $1}' <<<"$counts")
        most=$(awk 'BEGIN {m = 0} $1 > m {m = $1} END {print m}' <<<"$counts")
        ((${here:-0} == 0 && most >= 2)) || continue
        log "rebalancing $service: one of its $replicas tasks onto $hostname"
        wait_converged "$service"
        docker service scale --detach "$service=$((replicas + 1))" >/dev/null
        wait_converged "$service"
        docker service scale --detach "$service=$replicas" >/dev/null
        wait_converged "$service"
        rebalanced+=("$service")
    done
fi
log "back at work: $(docker node ps "$NODE_ID" --filter desired-state=running --format '{{.Name}}' | paste -sd, -)${rebalanced:+; rebalanced ${rebalanced[*]}}"
echo "node-settle: ready" >&3
