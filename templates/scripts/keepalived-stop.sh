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

uses_systemd() {
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 &&
        systemctl cat keepalived.service >/dev/null 2>&1
}

# The main keepalived process: from the pidfile, else the keepalived process whose parent is not keepalived
# (its VRRP child's parent is). Processes in other PID namespaces (containers on this host) are not ours.
running_pid() {
    local pid own parent
    if [[ -r $PIDFILE ]]; then
        pid=$(cat "$PIDFILE")
        if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == keepalived ]]; then
            echo "$pid"
            return 0
        fi
    fi
    own=$(readlink /proc/self/ns/pid)
    for pid in $(pgrep -x keepalived 2>/dev/null || true); do
        [[ $(readlink "/proc/$pid/ns/pid" 2>/dev/null) == "$own" ]] || continue
        parent=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
        [[ $(cat "/proc/$parent/comm" 2>/dev/null) != keepalived ]] || continue
        echo "$pid"
        return 0
    done
}

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
