#!/usr/bin/env bash
# Re-records Kamailio's replies in test/fixtures/kamailio/recorded/ (JSON-RPC over HTTP, the FIFO
# and the datagram socket; db_schema.txt; db_location_rows.txt) from Debian's installed Kamailio,
# started on loopback from the project's lab config with a throw-away MariaDB database.
# Run it when a new Kamailio version is tested, then review `git diff test/fixtures/kamailio/recorded`.
# Needs what scripts/install-deps.sh installs (Kamailio, MariaDB running, sipsak, curl, python3).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/record-kamailio.ts "$@"
