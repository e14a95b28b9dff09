#!/usr/bin/env bash
# Builds the cargo-fuzz targets of fuzz/ and runs each for a bounded time, one per core.
#
#   fuzz.sh [SECONDS] [TARGET...]   default: 20 seconds each, every target
#
# It builds exactly as `cargo fuzz build --sanitizer none` does (libFuzzer with
# SanitizerCoverage; RUSTC_BOOTSTRAP=1 lets the stable toolchain take cargo-fuzz's
# flags), so it needs no cargo-fuzz install; with cargo-fuzz installed,
# `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run email --sanitizer none` is the same.
# A crash fails the run (exit 1) and leaves its input in fuzz/artifacts/<target>/;
# a build that fails exits 3 (test.sh tells the two apart).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:-20}"
shift || true
TARGETS=("$@")
if (( ${#TARGETS[@]} == 0 )); then
    TARGETS=(body token cookie phone email)
fi

TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# Its own target dir: the instrumented build shares nothing with the test build.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}"
# test.sh lints through clippy-driver as the workspace wrapper; the fuzz workspace is not linted.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow_checks"

start=$SECONDS
# --target keeps the instrumentation off build scripts and proc macros, as cargo-fuzz does.
if ! cargo build --release --locked --manifest-path fuzz/Cargo.toml --target "$TRIPLE" --bins; then
    echo "fuzz: the build FAILED" >&2
    exit 3
fi
echo "fuzz: built in $((SECONDS - start))s"

# Each target is one single-threaded process: they run side by side, one per core,
# so each still gets SECONDS_EACH of a core and the step takes a fraction of the time.
LOGS="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$LOGS"' EXIT
run_target() {
    local target=$1
    # As cargo-fuzz: what a run finds grows fuzz/corpus/<target>/ (ignored by git);
    # the committed fuzz/seeds/<target>/ give a short run valid inputs to start from.
    local corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    "$CARGO_TARGET_DIR/$TRIPLE/release/$target" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=20000 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" "$corpus" "fuzz/seeds/$target" >"$LOGS/$target" 2>&1
}
JOBS="${FUZZ_JOBS:-$(nproc)}"
declare -A pids=()
failed=()
# Waits for the target started first and reports it.
reap() {
    local target=$1 status=0
    wait "${pids[$target]}" || status=$?
    unset "pids[$target]"
    echo "fuzz: $target for ${SECONDS_EACH}s"
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$LOGS/$target" || true
    if (( status != 0 )); then
        tail -n 40 "$LOGS/$target" >&2
        echo "fuzz: $target FAILED (exit $status); the input is in fuzz/artifacts/$target/" >&2
        failed+=("$target")
    fi
}
order=()
for target in "${TARGETS[@]}"; do
    if (( ${#order[@]} >= JOBS )); then
        reap "${order[0]}"
        order=("${order[@]:1}")
    fi
    run_target "$target" &
    pids[$target]=$!
    order+=("$target")
done
for target in "${order[@]}"; do
    reap "$target"
done
if (( ${#failed[@]} > 0 )); then
    exit 1
fi
