#!/usr/bin/env bash
# The real-swarm lab (npm run test:lab): starts dockerd if needed, builds the offline images, runs the scenarios
# against the REAL program (index.ts) through the lab engine, and always tears everything down.
# Needs root and a local Docker engine. Env: LAB_TIMEOUT (s, default 2400) bounds the scenarios;
# LAB_KEEP=1 leaves the platform up for inspection (no teardown); LAB_SKIP_BUILD=1 skips the image build;
# LAB_PATTERN runs only the scenarios whose names match (node --test-name-pattern; keep `a` in it: it brings
# the platform up), e.g. LAB_PATTERN='^(a|e)\.'. A second pass runs the gateway on HAProxy (LAB_GATEWAY_ENGINE=haproxy)
# after a full first pass; LAB_HAPROXY_PATTERN picks its scenarios (also with LAB_PATTERN), `skip` skips it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mkdir -p .lab
# One lab at a time on this machine, from any checkout: they share the dev stack's names and subnet.
# LAB_LOCK_WAIT (s, default 0) waits for a running lab instead of failing at once.
exec 8>"${LAB_LOCK:-/tmp/swarm-platform-lab.lock}"
flock -w "${LAB_LOCK_WAIT:-0}" 8 || { echo "lab: another lab run holds ${LAB_LOCK:-/tmp/swarm-platform-lab.lock}" >&2; exit 1; }
: >.lab/figures.txt
: >.lab/engine.log
: >.lab/passes.log

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ ${LAB_KEEP:-0} != 1 ]]; then
        echo "lab: teardown" >&2
        if [[ -f .lab/state-dev.json ]]; then
            timeout 300 node --require ./test/lab/engine/ts-loader.cjs test/lab/engine/cli.ts destroy >/dev/null 2>>.lab/engine.log || echo "lab: engine destroy failed (see .lab/engine.log); sweeping" >&2
        fi
        bash test/lab/cleanup.sh || rc=1
    fi
    echo "---- lab figures ----"
    cat .lab/figures.txt
    bash test/lab/failures.sh .lab/passes.log
    exit "$rc"
}
trap teardown EXIT INT TERM

bash test/lab/dockerd.sh 8>&- # (a dockerd it starts must not inherit the lock)
[[ ${LAB_SKIP_BUILD:-0} == 1 ]] || bash test/lab/images/build.sh 8>&- # LAB_SKIP_BUILD=1: use the images as they are
bash test/lab/cleanup.sh # leftovers of an interrupted run
rc=0
echo "==== lab pass: ${LAB_GATEWAY_ENGINE:-nginx}" >>.lab/passes.log
timeout "${LAB_TIMEOUT:-2400}" node --import tsx --test --test-concurrency=1 --test-reporter=spec \
    ${LAB_PATTERN:+--test-name-pattern="$LAB_PATTERN"} test/lab/lab.test.ts | tee -a .lab/passes.log || rc=$?
# The second, shorter pass on HAProxy: what only a real swarm shows of an engine (up and routing through the VIP,
# new tasks found through Docker's DNS, a release added beside the others and a promotion, each a routes reload, and
# a rolling gateway update, all under load with 0 failed requests; e builds on d's release) and destroy. What the
# engines do with the same requests (weights, pins, retries, metrics, reloads) is proven on both by
# test/render/gateway-behaviour.test.ts. It runs after a full first pass (no LAB_PATTERN), or when
# LAB_HAPROXY_PATTERN names its scenarios.
haproxy_pattern=${LAB_HAPROXY_PATTERN:-${LAB_PATTERN:+skip}}
haproxy_pattern=${haproxy_pattern:-'^(a|c|d|e|s|k)\.'}
if [[ $haproxy_pattern != skip ]]; then
    echo "lab: second pass on HAProxy ($haproxy_pattern)" >&2
    bash test/lab/cleanup.sh # whatever the first pass left
    echo "==== lab pass: haproxy" >>.lab/passes.log
    LAB_GATEWAY_ENGINE=haproxy timeout "${LAB_TIMEOUT:-2400}" node --import tsx --test --test-concurrency=1 --test-reporter=spec \
        --test-name-pattern="$haproxy_pattern" test/lab/lab.test.ts | tee -a .lab/passes.log || rc=$?
fi
exit "$rc"
