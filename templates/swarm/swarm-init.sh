#!/usr/bin/env bash
# swarm-init: create the swarm on the first manager; on an active manager, keep the swarm as it is.
# env:    ADVERTISE_ADDR                 address other nodes reach this manager on
#         DATA_PATH_PORT                 VXLAN port (fixed at init)
#         DEFAULT_ADDR_POOL              space-separated CIDRs for overlay subnets (fixed at init)
#         DEFAULT_ADDR_POOL_MASK_LENGTH  overlay subnet size (fixed at init)
#         AUTOLOCK                       true|false (converged on every run)
# stdout: exactly one JSON line {"nodeId":…,"managerAddr":"<ADVERTISE_ADDR>:2377","unlockKey":…}
#         (unlockKey is "" without autolock; it appears nowhere else). Join tokens are not printed: each join reads
#         the current one (swarm-join-token), and they are rotated after joins (swarm-rotate-tokens).
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${ADVERTISE_ADDR:?ADVERTISE_ADDR is required}"
: "${DATA_PATH_PORT:?DATA_PATH_PORT is required}"
: "${DEFAULT_ADDR_POOL:?DEFAULT_ADDR_POOL is required}"
: "${DEFAULT_ADDR_POOL_MASK_LENGTH:?DEFAULT_ADDR_POOL_MASK_LENGTH is required}"
: "${AUTOLOCK:?AUTOLOCK is required}"

log() { echo "swarm-init: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$AUTOLOCK" in true | false) ;; *) die "AUTOLOCK must be true or false (got '$AUTOLOCK')" ;; esac

# JSON string: ids, tokens and keys are ASCII; escape the characters JSON cannot hold raw.
json_string() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    [[ $s != *[[:cntrl:]]* ]] || die "unexpected control character in a value"
    printf '"%s"' "$s"
}

init_swarm() {
    local args=(--advertise-addr "$ADVERTISE_ADDR" --data-path-port "$DATA_PATH_PORT"
        --default-addr-pool-mask-length "$DEFAULT_ADDR_POOL_MASK_LENGTH")
    local pool
    for pool in $DEFAULT_ADDR_POOL; do args+=(--default-addr-pool "$pool"); done
    if [[ $AUTOLOCK == true ]]; then args+=(--autolock); fi
    log "initialising a new swarm on $ADVERTISE_ADDR"
    # init prints the join command (with a token) and the unlock key: keep them out of every log.
    docker swarm init "${args[@]}" >/dev/null
}

converge_existing() {
    local control port autolock
    control=$(docker info --format '{{.Swarm.ControlAvailable}}')
    [[ $control == true ]] || die "this node is a worker of an existing swarm, not a manager; run swarm-leave first"
    log "already an active manager: not re-initialising"
    port=$(docker info --format '{{.Swarm.Cluster.DataPathPort}}')
    [[ $port == "$DATA_PATH_PORT" ]] ||
        log "WARNING: the swarm uses data path port $port, not $DATA_PATH_PORT (fixed at init)"
    autolock=$(docker info --format '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}')
    if [[ $autolock != "$AUTOLOCK" ]]; then
        log "setting autolock to $AUTOLOCK"
        docker swarm update --autolock="$AUTOLOCK" >/dev/null # prints the unlock key
    fi
}

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case "$state" in
    inactive) init_swarm ;;
    active) converge_existing ;;
    locked) die "the swarm is locked (autolock): unlock it with 'docker swarm unlock' and the unlock key" ;;
    *) die "unexpected swarm state '$state' on this node" ;;
esac

node_id=$(docker info --format '{{.Swarm.NodeID}}')
unlock_key=""
if [[ $AUTOLOCK == true ]]; then unlock_key=$(docker swarm unlock-key -q); fi

printf '{"nodeId":%s,"managerAddr":%s,"unlockKey":%s}\n' \
    "$(json_string "$node_id")" "$(json_string "$ADVERTISE_ADDR:2377")" "$(json_string "$unlock_key")" >&3
