#!/usr/bin/env bash
# Installs the pinned conformance suites and the Node 22 binary (idempotent; shared by run.sh and server.sh).
# The `node` package downloads its ~30 MB binary in a nested `npm install` that a slow or dropped registry
# connection can fail, leaving no bin/node: retry from a clean node_modules before giving up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
lock_sum="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)"
stamp="node_modules/.superdynamic-install-stamp"
if [[ -x node_modules/node/bin/node && -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" ]]; then
  exit 0
fi
for attempt in 1 2 3; do
  echo ">> npm ci (conformance, attempt $attempt of 3)" >&2
  if timeout 300 npm ci --no-audit --no-fund --loglevel=error >&2 && [[ -x node_modules/node/bin/node ]]; then
    echo "$lock_sum" > "$stamp"
    exit 0
  fi
  rm -rf node_modules
  sleep $((attempt * 10))
done
echo "conformance/install.sh: npm ci failed 3 times; is the npm registry reachable?" >&2
exit 1
