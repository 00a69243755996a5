# shellcheck shell=bash
# Shared by node-remove, swarm-departures and node-membership (sent ahead of each by the envelope): writing a node
# object, and draining a node so that its work is running and healthy elsewhere before it goes.
# Reads DRAIN_TIMEOUT (seconds, default 120). The script defines log().

# `docker node update|promote|demote ARGS…`, tried again when refused as "update out of sequence": the swarm writes
# node objects too (a node's status, a drain settling, a task leaving), and a write based on an older version of the
# node is refused. The CLI reads the node afresh on each try. Other errors, and a fifth refusal, fail with the error.
node_write() {
    local try out
    for try in 1 2 3 4 5; do
        if out=$(docker node "$@" 2>&1 >/dev/null); then return 0; fi
        if [[ $out != *"update out of sequence"* || $try -eq 5 ]]; then
            log "ERROR: docker node $1 failed: $out"
            return 1
        fi
        log "the node changed while docker node $1 was writing it: trying again"
        sleep 0.5
    done
}

# The services with a task that should run on node $1.
services_on_node() {
    docker node ps "$1" --filter desired-state=running --format '{{.Name}}' 2>/dev/null |
        sed -E 's/\.[^.]+$//' | sort -u
}

# How often the waits below look again (seconds): each look is a few docker calls on the manager.
DRAIN_POLL=${DRAIN_POLL:-0.25}

# Tasks on node $1 that still run (or are about to), of services that still exist: the tasks of a removed service
# (a destroy removes the services first) are stopping anyway and are never placed elsewhere, so nothing waits for them.
running_on_node() {
    local services
    services=" $(docker service ls --format '{{.Name}}' 2>/dev/null | tr '\n' ' ') "
    # a removed service's tasks carry its id where the name was (the CLI cannot resolve it): never in $services
    docker node ps "$1" --format '{{.Name}} {{.CurrentState}}' 2>/dev/null |
        awk -v services="$services" '$2 ~ /^(Running|Starting|Preparing|Assigned)$/ { name = $1; sub(/\.[^.]+$/, "", name); if (index(services, " " name " ")) c++ } END { print c + 0 }'
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

# Running tasks of service $1 on nodes other than the one whose hostname is $2.
running_elsewhere() {
    docker service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null |
        awk -v n="$2" '$1 != n && $2 == "Running"' | wc -l
}

# A drain stops a node's tasks before their replacements run: a replicated service whose only running tasks are
# on node $1 gets one more replica first (placed on another node: spread), and the drain waits for it to run.
# Prints "service replicas" per service surged, to scale back once the drain is done.
surge_sole_tasks() {
    local node=$1 hostname=$2 deadline=$3 service replicas
    for service in $(services_on_node "$node"); do
        replicas=$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}' "$service" 2>/dev/null || true)
        [[ $replicas =~ ^[0-9]+$ ]] || continue # global: one task per node, nothing to move
        (($(running_elsewhere "$service" "$hostname") == 0)) || continue
        log "$service runs only on $hostname: one more replica elsewhere before the drain"
        docker service scale --detach "$service=$((replicas + 1))" >/dev/null
        until (($(running_elsewhere "$service" "$hostname") > 0)); do
            ((SECONDS < deadline)) || { log "ERROR: $service's extra replica did not run on another node"; return 1; }
            sleep "$DRAIN_POLL"
        done
        echo "$service $replicas"
    done
}

# Drains node $1 and waits (bounded) until its tasks have stopped and every service that ran there has all its
# tasks running again, on other nodes. Fails when that does not happen in DRAIN_TIMEOUT seconds.
drain_and_wait() {
    local node=$1 who=$2 deadline services service hostname surged replicas
    deadline=$((SECONDS + ${DRAIN_TIMEOUT:-120}))
    mapfile -t services < <(services_on_node "$node")
    hostname=$(docker node inspect --format '{{.Description.Hostname}}' "$node")
    surged=$(surge_sole_tasks "$node" "$hostname" "$deadline")
    log "draining $who (services there: ${services[*]:-none})"
    node_write update --availability drain "$node"
    while (($(running_on_node "$node") > 0)); do
        ((SECONDS < deadline)) || { log "ERROR: tasks still run on $who ${DRAIN_TIMEOUT:-120} s after the drain"; return 1; }
        sleep "$DRAIN_POLL"
    done
    for service in "${services[@]}"; do
        until service_converged "$service"; do
            ((SECONDS < deadline)) || { log "ERROR: $service did not run all its tasks elsewhere within ${DRAIN_TIMEOUT:-120} s of draining $who"; return 1; }
            sleep "$DRAIN_POLL"
        done
    done
    while read -r service replicas; do
        if [[ -n $service ]]; then
            log "$service back to $replicas replicas"
            docker service scale --detach "$service=$replicas" >/dev/null
        fi
    done <<<"$surged"
    log "drained $who: its work runs elsewhere"
}
