#!/usr/bin/env bash
# Lints the deployment files offline: cfn-lint on template.yaml and on the example
# relying API's template (any error fails), openapi-spec-validator on openapi.yaml,
# and the example's Python tests. test.sh runs this when it exists.
# The tools live in a venv under the git-ignored .services/, made on first use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.services/lintvenv"
cd "$ROOT"

if [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
    echo "lint: installing cfn-lint and openapi-spec-validator into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet cfn-lint openapi-spec-validator
fi

# cfn-lint checks resource specs per region; it needs one named, and no credentials.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

TEMPLATES=(template.yaml examples/protected-api/template.yaml)
echo "lint: cfn-lint ${TEMPLATES[*]} ($("$VENV/bin/cfn-lint" --version))"
"$VENV/bin/cfn-lint" "${TEMPLATES[@]}"
echo "lint: openapi-spec-validator openapi.yaml"
"$VENV/bin/openapi-spec-validator" openapi.yaml

# SAM's own check (transform + cfn-lint) when SAM CLI is here (sam-build.sh installs it);
# cfn-lint above already covers the template, so a missing SAM CLI is not an error.
SAM="$ROOT/.services/samvenv/bin/sam"
[ -x "$SAM" ] || SAM="$(command -v sam || true)"
if [ -n "$SAM" ]; then
    for t in "${TEMPLATES[@]}"; do
        echo "lint: sam validate --lint $t"
        SAM_CLI_TELEMETRY=0 "$SAM" validate --lint --template "$t"
    done
else
    echo "lint: sam validate skipped (no SAM CLI; infra/scripts/sam-build.sh installs one)"
fi

# The example relying API's function, fed API Gateway events offline (standard library only).
echo "lint: examples/protected-api tests"
python3 -B -m unittest discover -s examples/protected-api
