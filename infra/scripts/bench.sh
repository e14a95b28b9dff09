#!/usr/bin/env bash
# Benchmarks: measurements, not assertions. Builds the release binaries, runs every
# comparison side by side in one run, and REWRITES BENCHMARKS.md (report.py) with
# medians, spreads, ratios, the date and the machine:
#   1. cold-start init of every bootstrap beside a hello-world lambda_http binary,
#      under a local Lambda Runtime API (tests/src/bin/coldstart.rs), and the
#      instructions each executes until then (callgrind: immune to other load);
#   2. bootstrap sizes, stripped and zipped: x86_64 from this build, and with ARM64=1
#      arm64 built as `sam build` does (cargo-lambda; rustup installs the target);
#   3. handler latency in-process and store reads per request (tests/src/bin/bench.rs);
#   4. password sign-ins per CPU-second of the local API over DynamoDB Local, driven
#      by wrk, against the Argon2 bound;
#   5. Argon2id in Rust against the C reference (argon2-cffi), alternating, same core;
#   and the DynamoDB request units of a two-factor sign-in, for the cost table.
#
# Uses DynamoDB Local (DYNAMODB_ENDPOINT, or services.sh starts it), and installs on
# first use: wrk and valgrind (apt), argon2-cffi (pip, into the git-ignored
# .services/benchvenv), cargo-lambda (pip, .services/samvenv, as sam-build.sh) and the
# aarch64-unknown-linux-gnu target (rustup), those two only with ARM64=1.
# RUNS (cold starts per bootstrap, 15) and WRK_SECONDS (20).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
FUNCTIONS=(register login send-code verify-code manage-settings)

# DynamoDB Local: the one DYNAMODB_ENDPOINT names, else services.sh's (started, and
# stopped at the end, if it was not running).
started=0
if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
    bash infra/scripts/services.sh status 2>/dev/null || { bash infra/scripts/services.sh start; started=1; }
    source .services/env
fi
for tool in wrk valgrind taskset zip; do
    command -v "$tool" >/dev/null || { echo "installing $tool" >&2; apt-get install -y -q "$tool" >/dev/null; }
done
VENV=.services/benchvenv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import argon2' 2>/dev/null; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet argon2-cffi
fi

OUT=$(mktemp -d)
date +%s > "$OUT/started"
git rev-parse --short HEAD > "$OUT/commit"
load() { echo "$1 $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"; }
load start
trap 'kill "${API_PID:-}" 2>/dev/null || true; rm -rf "$OUT"; (( started )) && bash infra/scripts/services.sh stop || true' EXIT
echo "building release binaries" >&2
packages=(); for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
bins=(); for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done
# The functions alone first, as `sam build` selects them (the default members), so the
# tools' dependency features are not unified into the bootstraps measured; then the tools.
cargo build --release -q "${packages[@]}" "${bins[@]}"
cargo build --release -q -p local-api -p e2e --bin local-api --bin bench --bin coldstart --bin hello-lambda
BIN=$ROOT/target/release

# What a deployed function has in its environment (template.yaml).
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
export TABLE_NAME=bench EMAIL_PROVIDER=ses SES_FROM=no-reply@example.com SMS_PROVIDER=sns RUST_LOG=info
# No keys: a deployed function reads them from KEYS_SECRET_ID at its first request,
# never at init, and the local API makes its own at start.
export KEYS_SECRET_ID=twofa/keys

load built
echo "1. cold starts" >&2
args=(hello-lambda="$BIN/hello-lambda"); for f in "${FUNCTIONS[@]}"; do args+=("$f=$BIN/$f"); done
RUNS=${RUNS:-15} "$BIN/coldstart" "${args[@]}" > "$OUT/coldstart.md"
# The Runtime API at a closed port: each bootstrap runs all of its init, fails to
# connect for its first event and exits. Instructions counted from exec to exit.
for name in hello-lambda "${FUNCTIONS[@]}"; do
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 AWS_LAMBDA_FUNCTION_NAME=$name AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_LOG_GROUP_NAME=bench AWS_LAMBDA_LOG_STREAM_NAME=bench \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN/$name" 2>&1 >/dev/null \
        | awk -v n="$name" '/Collected :/ { print n, $NF }' >> "$OUT/instructions.txt" || true
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 AWS_LAMBDA_FUNCTION_NAME=$name AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' AWS_LAMBDA_LOG_GROUP_NAME=bench AWS_LAMBDA_LOG_STREAM_NAME=bench \
        /usr/bin/time -f "$name %M" -a -o "$OUT/rss.txt" "$BIN/$name" >/dev/null 2>&1 || true
done

echo "2. sizes" >&2
zipped() { rm -f "$OUT/z.zip"; cp "$1" "$OUT/bootstrap"; (cd "$OUT" && zip -q -9 z.zip bootstrap); stat -c %s "$OUT/z.zip"; }
for name in hello-lambda "${FUNCTIONS[@]}"; do
    echo "$name $(stat -c %s "$BIN/$name") $(zipped "$BIN/$name")" >> "$OUT/sizes.txt"
done
# arm64 as `sam build` makes them: its rust-cargolambda build method runs `cargo lambda
# build --release --arm64` (zig as the cross linker, and cargo-lambda's own additions to
# the release profile). Its own target directory, so it can run beside the x86_64 one.
# A second whole release build (an hour on a loaded 2-core machine), so only with ARM64=1.
load arm64-build
LAMBDA_VENV=.services/samvenv
if [ "${ARM64:-0}" = 1 ] && rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    [ -x "$LAMBDA_VENV/bin/cargo-lambda" ] || { python3 -m venv "$LAMBDA_VENV" && "$LAMBDA_VENV/bin/pip" install --quiet cargo-lambda; }
    arm_start=$(date +%s)
    CARGO_TARGET_DIR=$ROOT/target/arm PATH="$ROOT/$LAMBDA_VENV/bin:$PATH" \
        cargo lambda build --release --arm64 --quiet "${packages[@]}" "${bins[@]}"
    echo $(( $(date +%s) - arm_start )) > "$OUT/arm64-build.seconds"
    for name in "${FUNCTIONS[@]}"; do
        boot=target/arm/lambda/$name/bootstrap
        if file "$boot" | grep -q 'ARM aarch64'; then
            echo "$name $(stat -c %s "$boot") $(zipped "$boot")" >> "$OUT/sizes-arm64.txt"
        fi
    done
fi

load handlers
echo "3. handlers in-process" >&2
"$BIN/bench" > "$OUT/handlers.md"
"$BIN/bench" units > "$OUT/units.json"

load wrk
echo "4. sign-ins per second over DynamoDB Local" >&2
# The local API alone on CPU 0 (its Argon2 runs there too), wrk on CPU 1; its CPU
# time comes from /proc, so what other work on the machine takes is not counted.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TABLE_NAME=twofa-bench-$RANDOM$RANDOM PORT=$PORT RUST_LOG=warn EMAIL_PROVIDER=log SMS_PROVIDER=log \
    LOCAL_ADMIN_EMAIL=admin@example.com LOCAL_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64) \
    taskset -c 0 "$BIN/local-api" > "$OUT/local-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
export LOGIN_BODY='{"email":"bench@example.com","password":"correct horse battery staple"}'
curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$LOGIN_BODY" "http://127.0.0.1:$PORT/register" | grep -q 201 \
    || { echo "could not register the bench user"; cat "$OUT/local-api.log"; exit 1; } >&2
ticks() { awk '{ print $14 + $15 }' "/proc/$API_PID/stat"; }
for connections in 1 2; do
    taskset -c 1 wrk -t1 -c1 -d3s -s infra/scripts/bench/login.lua "http://127.0.0.1:$PORT/login" > /dev/null   # warm up
    before=$(ticks)
    taskset -c 1 wrk -t1 -c"$connections" -d"${WRK_SECONDS:-20}s" -s infra/scripts/bench/login.lua "http://127.0.0.1:$PORT/login" \
        | tail -1 > "$OUT/wrk-$connections.json"
    echo "$(( $(ticks) - before ))" > "$OUT/wrk-$connections.ticks"
done
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; API_PID=

load argon2
echo "5. Argon2id: Rust and the C reference, alternating on CPU 0" >&2
for round in 1 2 3; do
    taskset -c 0 "$BIN/bench" argon2 10 > "$OUT/argon2-rust-$round.json"
    taskset -c 0 "$VENV/bin/python" infra/scripts/bench/argon2_cffi.py 10 > "$OUT/argon2-c-$round.json"
done
"$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("argon2-cffi"), m.version("argon2-cffi-bindings"))' > "$OUT/argon2-cffi.version"

load end
echo "writing BENCHMARKS.md" >&2
# The raw measurements stay in target/bench: `python3 infra/scripts/bench/report.py
# target/bench` prints the report again without measuring. It replaces only what lies
# between the two bench.sh markers of BENCHMARKS.md: the sections written by hand
# (round trips per route, the forgot floor, the policy cache) stay.
date +%s > "$OUT/ended"
rm -rf target/bench && cp -r "$OUT" target/bench
python3 infra/scripts/bench/report.py target/bench > target/bench/report.md
python3 - BENCHMARKS.md target/bench/report.md <<'PY'
import sys
doc, report = open(sys.argv[1]).read(), open(sys.argv[2]).read()
begin, end = "<!-- bench.sh:begin -->", "<!-- bench.sh:end -->"
if begin not in doc or end not in doc:
    sys.exit("BENCHMARKS.md has lost its bench.sh markers; put them back around the measured part")
head, rest = doc.split(begin, 1)
_, tail = rest.split(end, 1)
open(sys.argv[1], "w").write(head + begin + "\n" + report.rstrip() + "\n" + end + tail)
PY
echo "BENCHMARKS.md: the measured part rewritten" >&2
