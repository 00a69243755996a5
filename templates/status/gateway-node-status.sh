#!/usr/bin/env bash
# gateway-node-status: what `npm run status` reads on a gateway node. Read-only: no signal sent, nothing written.
#   keepalived's state per VRRP instance comes from the files its notify script records on every transition
#   (a SIGUSR1 data dump would make keepalived write /tmp/keepalived.data: a side effect on the node, and a format
#   that changes between keepalived versions). Whether keepalived runs is asked separately: a state file outlives
#   a killed keepalived.
# env:    KEEPALIVED_STATE_DIR  where notify.sh records <instance>.state
#         GATEWAY_STATE_DIR     the gateway's state dir (a `draining` file there while it stops)
#         GATEWAY_SERVICE       the gateway's swarm service name
#         HEALTH_SOCKET         the gateway's health socket on this node (in its state dir; no network port answers it)
#         HEALTH_URL            the health URL asked through that socket (what keepalived's check asks)
# stdout: one fact a line:
#           keepalived running|stopped
#           vrrp <instance> <MASTER|BACKUP|FAULT|STOP>
#           address <ipv4>/<prefix> <interface>
#           container <name> <status> <healthy|unhealthy|starting|none>
#           draining yes|no
#           health <HTTP status of HEALTH_URL on HEALTH_SOCKET, 000 without an answer or without the socket>
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${KEEPALIVED_STATE_DIR:?KEEPALIVED_STATE_DIR is required}"
: "${GATEWAY_STATE_DIR:?GATEWAY_STATE_DIR is required}"
: "${GATEWAY_SERVICE:?GATEWAY_SERVICE is required}"
: "${HEALTH_URL:?HEALTH_URL is required}"
: "${HEALTH_SOCKET:?HEALTH_SOCKET is required}"

# shellcheck disable=SC2034 # read by running_pid (keepalived-lib.sh)
PIDFILE=/run/keepalived.pid

# uses_systemd, running_pid: templates/virtual-ip/keepalived-lib.sh
keepalived=stopped
if uses_systemd; then
    if systemctl is-active --quiet keepalived; then keepalived=running; fi
elif [[ -n $(running_pid) ]]; then
    keepalived=running
fi
echo "keepalived $keepalived" >&3

shopt -s nullglob
for file in "$KEEPALIVED_STATE_DIR"/*.state; do
    instance=${file##*/}
    state=$(head -c 32 "$file" | tr -dc 'A-Z')
    echo "vrrp ${instance%.state} ${state:-UNKNOWN}" >&3
done

ip -o -4 addr show | awk '{ print "address", $4, $2 }' >&3

# An engine that does not answer leaves no container line (the gateway then reads as not running here).
ids=$(docker ps -q --filter "label=com.docker.swarm.service.name=$GATEWAY_SERVICE") || ids=""
for id in $ids; do
    docker inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" |
        sed 's#^/##; s#^#container #' >&3 || true # gone since docker ps
done

if [[ -e $GATEWAY_STATE_DIR/draining ]]; then
    echo "draining yes" >&3
else
    echo "draining no" >&3
fi

code=000
if [[ -S $HEALTH_SOCKET ]]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --unix-socket "$HEALTH_SOCKET" "$HEALTH_URL" || true)
fi
echo "health ${code:-000}" >&3
