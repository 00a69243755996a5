#!/usr/bin/env bash
# node-firewall: install this node's firewall rules and the helper that loads them, then apply (idempotent: the
# chain is refilled in one transaction, the hook stays first in INPUT). With FIREWALL_ENABLED=false: remove them.
# env:    FIREWALL_ENABLED  true|false
#         RULES             this node's rules (iptables-restore input, rendered from templates/firewall/)
#         APPLY             the helper swarm-platform-firewall (rendered)
#         UNIT              the systemd unit re-applying them at boot (rendered; installed where systemd runs)
#         RULES_PATH APPLY_PATH UNIT_PATH  where they go
# stdout: "firewall: applied <n> rules" | "firewall: removed"
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${FIREWALL_ENABLED:?FIREWALL_ENABLED is required}"
: "${RULES_PATH:?RULES_PATH is required}"
: "${APPLY_PATH:?APPLY_PATH is required}"
: "${UNIT_PATH:?UNIT_PATH is required}"

log() { echo "node-firewall: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
has_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; }

# Written next to the target and renamed: a reader (a node starting) never sees half a file.
install_file() { # PATH MODE CONTENT
    install -d -m 0755 "$(dirname "$1")"
    printf '%s' "$3" >"$1.new"
    chmod "$2" "$1.new"
    mv -f "$1.new" "$1"
}

case "$FIREWALL_ENABLED" in
    true)
        : "${RULES:?RULES is required}"
        : "${APPLY:?APPLY is required}"
        command -v iptables-restore >/dev/null 2>&1 || die "iptables is not installed (the Docker engine needs it too)"
        install_file "$APPLY_PATH" 0755 "$APPLY"
        install_file "$RULES_PATH" 0644 "$RULES"
        "$APPLY_PATH" apply
        if has_systemd; then
            : "${UNIT:?UNIT is required}"
            install_file "$UNIT_PATH" 0644 "$UNIT"
            systemctl daemon-reload
            systemctl enable "$(basename "$UNIT_PATH")" >/dev/null 2>&1
        fi
        echo "firewall: applied $(grep -c '^-A ' "$RULES_PATH") rules" >&3
        ;;
    false)
        if has_systemd && [[ -f $UNIT_PATH ]]; then
            systemctl disable "$(basename "$UNIT_PATH")" >/dev/null 2>&1 || true
            rm -f "$UNIT_PATH"
            systemctl daemon-reload
        fi
        if [[ -x $APPLY_PATH ]]; then "$APPLY_PATH" remove; fi
        rm -f "$APPLY_PATH" "$RULES_PATH"
        echo "firewall: removed" >&3
        ;;
    *) die "FIREWALL_ENABLED must be true or false (got '$FIREWALL_ENABLED')" ;;
esac
