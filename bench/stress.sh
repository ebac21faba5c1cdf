#!/usr/bin/env bash
# Token-lifecycle stress benchmark: 16 CLI processes (release build) sharing one credential store make repeated
# tool calls against the reference server with 2-second access tokens and rotating refresh tokens whose reuse
# revokes the family, once with the file store and once with PostgreSQL (a throwaway cluster). Prints processes, calls, failures, new sign-ins, refreshes and token expiries.
#   bench/stress.sh [PROCESSES] [CALLS_PER_PROCESS]
set -euo pipefail
cd "$(dirname "$0")/.."
export SUPERDYNAMIC_STRESS_PROCS="${1:-16}" SUPERDYNAMIC_STRESS_CALLS="${2:-60}"
.ci/with-postgres cargo test --release -p superdynamic-cli --test stress -- --nocapture 2>&1 | grep -E "^stress|test result|panicked|failed"
