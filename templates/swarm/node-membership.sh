#!/usr/bin/env bash
# node-membership: converge one node's role, labels and availability (runs on the first manager).
#   Labels this script set before and no longer desired are removed; the keys it manages are recorded in
#   the label swarm-platform.managed-labels, so labels set by hand are left alone.
# env:    NODE_ID       swarm node id
#         MEMBER_NAME   the member node's name in the stack (for messages; NODE_NAME is the manager running this)
#         ROLE          manager|worker
#         AVAILABILITY  active|pause|drain
#         LABELS        desired labels, one key=value per line
#         DRAIN_TIMEOUT optional: seconds a drain may take (default 120)
#   Setting drain on an active node goes through drain_and_wait (templates/swarm/node-drain-lib.sh): a replicated
#   service whose every running task is on this node (a release's 2 replicas can share a node) gets one more replica
#   elsewhere first, so the drain never stops the last task of anything; then it waits until the work runs elsewhere.
# stdout: one JSON line {"nodeId":…,"labels":{…}} with the node's labels after the change
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${NODE_ID:?NODE_ID is required}"
: "${MEMBER_NAME:?MEMBER_NAME is required}"
: "${ROLE:?ROLE is required}"
: "${AVAILABILITY:?AVAILABILITY is required}"
LABELS="${LABELS-}"
MANAGED_KEY=swarm-platform.managed-labels
READY_TIMEOUT=60

log() { echo "node-membership ($MEMBER_NAME): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$ROLE" in manager | worker) ;; *) die "ROLE must be manager or worker (got '$ROLE')" ;; esac
case "$AVAILABILITY" in active | pause | drain) ;; *) die "AVAILABILITY must be active, pause or drain (got '$AVAILABILITY')" ;; esac
[[ $NODE_ID =~ ^[a-z0-9]+$ ]] || die "NODE_ID '$NODE_ID' is not a swarm node id"

inspect() { docker node inspect --format "$1" "$NODE_ID"; }

# One read gives all the script needs (each docker call costs a tenth of a CPU second, and a cold up makes hundreds):
# state|role|availability|managed labels on the first line, then the node's label keys one per line.
NODE_FORMAT="{{.Status.State}}|{{.Spec.Role}}|{{.Spec.Availability}}|{{index .Spec.Labels \"$MANAGED_KEY\"}}{{println}}{{range \$k, \$v := .Spec.Labels}}{{println \$k}}{{end}}"
declare -A current=()
node_role="" node_availability="" node_managed=""

# Waits until the node is Ready, keeping that read: its role, availability, managed labels and label keys.
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT)) state="" answer key
    while ((SECONDS < deadline)); do
        answer=$(inspect "$NODE_FORMAT" 2>/dev/null || true)
        IFS='|' read -r state node_role node_availability node_managed <<<"${answer%%$'\n'*}"
        if [[ $state == ready ]]; then
            [[ $node_managed != "<no value>" ]] || node_managed=""
            while IFS= read -r key; do
                if [[ -n $key ]]; then current["$key"]=1; fi
            done < <(tail -n +2 <<<"$answer")
            return 0
        fi
        sleep 0.2 # a node that just joined turns Ready within about a second: the chain of membership steps waits on it
    done
    die "node $NODE_ID is not Ready after ${READY_TIMEOUT} s (state: ${state:-unknown})"
}

converge_role() {
    local self
    [[ $node_role == "$ROLE" ]] && return 0
    if [[ $ROLE == manager ]]; then
        log "promoting to manager"
        node_write promote "$NODE_ID"
    else
        self=$(docker info --format '{{.Swarm.NodeID}}')
        [[ $self != "$NODE_ID" ]] || die "refusing to demote the manager this script runs on"
        log "demoting to worker"
        node_write demote "$NODE_ID"
    fi
}

declare -A desired=()

read_desired() {
    local line
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        [[ $line == *=* ]] || die "LABELS line '$line' is not key=value"
        [[ ${line%%=*} != "$MANAGED_KEY" ]] || die "$MANAGED_KEY is reserved"
        desired["${line%%=*}"]="${line#*=}"
    done <<<"$LABELS"
}

# A plain `node update --availability drain` stops the node's tasks before their replacements run.
drain_first() {
    [[ $AVAILABILITY == drain ]] || return 0
    [[ $node_availability != drain ]] || return 0
    # nothing runs there (a node that just joined, managers drained from the start): the update below drains it
    [[ -n $(services_on_node "$NODE_ID") ]] || return 0
    drain_and_wait "$NODE_ID" "$MEMBER_NAME" # fails (set -e) naming what did not move; what still runs keeps running
}

converge_labels_and_availability() {
    local args=() key managed previous=$node_managed
    for key in "${!desired[@]}"; do args+=(--label-add "$key=${desired[$key]}"); done
    for key in ${previous//,/ }; do
        if [[ ! -v "desired[$key]" && -v "current[$key]" ]]; then
            log "removing label $key (no longer desired)"
            args+=(--label-rm "$key")
        fi
    done
    managed=""
    if ((${#desired[@]})); then managed=$(printf '%s\n' "${!desired[@]}" | LC_ALL=C sort | paste -sd, -); fi
    args+=(--label-add "$MANAGED_KEY=$managed" --availability "$AVAILABILITY")
    node_write update "${args[@]}" "$NODE_ID" # tried again when the swarm changed the node meanwhile
}

wait_ready
converge_role
read_desired
drain_first
converge_labels_and_availability

labels=$(inspect '{{json .Spec.Labels}}')
[[ $labels != null ]] || labels="{}"
printf '{"nodeId":"%s","labels":%s}\n' "$NODE_ID" "$labels" >&3
