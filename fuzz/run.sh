#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each): bash fuzz/run.sh [SECONDS] [TARGET…]
# Needs a nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). Crashes land in fuzz/artifacts/TARGET/.
# Without cargo-fuzz, the same entry points run as property tests: cargo test -p superdynamic --test properties
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(www_authenticate sse metadata token_response resource_uri callback_query proxy_framing address_class)
fi
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== $target (${seconds}s)"
    if ! cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=4096 \
        -print_final_stats=1 2>&1 | tee "/tmp/superdynamic-fuzz-$target.log" | grep -E "^(stat::number_of_executed_units|==|SUMMARY|Done)"; then
        echo "!! $target failed: see /tmp/superdynamic-fuzz-$target.log and fuzz/artifacts/$target/"
        status=1
    fi
done
exit $status
