#!/usr/bin/env bash
# npm run bench: every benchmark, each printing our figure beside a reference from the same run.
# Results are appended to bench/RESULTS.md. Needs what scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
for b in bench/*-bench.ts; do
  echo "== $b"
  node --import tsx "$b"
done
