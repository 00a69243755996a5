# shellcheck shell=bash
# Shared by node-remove and swarm-departures (sent ahead of each by the envelope): draining a node
# so that its work is running and healthy elsewhere before it goes.
# Reads DRAIN_TIMEOUT (seconds, default 120).

# The services with a task that should run on node $1.
services_on_node() {
    docker node ps "$1" --filter desired-state=running --format '{{.Name}}' 2>/dev/null |
        sed -E 's/\.[^.]+$//' | sort -u
}

# Tasks on node $1 that still run (or are about to).
running_on_node() {
    docker node ps "$1" --format '{{.CurrentState}}' 2>/dev/null | grep -cE '^(Running|Starting|Preparing|Assigned)' || true
}

# Is service $1 converged: every desired task running (a task with a healthcheck is Running only once healthy)?
service_converged() {
    local replicas running desired
    replicas=$(docker service ls --filter "name=$1" --format '{{.Name}} {{.Replicas}}' | awk -v s="$1" '$1 == s {print $2; exit}')
    [[ -n $replicas ]] || return 0 # gone: nothing to wait for
    running=${replicas%%/*}
    desired=${replicas#*/}
    [[ $running == "$desired" ]]
}

# Drains node $1 and waits (bounded) until its tasks have stopped and every service that ran there has all its
# tasks running again, on other nodes. Fails when that does not happen in DRAIN_TIMEOUT seconds.
drain_and_wait() {
    local node=$1 who=$2 deadline services service
    deadline=$((SECONDS + ${DRAIN_TIMEOUT:-120}))
    mapfile -t services < <(services_on_node "$node")
    log "draining $who (services there: ${services[*]:-none})"
    docker node update --availability drain "$node" >/dev/null
    while (($(running_on_node "$node") > 0)); do
        ((SECONDS < deadline)) || { log "ERROR: tasks still run on $who ${DRAIN_TIMEOUT:-120} s after the drain"; return 1; }
        sleep 1
    done
    for service in "${services[@]}"; do
        until service_converged "$service"; do
            ((SECONDS < deadline)) || { log "ERROR: $service did not run all its tasks elsewhere within ${DRAIN_TIMEOUT:-120} s of draining $who"; return 1; }
            sleep 1
        done
    done
    log "drained $who: its work runs elsewhere"
}
