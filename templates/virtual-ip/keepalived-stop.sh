#!/usr/bin/env bash
# keepalived-stop: stop keepalived gracefully on a gateway node. SIGTERM makes the master send a priority-0
#   advert, so a backup takes the VIP at once; SIGKILL is never used (it would leave the VIP here too).
# env:    none
# stdout: keepalived: stopped|not-running
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

PIDFILE=/run/keepalived.pid
STOP_TIMEOUT=30

log() { echo "keepalived-stop: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# uses_systemd, running_pid: templates/scripts/lib/keepalived.sh

# Waits until `$1` (a command) fails, at most STOP_TIMEOUT seconds.
wait_until_not() {
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

pid_alive() { kill -0 "$1" 2>/dev/null; }
unit_active() { systemctl is-active --quiet keepalived; }

if uses_systemd && unit_active; then
    log "sending SIGTERM to keepalived (systemd unit)"
    # `systemctl kill` sends exactly SIGTERM; `systemctl stop` would escalate to SIGKILL after its timeout.
    systemctl kill --signal=SIGTERM --kill-who=main keepalived
    wait_until_not unit_active || die "keepalived still running ${STOP_TIMEOUT} s after SIGTERM; not sending SIGKILL"
    systemctl disable keepalived >/dev/null 2>&1 || true
    echo "keepalived: stopped" >&3
    exit 0
fi

pid=$(running_pid)
if [[ -z $pid ]]; then
    echo "keepalived: not-running" >&3
    exit 0
fi
log "sending SIGTERM to keepalived (pid $pid)"
kill -TERM "$pid"
wait_until_not pid_alive "$pid" || die "keepalived (pid $pid) still running ${STOP_TIMEOUT} s after SIGTERM; not sending SIGKILL"
rm -f "$PIDFILE"
echo "keepalived: stopped" >&3
