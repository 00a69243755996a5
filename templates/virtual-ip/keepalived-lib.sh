# shellcheck shell=bash
# Shared by keepalived-apply and keepalived-stop (sent ahead of either by the envelope): how keepalived runs here.
# Reads PIDFILE.

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
