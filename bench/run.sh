#!/usr/bin/env bash
# superdynamic against its peers, side by side: one command.
#
#   bash bench/run.sh            # install the pinned peers, build in release mode, measure, write the results
#   bash bench/run.sh --readme   # the same, then refresh the headline table in README.md's Performance section
#
# Installs the peers from the lock files (bench/package-lock.json: @modelcontextprotocol/sdk, mcp-remote and a Node 22
# binary; bench/requirements.lock: the PyPI package mcp in bench/.venv), checks for wrk, builds superdynamic and
# superdynamic-server in release mode, then runs bench/lib/run.py, which starts every server on loopback, runs
# each measurement after a warm-up alternating ours and the peers, and writes bench/RESULTS.md, bench/ratios.svg
# and bench/results.json. Every process started is stopped on exit (trap + process groups).
#
# Environment:
#   SUPERDYNAMIC_BIN, SUPERDYNAMIC_SERVER_BIN   use these binaries instead of building
#   BENCH_ONLY=1,2,4,5                          measurements to run (1 warm call, 2 first sign-in, 3 proxy,
#                                               4 servers, 5 library micro-benchmarks, 6 DPoP vs Bearer warm call);
#                                               default all
#   BENCH_RUNS (10), BENCH_WARMUP (2), BENCH_SIGNIN_RUNS (5), BENCH_LOAD_SECONDS (5), BENCH_LOAD_ROUNDS (3),
#   BENCH_DEADLINE (840 s for the measurements; each stops early, and says so, when it would overrun)
#   BENCH_QUICK=1                               fewer, shorter runs (a smoke test, not for publishing)
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$BENCH")"
cd "$BENCH"

[[ "${1:-}" == "--readme" ]] && export BENCH_UPDATE_README=1

child=""
cleanup() {
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${BENCH_QUICK:-}" == "1" ]]; then
  export BENCH_RUNS="${BENCH_RUNS:-3}" BENCH_WARMUP="${BENCH_WARMUP:-1}" BENCH_SIGNIN_RUNS="${BENCH_SIGNIN_RUNS:-2}" \
    BENCH_LOAD_SECONDS="${BENCH_LOAD_SECONDS:-2}" BENCH_LOAD_ROUNDS="${BENCH_LOAD_ROUNDS:-1}"
fi

echo "== peers" >&2
if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund >&2
fi
if [[ ! -x .venv/bin/python ]] || ! cmp -s requirements.lock <(.venv/bin/pip freeze 2>/dev/null); then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock >&2
fi
if ! command -v wrk >/dev/null; then
  echo "wrk is missing: apt-get install wrk (Debian/Ubuntu) or brew install wrk" >&2
  exit 1
fi
[[ -x /usr/bin/time ]] || { echo "GNU time is missing (peak memory): apt-get install time" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing (the stand-in browser for mcp-remote uses it)" >&2; exit 1; }

echo "== build (release)" >&2
if [[ -z "${SUPERDYNAMIC_BIN:-}" || -z "${SUPERDYNAMIC_SERVER_BIN:-}" ]]; then
  target="${CARGO_TARGET_DIR:-$ROOT/target}"
  if (cd "$ROOT" && cargo build --release --quiet -p superdynamic-cli -p superdynamic-server >&2 &&
      cargo build --release --quiet -p superdynamic --example list_and_call >&2); then
    export BENCH_BUILT_FROM="working tree$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo ' with uncommitted changes')"
  else
    # The working tree does not build (work in progress): measure a clean checkout of HEAD instead.
    echo "the working tree does not build; building a clean checkout of HEAD" >&2
    wt="$(mktemp -d)/superdynamic-head"
    git -C "$ROOT" worktree add --detach "$wt" HEAD >&2
    trap 'cleanup; git -C "$ROOT" worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
    target="${BENCH_HEAD_TARGET_DIR:-$ROOT/target/bench-head}"
    (cd "$wt" && CARGO_TARGET_DIR="$target" cargo build --release --quiet -p superdynamic-cli -p superdynamic-server >&2 &&
      CARGO_TARGET_DIR="$target" cargo build --release --quiet -p superdynamic --example list_and_call >&2)
    export BENCH_BUILT_FROM="clean checkout of HEAD (the working tree did not build)"
  fi
  export SUPERDYNAMIC_BIN="${SUPERDYNAMIC_BIN:-$target/release/superdynamic}"
  export SUPERDYNAMIC_SERVER_BIN="${SUPERDYNAMIC_SERVER_BIN:-$target/release/superdynamic-server}"
  export SUPERDYNAMIC_EXAMPLE_BIN="${SUPERDYNAMIC_EXAMPLE_BIN:-$target/release/examples/list_and_call}"
fi
export BENCH_NODE="$BENCH/node_modules/.bin/node" BENCH_PYTHON="$BENCH/.venv/bin/python"
# The micro-benchmarks share the release build's dependencies when they can.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

echo "== measure" >&2
python3 "$BENCH/lib/run.py" &
child=$!
wait "$child"
