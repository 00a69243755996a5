#!/usr/bin/env bash
# keepalived-apply: install the rendered keepalived config and scripts on a gateway node, then reload or
#   start keepalived. The new config is checked with `keepalived -t` first; when it fails, the old files stay.
#   keepalived is reloaded with SIGHUP (graceful) and never killed with SIGKILL (that would leave the VIP
#   on this node as well as on the new master). keepalived and the programs it runs (check and notify scripts)
#   start with an empty environment: the variables below (the VRRP password is in KEEPALIVED_CONF) never reach them.
# env:    KEEPALIVED_CONF  keepalived.conf content
#         CHECK_SCRIPT     check_gateway.sh content
#         NOTIFY_SCRIPT    notify.sh content
#         SCRIPT_USER      the user keepalived runs the scripts as (created when missing)
# stdout: keepalived: unchanged|reloaded|started
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${KEEPALIVED_CONF:?KEEPALIVED_CONF is required}"
: "${CHECK_SCRIPT:?CHECK_SCRIPT is required}"
: "${NOTIFY_SCRIPT:?NOTIFY_SCRIPT is required}"
: "${SCRIPT_USER:?SCRIPT_USER is required}"

KDIR=/etc/keepalived
PIDFILE=/run/keepalived.pid
NOTIFY_STATE_DIR=/run/keepalived # notify.sh writes <instance>.state here, as SCRIPT_USER
FILES=(check_gateway.sh notify.sh keepalived.conf) # scripts first: the new config refers to them

log() { echo "keepalived-apply: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ensure_script_user() {
    id -u "$SCRIPT_USER" >/dev/null 2>&1 && return 0
    log "creating system user $SCRIPT_USER"
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SCRIPT_USER"
    else
        adduser -S -D -H -h /nonexistent -s /sbin/nologin "$SCRIPT_USER"
    fi
}

# enable_script_security: root-owned scripts in a directory nobody else can write to.
prepare_dirs() {
    mkdir -p "$KDIR" "$NOTIFY_STATE_DIR"
    chown root:root "$KDIR"
    chmod 0755 "$KDIR"
    chown "$SCRIPT_USER" "$NOTIFY_STATE_DIR"
    chmod 0755 "$NOTIFY_STATE_DIR"
    # /run is emptied at boot: on a systemd host the state directory comes back before keepalived starts, owned by
    # the script user (otherwise notify could not record a state after a reboot). umask 077 is set by then: 0644.
    if [[ -d /etc/tmpfiles.d ]]; then
        printf 'd %s 0755 %s - -\n' "$NOTIFY_STATE_DIR" "$SCRIPT_USER" >/etc/tmpfiles.d/swarm-platform-keepalived.conf
        chmod 0644 /etc/tmpfiles.d/swarm-platform-keepalived.conf
    fi
}

stage_files() {
    # umask 077 (set below, before anything is written): the config holds the VRRP password and is 0600 from its
    # first byte on; only the scripts are opened up, and they hold no secret.
    printf '%s' "$KEEPALIVED_CONF" >"$stage/keepalived.conf"
    printf '%s' "$CHECK_SCRIPT" >"$stage/check_gateway.sh"
    printf '%s' "$NOTIFY_SCRIPT" >"$stage/notify.sh"
    chmod 0600 "$stage/keepalived.conf"
    chmod 0755 "$stage/check_gateway.sh" "$stage/notify.sh"
}

# keepalived (and, through it, its check and notify scripts) inherits the environment it is started with: start it
# with nothing but PATH, never with this script's variables.
clean_env() {
    env -i PATH="$PATH" "$@"
}

# A keepalived started by an older apply script may still hold these variables (a reload keeps its environment).
# grep reads the whole environment (no -q): one that stops at the first match may end tr with SIGPIPE, and under
# pipefail the match would read as "none" (/proc hands out an environment a page at a time).
inherited_variables() {
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -E '^(KEEPALIVED_CONF|CHECK_SCRIPT|NOTIFY_SCRIPT)=' >/dev/null
}

# keepalived < 2.2.8 kills itself during `-t` when it checks a script run as another user and its parent
# is not a keepalived process (fixed upstream in aae8e910); in a fresh PID namespace its parent pid reads
# as 0, which passes that check. Without unshare, run it directly.
config_test() {
    if unshare -p -f true >/dev/null 2>&1; then
        clean_env unshare -p -f keepalived -t -f "$1"
    else
        clean_env keepalived -t -f "$1"
    fi
}

# Check a copy whose script paths point into the stage dir, so the live files stay untouched until it passes.
validate_staged() {
    local out
    sed "s#$KDIR/#$stage/#g" "$stage/keepalived.conf" >"$stage/test.conf"
    chmod 0600 "$stage/test.conf"
    if ! out=$(config_test "$stage/test.conf" 2>&1); then
        printf '%s\n' "$out" >&2
        die "keepalived -t rejected the new config; the current files stay in place"
    fi
}

files_changed() {
    local f
    for f in "${FILES[@]}"; do
        cmp -s "$stage/$f" "$KDIR/$f" || return 0
    done
    return 1
}

install_staged() {
    local f
    for f in "${FILES[@]}"; do
        chown root:root "$stage/$f"
        mv -f "$stage/$f" "$KDIR/$f"
    done
}

# uses_systemd, running_pid: templates/scripts/lib/keepalived.sh

start_direct() {
    # Nothing runs (running_pid found none): a pid file left by a killed keepalived, its children's beside its own,
    # can name a live process by now, and keepalived then refuses to start ("daemon is already running").
    rm -f "$PIDFILE" "${PIDFILE%/*}"/{vrrp,checkers,bfd}.pid
    # The daemon must hold none of this script's descriptors (stdin, the stderr log, fd 3 = the result): over ssh
    # the session ends only once every holder of its pipes has closed them, so an inherited one hangs the step.
    clean_env keepalived -D -p "$PIDFILE" -f "$KDIR/keepalived.conf" </dev/null >/dev/null 2>&1 3>&-
    local i
    for i in $(seq 1 50); do
        [[ -n $(running_pid) ]] && return 0
        sleep 0.1
    done
    die "keepalived did not start (after $i checks); see its log (syslog)"
}

# SIGTERM (the master hands the VIP over at once), never SIGKILL; bounded.
stop_direct() {
    local i
    kill -TERM "$1"
    for i in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    die "keepalived (pid $1) still running 30 s after SIGTERM; not sending SIGKILL"
}

umask 077
ensure_script_user
prepare_dirs
stage=$(mktemp -d "$KDIR/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # the script user must reach the staged scripts during the check
stage_files
validate_staged

changed=false
if files_changed; then
    install_staged
    changed=true
fi

if uses_systemd; then
    if systemctl is-active --quiet keepalived; then
        if $changed; then
            systemctl reload keepalived
            result=reloaded
        else
            result=unchanged
        fi
    else
        systemctl enable keepalived >/dev/null 2>&1 || true
        systemctl start keepalived
        result=started
    fi
else
    pid=$(running_pid)
    if [[ -n $pid ]] && inherited_variables "$pid"; then
        log "keepalived (pid $pid) was started with this script's variables in its environment: restarting it without them"
        stop_direct "$pid"
        start_direct
        result=restarted
    elif [[ -n $pid ]]; then
        if $changed; then
            kill -HUP "$pid"
            result=reloaded
        else
            result=unchanged
        fi
    else
        start_direct
        result=started
    fi
fi
log "$result"
echo "keepalived: $result" >&3
