#!/bin/sh
# Hands the storage driver chosen in the stack config (drivers.docker.storageDriver → DOCKERD_STORAGE_DRIVER)
# to docker:dind's entrypoint, which listens on the unix socket and tcp://0.0.0.0:2375 (TLS off, loopback-published).
set -eu
exec dockerd-entrypoint.sh --tls=false --storage-driver="${DOCKERD_STORAGE_DRIVER:-overlay2}" "$@"
