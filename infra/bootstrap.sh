#!/usr/bin/env bash
# Installs whatever fairline needs and is missing, then hands over to infra/bootstrap.ts.
# Safe to run any number of times: each step checks a stamp first, so a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.fairline-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ]; then
  echo "bootstrap: installing npm packages (npm ci)…" >&2
  start=$(date +%s)
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sha" > "$stamp"
  echo "bootstrap: npm packages installed in $(( $(date +%s) - start )) s" >&2
fi

exec node --import tsx infra/bootstrap.ts "$@"
