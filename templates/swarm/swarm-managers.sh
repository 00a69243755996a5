#!/usr/bin/env bash
# swarm-managers: what this node knows of its swarm's managers — read before every up and preview, changes nothing.
#   Runs on the bootstrap manager first; when it lists no managers (no leader there, or no answer) or has not answered
#   within 2 s, on every other planned manager at once.
# env:    INFO_TIMEOUT_SECONDS (optional, 5) how long `docker info` may take (see below)
#         DOCKER_DATA_ROOT (optional) the engine's data root, when it cannot be found (below)
# stdout: one JSON line:
#         {"engine":"absent"}                       no docker CLI here (a machine not bootstrapped yet: no swarm)
#         {"engine":"down"}                         docker is installed but its engine does not answer
#         {"engine":"up","state":"<LocalNodeState>","controlAvailable":true|false,"leader":true|false,
#          "remoteManagers":["<addr:port>",…],
#          "managers":[{"hostname":…,"addr":"<addr:port>","reachability":"reachable|unreachable|unknown","leader":true|false},…],
#          "networks":[{"name":…,"driver":…,"ingress":true|false,"ipamDriver":…,"ipam":[{"Subnet":…,"Gateway":…},…]},…]|null}
#         (managers is [] when this node is no manager or the swarm has no leader: node ls needs one; networks, the
#         swarm-scoped networks, is read beside the managers, kept with a leader only, and null otherwise or when that
#         read fails)
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

if ! command -v docker >/dev/null 2>&1; then
    echo '{"engine":"absent"}' >&3
    exit 0
fi

# The Docker data root (the swarm's own files are under <root>/swarm): dockerd's --data-root, else daemon.json's
# "data-root", else the default. DOCKER_DATA_ROOT overrides it.
data_root() {
    local root=${DOCKER_DATA_ROOT:-} pid
    if [[ -z $root ]] && pid=$(pgrep -xo dockerd 2>/dev/null); then
        root=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/^--data-root=//p; /^--data-root$/{n;p;}' | tail -n 1) || root=
    fi
    if [[ -z $root && -r /etc/docker/daemon.json ]]; then
        root=$(sed -n 's/.*"data-root"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' /etc/docker/daemon.json | head -n 1) || root=
    fi
    echo "${root:-/var/lib/docker}"
}

# Every docker call here is bounded: INFO_TIMEOUT_SECONDS (optional, 5) each, where coreutils' timeout exists.
info_timeout=${INFO_TIMEOUT_SECONDS:-5}
bounded=()
if command -v timeout >/dev/null 2>&1; then bounded=(timeout -k 1 "$info_timeout"); fi

# The swarm's networks as allocated: the program ignores the provider's late read of a network only where the live
# network is as planned (model/networks.ts networksAsPlanned). A failed read is null: then it assumes nothing.
read_networks() {
    local ids list
    ids=$("${bounded[@]}" docker network ls -q --filter scope=swarm 2>/dev/null) || { echo null && return; }
    [[ -n $ids ]] || { echo "[]" && return; }
    # shellcheck disable=SC2086 # network ids: one word each
    list=$("${bounded[@]}" docker network inspect --format '{"name":{{json .Name}},"driver":{{json .Driver}},"ingress":{{.Ingress}},"ipamDriver":{{json .IPAM.Driver}},"ipam":{{json .IPAM.Config}}}' $ids 2>/dev/null) || { echo null && return; }
    echo "[$(paste -sd, - <<<"$list")]"
}
# The managers, one JSON object a line. node ls and node inspect answer only while the swarm has a leader (a
# majority of its managers); the leader can go between the two (managers just lost), so a failure of either means no
# leader, not a failed read.
read_managers() {
    local ids
    ids=$("${bounded[@]}" docker node ls -q --filter role=manager 2>/dev/null) || return 1
    # shellcheck disable=SC2086 # node ids: one word each
    "${bounded[@]}" docker node inspect --format '{"hostname":{{json .Description.Hostname}},"addr":{{json .ManagerStatus.Addr}},"reachability":{{json .ManagerStatus.Reachability}},"leader":{{.ManagerStatus.Leader}}}' $ids 2>/dev/null
}
# Ends a process and its descendants (a docker call still waiting for a leader).
end_tree() {
    local child
    for child in $(pgrep -P "$1" 2>/dev/null); do end_tree "$child"; done
    kill "$1" 2>/dev/null || true
}

# The managers and the networks are read beside `docker info` (three docker calls at once: about 0.1 s less per up and
# preview than one after the other). They count only on a manager with a leader; elsewhere they are ended, not
# waited for (on a manager without a leader they would wait for one).
scratch=$(mktemp -d)
reads=()
stop_reads() {
    local pid
    for pid in "${reads[@]}"; do end_tree "$pid"; done
    for pid in "${reads[@]}"; do wait "$pid" 2>/dev/null || true; done
    reads=()
}
trap 'stop_reads; rm -rf "$scratch"' EXIT
read_managers >"$scratch/managers" 2>/dev/null &
managers_read=$!
read_networks >"$scratch/networks" 2>/dev/null &
networks_read=$!
reads=("$managers_read" "$networks_read")

# `docker info` answers at once, except on a manager whose swarm has no leader: there it asks the control API for the
# cluster and its nodes and waits for a leader until swarm's request deadline, 20 s (moby daemon/cluster, Info). So
# it gets INFO_TIMEOUT_SECONDS (above); an engine that then still answers `docker version` is such a manager, and the managers
# it knows are those swarm keeps on disk for it (<data root>/swarm/state.json, what info lists as RemoteManagers).
info_rc=0 leaderless=0
info=$("${bounded[@]}" docker info --format '{{json .Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{json .Swarm.RemoteManagers}}' 2>/dev/null) || info_rc=$?
if ((info_rc == 124 || info_rc == 137)) && "${bounded[@]}" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "swarm-managers: docker info did not answer within ${info_timeout} s: a manager without a leader" >&2
    remote=null
    persisted="$(data_root)/swarm/state.json"
    if [[ -r $persisted ]]; then remote=$(sed 's/"addr":/"Addr":/g' "$persisted" | tr -d '\n'); fi
    info="\"active\" true $remote"
    leaderless=1
elif ((info_rc != 0)); then
    echo '{"engine":"down"}' >&3
    exit 0
fi
read -r state control remote <<<"$info"
addrs=()
if [[ $remote != null ]]; then
    mapfile -t addrs < <(grep -o '"Addr":"[^"]*"' <<<"$remote" | cut -d'"' -f4)
fi
remote_json=$(printf '"%s",' "${addrs[@]}")
remote_json="[${remote_json%,}]"
[[ ${#addrs[@]} -gt 0 ]] || remote_json="[]"

managers="" leader=false networks=null
if [[ $state == '"active"' && $control == true && $leaderless == 0 ]]; then
    if wait "$managers_read"; then
        leader=true
        managers=$(paste -sd, - <"$scratch/managers")
        wait "$networks_read" || true
        networks=$(<"$scratch/networks")
        [[ -n $networks ]] || networks=null
        reads=() # both ended on their own
    fi
fi
stop_reads
printf '{"engine":"up","state":%s,"controlAvailable":%s,"leader":%s,"remoteManagers":%s,"managers":[%s],"networks":%s}\n' \
    "$state" "$control" "$leader" "$remote_json" "$managers" "$networks" >&3
