#!/usr/bin/env bash
# The test command of the README: bootstraps (incl. the real servers the tests drive), type-checks,
# then runs every test under test/ with node's test runner. Needs root for the kernel tests.
#   scripts/test.sh [FILTER]   FILTER: run only test files whose path contains it
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh --test
node_modules/.bin/tsc --noEmit -p tsconfig.json
mapfile -t files < <(find test -name '*.test.ts' | sort | grep -F -- "${1:-}")
[ ${#files[@]} -gt 0 ] || { echo "no test files match '${1:-}'" >&2; exit 1; }
exec node --import tsx --test --test-concurrency=1 --test-timeout=300000 "${files[@]}"
