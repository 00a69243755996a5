#!/usr/bin/env bash
# swarm-managers: what this node knows of its swarm's managers — read before every up and preview, changes nothing.
#   Runs on the bootstrap manager first; when it lists no managers (no leader there, or no answer) or has not answered
#   within 2 s, on every other planned manager at once.
# env:    none
# stdout: one JSON line:
#         {"engine":"absent"}                       no docker CLI here (a machine not bootstrapped yet: no swarm)
#         {"engine":"down"}                         docker is installed but its engine does not answer
#         {"engine":"up","state":"<LocalNodeState>","controlAvailable":true|false,"leader":true|false,
#          "remoteManagers":["<addr:port>",…],
#          "managers":[{"hostname":…,"addr":"<addr:port>","reachability":"reachable|unreachable|unknown","leader":true|false},…]}
#         (managers is [] when this node is no manager or the swarm has no leader: node ls needs one)
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

if ! command -v docker >/dev/null 2>&1; then
    echo '{"engine":"absent"}' >&3
    exit 0
fi
if ! info=$(docker info --format '{{json .Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{json .Swarm.RemoteManagers}}' 2>/dev/null); then
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

managers="" leader=false
if [[ $state == '"active"' && $control == true ]]; then
    # node ls and node inspect answer only while the swarm has a leader (a majority of its managers); the leader can
    # go between the two (managers just lost), so a failure of either means no leader, not a failed read
    # shellcheck disable=SC2086 # node ids: one word each
    if ids=$(docker node ls -q --filter role=manager 2>/dev/null) &&
        list=$(docker node inspect --format '{"hostname":{{json .Description.Hostname}},"addr":{{json .ManagerStatus.Addr}},"reachability":{{json .ManagerStatus.Reachability}},"leader":{{.ManagerStatus.Leader}}}' $ids 2>/dev/null); then
        leader=true
        managers=$(paste -sd, - <<<"$list")
    fi
fi
printf '{"engine":"up","state":%s,"controlAvailable":%s,"leader":%s,"remoteManagers":%s,"managers":[%s]}\n' \
    "$state" "$control" "$leader" "$remote_json" "$managers" >&3
