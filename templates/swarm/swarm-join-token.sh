#!/usr/bin/env bash
# swarm-join-token: print the swarm's current join token for one role (runs on the bootstrap manager, right before
#   a node joins). Tokens are read when a node joins, not kept from swarm init: swarm-rotate-tokens replaces them
#   after every join, so a token in the Pulumi state or a log is already void.
# env:    ROLE          manager|worker
#         MEMBER_NAME   the joining node (for messages; with MEMBER_AT, a change re-reads the token before the join)
#         MEMBER_AT     where the program reaches the joining node (its address, or user@host:port over ssh)
# stdout: one JSON line {"token":…} (the program marks it secret and keeps it out of the logs)
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${ROLE:?ROLE is required}"
: "${MEMBER_NAME:?MEMBER_NAME is required}"

log() { echo "swarm-join-token ($MEMBER_NAME): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$ROLE" in manager | worker) ;; *) die "ROLE must be manager or worker (got '$ROLE')" ;; esac
[[ $(docker info --format '{{.Swarm.ControlAvailable}}') == true ]] || die "this node is not an active swarm manager"

token=$(docker swarm join-token -q "$ROLE")
[[ $token =~ ^SWMTKN-[A-Za-z0-9-]+$ ]] || die "unexpected $ROLE join token format (${#token} characters)"
log "read the current $ROLE join token"
printf '{"token":"%s"}\n' "$token" >&3
