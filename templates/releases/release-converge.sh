#!/usr/bin/env bash
# release-converge: wait, on a manager, until a swarm service runs the spec this run applied, then print one line.
#   Converged = the service's spec carries SPEC_HASH in its SPEC_LABEL label (after a rollback it carries the
#   previous spec's), no update in progress (UpdateStatus absent or completed), and exactly the desired number
#   of tasks running: replicas, or for a global service one per eligible node. Swarm marks a task with a
#   healthcheck `running` only once the check has passed, so running tasks are healthy tasks.
#   Fails at once when swarm paused the update or rolled it back, and when the timeout passes; it then names the
#   service, swarm's own message, its tasks with state and error and the last log lines of the failing ones,
#   with the summary last (a failed command shows the end of its stderr).
# env:    SERVICE     the service's name (messages, task names)
#         SERVICE_ID  the service's id (every docker call: a service replaced meanwhile is not mistaken for it)
#         SUBJECT     what the service is, for messages: "release shop 2.0", "the gateway"
#         SPEC_LABEL  the service label carrying the spec hash
#         SPEC_HASH   the hash of the spec this run applied
#         TIMEOUT     seconds to wait at most
# stdout: converged: <service> <running>/<desired> tasks after <seconds>s
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${SERVICE:?SERVICE is required}"
: "${SERVICE_ID:?SERVICE_ID is required}"
: "${SUBJECT:?SUBJECT is required}"
: "${SPEC_LABEL:?SPEC_LABEL is required}"
: "${SPEC_HASH:?SPEC_HASH is required}"
: "${TIMEOUT:?TIMEOUT is required}"

POLL_SECONDS=1
# Swarm starts a rolling update a few milliseconds after the spec changed (UpdateStatus is reset by the change
# and set to `updating` by the updater): a reading without an update in progress must hold this long.
SETTLE_SECONDS=3
SHOWN_TASKS=8
LOGGED_TASKS=2
LOG_LINES=5

log() { echo "release-converge: $*" >&2; }
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || { log "ERROR: TIMEOUT must be a positive number of seconds (got '$TIMEOUT')"; exit 1; }

# One line: update state | spec hash | replicas or "global" | created | updated (times as text).
STATUS_FORMAT="{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}|{{index .Spec.Labels \"$SPEC_LABEL\"}}|{{if .Spec.Mode.Global}}global{{else}}{{.Spec.Mode.Replicated.Replicas}}{{end}}|{{.CreatedAt}}|{{.UpdatedAt}}"

read_status() {
    local line
    line=$(docker service inspect --format "$STATUS_FORMAT" "$SERVICE_ID") || return 1
    IFS='|' read -r update_state spec_hash mode created updated <<<"$line"
}

# Tasks swarm wants running: their count and how many of them run.
read_tasks() {
    local states
    states=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$SERVICE_ID") || return 1
    wanted_tasks=0
    running_tasks=0
    while read -r state _; do
        [[ -n $state ]] || continue
        wanted_tasks=$((wanted_tasks + 1))
        [[ $state != Running ]] || running_tasks=$((running_tasks + 1))
    done <<<"$states"
    if [[ $mode == global ]]; then desired=$wanted_tasks; else desired=$mode; fi
}

update_message() {
    docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.Message}}{{end}}' "$SERVICE_ID" 2>/dev/null || true
}

# The report before failing: the tasks that tell something (a normal replacement's `Shutdown` does not), the
# failing tasks' last log lines, then the summary ($1), swarm's own words and the newest task error.
fail() {
    local summary=$1 message tasks telling failing newest_error id shown=0
    message=$(update_message)
    tasks=$(docker service ps --no-trunc --format '{{.ID}} {{.Name}} on {{.Node}}: {{.CurrentState}} (desired {{.DesiredState}}){{if .Error}} error: {{.Error}}{{end}}' "$SERVICE_ID" 2>&1) || true
    telling=$(awk '!($5 == "Shutdown" && !/ error: /)' <<<"$tasks" | head -n "$SHOWN_TASKS" || true)
    log "tasks of $SERVICE (newest per slot first):"
    while read -r id rest; do [[ -z $id ]] || log "  $rest"; done <<<"$telling"
    # The failing tasks: the one swarm's message names, those with an error, those not running.
    failing=$({
        grep -o 'task [a-z0-9]\{25\}' <<<"$message" | cut -d' ' -f2
        awk '/ error: / { print $1 }' <<<"$telling"
        awk '$5 != "Running" && $5 != "Shutdown" { print $1 }' <<<"$telling"
    } | awk '!seen[$0]++' || true)
    for id in $failing; do
        ((shown < LOGGED_TASKS)) || break
        shown=$((shown + 1))
        log "last log lines of task $id:"
        timeout 10 docker service logs --raw --tail "$LOG_LINES" "$id" 2>&1 | sed 's/^/    /' >&2 || log "    (no logs)"
    done
    newest_error=$(grep -m1 ' error: ' <<<"$telling" | cut -d' ' -f2- || true)
    log "ERROR: $SUBJECT (service $SERVICE): $summary"
    [[ -z $message ]] || log "swarm says: $update_state: $message"
    [[ -z $newest_error ]] || log "newest task error: $newest_error"
    exit 1
}

start=$SECONDS
deadline=$((start + TIMEOUT))
steady_since=-1
while :; do
    read_status || fail "docker service inspect failed (is the service gone?)"
    case "$update_state" in
        paused) fail "swarm paused the update (its failure action is pause): fix the spec and run up again" ;;
        rollback_paused) fail "swarm paused the rollback of a failed update" ;;
        rollback_started | rollback_completed)
            # A rollback restores the previous spec, label included: this run's spec is not what runs.
            [[ $spec_hash == "$SPEC_HASH" ]] || fail "swarm rolled the update back: the new spec did not converge; the previous spec runs" ;;
    esac
    if [[ $spec_hash != "$SPEC_HASH" && $update_state != rollback_* ]]; then
        fail "the swarm runs another spec (${SPEC_LABEL}=${spec_hash:-none}, this run applied $SPEC_HASH): changed outside this program? Run up with --refresh"
    fi
    read_tasks || fail "docker service ps failed"
    if [[ $update_state == "" || $update_state == completed || $update_state == rollback_completed ]] &&
        ((running_tasks == desired && wanted_tasks == desired)); then
        # Just created, or an update swarm already reported: no update can still be about to start.
        if [[ $update_state != "" || $created == "$updated" ]]; then break; fi
        ((steady_since >= 0)) || steady_since=$SECONDS
        ((SECONDS - steady_since < SETTLE_SECONDS)) || break
    else
        steady_since=-1
    fi
    if ((SECONDS >= deadline)); then
        fail "did not converge within ${TIMEOUT}s: ${running_tasks}/${desired} tasks running and healthy${update_state:+, update $update_state} (a task stays Starting until its healthcheck passes)"
    fi
    sleep "$POLL_SECONDS"
done
log "$SERVICE converged: $running_tasks/$desired tasks running and healthy"
echo "converged: $SERVICE $running_tasks/$desired tasks after $((SECONDS - start))s" >&3
