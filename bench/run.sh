#!/usr/bin/env bash
# npm run bench: every benchmark, each printing our figure beside a reference from the same run.
# Results are appended to bench/RESULTS.md. Needs what scripts/test.sh installs.
#   npm run bench                 every benchmark but the soak
#   npm run bench -- soak [ARGS]  only bench/soak-bench.ts (30 min at 300/s by default), ARGS passed on
#   npm run bench -- NAME...      only bench/NAME-bench.ts for each NAME
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ "${1:-}" = soak ]; then
  shift
  echo "== bench/soak-bench.ts"
  exec node --import tsx bench/soak-bench.ts "$@"
fi
if [ $# -gt 0 ]; then
  list=()
  for n in "$@"; do list+=("bench/$n-bench.ts"); done
else
  list=()
  # The soak takes half an hour or more: it runs only when named.
  for b in bench/*-bench.ts; do [ "$b" = bench/soak-bench.ts ] || list+=("$b"); done
fi
for b in "${list[@]}"; do
  echo "== $b"
  node --import tsx "$b"
done
