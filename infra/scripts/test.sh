#!/usr/bin/env bash
# Runs every test: starts DynamoDB Local and moto (services.sh), lints the
# deployment files (lint.sh, when present), checks rustfmt and clippy, then
# `cargo test --workspace`, then a short run of each fuzz target (fuzz.sh,
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
finish() {
    local status=$?
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if (( started )); then
        bash infra/scripts/services.sh stop || true
    fi
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

# Services someone already started (another run, a developer) are used and left running.
if bash infra/scripts/services.sh status 2>/dev/null; then
    echo "test.sh: using the services already running"
else
    started=1
    if ! bash infra/scripts/services.sh start; then
        if [[ "${CI:-}" == "true" ]]; then
            echo "test.sh: DynamoDB Local or moto did not start (see .services/*.log); CI must test against both" >&2
            exit 1
        fi
        echo "test.sh: WARNING: DynamoDB Local or moto did not start (see .services/*.log): the tests that need them will be ignored" >&2
    fi
fi
# shellcheck source=/dev/null
[[ -f .services/env ]] && source .services/env

if [[ -f infra/scripts/lint.sh ]]; then
    step bash infra/scripts/lint.sh
fi

# The lint gate: formatting and clippy's warnings fail the run, so they never pile up.
step cargo fmt --all --check
step cargo clippy --workspace --all-targets --locked -- -D warnings

# Every failing target is reported, not only the first.
step cargo test --workspace --no-fail-fast

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
