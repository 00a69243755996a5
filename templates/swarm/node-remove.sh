#!/usr/bin/env bash
# node-remove: take a node out of the swarm for good (runs on the first manager).
#   Drains it, waits (bounded) for its tasks to stop, demotes it if it is a manager, then removes it.
# env:    NODE_ID      swarm node id; when unset, the node whose address is MEMBER_ADDR (delete commands are
#                      plain command lines, so the program passes the address, which it knows without a lookup)
#         MEMBER_NAME  the member node's name in the stack (for messages; NODE_NAME is the manager running this)
#         MEMBER_ADDR  optional: the member node's address, to find it when its id is not known
# stdout: node-remove: removed|absent
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${MEMBER_NAME:?MEMBER_NAME is required}"
DRAIN_TIMEOUT=60

log() { echo "node-remove ($MEMBER_NAME): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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

if ! docker node inspect "$NODE_ID" >/dev/null 2>&1; then
    log "not in the swarm"
    echo "node-remove: absent" >&3
    exit 0
fi
[[ $(docker info --format '{{.Swarm.NodeID}}') != "$NODE_ID" ]] || die "refusing to remove the node this script runs on"

running_tasks() {
    docker node ps "$NODE_ID" --format '{{.CurrentState}}' 2>/dev/null | grep -cE '^(Running|Starting|Preparing|Assigned)' || true
}

log "draining"
docker node update --availability drain "$NODE_ID" >/dev/null
deadline=$((SECONDS + DRAIN_TIMEOUT))
while (($(running_tasks) > 0)); do
    if ((SECONDS >= deadline)); then
        log "WARNING: tasks still running after ${DRAIN_TIMEOUT} s; removing anyway"
        break
    fi
    sleep 2
done

if [[ $(docker node inspect --format '{{.Spec.Role}}' "$NODE_ID") == manager ]]; then
    log "demoting"
    docker node demote "$NODE_ID" >/dev/null
fi
docker node rm --force "$NODE_ID" >/dev/null
log "removed"
echo "node-remove: removed" >&3
