#!/usr/bin/env bash
# A bounded run of every cargo-fuzz target, for CI: FUZZ_SECONDS each (default 30), the
# checked-in seeds plus the local corpus (tests/fuzz/corpus/<target>, not in git). Exits
# non-zero on the first crash; libFuzzer leaves the input in tests/fuzz/artifacts/<target>/,
# which then becomes a regression test (see RELIABILITY.md). Prints executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
    exit 0
fi
for t in rule_file recipe archive audit_record render cli_inputs; do
    mkdir -p "tests/fuzz/corpus/$t"
    log="$(mktemp)"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz "$t" "tests/fuzz/corpus/$t" "tests/fuzz/seeds/$t" \
        -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz target $t FAILED"
        exit 1
    fi
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
    echo "$t: ${secs}s: ${done_line}"
    rm -f "$log"
done
