#!/usr/bin/env bash
# gateway-metrics-read: the gateway metrics of every gateway container on this node, for the canary
# (`npm run promote -- <stack> --canary …`). Read-only. The metrics port is published on no host port: it is
# asked from inside each gateway container, on its loopback.
# env:    GATEWAY_SERVICE  the gateway's swarm service name
#         METRICS_PORT     the port of the gateway's metrics endpoint (swarm-platform:metrics.port)
# stdout: per running gateway container, a line `### container <name>` and then its metrics text as served.
#         No running gateway container, or one whose endpoint does not answer, fails the script (exit 3/4).
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr
names=$(docker ps --filter "label=com.docker.swarm.service.name=$GATEWAY_SERVICE" --format '{{.Names}}')
if [[ -z $names ]]; then
    echo "no running $GATEWAY_SERVICE container on $NODE_NAME"
    exit 3
fi
for name in $names; do
    if ! text=$(docker exec "$name" curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"); then
        echo "$name: http://127.0.0.1:$METRICS_PORT/metrics did not answer"
        exit 4
    fi
    printf '### container %s\n%s\n' "$name" "$text" >&3
done
