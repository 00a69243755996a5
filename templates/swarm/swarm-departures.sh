#!/usr/bin/env bash
# swarm-departures: drain the swarm nodes the stack no longer has, before anything else changes (runs on the
#   bootstrap manager, before every node's firewall: a node's firewall stops accepting a departed node's swarm
#   traffic, so its tasks must already run elsewhere). Managers among them are demoted one at a time. Their removal
#   from the swarm is the delete of their drain step, at the end of the same `up`.
# env:    MEMBER_ADDRS   the addresses of the stack's nodes, one per line
#         DRAIN_TIMEOUT  optional: seconds per node (default 120)
# stdout: swarm-departures: none|drained <names>
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${MEMBER_ADDRS:?MEMBER_ADDRS is required}"

log() { echo "swarm-departures: $*" >&2; }

# drain_and_wait, node_write: templates/swarm/node-drain-lib.sh

if [[ $(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') != "active true" ]]; then
    log "no swarm managed here yet"
    echo "swarm-departures: none" >&3
    exit 0
fi

declare -A planned=()
while IFS= read -r addr; do
    if [[ -n $addr ]]; then planned["$addr"]=1; fi
done <<<"$MEMBER_ADDRS"

departed=()
while read -r id addr state availability role name; do
    [[ -z ${planned[$addr]:-} ]] || continue
    [[ $state != down ]] || continue # already gone: its tasks were rescheduled; the drain step's delete removes it
    if [[ $availability != drain ]]; then drain_and_wait "$id" "$name"; fi
    if [[ $role == manager ]]; then
        log "demoting $name"
        node_write demote "$id"
    fi
    departed+=("$name")
done < <(docker node ls -q | xargs -r docker node inspect --format '{{.ID}} {{.Status.Addr}} {{.Status.State}} {{.Spec.Availability}} {{.Spec.Role}} {{.Description.Hostname}}')

if ((${#departed[@]})); then
    echo "swarm-departures: drained ${departed[*]}" >&3
else
    echo "swarm-departures: none" >&3
fi
