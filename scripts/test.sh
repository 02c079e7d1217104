#!/usr/bin/env bash
# The full test suite: lint, static types, then pytest. Called by `./dev test` (and CI via .ci/run).
# With CI=true, tests that need PostgreSQL, Chromium or ../shared fail instead of skipping.
#
# pytest runs in two parts. First every test not marked `timing`, on one worker process per core (at most 4;
# pytest-xdist, a test file per worker at a time, so module fixtures are built once): most tests wait on a
# server, a browser or a database, and two workers on two cores finish in ~60% of the time of one (908 s ->
# 558 s, docs/BENCHMARKS.md "Test suite"). Then the `timing` tests, alone: they assert how fast something
# happens (a withdrawal stops matching within a second), which a second worker's load would make flaky.
# Arguments go to both parts (`./dev test tests/index -k snapshot`); a part that selects nothing is not an error.
# With a marker expression of the caller's own (`./dev test -m postgres`) pytest runs once, in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff"
"$BIN/ruff" check src tests bench
echo "== mypy (strict, src/)"
"$BIN/mypy"

part() {
    local rc=0
    "$BIN/pytest" "$@" || rc=$?
    # 5: no test selected in this part (say, `./dev test tests/index` has no timing tests)
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
        exit "$rc"
    fi
}

for arg in "$@"; do
    case "$arg" in
        -m | -m* | --markexpr | --markexpr=*)
            # The caller chose the tests by marker: one pytest process, exactly as asked (the two parts
            # would each add a marker expression of their own).
            echo "== pytest"
            exec "$BIN/pytest" "$@"
            ;;
    esac
done
echo "== pytest (in parallel, all but the timing tests)"
part -n auto --maxprocesses "${REDLINE_TEST_WORKERS:-4}" --dist loadfile -m "not timing" "$@"
echo "== pytest (the timing tests, alone)"
part -m timing "$@"
