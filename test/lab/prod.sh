#!/usr/bin/env bash
# The prod-like lab profile (npm run test:lab:prod): 7 machines the lab starts (3 managers, 2 gateway nodes, 2
# workers, 2 zones) reached ONLY over ssh by the REAL program (driver ssh): remote commands over real sshd, the
# swarm's docker provider over ssh://, image loads over ssh. Same habits as run.sh: one lab at a time on this
# machine (its lock), dockerd started if none answers, the offline images built, leftovers swept first, and
# everything torn down at the end (engine destroy, machines removed, sweep), also on failure or Ctrl-C.
# Env: LAB_TIMEOUT (s, default 1800), LAB_KEEP=1 (no teardown), LAB_SKIP_BUILD=1, LAB_PATTERN, LAB_LOCK_WAIT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mkdir -p .lab
exec 8>"${LAB_LOCK:-/tmp/swarm-platform-lab.lock}"
flock -w "${LAB_LOCK_WAIT:-0}" 8 || { echo "lab: another lab run holds ${LAB_LOCK:-/tmp/swarm-platform-lab.lock}" >&2; exit 1; }
: >.lab/figures.txt
: >.lab/engine.log
: >.lab/passes.log

# The local ssh client of the docker provider and the image loads authenticates with the agent (as in prod); the
# suite adds the deploy key it generates. This agent is this run's own, ended by its pid.
eval "$(ssh-agent -s)" >/dev/null
export SSH_AUTH_SOCK SSH_AGENT_PID

teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ ${LAB_KEEP:-0} != 1 ]]; then
        echo "lab: teardown" >&2
        if [[ -f .lab/state-prod.json ]]; then
            LAB_PROFILE=prod timeout 300 node --require ./test/lab/engine/ts-loader.cjs test/lab/engine/cli.ts destroy >/dev/null 2>>.lab/engine.log || echo "lab: engine destroy failed (see .lab/engine.log); sweeping" >&2
        fi
        bash test/lab/cleanup.sh || rc=1
    fi
    kill "$SSH_AGENT_PID" 2>/dev/null || true
    echo "---- lab figures ----"
    cat .lab/figures.txt
    bash test/lab/failures.sh .lab/passes.log
    exit "$rc"
}
trap teardown EXIT INT TERM

bash test/lab/dockerd.sh 8>&- # (a dockerd it starts must not inherit the lock)
[[ ${LAB_SKIP_BUILD:-0} == 1 ]] || bash test/lab/images/build.sh 8>&-
bash test/lab/cleanup.sh # leftovers of an interrupted run
timeout "${LAB_TIMEOUT:-1800}" node --import tsx --test --test-concurrency=1 --test-reporter=spec \
    ${LAB_PATTERN:+--test-name-pattern="$LAB_PATTERN"} test/lab/prod.test.ts | tee .lab/passes.log
