#!/usr/bin/env bash
# The whole test suite: unit, CLI (built binary), interop (real Kamailio 5.6, real MariaDB),
# attack tests (sipp, sipvicious). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
# Two files at a time: the machine has two cores, and interop tests spend most time waiting.
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
