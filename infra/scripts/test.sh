#!/usr/bin/env bash
# Runs every test: starts DynamoDB Local and moto (services.sh), lints the
# deployment files (lint.sh, when present), checks rustfmt and clippy, then
# `cargo test --workspace`, then the
# console in headless Chromium (browser-tests.sh).
# Under CI=true a service that cannot start fails the run; elsewhere the tests
# that need it print SKIPPED and the rest run.
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
    "$@" &
    child=$!
    wait "$child"
    child=
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
        echo "test.sh: WARNING: DynamoDB Local or moto did not start (see .services/*.log): the tests that need them will be SKIPPED" >&2
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

# The web console clicked through in headless Chromium (installed on first use).
step bash infra/scripts/browser-tests.sh
