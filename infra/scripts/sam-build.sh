#!/usr/bin/env bash
# `sam build` from a clean clone of the committed tree, as a deployer runs it, then
# the size of each bootstrap (stripped by the release profile, and zipped as Lambda
# stores it). Not part of the test command: a cold arm64 release build of the
# workspace takes many minutes on a small machine.
#
#   infra/scripts/sam-build.sh [REV]    (default HEAD; SAM_BUILD_DIR to keep the clone)
#
# Installs on first use, into the git-ignored .services/: SAM CLI and cargo-lambda
# (pip; the cargo-lambda wheel brings its binary and zig), and the Rust target
# aarch64-unknown-linux-gnu through rustup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.services/samvenv"
REV="${1:-HEAD}"

if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet aws-sam-cli cargo-lambda
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$VENV/bin:$PATH" SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}"

WORK="${SAM_BUILD_DIR:-$(mktemp -d)}"
CLONE="$WORK/twofa"
rm -rf "$CLONE"
git clone --quiet --no-hardlinks "$ROOT" "$CLONE"
git -C "$CLONE" checkout --quiet "$REV"
cd "$CLONE"

start=$(date +%s)
sam build   # settings (beta features for rust-cargolambda) from samconfig.toml
took=$(( $(date +%s) - start ))

echo
echo "sam build of $(git rev-parse --short HEAD) took ${took}s"
printf '%-24s %12s %12s\n' function "bootstrap B" "zipped B"
for dir in .aws-sam/build/*Function; do
    name="$(basename "$dir")"
    boot="$dir/bootstrap"
    file "$boot" | grep -q 'ARM aarch64' || { echo "$name: bootstrap is not an arm64 binary" >&2; exit 1; }
    ( cd "$dir" && rm -f /tmp/"$name".zip && zip -q -9 /tmp/"$name".zip bootstrap )
    printf '%-24s %12s %12s\n' "$name" "$(stat -c %s "$boot")" "$(stat -c %s /tmp/"$name".zip)"
    rm -f /tmp/"$name".zip
done
