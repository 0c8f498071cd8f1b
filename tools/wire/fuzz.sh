#!/usr/bin/env bash
# Coverage-guided fuzzing of every wire decoder, bounded in time: each
# cargo-fuzz target in tools/wire/fuzz runs for $FUZZ_SECONDS (default 10)
# with libFuzzer. Exits non-zero on a crash (a panic: failed assertion,
# arithmetic overflow, out-of-bounds) and names the reproducer.
#
# Stable Rust: libFuzzer needs only the sanitizer-coverage instrumentation
# (-Cpasses=sancov-module, stable codegen flags), so the targets build with
# `--sanitizer none`; address sanitizer would need nightly's -Zsanitizer,
# and the wire code has no unsafe for it to check. Debug assertions and
# overflow checks are on (cargo-fuzz's default).
#
#   tools/wire/fuzz.sh                  every target, 10 s each
#   FUZZ_SECONDS=600 tools/wire/fuzz.sh rtrs_info
#   cd tools/wire && cargo fuzz run -s none rnbd_msg fuzz/artifacts/rnbd_msg/crash-...
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-10}
command -v cargo-fuzz >/dev/null || {
    echo "fuzz: cargo-fuzz is missing: run 'make deps'" >&2
    exit 1
}
# The lock file is committed: refuse to resolve anything new.
cargo fetch -q --locked --manifest-path fuzz/Cargo.toml
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
start=$SECONDS
mkdir -p fuzz/logs
if ! cargo fuzz build -s none >fuzz/logs/build.log 2>&1; then
    tail -n 40 fuzz/logs/build.log >&2
    echo "fuzz: build failed (tools/wire/fuzz/logs/build.log)" >&2
    exit 1
fi
echo "fuzz: targets built in $((SECONDS - start)) s"
for t in "${targets[@]}"; do
    log=fuzz/logs/$t.log
    if ! cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $t: CRASH, reproducer in tools/wire/fuzz/artifacts/$t/ (log tools/wire/$log)" >&2
        exit 1
    fi
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
    echo "fuzz: $t: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?} edges, corpus ${corp:-?} inputs, no crash"
done
echo "fuzz: ${#targets[@]} targets, no crash, $((SECONDS - start)) s"
