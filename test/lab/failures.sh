#!/usr/bin/env bash
# Prints the "failing tests" sections of node's spec reporter found in the given logs (stack frames left out), or
# nothing when every test passed. run.sh and prod.sh call it last: a CI log that keeps only its tail still says
# what failed and why.
set -euo pipefail
grep -qs '^✖ failing tests:' "$@" || exit 0
echo "---- lab failures ----"
# A section ends at the next pass's marker (`==== …`, written by run.sh) or at the end of its log.
awk '/^==== / { pass = $0; on = 0; next } /^✖ failing tests:/ { on = 1; if (pass != "") print pass } on && /^ℹ |^# Subtest/ { on = 0 } on && !/^ +at /' "$@" | head -n 300
