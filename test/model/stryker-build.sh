#!/bin/sh
# Stryker's build step, run inside its sandbox (never in the working tree): transpiles the instrumented model,
# its unit tests and the schema generator to CommonJS next to their sources (so each mutant's run needs no tsx),
# then regenerates the schema files there from the (unmutated) model.
set -e
npx --no-install esbuild model/*.ts test/model/*.ts scripts/json-schema.ts --format=cjs --platform=node --target=node20 --outdir=. --outbase=. --log-level=warning
node scripts/json-schema.js --markdown > /dev/null 2>&1
