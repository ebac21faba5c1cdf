#!/usr/bin/env bash
# Adapter between the MCP conformance suite and the `superdynamic` CLI.
#
# The suite starts the client under test as `client.sh <server-url>` with
# MCP_CONFORMANCE_SCENARIO (and, for some scenarios, MCP_CONFORMANCE_CONTEXT:
# JSON with pre-registered credentials or keys) in the environment. This file
# is the only place that knows scenario names; everything it runs is an
# ordinary `superdynamic` invocation with ordinary flags.
#
# Default for every scenario: what a real MCP client does -- connect (signing
# in without a browser via --auto-authorize), list the tools, and call the
# first tool the server offers (the auth scenarios' servers offer `test-tool`;
# a tools/call is what triggers e.g. the 403 step-up in auth/scope-step-up).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

url="${1:-}"
if [[ -z "$url" ]]; then
  echo "usage: $0 <mcp-server-url>  (env MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_CONTEXT)" >&2
  exit 2
fi
scenario="${MCP_CONFORMANCE_SCENARIO:-}"
context="${MCP_CONFORMANCE_CONTEXT:-}"

# --- the binary --------------------------------------------------------------
bin="${SUPERDYNAMIC_BIN:-}"
if [[ -z "$bin" ]]; then
  rel="$repo/target/release/superdynamic" dbg="$repo/target/debug/superdynamic"
  if [[ -x "$rel" && -x "$dbg" ]]; then
    if [[ "$rel" -nt "$dbg" ]]; then bin="$rel"; else bin="$dbg"; fi
  elif [[ -x "$rel" ]]; then bin="$rel"
  elif [[ -x "$dbg" ]]; then bin="$dbg"
  fi
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "client.sh: no superdynamic binary found (set SUPERDYNAMIC_BIN, or run 'cargo build -p superdynamic-cli' in $repo)" >&2
  exit 1
fi

# --- a fresh credential store per run -----------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/superdynamic-conformance.XXXXXX")"
# On exit: remove the store and, when run.sh asks for it, record the exit code
# (the suite's checks.json does not keep it).
on_exit() {
  local rc=$?
  rm -rf "$tmp"
  if [[ -n "${SUPERDYNAMIC_CONFORMANCE_EXITS:-}" ]]; then
    printf '%s\t%s\n' "${scenario:-?}" "$rc" >> "$SUPERDYNAMIC_CONFORMANCE_EXITS"
  fi
}
trap on_exit EXIT
trap 'exit 143' TERM INT
# Do not let the caller's environment leak credentials or a profile into the run.
unset SUPERDYNAMIC_CLIENT_ID SUPERDYNAMIC_CLIENT_SECRET SUPERDYNAMIC_PROFILE SUPERDYNAMIC_DATABASE_URL
export SUPERDYNAMIC_STORE=file
export SUPERDYNAMIC_STORE_PATH="$tmp/credentials.json"

# Each invocation is bounded; the suite's own timeout only kills the shell.
step_timeout="${CLIENT_STEP_TIMEOUT:-25}"
common=(--auto-authorize --timeout 10 --auth-timeout 20)

# Read one string field from the context JSON (empty if absent).
ctx() {
  [[ -n "$context" ]] || return 0
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$context" "$1"
}

sd() {
  local shown=() a hide=0
  for a in "$@"; do
    if [[ $hide -eq 1 ]]; then shown+=("***"); hide=0; else shown+=("$a"); fi
    [[ "$a" == --client-secret || "$a" == --idp-client-secret ]] && hide=1
  done
  echo "+ superdynamic ${shown[*]}" >&2
  timeout --kill-after=2 "$step_timeout" "$bin" "$@"
}

# --- per-scenario flags -------------------------------------------------------
extra=()
case "$scenario" in
  auth/pre-registration)
    # Pre-registered confidential client: credentials come from the context.
    extra+=(--client-id "$(ctx client_id)" --client-secret "$(ctx client_secret)")
    ;;
  auth/client-credentials-basic)
    # Machine client: client credentials grant with a shared secret.
    extra+=(--grant client-credentials --client-id "$(ctx client_id)" --client-secret "$(ctx client_secret)")
    ;;
  auth/client-credentials-jwt)
    # Machine client: client credentials grant with private_key_jwt (RFC 7523).
    ctx private_key_pem > "$tmp/client-key.pem"
    extra+=(--grant client-credentials --client-id "$(ctx client_id)" --private-key "$tmp/client-key.pem"
            --signing-alg "$(ctx signing_algorithm)")
    ;;
  auth/enterprise-managed-authorization)
    # Enterprise-managed authorization (SEP-990): the IdP's ID token is exchanged there for an ID-JAG, which the
    # MCP authorization server redeems (JWT bearer grant) for the pre-registered confidential client.
    ctx idp_id_token > "$tmp/id-token"
    extra+=(--grant enterprise --client-id "$(ctx client_id)" --client-secret "$(ctx client_secret)"
            --idp-issuer "$(ctx idp_issuer)" --idp-client-id "$(ctx idp_client_id)" --id-token-file "$tmp/id-token")
    ;;
  auth/wif-jwt-bearer)
    # Workload identity federation: the platform's identity token (here from the context) as the JWT bearer grant.
    ctx valid_jwt > "$tmp/workload-token"
    extra+=(--grant workload --client-id "$(ctx client_id)" --assertion-file "$tmp/workload-token")
    ;;
  auth/basic-cimd)
    # The suite's authorization server expects this URL as the client_id.
    extra+=(--client-metadata-url "https://conformance-test.local/client-metadata.json")
    ;;
esac

# --- what a real client does ---------------------------------------------------
case "$scenario" in
  sep-2322-client-request-state|elicitation-sep1034-client-defaults)
    # No terminal to ask on: answer the server's questions with the form defaults.
    extra+=(--accept-defaults) ;;
esac
tools_json="$(sd tools "$url" --json "${common[@]}" "${extra[@]}")" || exit $?
echo "$tools_json" >&2
# The calls to make, one "name<TAB>arguments" per line: what the scenario's server expects a client to do.
calls="$(python3 - "$scenario" "$tools_json" "$context" <<'PY'
import json, sys
scenario, tools, context = sys.argv[1], json.loads(sys.argv[2] or "[]"), sys.argv[3]
names = [t.get("name") for t in tools]
def out(name, args): print(f"{name}\t{json.dumps(args)}")
if scenario == "tools_call":
    out("add_numbers", {"a": 5, "b": 3})
elif context and json.loads(context).get("toolCalls"):
    for call in json.loads(context)["toolCalls"]:
        out(call["name"], call.get("arguments", {}))
elif scenario == "sep-2322-client-request-state":
    for name in ("test_mrtr_echo_state", "test_mrtr_no_state", "test_mrtr_unrelated", "test_mrtr_no_result_type"):
        out(name, {})
elif scenario == "json-schema-2020-12-preservation":
    schema = next(t["inputSchema"] for t in tools if t.get("name") == "json_schema_2020_12_tool")
    out("json_schema_echo", {"schema": schema})
elif scenario == "json-schema-ref-no-deref":
    pass  # the scenario checks only that tools/list schemas are kept as sent ($ref not followed)
elif names:
    out(names[0], {})
PY
)" || exit 1
while IFS=$'\t' read -r tool args; do
  [[ -n "$tool" ]] || continue
  sd call "$url" "$tool" --args "$args" --json "${common[@]}" "${extra[@]}" || exit $?
done <<< "$calls"
exit 0
