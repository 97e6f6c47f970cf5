#!/usr/bin/env bash
# The whole test suite: unit, CLI (built binary), interop (real Kamailio 5.6, real MariaDB),
# attack tests (sipp, sipvicious). Installs what it needs first, and builds.
# Ends with one line `N passed, N failed, N skipped`; exits non-zero when a test failed or when a
# test was skipped that is not an opt-in suite (scripts/test-summary.mjs lists them by name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
tap=$(mktemp -t sipctl-test-XXXXXX.tap)
trap 'rm -f "$tap"' EXIT
# Two files at a time: the machine has two cores, and interop tests spend most time waiting.
# The spec reporter is what a person reads; the TAP copy is what the summary counts.
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=600000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || status=$?
node scripts/test-summary.mjs "$tap" "$status"
