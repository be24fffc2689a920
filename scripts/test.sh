#!/usr/bin/env bash
# Installs what is needed and runs every test: the Odoo client's unit tests, the simulator's
# tests, and the end-to-end tests (a throwaway PostgreSQL 15 cluster + simulators, started by
# the tests themselves). As root on Debian 12; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
step() { printf '\n== %s\n' "$*"; }

step "formatting (rustfmt.toml)"
cargo fmt --all --check
(cd bench/rawclient && cargo fmt --check)

step "build the simulator"
cargo build --release -q -p odoo-sim

step "build and install the extension into PostgreSQL 15"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

step "unit tests: calendar, the Odoo client, the cron schedules"
cargo test -q -p civil -p odoo-client -p schedule

step "simulator tests"
cargo test -q --release -p odoo-sim

step "end-to-end tests (Odoo 19 over JSON-RPC; versions.rs covers the others)"
# --show-output: the fault matrix and crash tests print their counts.
cargo test -q -p odoo-sync-tests -- --test-threads="${TEST_THREADS:-4}" --show-output

# The core suite once more against each other Odoo the simulator can be: 16, 17, 18, and 19
# with an API key (the JSON-2 transport). Tests that name their own version keep it.
for profile in 16 17 18 19-json2; do
  step "core sync tests against Odoo $profile"
  ODOO_SYNC_TEST_ODOO=$profile cargo test -q -p odoo-sync-tests --test core_sync -- --test-threads="${TEST_THREADS:-4}"
done
