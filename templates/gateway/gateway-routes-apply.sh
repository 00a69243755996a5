#!/usr/bin/env bash
# gateway-routes-apply: write the gateway's routes file on a gateway node and reload the running gateway
#   in place. A release that gains a hostname on this node is probed first from the running gateway, through
#   the path live traffic takes (Docker DNS on the gateway network, the app's port and health path): when it
#   does not answer, nothing is written. The new file is checked inside the running gateway; when the check
#   fails the previous file is restored and nothing is reloaded. Probes, check and reload go through one agent
#   session per gateway container (gateway-agent.sh): the one the container's entrypoint serves on the FIFO pair
#   kept here, else one `docker exec` for the whole step.
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
#         GATEWAY_AGENT  the agent's script (templates/gateway/gateway-agent.sh), for a gateway that does not serve it
#         AGENT_FIFO     the agent's FIFO pair, AGENT_FIFO.in and AGENT_FIFO.out, in ROUTES_DIR (created here)
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
: "${GATEWAY_AGENT:?GATEWAY_AGENT is required}"
: "${AGENT_FIFO:?AGENT_FIFO is required}"

log() { echo "gateway-routes-apply: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $ROUTES_FILE != */* ]] || die "ROUTES_FILE must be a file name, not a path ('$ROUTES_FILE')"
[[ $SERVED_FILE != */* ]] || die "SERVED_FILE must be a file name, not a path ('$SERVED_FILE')"
[[ $PROBE_SECONDS =~ ^[1-9][0-9]*$ ]] || die "PROBE_SECONDS must be a positive number (got '$PROBE_SECONDS')"
[[ ${AGENT_FIFO%/*} == "$ROUTES_DIR" && ${AGENT_FIFO##*/} != "" ]] || die "AGENT_FIFO must be a name in ROUTES_DIR (got '$AGENT_FIFO')"
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

# One agent session per gateway container (requests in, answers out): the pair of FIFOs its entrypoint serves the
# agent on, or a `docker exec` of the agent behind a pair of FIFOs of this script's own.
sessions=$(mktemp -d)
declare -A TO=() FROM=() AGENT_PIDS=()
agent_in="$AGENT_FIFO.in" agent_out="$AGENT_FIFO.out"
served_by="" # the container whose served agent this step talks to (one session at a time on the pair)
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
# A session with the agent container $1 serves: its entrypoint left the hint agent.<id> in the state dir, and the agent
# answers `hello` with that id within 2 s (not an older session's answer, not another container). The hint is only
# a hint: the answer decides.
served_session() {
    local c=$1 to from answer=""
    [[ -z $served_by && -e $STATE_DIR/agent.$c && -p $agent_in && -p $agent_out ]] || return 1
    exec {to}<>"$agent_in" {from}<>"$agent_out" # read-write: opening never waits for the other end
    if printf 'hello\n' 2>/dev/null 1>&"$to" && IFS= read -r -t 2 -u "$from" answer && [[ $answer == "hello $c" ]]; then
        TO[$c]=$to FROM[$c]=$from
        served_by=$c
        return 0
    fi
    exec {to}>&- {from}<&-
    log "gateway container $c did not answer on its agent's FIFOs (${answer:-no answer}): docker exec instead"
    return 1
}
open_session() { # $1 = container
    local c=$1
    served_session "$c" && return 0
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
# Sends request $2 to container $1's agent (opening its session first); fails when the session ended.
send() {
    [[ -v "TO[$1]" ]] || open_session "$1"
    printf '%s\n' "$2" 2>/dev/null 1>&"${TO[$1]}"
}
# Reads the answer of container $1's agent to the request sent last into ANSWER within $2 seconds; fails when the
# session ended (the container stopped, or docker exec failed) or did not answer in time.
answer() {
    ANSWER=""
    if [[ $1 != "$served_by" ]]; then
        IFS= read -r -t "$2" -u "${FROM[$1]}" ANSWER || return 1
        return 0
    fi
    # The served pair stays open on this side, so a container that stops leaves no end of file: look every second
    # (read keeps what it got of a line when its time is up).
    local left=$2 part=""
    until IFS= read -r -t 1 -u "${FROM[$1]}" part; do
        ANSWER+=$part
        if ((--left <= 0)) || stopped "$1"; then return 1; fi
    done
    ANSWER+=$part
}
# Sends request $2 to container $1's agent and reads its answer into ANSWER within $3 seconds.
ask() {
    ANSWER=""
    send "$1" "$2" || return 1
    answer "$1" "$3"
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
# The agent's FIFO pair, for the gateway containers to serve on (also before the first gateway starts: its
# entrypoint looks for them). Root's only; anything else in their place is replaced.
for fifo in "$agent_in" "$agent_out"; do
    if [[ ! -p $fifo || -L $fifo ]]; then
        rm -f "$fifo"
        mkfifo -m 0600 "$fifo"
    fi
done
# The gateway containers running here, asked now: docker ps takes about as long as the checks below.
gateways_ps() { docker ps -q --filter "label=com.docker.swarm.service.name=$SERVICE" >"$sessions/$1" 2>"$sessions/$1.err"; }
gateways_ps running &
running_ps=$!
# The hash of the routes the gateway last loaded: a run that wrote the file but failed to reload is not "done". Kept
# in the routes dir, read-only in the gateway container: the state dir is writable there, and a link left in it would
# have this root script write through it. The stamp older steps kept there is dropped (rm removes a link itself).
stamp="$ROUTES_DIR/routes.applied"
rm -f "$STATE_DIR/routes.applied" 2>/dev/null || true
wanted=$(printf '%s' "$ROUTES" | sha256sum | cut -d' ' -f1)
if [[ -f $target ]] && printf '%s' "$ROUTES" | cmp -s - "$target" && [[ $(cat "$stamp" 2>/dev/null) == "$wanted" ]]; then
    kill "$running_ps" 2>/dev/null || true
    record_served
    echo "routes: unchanged" >&3
    exit 0
fi

# Before anything is written: the releases gaining a hostname answer through the running gateway (none: no probe,
# there is no live traffic on this node to protect).
wait "$running_ps" || die "docker ps failed on this node: $(<"$sessions/running.err")"
running=$(<"$sessions/running")
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
# `mapfile < <(docker ps …)`: a failing docker ps must fail the script, not look like "no gateway here". While it
# runs, the containers whose sessions are open (probed above) already check the new file.
gateways_ps after &
after_ps=$!
declare -A CHECKING=()
for container in "${!TO[@]}"; do
    if send "$container" check; then CHECKING[$container]=1; fi
done
wait "$after_ps" || die "docker ps failed on this node: $(<"$sessions/after.err")"
ids=$(<"$sessions/after")
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
    checked=0
    if [[ -v "CHECKING[$container]" ]]; then answer "$container" 60 && checked=1; else ask "$container" check 60 && checked=1; fi
    if ((checked == 0)); then
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
