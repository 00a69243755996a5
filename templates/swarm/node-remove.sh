#!/usr/bin/env bash
# node-remove: take a node out of the swarm for good (runs on the bootstrap manager, as the delete of the node's
#   drain step: before the node's container or host goes, also when it is rebuilt).
#   Drains it and waits (bounded) until its tasks run, healthy, on other nodes; demotes it if it is a manager;
#   then removes it. With KEEP_IN_SWARM=true (the bootstrap manager, whose container is replaced keeping its
#   data) it is only drained: it comes back with its swarm state and the program makes it active again.
# env:    NODE_ID        swarm node id; when unset, the node whose address is MEMBER_ADDR
#         MEMBER_NAME    the member node's name in the stack (for messages; NODE_NAME is the manager running this)
#         MEMBER_ADDR    optional: the member node's address, to find it when its id is not known
#         KEEP_IN_SWARM  optional: true = drain only
#         DRAIN_TIMEOUT  optional: seconds (default 120)
# stdout: node-remove: removed|drained|absent
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${MEMBER_NAME:?MEMBER_NAME is required}"

log() { echo "node-remove ($MEMBER_NAME): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# drain_and_wait, node_write: templates/swarm/node-drain-lib.sh

# The swarm node whose address (or manager address) is $1; nothing when there is none.
node_by_address() {
    local ids
    mapfile -t ids < <(docker node ls -q)
    ((${#ids[@]})) || return 0
    docker node inspect --format '{{.ID}} {{.Status.Addr}} {{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{end}}' "${ids[@]}" |
        awk -v a="$1" '$2 == a || index($3, a ":") == 1 { print $1; exit }'
}

if [[ -z ${NODE_ID:-} && -n ${MEMBER_ADDR:-} ]]; then
    NODE_ID=$(node_by_address "$MEMBER_ADDR")
    if [[ -z $NODE_ID ]]; then
        log "no swarm node has address $MEMBER_ADDR"
        echo "node-remove: absent" >&3
        exit 0
    fi
fi
[[ -n ${NODE_ID:-} ]] || die "NODE_ID or MEMBER_ADDR is required"

[[ $NODE_ID =~ ^[a-z0-9]+$ ]] || die "NODE_ID '$NODE_ID' is not a swarm node id"

if [[ $(docker info --format '{{.Swarm.LocalNodeState}}') != active ]]; then
    log "this manager is in no swarm: nothing to remove"
    echo "node-remove: absent" >&3
    exit 0
fi
if ! docker node inspect "$NODE_ID" >/dev/null 2>&1; then
    log "not in the swarm"
    echo "node-remove: absent" >&3
    exit 0
fi

if [[ ${KEEP_IN_SWARM:-false} == true ]]; then
    drain_and_wait "$NODE_ID" "$MEMBER_NAME"
    echo "node-remove: drained" >&3
    exit 0
fi
[[ $(docker info --format '{{.Swarm.NodeID}}') != "$NODE_ID" ]] || die "refusing to remove the node this script runs on"

if [[ $(docker node inspect --format '{{.Status.State}}' "$NODE_ID") == down ]]; then
    log "is down: its tasks are already rescheduled; not waiting for a drain"
    node_write update --availability drain "$NODE_ID"
else
    drain_and_wait "$NODE_ID" "$MEMBER_NAME"
fi

if [[ $(docker node inspect --format '{{.Spec.Role}}' "$NODE_ID") == manager ]]; then
    log "demoting"
    node_write demote "$NODE_ID"
fi
docker node rm --force "$NODE_ID" >/dev/null
log "removed"
echo "node-remove: removed" >&3
