#!/usr/bin/env bash
# node-settle: wait until a (re)built node is back at work (runs on the bootstrap manager): Ready, and every task
#   the swarm placed on it (the gateway's, on a gateway node) running and healthy. The next node of a rollout is
#   drained only after this, so a rebuilt node image reaches the nodes one at a time.
# env:    NODE_ID          swarm node id
#         MEMBER_NAME      the node's name in the stack (for messages)
#         WAIT_TASKS       optional: false = wait for Ready only (the node's drain step, before its tasks can start)
#         SETTLE_SECONDS   optional: extra seconds once its tasks run (a gateway node's VRRP check turning healthy)
#         DRAIN_TIMEOUT    optional: seconds to wait (default 120)
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
    sleep 1
done
# Tasks desired on the node that are not Running yet (a healthchecked task is Running only once healthy).
pending() {
    docker node ps "$NODE_ID" --filter desired-state=running --format '{{.Name}} {{.CurrentState}}' | awk '$2 != "Running"'
}
while [[ ${WAIT_TASKS:-true} == true && -n $(pending) ]]; do
    ((SECONDS < deadline)) || die "tasks not running after ${DRAIN_TIMEOUT:-120} s: $(pending | paste -sd, -)"
    sleep 1
done
sleep "${SETTLE_SECONDS:-0}"
log "back at work: $(docker node ps "$NODE_ID" --filter desired-state=running --format '{{.Name}}' | paste -sd, -)"
echo "node-settle: ready" >&3
