#!/usr/bin/env bash
# Installs whatever fairline needs and is missing, then hands over to infra/bootstrap.ts.
# Safe to run any number of times: each step checks a stamp first, so a warm run takes seconds.
# Arguments pass through (`--for demo` builds only what the demo needs).
set -euo pipefail
cd "$(dirname "$0")/.."

# The same folder common/paths.ts cacheDir() computes; npm's raw output goes to a log there.
cache="${FAIRLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fairline}"

lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.fairline-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ]; then
  # npm ci empties node_modules first; through a link that is another checkout's packages.
  if [ -L node_modules ]; then
    echo "bootstrap: ✗ npm packages: node_modules is a link to $(readlink -f node_modules), whose packages were not installed from this checkout's package-lock.json; npm ci would empty that folder. Run \`npm ci\` where it belongs, or replace the link with a folder of this checkout's own, then run this again." >&2
    exit 1
  fi
  mkdir -p "$cache/logs"
  log="$cache/logs/npm-ci-$(date -u +%Y-%m-%dT%H-%M-%S).log"
  start=$(date +%s)
  echo "bootstrap: npm packages     installing (npm ci; raw output: $log)" >&2
  # onnxruntime-node's install script would download CUDA libraries, which fails offline; the CPU
  # runtime ships inside the package. The script reads this variable (an .npmrc key would make
  # npm warn about an unknown project config on every command).
  if ! ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    echo "bootstrap: ✗ npm packages: npm ci failed; its last lines:" >&2
    tail -n 40 "$log" | sed 's/^/  | /' >&2
    echo "bootstrap: full output: $log" >&2
    exit 1
  fi
  echo "$lock_sha" > "$stamp"
  echo "bootstrap: ✓ npm packages   $(( $(date +%s) - start )) s  npm ci (npm registry) → node_modules" >&2
fi

exec node --import tsx infra/bootstrap.ts "$@"
