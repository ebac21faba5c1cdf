#!/usr/bin/env bash
# Benchmark of `superdynamic proxy` against mcp-remote (the widely used Node stdio proxy), both in front of the
# reference server on loopback with a stored token. Not a test: it prints figures side by side.
#
#   bash bench/proxy.sh [CALLS] [BURST]     (defaults 300 sequential tools/call, a burst of 1000)
#
# Measures: process start to the first response (initialize), tools/call latency p50/p99 through the proxy
# minus calling the server directly, messages per second (a pipelined burst of tools/call), and peak memory
# (VmHWM of the proxy process). Needs cargo, python3, curl, npm (Node 20+; mcp-remote runs on the pinned Node
# 22 from bench/package.json). Everything it starts is stopped on exit; the whole run is bounded by `timeout`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
calls="${1:-300}"
burst="${2:-1000}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The file store, like mcp-remote's token files (no keychain lookup in the figures).
export SUPERDYNAMIC_STORE=file

echo "building release binaries…" >&2
(cd "$root" && cargo build --release -q -p superdynamic-cli -p superdynamic-server)
sd="$root/target/release/superdynamic"
server_bin="$root/target/release/superdynamic-server"

if [[ ! -f "$here/node_modules/mcp-remote/dist/proxy.js" || ! -x "$here/node_modules/node/bin/node" ]]; then
  echo "installing the pinned mcp-remote (npm ci in bench/)…" >&2
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
node22="$here/node_modules/node/bin/node"
mcp_remote="$here/node_modules/mcp-remote/dist/proxy.js"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$server_bin" --port "$port" --db :memory: --auto-approve >"$work/server.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port/mcp"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done

store="$work/store/credentials.json"
# Bearer tokens, as mcp-remote uses (it has no DPoP), so both proxies and the direct calls send the same requests.
"$sd" login "$url" --auto-authorize --dpop never --store-path "$store" >/dev/null 2>&1
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["credentials"][0]["tokens"]["access_token"])' \
  "$store" >"$work/token"

drive() { timeout 300 python3 "$here/proxy_driver.py" "$@"; }

echo "calling the server directly…" >&2
direct="$(drive direct "$calls" "$url" "$work/token")"

echo "measuring superdynamic proxy…" >&2
drive proxy 5 10 -- "$sd" proxy "$url" --store-path "$store" --dpop never --non-interactive >/dev/null # warm the page cache
ours="$(drive proxy "$calls" "$burst" -- "$sd" proxy "$url" --store-path "$store" --dpop never --non-interactive)"

# mcp-remote signs in through a browser: a stand-in that fetches the authorization URL and follows the redirects
# to mcp-remote's callback (the reference server approves without a person).
cat >"$work/browser" <<'SH'
#!/bin/sh
exec curl -sSL --max-time 30 -o /dev/null "$1"
SH
chmod +x "$work/browser"
export MCP_REMOTE_CONFIG_DIR="$work/mcp-auth" BROWSER="$work/browser" HOME="$work/home"
mkdir -p "$HOME"
echo "signing mcp-remote in (once)…" >&2
drive proxy 1 1 -- "$node22" "$mcp_remote" "$url" --allow-http >/dev/null
echo "measuring mcp-remote…" >&2
drive proxy 5 10 -- "$node22" "$mcp_remote" "$url" --allow-http >/dev/null
theirs="$(drive proxy "$calls" "$burst" -- "$node22" "$mcp_remote" "$url" --allow-http)"

python3 - "$direct" "$ours" "$theirs" "$calls" "$burst" <<'PY'
import json, sys
d, o, t = (json.loads(a) for a in sys.argv[1:4])
calls, burst = sys.argv[4], sys.argv[5]
def f(v, unit=""): return "-" if v is None else f"{v:,.2f}{unit}"
rows = [
  ("start to first response", f(o["first_ms"], " ms"), f(t["first_ms"], " ms"), "< 20 ms"),
  ("added latency p50 (tools/call)", f(o["p50_ms"] - d["p50_ms"], " ms"), f(t["p50_ms"] - d["p50_ms"], " ms"), "< 0.5 ms"),
  ("added latency p99 (tools/call)", f(o["p99_ms"] - d["p99_ms"], " ms"), f(t["p99_ms"] - d["p99_ms"], " ms"), ""),
  ("latency p50 / p99 through proxy", f"{f(o['p50_ms'])} / {f(o['p99_ms'])} ms", f"{f(t['p50_ms'])} / {f(t['p99_ms'])} ms", ""),
  (f"messages per second (burst {burst})", f(o["msgs_per_s"]), f(t["msgs_per_s"]), ""),
  ("peak memory (VmHWM)", f(o["peak_mb"], " MB"), f(t["peak_mb"], " MB"), "< 15 MB"),
]
print(f"direct to the server: p50 {f(d['p50_ms'])} ms, p99 {f(d['p99_ms'])} ms ({calls} sequential tools/call)")
print(f"{'':36} {'superdynamic proxy':>22} {'mcp-remote':>22} {'target':>10}")
for name, a, b, target in rows:
    print(f"{name:36} {a:>22} {b:>22} {target:>10}")
print(f"start-up speed-up: {t['first_ms'] / o['first_ms']:.1f}x (target >= 30x)")
PY
