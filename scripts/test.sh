#!/usr/bin/env bash
# The whole test suite: unit, CLI (built binary), interop (real Kamailio 5.6, real MariaDB),
# attack tests (sipp, sipvicious), on the system's Node (Debian's Node 20); then, for the other
# Node.js versions package.json's engines claims (22 and 24, from the npm registry), the unit,
# cluster and --workers tests and a CLI smoke test (scripts/test-node-versions.sh). Installs what
# it needs first, and builds. Ends with one line `N passed, N failed, N skipped` over all of
# them; exits non-zero when a test failed under any version, when a runner crashed, or when a
# test was skipped that is not an opt-in suite (scripts/test-summary.mjs lists them by name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
# The 100,000-contact ul dump (test/interop/rpc-ul-large.test.ts, about 100 s) is opt-in for a single
# file's run; the whole suite runs it, so a clean run ends with 0 skipped.
export SIPCTL_TEST_UL_LARGE=${SIPCTL_TEST_UL_LARGE:-1}
work=$(mktemp -d -t sipctl-test-XXXXXX)
tap=$work/main.tap
# Node 22 and 24 fetched and their native addons built while the main suite starts (about
# 2.5 min of compiling on a clean clone; nothing when .cache/node is warm). Its log is shown
# only when it failed: the results count through the TAP files below either way.
bash scripts/test-node-versions.sh --prepare-only >"$work/prepare.log" 2>&1 &
prepare=$!
trap 'kill "$prepare" 2>/dev/null || true; rm -rf "$work"' EXIT
# Two files at a time: the machine has two cores, and interop tests spend most time waiting.
# The spec reporter is what a person reads; the TAP copy is what the summary counts.
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=600000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || status=$?
wait "$prepare" || cat "$work/prepare.log"
# the other versions, one after the other (each runs two files at a time)
bash scripts/test-node-versions.sh --tap-dir "$work/versions" || true
# per version: node-V-smoke.tap (install, addon build, CLI smoke test), and node-V.tap with the
# runner's exit status in node-V.status (a missing TAP then counts as a failed run)
summary=("$tap" "$status")
for f in "$work"/versions/*-smoke.tap "$work"/versions/*.status; do
  [ -e "$f" ] || continue
  case "$f" in *.status) summary+=("${f%.status}.tap" "$(cat "$f")") ;; *) summary+=("$f" 0) ;; esac
done
[ ${#summary[@]} -gt 2 ] || summary+=("$work/versions/node-versions.tap" 1)
node scripts/test-summary.mjs "${summary[@]}"
