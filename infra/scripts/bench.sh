#!/usr/bin/env bash
# Benchmarks for BENCHMARKS.md (not part of the test command: numbers, not assertions).
# 1. handler latency and store reads per request, in-process, release build;
# 2. a bootstrap's start-up cost and peak memory until it asks for the Lambda Runtime API.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -q -p e2e --bin bench
cargo build --release -q -p login --bin login
[ -x target/release/login ] || { echo "no release login bootstrap" >&2; exit 1; }
echo "## Handlers (embedded store, release build, $(nproc) cores)"
./target/release/bench

echo
echo "## Bootstrap start-up (login, release, x86_64): settings, keys and SDK clients built, then exit"
# The Runtime API points at a closed port, so the bootstrap stops at its first call
# for an event: what is timed is process start plus everything main() builds once
# per cold start (settings, keys, SDK config and clients, the runtime).
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export AWS_LAMBDA_FUNCTION_NAME=login AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION=1
export AWS_LAMBDA_LOG_STREAM_NAME=bench AWS_LAMBDA_LOG_GROUP_NAME=bench AWS_LAMBDA_RUNTIME_API=127.0.0.1:9
export RUST_BACKTRACE=0
export TABLE_NAME=bench JWT_SIGNING_KEY=$(head -c 32 /dev/urandom | base64) CODE_HMAC_KEY=$(head -c 32 /dev/urandom | base64) TOTP_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
runs=20
start=$(date +%s%N)
for _ in $(seq $runs); do ./target/release/login >/dev/null 2>&1 || true; done
end=$(date +%s%N)
echo "mean wall time over $runs starts: $(( (end - start) / runs / 1000000 )) ms"
if command -v /usr/bin/time >/dev/null; then
  /usr/bin/time -f "peak RSS: %M KiB" ./target/release/login >/dev/null 2>/tmp/bench-rss.txt || true
  grep "peak RSS" /tmp/bench-rss.txt || true
fi
echo "size of the stripped bootstrap: $(stat -c %s target/release/login) bytes"
