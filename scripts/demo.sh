#!/usr/bin/env bash
# The main job on the embedded default (SQLite in the user's data directory): installs npm packages
# and builds if needed, creates the database, adds a subscriber and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --runtime
sipctl() { node bin/run.js "$@"; }

echo "== sipctl db init"
sipctl db init
echo "== sipctl add demo@127.0.0.1 --generate"
if sipctl show demo@127.0.0.1 >/dev/null 2>&1; then
  echo "(demo@127.0.0.1 exists already from an earlier run)"
else
  sipctl add demo@127.0.0.1 --generate
fi
echo "== sipctl show demo@127.0.0.1"
sipctl show demo@127.0.0.1
echo "== sipctl db status"
sipctl db status
