#!/bin/sh
# Hands the storage driver chosen in the stack config (drivers.docker.storageDriver → DOCKERD_STORAGE_DRIVER)
# to docker:dind's entrypoint, which listens on the unix socket and tcp://0.0.0.0:2375 (TLS off, loopback-published).
set -eu
# After a restart of the node container: keepalived is nobody's child any more; bring it back with the config
# keepalived-apply left (a replaced container has none, and the program re-runs keepalived-apply on it).
if [ -s /etc/keepalived/keepalived.conf ]; then
    rm -f /run/keepalived.pid
    keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf || echo "keepalived did not start" >&2
fi
exec dockerd-entrypoint.sh --tls=false --storage-driver="${DOCKERD_STORAGE_DRIVER:-overlay2}" "$@"
