#!/usr/bin/env bash
# swarm-rotate-tokens: replace both join tokens after nodes joined (runs on the bootstrap manager). The tokens the
#   joins used (in the Pulumi state, encrypted) stop working; nodes already in the swarm are not affected, and the
#   next join reads the new token (swarm-join-token).
# env:    JOINED   the swarm node ids of the joined nodes, one per line (a change means a node joined: rotate)
# stdout: swarm-rotate-tokens: rotated
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${JOINED:?JOINED is required}"

log() { echo "swarm-rotate-tokens: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] || die "this node is not an active swarm manager"
for role in worker manager; do
    # -q prints the new token: keep it out of every log.
    docker swarm join-token --rotate -q "$role" >/dev/null
done
log "rotated the worker and manager join tokens after joins of $(grep -c . <<<"$JOINED") node(s)"
echo "swarm-rotate-tokens: rotated" >&3
