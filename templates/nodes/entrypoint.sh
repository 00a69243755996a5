#!/bin/sh
# The node container's start: the node firewall, keepalived (after a restart), then docker:dind's entrypoint with
# an explicit dockerd command line, so it adds no listener of its own:
#   - always unix:///var/run/docker.sock (the program's node scripts run `docker exec … bash -s` on it);
#   - tcp://0.0.0.0:2376 with --tlsverify only when the program uploaded the engine API's CA, server certificate
#     and key (the bootstrap manager): client certificates signed by that CA only. Never a plain-TCP API.
# DOCKERD_STORAGE_DRIVER (drivers.docker.storageDriver) picks the storage driver.
set -eu
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
    rm -f /run/keepalived.pid
    keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf || echo "keepalived did not start" >&2
fi
exec dockerd-entrypoint.sh "$@" --storage-driver="${DOCKERD_STORAGE_DRIVER:-overlay2}"
