#!/usr/bin/env bash
# The main job end to end on the embedded default (SQLite in the user's data directory): installs
# npm packages and builds if needed, then creates the database, adds a subscriber and a carrier
# address, starts sipd (free ports when 5060/5071 are taken), registers a SIP client (sipp when
# installed, else a built-in UA), shows `sipctl ul dump`, floods from 127.0.0.2 (bounded: 200
# requests in 0.5 s), shows the ban in `sipctl htable dump ipban`, unbans it and stops sipd.
# Each sipctl command is shown as it runs. Same flow as `sipctl demo` (src/core/demo/demo.ts).
#   SIPCTL_DEMO_CLIENT=builtin bash scripts/demo.sh    use the built-in UA even when sipp is installed
#   SIPCTL_DEMO_SKIP_INSTALL=1                         skip install-deps (the tests build once, before)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SIPCTL_DEMO_SKIP_INSTALL:-}" ] || bash scripts/install-deps.sh --runtime

# The demo stops its sipd itself (also on Ctrl-C); this is the safety net if node itself dies.
state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/sipd-demo"
trap 'node bin/run.cjs daemon stop --state-dir "$state_dir" --force >/dev/null 2>&1 || true' EXIT

# Through the built module rather than `sipctl demo`, so it works before oclif's manifest lists the command.
node --input-type=module -e '
const { runDemo } = await import("./dist/core/demo/demo.js");
const r = await runDemo({ client: process.env.SIPCTL_DEMO_CLIENT || "auto" });
process.exit(r.ok ? 0 : 1);
'
