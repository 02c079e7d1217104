#!/usr/bin/env bash
# The full test suite: lint, static types, then pytest. Called by `./dev test` (and CI via .ci/run).
# With CI=true, tests that need PostgreSQL, Chromium or ../shared fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff"
"$BIN/ruff" check src tests bench
echo "== mypy (strict, src/)"
"$BIN/mypy"
echo "== pytest"
exec "$BIN/pytest" "$@"
