#!/usr/bin/env bash
# Runs the official MCP conformance suite (client side: the authorization
# scenarios and the transport scenarios) against the `superdynamic` CLI through conformance/client.sh,
# then summarises every checks.json. Exits non-zero on any FAILURE or WARNING.
#
#   conformance/run.sh                       # everything (release + prerelease)
#   conformance/run.sh --only auth/scope-step-up   # one scenario, both versions
#   conformance/run.sh --only auth --version next  # one suite, one version
#
# Options:
#   --only NAME       a scenario (auth/...) or a suite (auth, backcompat, draft, ...)
#   --version V       release | next | both (default both)
#   --no-build        skip `cargo build -p superdynamic-cli`
#   -j N              parallel scenario runs for the prerelease (default 4)
#   --spec-version V  prerelease only: run at this spec version (adds --force),
#                     e.g. 2025-11-25 to test 2026-07-28 scenarios' auth logic
#                     on the initialize-based protocol
#   --verbose         pass --verbose to the suite
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"

only="" version="both" build=1 jobs=4 verbose=() spec_version=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="${2:?--only needs a scenario or suite}"; shift 2 ;;
    --version) version="${2:?--version needs release|next|both}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -j) jobs="${2:?-j needs a number}"; shift 2 ;;
    --verbose) verbose=(--verbose); shift ;;
    --spec-version) spec_version="${2:?--spec-version needs a version}"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$version" in release|next|both) ;; *) echo "run.sh: --version must be release, next or both" >&2; exit 2 ;; esac

# --- install (idempotent) -----------------------------------------------------
"$here/install.sh"
NODE="$here/node_modules/node/bin/node"
"$NODE" --version >/dev/null

# --- build --------------------------------------------------------------------
if [[ $build -eq 1 ]]; then
  echo ">> cargo build -p superdynamic-cli" >&2
  (cd "$repo" && timeout 600 cargo build -p superdynamic-cli --quiet) >&2
fi

# --- plan -------------------------------------------------------------------------
cli() { echo "$here/node_modules/conformance-$1/dist/index.js"; }
suites="all core extensions backcompat auth metadata draft sep-835"
client_scenarios() { # version -> "name [tags]" lines of the client scenarios
  "$NODE" "$(cli "$1")" list | awk '/^Client scenarios/{c=1;next} /^[A-Z]/{c=0} c && /^  - /{sub(/^  - /,""); print}'
}

stamp_now="$(date -u +%Y%m%dT%H%M%SZ)"
out="$here/results/$stamp_now"
mkdir -p "$out"
ln -sfn "$stamp_now" "$here/results/latest"

jobs_file="$out/jobs.tsv"   # version <TAB> kind(scenario|suite) <TAB> name
: > "$jobs_file"
add() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$jobs_file"; }

plan_version() { # version
  local v="$1" list
  list="$(client_scenarios "$v")"
  if [[ -n "$only" ]]; then
    if grep -qx -- "$only \[.*\]" <<<"$list"; then add "$v" scenario "$only"
    elif [[ " $suites " == *" $only "* ]]; then add "$v" suite "$only"
    else echo "   ($v has no client scenario or suite '$only'; skipped)" >&2
    fi
    return
  fi
  if [[ "$v" == release ]]; then
    add release suite auth
    add release suite backcompat
    add release suite draft
    add release scenario auth/client-credentials-jwt
    add release scenario auth/client-credentials-basic
  else
    awk '$1 ~ /^auth\// && ($0 ~ /2025-03-26|2025-06-18|2025-11-25|2026-07-28/ || $1 ~ /^auth\/client-credentials-/) {print $1}' <<<"$list" \
      | while read -r s; do add next scenario "$s"; done
    # Extension scenarios carry no spec-version tag: enterprise-managed authorization, workload identity and
    # DPoP-bound tokens without and with server nonces (RFC 9449).
    for s in auth/enterprise-managed-authorization auth/wif-jwt-bearer auth/dpop auth/dpop-nonce; do
      if grep -q -- "^$s " <<<"$list"; then add next scenario "$s"; fi
    done
    # The transport scenarios (both protocol generations, streaming, headers, MRTR, elicitation defaults).
    for s in initialize tools_call sse-retry request-metadata http-standard-headers http-custom-headers \
             http-invalid-tool-headers json-schema-ref-no-deref json-schema-2020-12-preservation \
             elicitation-sep1034-client-defaults sep-2322-client-request-state; do
      if grep -q -- "^$s " <<<"$list"; then add next scenario "$s"; fi
    done
  fi
}
[[ "$version" == next ]] || plan_version release
[[ "$version" == release ]] || plan_version next
if [[ ! -s "$jobs_file" ]]; then echo "run.sh: nothing to run" >&2; exit 2; fi

# --- run ----------------------------------------------------------------------
# One conformance process per job, bounded in time. Release suites already run
# their scenarios in parallel; all jobs share a pool of $jobs workers.
run_job() { # version kind name
  local v="$1" kind="$2" name="$3" log rc=0 spec=()
  log="$out/$v/logs/${name//\//_}.log"
  mkdir -p "$out/$v/logs"
  [[ "$v" == next && -n "$spec_version" ]] && spec=(--spec-version "$spec_version" --force)
  SUPERDYNAMIC_CONFORMANCE_EXITS="$log.exits" \
  timeout --kill-after=10 240 "$NODE" "$(cli "$v")" client \
    --command "$here/client.sh" "--$kind" "$name" --timeout 30000 \
    -o "$out/$v" "${spec[@]}" "${verbose[@]}" > "$log" 2>&1 || rc=$?
  echo "$rc" > "$log.rc"
  printf '   %-8s %-7s %-45s exit %s\n' "$v" "$kind" "$name" "$rc" >&2
}
export -f run_job cli
export out here NODE spec_version
verbose_str="${verbose[*]:-}"
export verbose_str

echo ">> running $(wc -l < "$jobs_file") job(s) -> $out" >&2
start=$SECONDS
# shellcheck disable=SC2016
tr '\t' '\n' < "$jobs_file" | xargs -d '\n' -n 3 -P "$jobs" bash -c \
  'verbose=(); [[ -n "$verbose_str" ]] && verbose=($verbose_str); run_job "$@"' _
echo ">> done in $((SECONDS - start))s" >&2

# --- summarise ------------------------------------------------------------------
python3 - "$out" "$(cli release)" "$(cli next)" <<'PY'
import json, os, re, sys
out = sys.argv[1]
dist = {"release": sys.argv[2], "next": sys.argv[3]}

def allow_client_error(path):
    """Scenarios whose class sets allowClientError (the client is expected to
    give up, e.g. on a forged issuer): the suite ignores their exit code."""
    src = open(path).read()
    names = set()
    for m in re.finditer(r"allowClientError=!0", src):
        found = re.findall(r"this\.name=`([^`]*)`", src[max(0, m.start() - 3000):m.start()])
        if found:
            names.add(found[-1])
    return names
ts = re.compile(r"-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$")
rows, problems, skipped, bad = [], [], [], 0
for version in ("release", "next"):
    vdir = os.path.join(out, version)
    if not os.path.isdir(vdir):
        continue
    allowed = allow_client_error(dist[version])
    exits = {}  # scenario -> non-zero exit codes of client.sh
    logs = os.path.join(vdir, "logs")
    for f in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        if f.endswith(".exits"):
            for line in open(os.path.join(logs, f)):
                sc, _, rc = line.rstrip("\n").partition("\t")
                if rc not in ("", "0"):
                    exits.setdefault(sc, []).append(rc)
    for root, _, files in os.walk(vdir):
        if "checks.json" not in files:
            continue
        scenario = ts.sub("", os.path.relpath(root, vdir))
        try:
            checks = json.load(open(os.path.join(root, "checks.json")))
        except Exception as e:  # unreadable results count as a failure
            checks = [{"id": "checks.json", "status": "FAILURE", "description": f"unreadable: {e}"}]
        count = lambda s: sum(1 for c in checks if c.get("status") == s)
        rc = exits.get(scenario, [])
        exit_fail = bool(rc) and scenario not in allowed
        rows.append((version, scenario, count("SUCCESS"), count("FAILURE"), count("WARNING"),
                     ",".join(rc) or "0", exit_fail))
        if exit_fail:
            problems.append((version, scenario, "FAILURE", "client-exit",
                             f"client.sh exited with code {','.join(rc)} and the scenario does not allow a client error "
                             "(the suite reports OVERALL: FAILED); see stderr.txt"))
        for c in checks:
            # SKIPPED checks are listed (they test what the client does not declare, e.g. sampling) but pass.
            if c.get("status") == "SKIPPED":
                skipped.append((version, scenario, c.get("id"), c.get("description", "")))
            elif c.get("status") not in ("SUCCESS", "INFO"):
                problems.append((version, scenario, c.get("status"), c.get("id"), c.get("description", "")))
    # jobs that produced no results at all (crash / timeout)
    for f in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
        if f.endswith(".rc"):
            rc = open(os.path.join(logs, f)).read().strip()
            if rc in ("124", "137"):
                problems.append((version, f[:-7], "FAILURE", "run-timeout", f"conformance run timed out (exit {rc})"))

rows.sort()
w = max([len(r[1]) for r in rows] + [8])
print()
print(f"{'version':<8} {'scenario':<{w}} {'passed':>6} {'failed':>6} {'warn':>5} {'exit':>5}")
print("-" * (w + 36))
for v, s, p, f, wn, rc, xf in rows:
    mark = "" if f == 0 and wn == 0 and not xf else "  <--"
    rc = rc + ("!" if xf else "")
    print(f"{v:<8} {s:<{w}} {p:>6} {f:>6} {wn:>5} {rc:>5}{mark}")
tp, tf, tw = (sum(r[i] for r in rows) for i in (2, 3, 4))
print("-" * (w + 36))
tx = sum(1 for r in rows if r[6])
print(f"{'total':<8} {str(len(rows)) + ' scenario runs':<{w}} {tp:>6} {tf:>6} {tw:>5} {str(tx) + '!':>5}")
print("exit: client.sh's exit code; '!' = the suite counts it as a failure (reported below as client-exit)")
if skipped:
    print(f"\nSkipped by the suite (not failures): {len(skipped)} checks, e.g. {skipped[0][1]}: {skipped[0][3]}")
if problems:
    print("\nNon-SUCCESS/INFO checks:")
    for v, s, st, i, d in sorted(problems):
        print(f"  [{v}] {s}: {st} {i} -- {d}")
print(f"\nResults: {out}")
# One plain closing line: checks passed, and checks that failed or warned (plus failing client exits).
print(f"conformance: {tp} passed, {tf + tw + tx} failed")
sys.exit(1 if problems else 0)
PY
