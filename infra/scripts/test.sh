#!/usr/bin/env bash
# Runs every test: starts DynamoDB Local and moto (services.sh), lints the
# deployment files (lint.sh, when present), checks rustfmt, then builds and runs
# `cargo test --workspace` with clippy's lints as errors, then a short run of each fuzz target (fuzz.sh,
# FUZZ_SECONDS each, default 10), then the
# console in headless Chromium (browser-tests.sh).
# Under CI=true a service that cannot start, or a fuzz build that fails, fails the
# run; elsewhere the tests that need it are ignored (shared/build.rs) and the rest
# run. A fuzz crash always fails the run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The SDKs must never reach for real credentials or the instance metadata service.
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE

started=0
child=
background=()
finish() {
    local status=$?
    local pid
    for pid in $child "${background[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if (( started )); then
        bash infra/scripts/services.sh stop || true
    fi
    [[ -n "${logs:-}" ]] && rm -rf "$logs"
    echo "test.sh: $([[ $status == 0 ]] && echo passed || echo "FAILED (exit $status)") in ${SECONDS}s"
    exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a step as a child and waits for it, so Ctrl-C or a TERM stops the run at once
# (bash defers traps while a foreground command runs) and the trap stops the child.
step() {
    local status=0
    "$@" &
    child=$!
    wait "$child" || status=$?
    child=
    return "$status"
}

# The services and the lint tools install (a minute or more on a fresh machine, mostly
# waiting on downloads) while the test build compiles; the run waits for them just
# before the tests. Their output is shown when they are done.
logs="$(mktemp -d)"
services_pid=
# Services someone already started (another run, a developer) are used and left running.
if bash infra/scripts/services.sh status 2>/dev/null; then
    echo "test.sh: using the services already running"
else
    started=1
    # The endpoints are known before the services answer, so the build sees them
    # (shared/build.rs) and need not be redone once they do.
    bash infra/scripts/services.sh ports
    bash infra/scripts/services.sh start >"$logs/services" 2>&1 &
    services_pid=$!
    background+=("$services_pid")
fi
# shellcheck source=/dev/null
[[ -f .services/env ]] && source .services/env
lint_pid=
if [[ -f infra/scripts/lint.sh ]]; then
    bash infra/scripts/lint.sh >"$logs/lint" 2>&1 &
    lint_pid=$!
    background+=("$lint_pid")
fi

# Waits for a background job and shows its output; its exit status is returned.
finished() {
    local pid=$1 log=$2 status=0
    wait "$pid" || status=$?
    cat "$log"
    return "$status"
}

# The lint gate: formatting and clippy's warnings fail the run, so they never pile up.
step cargo fmt --all --check

# Clippy lints the workspace's crates while the test build compiles them: clippy-driver
# as the workspace's rustc wrapper is what `cargo clippy` runs, but there it checks
# every dependency a second time (two minutes cold on 2 cores) for a build that is then
# thrown away. Dependencies are compiled once, by plain rustc. The same two variables
# stay set for every later cargo command of this run, so they reuse this build.
# `cargo clippy --workspace --all-targets -- -D warnings` is the same gate by hand.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)"
if [[ -z "$RUSTC_WORKSPACE_WRAPPER" ]]; then
    echo "test.sh: clippy-driver not found (rustup component add clippy)" >&2
    exit 1
fi
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# Every failing target is reported, not only the first; a lint fails the build.
step cargo test --workspace --all-targets --no-fail-fast --locked --no-run

if [[ -n "$lint_pid" ]]; then
    finished "$lint_pid" "$logs/lint"
fi
if [[ -n "$services_pid" ]] && ! finished "$services_pid" "$logs/services"; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "test.sh: DynamoDB Local or moto did not start (see .services/*.log); CI must test against both" >&2
        exit 1
    fi
    echo "test.sh: WARNING: DynamoDB Local or moto did not start (see .services/*.log): the tests that need them will be ignored" >&2
    # What did start is in the env file; the tests of what did not are rebuilt as ignored.
    unset DYNAMODB_ENDPOINT MOTO_ENDPOINT
    # shellcheck source=/dev/null
    [[ -f .services/env ]] && source .services/env
fi

step cargo test --workspace --no-fail-fast --locked

# The parsers a client reaches, fuzzed briefly: the build is the cost (minutes,
# cold), the runs are FUZZ_SECONDS each. Longer runs: docs/development.md, "Fuzzing".
fuzz_status=0
step bash infra/scripts/fuzz.sh "${FUZZ_SECONDS:-10}" || fuzz_status=$?
if (( fuzz_status == 3 )) && [[ "${CI:-}" != "true" ]]; then
    echo "test.sh: WARNING: the fuzz targets did not build: fuzzing SKIPPED" >&2
elif (( fuzz_status != 0 )); then
    exit "$fuzz_status"
fi

# The web console clicked through in headless Chromium (installed on first use).
step bash infra/scripts/browser-tests.sh
