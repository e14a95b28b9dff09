#!/usr/bin/env bash
# Lints the deployment files offline: cfn-lint on template.yaml (any error fails)
# and openapi-spec-validator on openapi.yaml. test.sh runs this when it exists.
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

echo "lint: cfn-lint template.yaml ($("$VENV/bin/cfn-lint" --version))"
"$VENV/bin/cfn-lint" template.yaml
echo "lint: openapi-spec-validator openapi.yaml"
"$VENV/bin/openapi-spec-validator" openapi.yaml
