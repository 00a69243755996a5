#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: $name is jq's, not the shell's
# The hand-written baseline of the cold-up benchmark: the lab's dev platform made the way an expert would by hand,
# with the docker CLI and every independent step in parallel: the node containers (the lab's dind flags), swarm
# init/join, node labels, overlays, keepalived on the gateway nodes with the program's rendered config, the gateway
# image built and loaded, run global with host ports, and the release services. It ends with a 200 through the VIP.
#
#   bench/baseline.sh up RENDER_DIR   # RENDER_DIR: what bench/run.ts rendered before the clock (plan.json,
#                                     # nodes/<gw>/keepalived.conf with the password, keepalived/*.sh, gateway/*)
#   bench/baseline.sh up RENDER_DIR first-answer
#                                     # the floor: only what the first answer needs, by hand, nothing else (the
#                                     # bootstrap manager and the gateway nodes, the images those run, keepalived, the
#                                     # gateway and the releases behind the probed host); no other node, release or load
#   bench/baseline.sh down            # remove the node containers, their volumes and the LAN (all in parallel)
#
# Same names, subnet and VIP as the lab's dev stack (test/lab/cleanup.sh sweeps them); never run next to the lab.
# Images are built on the host engine beforehand (test/lab/images/build.sh); each image's bytes are saved once and
# every node loads what its zone runs from that one file, in parallel. Env: BASELINE_TIMEOUT (s, default 300).
set -euo pipefail

PREFIX=swarm-platform-dev
LIMIT=${BASELINE_TIMEOUT:-300}
GATEWAY_TAG=swarm-platform/gateway:baseline

log() { printf '%s baseline: %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
cname() { echo "$PREFIX-$1"; }
on() { local node=$1; shift; docker exec "$(cname "$node")" "$@"; }

# Waits for every background job; fails when one failed.
wait_all() {
    local pid rc=0
    for pid in "$@"; do wait "$pid" || rc=1; done
    return "$rc"
}

# Waits (bounded) until a file exists.
wait_file() {
    local i
    for ((i = 0; i < LIMIT * 10; i++)); do
        [[ -e $1 ]] && return 0
        sleep 0.1
    done
    die "timed out waiting for $1"
}

down() {
    local ids vols nets id pids=()
    ids=$(docker ps -aq --filter "name=^/$PREFIX-")
    for id in $ids; do
        docker rm -f -v "$id" >/dev/null &
        pids+=($!)
    done
    wait_all "${pids[@]}"
    vols=$(docker volume ls -q --filter "name=^$PREFIX-")
    # shellcheck disable=SC2086 # one name per word
    [[ -z $vols ]] || docker volume rm -f $vols >/dev/null
    nets=$(docker network ls -q --filter "name=^$PREFIX-")
    # shellcheck disable=SC2086
    [[ -z $nets ]] || docker network rm $nets >/dev/null
    log "down"
}

up() {
    local dir=${1:?usage: baseline.sh up RENDER_DIR [first-answer]}
    local first_only=false
    case "${2:-}" in
        "") ;;
        first-answer) first_only=true ;;
        *) die "unknown mode '$2' (known: first-answer)" ;;
    esac
    local plan=$dir/plan.json
    [[ -f $plan ]] || die "$plan missing (bench/run.ts renders it)"
    q() { jq -r "$@" "$plan"; }
    local work
    work=$(mktemp -d /tmp/swarm-baseline.XXXXXX)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$work'; jobs -p | xargs -r kill 2>/dev/null || true" EXIT

    local net image storage manager vip probe_host
    net=$PREFIX-$(q .driver.docker.network.name)
    image=$(q .driver.docker.image)
    storage=$(q .driver.docker.storageDriver)
    manager=$(q .swarm.bootstrap.firstManager)
    vip=$(q '.virtualIp.groups[0].address')
    probe_host=$(q '.routes[0].hostname')
    local -a nodes gateways
    mapfile -t gateways < <(q '.gateway.nodes[]')
    # The releases this run starts: all, or (first-answer) those behind the probed host.
    local releases_q='.releases[]'
    if [[ $first_only == true ]]; then
        releases_q='[.routes[0].backends[].service] as $s | .releases[] | select(.service as $x | $s | any(. == $x))'
        mapfile -t nodes < <(q --arg m "$manager" '[.nodes[] | select(.name == $m or .gateway) | .name] | unique | .[]')
    else
        mapfile -t nodes < <(q '.nodes[].name')
    fi

    # --- images, on the host: the gateway image built, then every image saved once -----------------------------
    local -a pids=()
    (
        docker build -q -t "$GATEWAY_TAG" "$dir/gateway" >/dev/null
        docker save "$GATEWAY_TAG" >"$work/gateway.tar"
        touch "$work/gateway.ready"
    ) &
    pids+=($!)
    # One file per zone: the tags of that zone's releases (tags of one image share its layers in the file).
    local zone
    for zone in $(q --argjson n "$(printf '%s\n' "${nodes[@]}" | jq -R . | jq -s .)" '[.nodes[] | select(.name as $x | $n | any(. == $x)) | .zone] | unique | .[]'); do
        (
            mapfile -t tags < <(q --arg z "$zone" "[$releases_q | select(.zone == \$z) | .image] | unique | .[]")
            if ((${#tags[@]})); then docker save "${tags[@]}" >"$work/zone-$zone.tar"; fi
            touch "$work/zone-$zone.ready"
        ) &
        pids+=($!)
    done

    # --- the LAN and the node containers (the lab's flags: not privileged, its capabilities and security options) --
    docker network create --driver bridge --subnet "$(q .driver.docker.network.subnet)" "$net" >/dev/null
    local -a caps=() secopts=()
    local c
    for c in $(q '.driver.docker.capabilities.add[]'); do caps+=(--cap-add "$c"); done
    for c in $(q '.driver.docker.securityOpts[]'); do secopts+=(--security-opt "$c"); done
    local -a cgroup=()
    [[ $(q .driver.docker.mountCgroup) != true ]] || cgroup=(-v /sys/fs/cgroup:/sys/fs/cgroup)
    local n
    for n in "${nodes[@]}"; do
        docker run -d --name "$(cname "$n")" --hostname "$n" --restart unless-stopped \
            "${caps[@]}" "${secopts[@]}" --network "$net" --ip "$(q --arg n "$n" '.nodes[] | select(.name == $n) | .address')" \
            -v "$(cname "$n")-data:/var/lib/docker" "${cgroup[@]}" -e "DOCKERD_STORAGE_DRIVER=$storage" \
            --label "swarm-platform.node=$n" "$image" >/dev/null &
        pids+=($!)
    done
    wait_all "${pids[@]}" || die "node containers or image files failed"
    log "containers started, images saved"

    # --- per node, in parallel: engine ready, images loaded, swarm init/join, keepalived and routes on gateways ----
    local manager_addr
    addr_of() { q --arg n "$1" '.nodes[] | select(.name == $n) | .address'; }
    manager_addr=$(addr_of "$manager")
    node_job() {
        local n=$1 i zone role
        for ((i = 0; i < LIMIT * 5; i++)); do
            on "$n" docker info >/dev/null 2>&1 && break
            sleep 0.2
        done
        on "$n" docker info >/dev/null 2>&1 || die "$n: engine not ready"
        zone=$(q --arg n "$n" '.nodes[] | select(.name == $n) | .zone')
        role=$(q --arg n "$n" '.nodes[] | select(.name == $n) | .role')
        local -a jobs=()
        if [[ -s $work/zone-$zone.tar ]]; then
            docker exec -i "$(cname "$n")" docker load -q <"$work/zone-$zone.tar" >/dev/null &
            jobs+=($!)
        fi
        if [[ " ${gateways[*]} " == *" $n "* ]]; then
            docker exec -i "$(cname "$n")" docker load -q <"$work/gateway.tar" >/dev/null &
            jobs+=($!)
            gateway_node "$n" &
            jobs+=($!)
        fi
        if [[ $n == "$manager" ]]; then
            # shellcheck disable=SC2046 # the flags are words
            on "$n" docker swarm init --advertise-addr "$manager_addr" \
                $(q '.swarm.defaultAddrPool[] | "--default-addr-pool " + .') \
                --default-addr-pool-mask-length "$(q .swarm.defaultAddrPoolMaskLength)" >/dev/null
            on "$n" docker swarm join-token -q worker >"$work/token-worker"
            on "$n" docker swarm join-token -q manager >"$work/token-manager.tmp"
            mv "$work/token-manager.tmp" "$work/token-manager" # the marker the joins wait for
        else
            wait_file "$work/token-manager"
            on "$n" docker swarm join --advertise-addr "$(addr_of "$n")" --token "$(cat "$work/token-$role")" "$manager_addr:2377" >/dev/null
        fi
        touch "$work/joined-$n"
        wait_all "${jobs[@]}"
        touch "$work/done-$n"
    }
    gateway_node() {
        local n=$1
        # routes on the node (bind-mounted by the gateway), keepalived with the rendered config and scripts
        on "$n" mkdir -p "$(q .gateway.routesDir)" "$(q .gateway.stateDir)" /etc/keepalived /run/keepalived
        docker cp "$dir/gateway/$(q '.gateway.routesFile.name')" "$(cname "$n"):$(q '.gateway.routesFile.path')"
        docker cp "$dir/keepalived/check_gateway.sh" "$(cname "$n"):/etc/keepalived/check_gateway.sh"
        docker cp "$dir/keepalived/notify.sh" "$(cname "$n"):/etc/keepalived/notify.sh"
        docker cp "$dir/nodes/$n/keepalived.conf" "$(cname "$n"):/etc/keepalived/keepalived.conf"
        local user
        user=$(q .virtualIp.scriptUser)
        on "$n" sh -c "id -u $user >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin $user
            chown root:root /etc/keepalived/*; chmod 0600 /etc/keepalived/keepalived.conf; chmod 0755 /etc/keepalived/*.sh
            chown $user /run/keepalived
            keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf </dev/null >/dev/null 2>&1"
    }
    pids=()
    for n in "${nodes[@]}"; do
        node_job "$n" &
        pids+=($!)
    done

    # --- on the manager as soon as the swarm exists: overlays; labels as each node joins --------------------------
    wait_file "$work/token-manager"
    local mgr
    mgr=$(cname "$manager")
    local -a setup=()
    local key
    for key in $(q '.networks.overlays[].key'); do
        # shellcheck disable=SC2046 # the flags are words
        docker exec "$mgr" docker network create --driver overlay \
            $(q --arg k "$key" '.networks.overlays[] | select(.key == $k) | "--subnet \(.subnet) --gateway \(.gateway)" + (if .attachable then " --attachable" else "" end) + (if .encrypted then " --opt encrypted" else "" end) + " \(.name)"') >/dev/null &
        setup+=($!)
    done
    for n in "${nodes[@]}"; do
        (
            wait_file "$work/joined-$n"
            # The swarm updates a node that just joined too: a write based on an older version is refused as "update
            # out of sequence" (as the program's membership step does, try again; the CLI reads the node afresh). While
            # managers join beside it, a node whose join returned can still be unknown to the manager for a moment
            # ("No such node"; seen with 3 managers and 12 nodes): tried again too, for up to 10 s.
            local try out
            for ((try = 1; try <= 50; try++)); do
                # shellcheck disable=SC2046
                if out=$(docker exec "$mgr" docker node update \
                    $(q --arg n "$n" '.nodes[] | select(.name == $n) | "--label-add zone=\(.zone)" + (if .gateway then " --label-add gateway=true" else "" end)') "$n" 2>&1 >/dev/null); then
                    exit 0
                fi
                [[ ($out == *"update out of sequence"* || $out == *"No such node"*) && $try -lt 50 ]] || die "labels on $n: $out"
                sleep 0.2
            done
        ) &
        setup+=($!)
    done
    wait_all "${setup[@]}" || die "overlays or labels failed"
    wait_all "${pids[@]}" || die "a node failed"
    log "swarm, overlays, labels, images, keepalived done"

    # --- services: the gateway (global, host ports) and every release, created at once -----------------------------
    pids=()
    local -a gw=(--name "$(q .gateway.service)" --mode global --detach --constraint node.labels.gateway==true
        --network "$(q .gateway.network)" --endpoint-mode dnsrr
        --publish "mode=host,target=$(q .gateway.ports.http),published=$(q .gateway.ports.http)"
        --mount "type=bind,source=$(q .gateway.routesDir),target=$(q .gateway.routesDir),readonly"
        --mount "type=bind,source=$(q .gateway.stateDir),target=$(q .gateway.stateDir)"
        --stop-grace-period "$(q .gateway.stopGracePeriod)s")
    [[ $(q .gateway.container.readOnlyRootFilesystem) != true ]] || gw+=(--read-only)
    for c in $(q '.gateway.container.tmpfs[]'); do gw+=(--mount "type=tmpfs,target=$c"); done
    for c in $(q '.gateway.container.capabilities.drop[]'); do gw+=(--cap-drop "$c"); done
    for c in $(q '.gateway.container.capabilities.add[]'); do gw+=(--cap-add "$c"); done
    docker exec "$mgr" docker service create -q "${gw[@]}" "$GATEWAY_TAG" >/dev/null &
    pids+=($!)
    local svc
    for svc in $(q "$releases_q | .service"); do
        local -a args=()
        mapfile -t args < <(q --arg s "$svc" '.releases[] | select(.service == $s) |
            ["--name", .service, "--replicas", (.replicas | tostring), "--endpoint-mode", .endpointMode]
            + ([.networks[] | ["--network", .]] | add)
            + ([.constraints[] | ["--constraint", .]] | add // [])
            + ([.env | to_entries[] | ["--env", "\(.key)=\(.value)"]] | add // [])
            + ([.labels | to_entries[] | ["--label", "\(.key)=\(.value)"]] | add // [])
            + (if .readOnlyRootFilesystem then ["--read-only"] else [] end)
            + ["--health-cmd", (if .healthcheck.test[0] == "CMD-SHELL" then .healthcheck.test[1] else (.healthcheck.test[1:] | @sh) end),
               "--health-interval", "\(.healthcheck.interval)s", "--health-timeout", "\(.healthcheck.timeout)s",
               "--health-retries", (.healthcheck.retries | tostring), "--health-start-period", "\(.healthcheck.startPeriod)s",
               "--update-order", .update.order, "--stop-grace-period", "\(.stopGracePeriod)s", .image] | .[]')
        docker exec "$mgr" docker service create -q --detach "${args[@]}" >/dev/null &
        pids+=($!)
    done
    wait_all "${pids[@]}" || die "a service create failed"
    log "services created; waiting for a 200 from $probe_host through $vip"

    # Polled as cheaply as the bench probes the program (a curl costs about 50 ms of CPU here, 20 a second half a core
    # of a machine the cold up keeps busy): bash's own /dev/tcp, one connection a try, bounded by timeout.
    local i port
    port=$(q .gateway.ports.http)
    for ((i = 0; i < LIMIT * 20; i++)); do
        # shellcheck disable=SC2016 # the inner script's own variables
        if timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" >&3 &&
            IFS= read -r line <&3 && [[ $line == "HTTP/1."?" 200 "* ]]' _ "$vip" "$port" "$probe_host" 2>/dev/null; then
            log "200 through $vip"
            return 0
        fi
        sleep 0.05
    done
    die "no 200 from $probe_host through $vip within the limit"
}

command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
case "${1:-}" in
    up) up "${2:-}" "${3:-}" ;;
    down) down ;;
    *) die "usage: baseline.sh up RENDER_DIR [first-answer] | down" ;;
esac
