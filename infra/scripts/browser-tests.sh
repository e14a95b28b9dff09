#!/usr/bin/env bash
# The web console's browser tests (tests/browser/): Debian's Chromium, driven by
# playwright-core from npm (installed into the git-ignored .services/browser; it
# never downloads a browser of its own), against the local API's binary on a fresh
# table in DynamoDB Local. Installs Chromium with apt-get when it is missing and
# this runs as root. Under CI=true anything missing fails the run; elsewhere the
# tests print SKIPPED and this exits 0.
#
# Ends with a line "N passed, M failed". CONSOLE_SCREENSHOTS=docs/console rewrites
# the screenshots in docs/console.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DIR="$ROOT/.services"
PLAYWRIGHT_VERSION=1.65.1
mkdir -p "$DIR"

missing() {
    if [[ "${CI:-}" == "true" ]]; then
        echo "browser-tests: $1; CI must run the browser tests" >&2
        exit 1
    fi
    echo "browser-tests: SKIPPED: $1" >&2
    exit 0
}

if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "browser-tests: installing Debian's chromium (apt-get)" >&2
        { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } \
            >"$DIR/install-chromium.log" 2>&1 || echo "browser-tests: apt-get failed, see .services/install-chromium.log" >&2
    fi
    [[ -x /usr/bin/chromium ]] || missing "/usr/bin/chromium is missing (apt-get install chromium)"
fi
command -v node >/dev/null && command -v npm >/dev/null || missing "node and npm are missing"

if [[ "$(node -p "try { require('$DIR/browser/node_modules/playwright-core/package.json').version } catch { '' }")" != "$PLAYWRIGHT_VERSION" ]]; then
    echo "browser-tests: installing playwright-core@$PLAYWRIGHT_VERSION into .services/browser" >&2
    mkdir -p "$DIR/browser"
    npm install --silent --no-audit --no-fund --prefix "$DIR/browser" "playwright-core@$PLAYWRIGHT_VERSION" >"$DIR/install-browser.log" 2>&1 \
        || missing "npm install playwright-core failed, see .services/install-browser.log"
fi

# shellcheck source=/dev/null
[[ -z "${DYNAMODB_ENDPOINT:-}" && -f "$DIR/env" ]] && source "$DIR/env"
[[ -n "${DYNAMODB_ENDPOINT:-}" ]] || missing "DynamoDB Local is not running (infra/scripts/services.sh start)"

cargo build --quiet -p local-api --bin local-api
export LOCAL_API_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/local-api"

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
node --test --test-reporter=tap tests/browser/ | tee "$out" || status=$?
passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)"
failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)"
echo "${passed:-0} passed, ${failed:-0} failed"
if [[ "$status" != 0 || "${failed:-1}" != 0 ]]; then
    exit 1
fi
