#!/usr/bin/env bash
# gateway-routes-apply: write the gateway's routes file on a gateway node and reload the running gateway
#   in place. A release that gains a hostname on this node is probed first from the running gateway, through
#   the path live traffic takes (Docker DNS on the gateway network, the app's port and health path): when it
#   does not answer, nothing is written. The new file is checked inside the running gateway; when the check
#   fails the previous file is restored and nothing is reloaded. Probes, check and reload go through one agent
#   per gateway container (one `docker exec` for the whole step; see GATEWAY_AGENT below).
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

# The agent: run in each gateway container on this node through ONE `docker exec` per container and step (its
# session), it answers one line per request line, so the probes, the check and the reload cost no round trip each.
# POSIX sh (the gateway image may have no bash). Requests and answers:
#   probe SERVICE PORT PATH HOST  ->  probe <HTTP status, or curl's error on one line>
#   check                         ->  check ok | check failed <the engine's output on one line>
#   reload NEW_WAIT RETIRE_WAIT   ->  reload ok <old workers still finishing> | reload no-worker | reload no-new-worker
#                                     | reload signal-failed
# A reload signals the container's init (the entrypoint turns it into the engine's graceful reload) and has taken
# effect once a worker started after the signal serves (a config the engine refused to load leaves only the old
# ones); then the old workers finish their requests and retire, waited for at most RETIRE_WAIT seconds (a long
# request may keep one up to the engine's stop timeout; it serves the old routes only on its open connections).
# The engine's workers: processes named like the engine whose parent is its master, the init's child of that name
# (not the entrypoint's own subshells, such as its DNS watcher). /proc is read every 20 ms for a second, then every
# 100 ms. GATEWAY_AGENT_PROC and GATEWAY_AGENT_INIT stand in for /proc and pid 1 in tests only.
read -r -d '' GATEWAY_AGENT <<'AGENT' || true
engine=$1 signal=$2 main=$3 routes=$4
proc=${GATEWAY_AGENT_PROC:-/proc} init=${GATEWAY_AGENT_INIT:-1}
workers() {
    masters="" candidates=""
    for status in "$proc"/[0-9]*/status; do
        name="" ppid=""
        { while IFS=' 	:' read -r key value rest; do
            case $key in Name) name=$value ;; PPid) ppid=$value && break ;; esac
        done <"$status"; } 2>/dev/null || continue
        [ "$name" = "$engine" ] || continue
        pid=${status%/status} && pid=${pid##*/}
        if [ "$ppid" = "$init" ]; then masters="$masters $pid "; else candidates="$candidates $pid:$ppid"; fi
    done
    for c in $candidates; do
        case "$masters" in *" ${c#*:} "*) printf ' %s ' "${c%%:*}" ;; esac
    done
}
pause() { if [ "$waited" -lt 100 ]; then sleep 0.02 && waited=$((waited + 2)); else sleep 0.1 && waited=$((waited + 10)); fi; }
one_line() { tr '\n' ' ' | sed 's/ *$//'; }
while read -r request a b c d; do
    case $request in
        probe) echo "probe $(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 -H "Host: $d" "http://$a:$b$c" 2>&1 | one_line)" ;;
        check)
            if [ "$engine" = nginx ]; then out=$(nginx -t -q 2>&1); else out=$(haproxy -c -f "$main" -f "$routes" 2>&1); fi
            if [ $? -eq 0 ]; then echo "check ok"; else echo "check failed $(printf '%s' "$out" | one_line)"; fi
            ;;
        reload)
            before=$(workers) && waited=0
            while [ -z "$before" ] && [ "$waited" -lt 100 ]; do pause && before=$(workers); done
            if [ -z "$before" ]; then echo "reload no-worker" && continue; fi
            if ! kill -s "$signal" "$init" 2>/dev/null; then echo "reload signal-failed" && continue; fi
            waited=0 fresh=0
            while :; do
                for pid in $(workers); do case "$before" in *" $pid "*) ;; *) fresh=1 ;; esac; done
                [ "$fresh" = 0 ] && [ "$waited" -lt $((a * 100)) ] || break
                pause
            done
            if [ "$fresh" = 0 ]; then echo "reload no-new-worker" && continue; fi
            waited=0
            while :; do
                old=0
                for pid in $(workers); do case "$before" in *" $pid "*) old=$((old + 1)) ;; esac; done
                [ "$old" -gt 0 ] && [ "$waited" -lt $((b * 100)) ] || break
                pause
            done
            echo "reload ok $old"
            ;;
        *) echo "unknown request: $request" ;;
    esac
done
AGENT

# One session per gateway container: the agent behind a pair of FIFOs (requests in, answers out).
sessions=$(mktemp -d)
declare -A TO=() FROM=() AGENT_PIDS=()
close_sessions() {
    local c to from
    for c in "${!TO[@]}"; do
        to=${TO[$c]} from=${FROM[$c]}
        exec {to}>&- {from}<&- # the agent reads the end of its requests and exits
    done
    for c in "${!AGENT_PIDS[@]}"; do wait "${AGENT_PIDS[$c]}" 2>/dev/null || true; done
    rm -rf "$sessions"
}
trap close_sessions EXIT
trap '' PIPE # a session whose container stopped: writing to it fails, it does not kill this script
open_session() { # $1 = container
    local c=$1
    mkfifo "$sessions/$c.in" "$sessions/$c.out"
    (
        # Only its own FIFOs: not this script's result (fd 3), not another session's ends (its agent would not see
        # the end of its requests while this one runs).
        local fd
        exec 3>&-
        for fd in "${TO[@]}" "${FROM[@]}"; do exec {fd}>&-; done
        exec docker exec -i "$c" sh -c "$GATEWAY_AGENT" gateway-agent "$ENGINE" "$RELOAD_SIGNAL" "$MAIN_CONFIG" "$target" \
            <"$sessions/$c.in" >"$sessions/$c.out"
    ) &
    AGENT_PIDS[$c]=$!
    local to from
    exec {to}>"$sessions/$c.in" {from}<"$sessions/$c.out"
    TO[$c]=$to FROM[$c]=$from
}
# Sends request $2 to container $1's agent and reads its answer into ANSWER within $3 seconds; fails when the
# session ended (the container stopped, or docker exec failed) or did not answer in time.
ask() {
    [[ -v "TO[$1]" ]] || open_session "$1"
    ANSWER=""
    printf '%s\n' "$2" 2>/dev/null 1>&"${TO[$1]}" || return 1
    IFS= read -r -t "$3" -u "${FROM[$1]}" ANSWER || return 1
}
# Whether container $1 has stopped (swarm replacing the task, as during a gateway update): it carries no traffic
# to protect, and its successor reads the routes file when it starts.
stopped() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) != true ]]; }

# Health-gated routes: every release gaining a hostname answers its health path through each running gateway
# container on this node (retried for PROBE_SECONDS: a new service's DNS name appears with its tasks), else fail.
probe_gaining_releases() {
    local container service port path release host answer deadline
    for container in "$@"; do
        while read -r service port path release host; do
            [[ -n $service ]] || continue
            deadline=$((SECONDS + PROBE_SECONDS))
            while :; do
                if ! ask "$container" "probe $service $port $path $host" 10; then
                    if stopped "$container"; then
                        log "gateway container $container stopped while probing release $release: skipped"
                        continue 3
                    fi
                    die "no answer from the gateway agent in container $container while probing release $release; the routes are unchanged"
                fi
                answer=${ANSWER#probe }
                [[ ! $answer =~ ^[23][0-9][0-9]$ ]] || break
                ((SECONDS < deadline)) || die "release $release (service $service) does not answer http://$service:$port$path from the gateway in container $container: ${answer:-no answer}; it was to gain $host. The routes are unchanged"
                sleep 1
            done
            log "probed release $release (service $service): $answer from container $container"
        done < <(gaining_releases)
    done
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

# Again after the write: a container that started meanwhile read the file before it changed. Not
# `mapfile < <(docker ps …)`: a failing docker ps must fail the script, not look like "no gateway here".
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

# Checked in every container before any reloads (two containers run during a gateway update).
live=()
for container in "${containers[@]}"; do
    if ! ask "$container" check 60; then
        if stopped "$container"; then
            log "gateway container $container stopped before its check: skipped"
            continue
        fi
        restore_previous
        die "no answer from the gateway agent in container $container to the check; the previous routes are restored"
    fi
    if [[ $ANSWER != "check ok" ]]; then
        printf '%s\n' "${ANSWER#check failed }" >&2
        restore_previous
        die "$ENGINE rejected the new routes in container $container; the previous routes are restored"
    fi
    live+=("$container")
done

RELOAD_WAIT_SECONDS=${RELOAD_WAIT_SECONDS:-15}
RETIRE_WAIT_SECONDS=${RETIRE_WAIT_SECONDS:-10}
for container in "${live[@]}"; do
    if ! ask "$container" "reload $RELOAD_WAIT_SECONDS $RETIRE_WAIT_SECONDS" $((RELOAD_WAIT_SECONDS + RETIRE_WAIT_SECONDS + 10)); then
        if stopped "$container"; then
            log "gateway container $container stopped before its reload: skipped"
            continue
        fi
        die "no answer from the gateway agent in container $container to the reload"
    fi
    case $ANSWER in
        "reload ok 0") ;;
        "reload ok "*) log "$ENGINE in $container: ${ANSWER#reload ok } old worker(s) still finishing requests after ${RETIRE_WAIT_SECONDS}s (they take no new connections)" ;;
        "reload no-new-worker") die "$ENGINE in $container started no new worker within ${RELOAD_WAIT_SECONDS}s of the reload signal" ;;
        "reload no-worker") die "no $ENGINE worker found in $container: is $ENGINE running there?" ;;
        *) die "$ENGINE in $container: the reload signal failed (${ANSWER:-no answer})" ;;
    esac
done
printf '%s\n' "$wanted" >"$stamp"
record_served
log "reloaded $ENGINE in ${live[*]}"
echo "routes: reloaded" >&3
