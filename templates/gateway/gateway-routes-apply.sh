#!/usr/bin/env bash
# gateway-routes-apply: write the gateway's routes file on a gateway node and reload the running gateway
#   in place. A release that gains a hostname on this node is probed first from the running gateway, through
#   the path live traffic takes (Docker DNS on the gateway network, the app's port and health path): when it
#   does not answer, nothing is written. The new file is checked inside the running gateway; when the check
#   fails the previous file is restored and nothing is reloaded.
# env:    ROUTES_DIR   host directory of the routes file (bind-mounted at the same path in the gateway)
#         ROUTES_FILE  file name: routes.conf (nginx) or routes.cfg (haproxy)
#         ROUTES       the file's content
#         ENGINE       nginx|haproxy
#         MAIN_CONFIG  path of the engine's main config inside the gateway image (HAProxy checks it with the routes)
#         RELOAD_SIGNAL  the signal the gateway's entrypoint turns into a graceful reload (HUP or USR2)
#         SERVICE      the gateway's swarm service name
#         STATE_DIR    host directory shared by the gateway and keepalived's check (created here)
#         RELOAD_WAIT_SECONDS, RETIRE_WAIT_SECONDS (optional, 15 and 10) how long a reload may take to start a new
#                      worker (else the script fails), and how long the old workers are waited for (then logged)
#         PROC_ROOT    optional: where this node's processes are listed (default /proc; tests give another)
#         SERVED       the routes as lines `hostname service port probe-path app/release`, kept next to the
#                      routes file once applied: what this node serves, to tell which releases gain a hostname
#         SERVED_FILE  that sidecar's file name in ROUTES_DIR
#         PROBE_SECONDS  seconds a gaining release may take to answer its probe
# stdout: routes: unchanged|written|reloaded
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${ROUTES_DIR:?ROUTES_DIR is required}"
: "${ROUTES_FILE:?ROUTES_FILE is required}"
: "${ROUTES?ROUTES is required}"
: "${ENGINE:?ENGINE is required}"
: "${MAIN_CONFIG:?MAIN_CONFIG is required}"
: "${RELOAD_SIGNAL:?RELOAD_SIGNAL is required}"
: "${SERVICE:?SERVICE is required}"
: "${STATE_DIR:?STATE_DIR is required}"
: "${SERVED?SERVED is required}"
: "${SERVED_FILE:?SERVED_FILE is required}"
: "${PROBE_SECONDS:?PROBE_SECONDS is required}"

log() { echo "gateway-routes-apply: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $ROUTES_FILE != */* ]] || die "ROUTES_FILE must be a file name, not a path ('$ROUTES_FILE')"
[[ $SERVED_FILE != */* ]] || die "SERVED_FILE must be a file name, not a path ('$SERVED_FILE')"
[[ $PROBE_SECONDS =~ ^[1-9][0-9]*$ ]] || die "PROBE_SECONDS must be a positive number (got '$PROBE_SECONDS')"
case "$ENGINE" in nginx | haproxy) ;; *) die "ENGINE must be nginx or haproxy (got '$ENGINE')" ;; esac
case "$RELOAD_SIGNAL" in HUP | USR2) ;; *) die "RELOAD_SIGNAL must be HUP or USR2 (got '$RELOAD_SIGNAL')" ;; esac

target="$ROUTES_DIR/$ROUTES_FILE"
previous="$target.prev"

# Writes stdin to $1 through a temporary file in the same directory (rename is atomic).
write_atomically() {
    local tmp
    tmp=$(mktemp "$ROUTES_DIR/.$ROUTES_FILE.XXXXXX")
    cat >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$1"
}

restore_previous() {
    if [[ -f $previous ]]; then
        write_atomically "$target" <"$previous"
    else
        rm -f "$target"
    fi
}

served_file="$ROUTES_DIR/$SERVED_FILE"

# Records what this node serves now (after the routes were applied).
record_served() {
    printf '%s' "$SERVED" | write_atomically "$served_file"
}

# Releases that gain a hostname compared to what this node serves: `service port path app/release hostname`, one
# line per release.
gaining_releases() {
    local now=""
    [[ ! -f $served_file ]] || now=$(cat "$served_file")
    awk 'NR == FNR { if (NF) have[$1 " " $2] = 1; next } NF && !(($1 " " $2) in have) && !seen[$2]++ { print $2, $3, $4, $5, $1 }' \
        <(printf '%s\n' "$now") <(printf '%s\n' "$SERVED")
}

# One probe from gateway container $1 to `http://$2:$3$4` with Host $5: prints the HTTP status or curl's error.
probe_once() {
    docker exec "$1" curl -sS -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: $5" "http://$2:$3$4" 2>&1
}

# Health-gated routes: every release gaining a hostname answers its health path through each running gateway
# container on this node (retried for PROBE_SECONDS: a new service's DNS name appears with its tasks), else fail.
probe_gaining_releases() {
    local container service port path release host answer deadline
    for container in "$@"; do
        while read -r service port path release host; do
            [[ -n $service ]] || continue
            deadline=$((SECONDS + PROBE_SECONDS))
            while :; do
                answer=$(probe_once "$container" "$service" "$port" "$path" "$host") || true
                [[ ! $answer =~ ^[23][0-9][0-9]$ ]] || break
                # Stopped since `docker ps` (swarm replacing the task, as during a gateway update): it carries no
                # traffic to protect, and its successor reads the routes file when it starts.
                if [[ $(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null) != true ]]; then
                    log "gateway container $container stopped while probing release $release: skipped"
                    continue 3
                fi
                ((SECONDS < deadline)) || die "release $release (service $service) does not answer http://$service:$port$path from the gateway in container $container: ${answer:-no answer}; it was to gain $host. The routes are unchanged"
                sleep 1
            done
            log "probed release $release (service $service): $answer from container $container"
        done < <(gaining_releases)
    done
}

validate_in() {
    case "$ENGINE" in
        nginx) docker exec "$1" nginx -t -q ;;
        haproxy) docker exec "$1" haproxy -c -q -f "$MAIN_CONFIG" -f "$target" ;;
    esac
}

mkdir -p "$ROUTES_DIR" "$STATE_DIR"
# The hash of the routes the gateway last loaded: a run that wrote the file but failed to reload is not "done".
stamp="$STATE_DIR/routes.applied"
wanted=$(printf '%s' "$ROUTES" | sha256sum | cut -d' ' -f1)
if [[ -f $target ]] && printf '%s' "$ROUTES" | cmp -s - "$target" && [[ $(cat "$stamp" 2>/dev/null) == "$wanted" ]]; then
    record_served
    echo "routes: unchanged" >&3
    exit 0
fi

# Before anything is written: the releases gaining a hostname answer through the running gateway (none: no probe,
# there is no live traffic on this node to protect).
running=$(docker ps -q --filter "label=com.docker.swarm.service.name=$SERVICE") || die "docker ps failed on this node"
if [[ -n $running ]]; then
    mapfile -t probe_containers <<<"$running"
    probe_gaining_releases "${probe_containers[@]}"
fi

if [[ -f $target ]] && ! printf '%s' "$ROUTES" | cmp -s - "$target"; then
    write_atomically "$previous" <"$target"
    printf '%s' "$ROUTES" | write_atomically "$target"
elif [[ ! -f $target ]]; then
    rm -f "$previous"
    printf '%s' "$ROUTES" | write_atomically "$target"
fi

# Not `mapfile < <(docker ps …)`: a failing docker ps must fail the script, not look like "no gateway here".
ids=$(docker ps -q --filter "label=com.docker.swarm.service.name=$SERVICE") || die "docker ps failed on this node"
containers=()
[[ -z $ids ]] || mapfile -t containers <<<"$ids"
if ((${#containers[@]} == 0)); then
    log "no running $SERVICE task on this node: written, it is read when the gateway starts"
    printf '%s\n' "$wanted" >"$stamp"
    record_served
    echo "routes: written" >&3
    exit 0
fi

for container in "${containers[@]}"; do
    if ! out=$(validate_in "$container" 2>&1); then
        printf '%s\n' "$out" >&2
        restore_previous
        die "$ENGINE rejected the new routes in container $container; the previous routes are restored"
    fi
done
# The engine's workers in a container, read from this node's /proc (PROC_ROOT; the node sees its containers'
# processes) into WORKERS: processes named like the engine whose parent is the engine's master, the child of the
# container's init ($1: its pid here) named like the engine. Only the engine's: the entrypoint's own subshells (its
# DNS watcher) are children of the init, not of the master. No docker call and no fork per read, so the waits below
# poll every 20 ms.
PROC_ROOT=${PROC_ROOT:-/proc}
read_workers() {
    local init=$1 status pid key value name ppid
    local -A names=() parents=()
    WORKERS=()
    for status in "$PROC_ROOT"/[0-9]*/status; do
        name="" ppid=""
        { while IFS=$' \t:' read -r key value _; do
            case $key in Name) name=$value ;; PPid) ppid=$value && break ;; esac
        done <"$status"; } 2>/dev/null || continue # the process ended meanwhile
        pid=${status%/status} && pid=${pid##*/}
        names[$pid]=$name && parents[$pid]=$ppid
    done
    for pid in "${!names[@]}"; do
        ppid=${parents[$pid]}
        if [[ ${names[$pid]} == "$ENGINE" && ${names[$ppid]:-} == "$ENGINE" && ${parents[$ppid]:-} == "$init" ]]; then WORKERS+=("$pid"); fi
    done
}

# A reload has taken effect once a worker started after the signal serves (a config the engine refused to load
# would leave only the old ones); then the old workers finish their requests and retire (bounded: a long request
# may keep one up to the engine's stop timeout; it serves the old routes only on its open connections).
RELOAD_WAIT_SECONDS=${RELOAD_WAIT_SECONDS:-15}
RETIRE_WAIT_SECONDS=${RETIRE_WAIT_SECONDS:-10}
# A pause between two reads: 20 ms for the first second (a reload takes tens of milliseconds), then 100 ms. $1 is
# the centiseconds waited so far; the pause's are added to WAITED.
pause() { if (($1 < 100)); then sleep 0.02 && WAITED=$(($1 + 2)); else sleep 0.1 && WAITED=$(($1 + 10)); fi; }
wait_for_reload() { # $1 = container, $2 = its init's pid on this node, then its workers before the signal
    local container=$1 init=$2 pid count
    local -A before=()
    for pid in "${@:3}"; do before[$pid]=1; done
    WAITED=0
    while :; do
        read_workers "$init"
        count=0
        for pid in "${WORKERS[@]}"; do [[ -v "before[$pid]" ]] || count=$((count + 1)); done
        ((count == 0)) || break
        ((WAITED < RELOAD_WAIT_SECONDS * 100)) || die "$ENGINE in $container started no new worker within ${RELOAD_WAIT_SECONDS}s of the reload signal"
        pause "$WAITED"
    done
    WAITED=0
    while :; do
        read_workers "$init"
        count=0
        for pid in "${WORKERS[@]}"; do [[ ! -v "before[$pid]" ]] || count=$((count + 1)); done
        ((count > 0)) || break
        if ((WAITED >= RETIRE_WAIT_SECONDS * 100)); then
            log "$ENGINE in $container: $count old worker(s) still finishing requests after ${RETIRE_WAIT_SECONDS}s (they take no new connections)"
            break
        fi
        pause "$WAITED"
    done
}

for container in "${containers[@]}"; do
    init=$(docker inspect -f '{{.State.Pid}}' "$container") || die "docker inspect failed for $container"
    [[ $init =~ ^[1-9][0-9]*$ ]] || die "$container has no running process (pid '$init')"
    read_workers "$init"
    for ((i = 0; i < 50 && ${#WORKERS[@]} == 0; i++)); do # a gateway that started a moment ago: its workers come at once
        sleep 0.02
        read_workers "$init"
    done
    ((${#WORKERS[@]})) || die "no $ENGINE worker found in $container (its init: pid $init) under $PROC_ROOT"
    docker kill -s "$RELOAD_SIGNAL" "$container" >/dev/null
    wait_for_reload "$container" "$init" "${WORKERS[@]}"
done
printf '%s\n' "$wanted" >"$stamp"
record_served
log "reloaded $ENGINE in ${containers[*]}"
echo "routes: reloaded" >&3
