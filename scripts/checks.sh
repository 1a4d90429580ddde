#!/usr/bin/env bash
# npm test's steps before jest: the build, then the type check, with the lint beside them (tsc,
# ESLint and Prettier each use one core, so on two cores the lint costs no wall time). The lint's
# output is printed when it is done, after the build's and type check's. Fails when any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
lint_out=$(mktemp)
trap 'rm -f "$lint_out"' EXIT
npm run --silent lint >"$lint_out" 2>&1 &
lint=$!
npm run --silent build && npm run --silent typecheck
tsc=$?
wait "$lint"
status=$?
cat "$lint_out"
[ "$status" -eq 0 ] || echo "npm test: the lint failed (npm run lint)" >&2
[ "$tsc" -eq 0 ] || echo "npm test: the build or the type check failed (npm run build; npm run typecheck)" >&2
[ "$tsc" -eq 0 ] && [ "$status" -eq 0 ]
