#!/usr/bin/env bash
# Lists the files of production code that run during one password sign-in through
# `POST /login` on DynamoDB (2FA off: the password step, its slot and success
# writes, the event, the access token), and counts them. docs/adding-a-route.md
# quotes the result.
#
# How: the local API runs under valgrind's callgrind, collecting only inside the
# login handler (`login::handle`, every poll of its future) and inside the blocking
# Argon2 closure of `twofa::password::verify_password` (another thread). A
# registration comes first, outside both, then one login. Every source file of the
# workspace with at least one instruction executed in that window is listed
# (inlined code counts for the file it comes from). The workspace's crates are
# built with line tables for this; dependencies keep their build (the next ordinary
# build compiles those crates once more).
#
# Why not `-C instrument-coverage`: it would rebuild every dependency, and the
# llvm-profdata/llvm-cov on this machine (LLVM 14) cannot read the profiles of
# rustc's LLVM; the `llvm-tools` component is not installed.
#
# Needs: valgrind, curl, DynamoDB Local at DYNAMODB_ENDPOINT
# (`source .services/env`). Usage: infra/scripts/login-files.sh [--list]
# With LOGIN_FILES_OUT=<file>, callgrind's output is kept there (read it with
# `callgrind_annotate --inclusive=no <file>` to see which functions ran).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
: "${DYNAMODB_ENDPOINT:?DynamoDB Local: source .services/env first}"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"

lines='"line-tables-only"'
cargo build -q -p local-api --bin local-api \
    --config "profile.dev.package.twofa.debug=$lines" \
    --config "profile.dev.package.login.debug=$lines" \
    --config "profile.dev.package.local-api.debug=$lines"
bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/local-api"

work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
TABLE_NAME="twofa-login-files-$RANDOM$RANDOM" PORT=$port RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    --collect-atstart=no --compress-pos=no \
    '--toggle-collect=login::handle*' \
    '--toggle-collect=twofa::password::verify_password::{{closure}}::{{closure}}' \
    "$bin" >"$work/api.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 $api 2>/dev/null || { echo "login-files: the local API stopped" >&2; cat "$work/api.log" >&2; exit 1; }
    sleep 0.5
done
body='{"email":"count@example.com","password":"correct horse battery staple"}'
post() { curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$port$1"; }
reg=$(post /register)
login=$(post /login)
if [ "$reg" != 201 ] || [ "$login" != 200 ]; then
    echo "login-files: register answered $reg, login $login (expected 201, 200)" >&2
    cat "$work/api.log" >&2
    exit 1
fi
kill -INT $api
wait $api || true
if [ -n "${LOGIN_FILES_OUT:-}" ]; then cp "$work/cg.out" "$LOGIN_FILES_OUT"; fi

# fl= names a function's file, fi=/fe= the file of code inlined into it; each is
# given once with its number, later by number alone. A file counts when a cost
# line (its first number is the source line, absolute under --compress-pos=no)
# falls on one of its lines; line 0 is code the compiler made with no line of
# its own (a standard library generic instantiated in the crate), not counted.
files=$(awk '
    /^(fl|fi|fe|cfi|cfl)=/ {
        split($0, a, "=")
        rest = substr($0, length(a[1]) + 2)
        if (match(rest, /^\([0-9]+\) /)) {
            id = substr(rest, 2, RLENGTH - 3); name = substr(rest, RLENGTH + 1); names[id] = name
        } else if (match(rest, /^\([0-9]+\)$/)) {
            id = substr(rest, 2, RLENGTH - 2); name = names[id]
        } else { name = rest }
        # cfi/cfl name the callee'"'"'s file: the cost after its calls= line is the call site'"'"'s.
        if (a[1] == "cfi" || a[1] == "cfl") next
        current = name; next
    }
    /^calls=/ { getline; if (current != "" && $1 > 0) ran[current] = 1; next }
    /^[0-9]/ { if (current != "" && $1 > 0) ran[current] = 1 }
    END { for (f in ran) print f }
' "$work/cg.out"* | sed "s#^$ROOT/##" | grep -E '^(shared/src|functions/login/src)/' | sort -u)

if [ "${1:-}" = "--list" ]; then
    echo "$files"
fi
echo "login-files: $(echo "$files" | grep -c .) files of production code run by one password sign-in"
