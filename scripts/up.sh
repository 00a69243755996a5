#!/usr/bin/env bash
# npm run up [-- <stack>]: log in to a local file backend, select (or create) the stack and apply it.
# The `pulumi` npm package provides the CLI; the CLI fetches the docker/command/random plugins on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-dev}"
state_dir="${PULUMI_STATE_DIR:-$PWD/.pulumi-state}"
mkdir -p "$state_dir"
# dev's only secrets are generated (VRRP password, join tokens); an empty passphrase is the local default.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
npx --no-install pulumi login "${PULUMI_BACKEND_URL:-file://$state_dir}"
npx --no-install pulumi stack select "$stack" --create
npx --no-install pulumi up --yes --stack "$stack"
