#!/usr/bin/env bash
# Installs what sipctl and its tests need on Debian 12 with Node.js 20, only where missing:
# Debian packages (Kamailio 5.6 + modules, SIP tools, MariaDB), a running MariaDB, npm packages, a build.
#   scripts/install-deps.sh            everything the test suite needs
#   scripts/install-deps.sh --runtime  only npm packages and the build (the demo needs nothing else)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

log() { printf '[install-deps] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root for: $*"; return 1; fi
}

if [ "$mode" != "--runtime" ]; then
  PKGS=(kamailio kamailio-mysql-modules kamailio-sqlite-modules kamailio-json-modules kamailio-utils-modules
        kamailio-extra-modules sip-tester sipsak sipvicious mariadb-server mariadb-client procps iproute2 hyperfine
        openssl python3 bsdutils git curl make g++ systemd logrotate man-db tor-geoipdb redis-server tmux
        prometheus fail2ban chromium)
  # chromium: Debian's /usr/bin/chromium, driven headless by playwright-core in test/browser/ and
  # bench/web-bench.ts (the web console; playwright downloads no browser of its own);
  # prometheus: promtool checks sipd's /metrics (the server is not started: RUNLEVEL=1 below);
  # fail2ban: fail2ban-regex and a private fail2ban-server test contrib/fail2ban against sipd's log.
  # systemd: `systemd-analyze verify` of contrib/systemd/sipd.service (the package only, nothing is
  # booted or enabled; RUNLEVEL=1 below keeps its scripts from starting anything); logrotate: `logrotate -d`
  # of contrib/logrotate/sipd; man-db: the man pages are checked with man(1);
  # redis-server: sipd --cluster's shared store; tests start a private one on a free port (never the system one);
  # tor-geoipdb: sipd's default IP → country data (/usr/share/tor/geoip, geoip6; IPFire Location, CC BY-SA 4.0);
  # openssl: TLS certificates in tests; python3: test/attack/srcbind.py and the pty of the shell
  # tests, and node-gyp for the unix-dgram addon (with make and g++); bsdutils: script(1);
  # git: the self-contained check lists tracked files; curl: scripts/record-kamailio.sh;
  # tmux: `sipctl monitor` is tested in a real terminal (test/interop/monitor.test.ts, capture-pane).
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    # Kamailio's and MariaDB's packages must not try to start services here: tests start their own.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  # A running MariaDB for the MySQL half of the tests (root over the unix socket).
  if ! mysqladmin --socket=/run/mysqld/mysqld.sock -uroot ping >/dev/null 2>&1; then
    log "starting MariaDB"
    [ -d /var/lib/mysql/mysql ] || as_root mysql_install_db --user=mysql --datadir=/var/lib/mysql >/dev/null
    as_root mkdir -p /run/mysqld
    as_root chown mysql:root /run/mysqld
    # --pidfile, not --exec alone: another mariadbd (a test's private server) must not count as ours
    as_root start-stop-daemon --start --oknodo --background --make-pidfile --pidfile /run/mysqld/sipctl-mariadbd.pid \
      --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 1 60); do
      mysqladmin --socket=/run/mysqld/mysqld.sock -uroot ping >/dev/null 2>&1 && break
      sleep 1
    done
    mysqladmin --socket=/run/mysqld/mysqld.sock -uroot ping >/dev/null || { log "MariaDB did not start"; exit 1; }
  fi
fi

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building"
npm run --silent build
