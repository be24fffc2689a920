#!/usr/bin/env bash
# Installs what is needed and runs every test: formatting and lints, the pure crates' unit
# tests, the simulator's tests, and the end-to-end tests (throwaway PostgreSQL clusters and
# simulators, started by the tests themselves), then the upgrade test. As root on Debian 12;
# CI runs exactly this.
#   bash scripts/test.sh                 # everything on PostgreSQL 17, and the core, silver/gold
#                                        # and worker suites on 15 too
#   PG_MAJOR=15 bash scripts/test.sh     # everything on one major (15 or 17)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${PG_MAJOR:-}" ]; then
  majors=("$PG_MAJOR")
else
  majors=(17 15)
fi
PG_MAJORS="${majors[*]} 15" bash scripts/bootstrap.sh

step() { printf '\n== %s\n' "$*"; }
threads=${TEST_THREADS:-4}

step "formatting (rustfmt.toml)"
cargo fmt --all --check
(cd bench/rawclient && cargo fmt --check)

step "lints: clippy on every crate and test, warnings are errors (SAFETY comments included)"
cargo clippy -q --workspace --all-targets -- -D warnings

step "layers: the engine knows neither pgrx nor PostgreSQL's process (docs/DESIGN.md)"
if cargo tree -q -p odoo-sync-engine -e normal | grep -q pgrx; then
  echo "crates/engine depends on pgrx: the engine must stay out of PostgreSQL's process" >&2
  cargo tree -q -p odoo-sync-engine -e normal -i pgrx >&2 || true
  exit 1
fi

step "build the simulator, odoo-sync-set-secret and the runner (odoo-sync)"
cargo build --release -q -p odoo-sim
cargo build -q -p odoo-sync-set-secret -p odoo-sync-runner

step "unit tests: the engine over its in-memory store, the Odoo client, schedules, listener, write-back (a bare \`cargo test\`)"
cargo test -q

step "simulator tests"
cargo test -q --release -p odoo-sim

step "inside the extension: #[pg_test] tests of the SQL layer (src/pgrx_tests/, PostgreSQL 15)"
# PostgreSQL refuses to run as root: pgrx starts it as the postgres user, in a data directory it
# can write. This installs a test build of the library; each major's install below replaces it.
CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA=/tmp/odoo_sync_pgrx_test \
  CARGO_PGRX="$PWD/scripts/pgrx_test_install.sh" cargo pgrx test pg15 -p odoo_sync

first=true
for major in "${majors[@]}"; do
  PG_MAJOR=$major
  # shellcheck source=scripts/pg.sh
  . scripts/pg.sh
  step "build and install the extension into PostgreSQL $major"
  cargo pgrx install -p odoo_sync "${pgrx_features[@]}" --pg-config "$pg_config_path" >/dev/null
  step "the library links nothing beyond the C runtime (PostgreSQL $major)"
  bash scripts/check_links.sh "$("$pg_config_path" --pkglibdir)/odoo_sync.so"
  export ODOO_SYNC_TEST_PG=$major
  if $first; then
    step "end-to-end tests on PostgreSQL $major (Odoo 19 over JSON-RPC; versions.rs covers the others)"
    # --show-output: the fault matrix and crash tests print their counts.
    cargo test -q -p odoo-sync-tests -- --test-threads="$threads" --show-output
    # The core and write-back suites once more against each other Odoo the simulator can be: 16,
    # 17, 18, and 19 with an API key (the JSON-2 transport). Tests that name their own version keep it.
    for profile in 16 17 18 19-json2; do
      step "core sync and write-back tests against Odoo $profile (PostgreSQL $major)"
      ODOO_SYNC_TEST_ODOO=$profile cargo test -q -p odoo-sync-tests --test core_sync --test writeback \
        -- --test-threads="$threads"
    done
    step "the runner against Odoo 19 with an API key (the JSON-2 transport; PostgreSQL $major)"
    ODOO_SYNC_TEST_ODOO=19-json2 cargo test -q -p odoo-sync-tests --test runner -- --test-threads="$threads"
  else
    step "core, silver/gold and worker suites on PostgreSQL $major"
    cargo test -q -p odoo-sync-tests --test core_sync --test silver_gold --test worker --test worker_hardening \
      --test writeback_worker --test hints --test webhooks --test runner -- --test-threads="$threads"
  fi
  first=false
done

step "upgrade test: 0.1.0 -> this version, in place, data kept (PostgreSQL 15)"
bash scripts/upgrade_test.sh
