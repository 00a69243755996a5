#!/bin/sh
# The node container's start: stale run state cleared, the node firewall, keepalived (after a restart), then
# docker:dind's entrypoint with an explicit dockerd command line, so it adds no listener of its own:
#   - always unix:///var/run/docker.sock (the program's node scripts run `docker exec … bash -s` on it);
#   - tcp://0.0.0.0:2376 with --tlsverify only when the program uploaded the engine API's CA, server certificate
#     and key (the bootstrap manager): client certificates signed by that CA only. Never a plain-TCP API.
# DOCKERD_STORAGE_DRIVER (drivers.docker.storageDriver) picks the storage driver.
# On SIGTERM (docker stop/restart) keepalived stops first, so the VIP moves while this node's gateway still
# serves; NODE_STOP_VIP_SECONDS later (default 2) the node's swarm tasks stop (at most NODE_STOP_TASKS_SECONDS,
# default 5), then the engine.
set -eu

# /run is not a tmpfs in a container: after `docker restart` or `docker kill` + start it still holds the previous
# run's pid files, sockets and dockerd's exec-root (/var/run/docker: netns bind-mount targets, containerd's state
# and pid file). PIDs restart from 1 in the new run, so a stale pid file can name a live, unrelated process, and
# the engine then waits on a containerd that is not there. A real host clears /run at boot; do the same. That
# includes keepalived's children's pid files beside its own (a `docker kill` leaves them): keepalived refuses to
# start ("daemon is already running") when one names a live process, and a node that starts as its previous run
# did reuses the same low PIDs.
rm -rf /var/run/docker /var/run/docker.pid /var/run/docker.sock /run/keepalived.pid /run/vrrp.pid /run/checkers.pid /run/bfd.pid

tls=/etc/swarm-platform/engine-tls
set -- dockerd --host=unix:///var/run/docker.sock
if [ -s "$tls/ca.pem" ] && [ -s "$tls/server-cert.pem" ] && [ -s "$tls/server-key.pem" ]; then
    chmod 0600 "$tls/server-key.pem"
    set -- "$@" --host=tcp://0.0.0.0:2376 --tlsverify \
        --tlscacert="$tls/ca.pem" --tlscert="$tls/server-cert.pem" --tlskey="$tls/server-key.pem"
fi

# A restarted container has a new network namespace: its firewall rules are gone. The helper node-firewall
# installed puts them back before the engine starts; a node whose rules cannot be applied does not start.
firewall=/usr/local/sbin/swarm-platform-firewall
if [ -x "$firewall" ]; then
    "$firewall" apply || { echo "the node firewall did not apply: not starting the engine" >&2; exit 1; }
fi

# After a restart of the node container: keepalived is nobody's child any more; bring it back with the config
# keepalived-apply left (a replaced container has none, and the program re-runs keepalived-apply on it).
if [ -s /etc/keepalived/keepalived.conf ]; then
    keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf || echo "keepalived did not start" >&2
fi

# Supervise the engine instead of exec'ing it: a stop hands the VIP over before the gateway goes.
engine_pid=""
# shellcheck disable=SC2317 # called by the trap
stop_node() {
    trap - TERM INT
    pid=$(cat /run/keepalived.pid 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = keepalived ]; then
        echo "node: stopping keepalived (pid $pid) first: the VIP moves while the gateway still serves" >&2
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        sleep "${NODE_STOP_VIP_SECONDS:-2}"
    fi
    # The node's swarm tasks stop while the engine and its overlay still run: a gateway elsewhere sees their
    # connections close, or refused, and retries on another task. Left to the engine's own stop, their overlay
    # endpoints vanish at once and requests in flight on the gateways' pooled connections hang.
    tasks=$(docker ps -q --filter label=com.docker.swarm.task 2>/dev/null || true)
    if [ -n "$tasks" ]; then
        echo "node: stopping this node's swarm tasks while the engine still runs" >&2
        # shellcheck disable=SC2086 # one id per word
        timeout "${NODE_STOP_TASKS_SECONDS:-5}" docker stop -t 3 $tasks >/dev/null 2>&1 || true
    fi
    echo "node: stopping the engine (pid $engine_pid)" >&2
    kill -TERM "$engine_pid" 2>/dev/null || true
}
trap stop_node TERM INT

dockerd-entrypoint.sh "$@" --storage-driver="${DOCKERD_STORAGE_DRIVER:-overlay2}" &
engine_pid=$!
# `wait` returns early when a trapped signal arrives: keep waiting until the engine itself has exited.
rc=0
while kill -0 "$engine_pid" 2>/dev/null; do
    if wait "$engine_pid"; then rc=0; else rc=$?; fi
done
exit "$rc"
