#!/usr/bin/env bash
# Runs the official MCP conformance suite (0.2.0-alpha.12) against the reference server:
#   1. the `authorization` command against the authorization server (started with --auto-approve; the suite's
#      "open this URL in a browser" step is done by following the redirects with curl);
#   2. the `server` scenarios that apply to a server with these tools, against `superdynamic-server --no-auth`
#      on loopback (the suite connects without OAuth).
# Prints a summary and exits non-zero on any FAILURE or WARNING.
#   conformance/server.sh [--no-build]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

build=1
[[ "${1:-}" == --no-build ]] && build=0

# Install the suite (shared with run.sh).
"$here/install.sh"
NODE="$here/node_modules/node/bin/node"
SUITE="$here/node_modules/conformance-next/dist/index.js"
if [[ $build -eq 1 ]]; then
  (cd "$repo" && timeout 600 cargo build -p superdynamic-server --quiet) >&2
fi
SERVER="${SUPERDYNAMIC_SERVER_BIN:-$repo/target/debug/superdynamic-server}"

out="$here/results/server-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_health() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; return 1; }

# --- 1. authorization server -------------------------------------------------------
as_port="$(free_port)"; cb_port="$(free_port)"
"$SERVER" --port "$as_port" --db :memory: --auto-approve > "$out/as.log" 2>&1 & pids+=($!)
wait_health "$as_port"
client_id="$(curl -sf -X POST "http://127.0.0.1:$as_port/register" -H 'content-type: application/json' \
  -d "{\"client_name\":\"conformance\",\"redirect_uris\":[\"http://127.0.0.1:$cb_port/callback\"],\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"token_endpoint_auth_method\":\"none\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')"
timeout 120 "$NODE" "$SUITE" authorization --url "http://127.0.0.1:$as_port" --client-id "$client_id" \
  --resource "http://127.0.0.1:$as_port/mcp" -p "$cb_port" -o "$out/authorization" > "$out/authorization.log" 2>&1 &
suite=$!
# The suite prints the authorization URL for a person to open: the auto-approving server redirects at once.
for _ in $(seq 300); do
  url="$(grep -o "http://127.0.0.1:$as_port/authorize?[^ ]*" "$out/authorization.log" | head -1 || true)"
  if [[ -n "$url" ]] && curl -s "http://127.0.0.1:$cb_port/" >/dev/null 2>&1; then
    curl -sL --max-redirs 5 "$url" > /dev/null || true
    break
  fi
  sleep 0.1
done
wait "$suite" || true

# --- 2. MCP server scenarios ---------------------------------------------------------
mcp_port="$(free_port)"
"$SERVER" --port "$mcp_port" --db :memory: --no-auth > "$out/mcp.log" 2>&1 & pids+=($!)
wait_health "$mcp_port"
# Applicable to a server with these tools; see README "Standards and conformance" for the ones that are not.
for s in server-initialize server-session-lifecycle tools-list ping dns-rebinding-protection http-header-validation \
         server-sse-multiple-streams; do
  timeout 120 "$NODE" "$SUITE" server --url "http://127.0.0.1:$mcp_port/mcp" --scenario "$s" -o "$out/server" \
    > "$out/server-$s.log" 2>&1 || true
done

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
total_pass = total_bad = 0
print(f"{'scenario':<55} {'passed':>6} {'failed':>6} {'warn':>5}")
for root, _, files in sorted(os.walk(out)):
    if "checks.json" not in files:
        continue
    checks = json.load(open(os.path.join(root, "checks.json")))
    p = sum(c.get("status") == "SUCCESS" for c in checks)
    f = sum(c.get("status") == "FAILURE" for c in checks)
    w = sum(c.get("status") == "WARNING" for c in checks)
    total_pass += p
    total_bad += f + w
    name = os.path.relpath(root, out).rsplit("-2026", 1)[0]
    print(f"{name:<55} {p:>6} {f:>6} {w:>5}")
    for c in checks:
        if c.get("status") in ("FAILURE", "WARNING"):
            print(f"    {c.get('status')} {c.get('id')}: {c.get('description')} {c.get('errorMessage') or ''}")
if total_pass == 0:
    total_bad += 1
    print("no results: the suite did not run")
print(f"conformance-server: {total_pass} passed, {total_bad} failed")
sys.exit(1 if total_bad else 0)
PY
