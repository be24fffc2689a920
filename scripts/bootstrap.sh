#!/usr/bin/env bash
# Installs what building and testing odoo_sync needs on a Debian 12 machine, as root.
# Idempotent: every step checks first, so a machine that has everything passes in seconds.
#   PG_MAJORS="15 17" bash scripts/bootstrap.sh   # which PostgreSQL majors to provide (default 15)
# PostgreSQL 17 comes from scripts/pg17.sh (a Debian 13 root; about a minute the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_MAJORS=${PG_MAJORS:-15}
PG17_ROOT=${PG17_ROOT:-/var/lib/odoo_sync/pg17}

PGRX_VERSION=0.18.1
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
export DEBIAN_FRONTEND=noninteractive

log() { printf '[bootstrap] %s\n' "$*" >&2; }

need_pkgs=()
dpkg -s postgresql-15 >/dev/null 2>&1 || need_pkgs+=(postgresql-15)
command -v sudo >/dev/null 2>&1 || need_pkgs+=(sudo)
dpkg -s postgresql-15-cron >/dev/null 2>&1 || need_pkgs+=(postgresql-15-cron)
dpkg -s libclang-dev >/dev/null 2>&1 || need_pkgs+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
# PgBouncer: the runner's tests reach PostgreSQL through it (session mode) and check that
# transaction mode is refused (tests/runner.rs).
[ -x /usr/sbin/pgbouncer ] || need_pkgs+=(pgbouncer)
if ! dpkg -s postgresql-server-dev-15 >/dev/null 2>&1 || [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages"
  apt-get update -qq
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
  if ! dpkg -s postgresql-server-dev-15 >/dev/null 2>&1; then
    # Pinned to the installed server: unpinned, apt would also upgrade server, client and libpq.
    PGV=$(dpkg-query -W -f='${Version}' postgresql-15)
    apt-get install -y -qq --no-install-recommends "postgresql-server-dev-15=$PGV" >/dev/null
  fi
fi

# Debian creates a default cluster that we never use; our scripts start their own.
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$PGRX_VERSION" ]; then
  log "installing cargo-pgrx $PGRX_VERSION (a few minutes)"
  cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked --quiet
fi

case " $PG_MAJORS " in *" 17 "*) bash scripts/pg17.sh ;; esac

# cargo pgrx init rewrites its config (and forces a rebuild of pgrx-pg-sys): run it only when a
# major is missing, and then with every major this machine has.
init_args=(--pg15 "$PG_CONFIG")
[ -x "$PG17_ROOT/pg_config" ] && init_args+=(--pg17 "$PG17_ROOT/pg_config")
need_init=false
grep -qs "pg15 = \"$PG_CONFIG\"" "$HOME/.pgrx/config.toml" || need_init=true
case " $PG_MAJORS " in *" 17 "*) grep -qs "pg17 = \"$PG17_ROOT/pg_config\"" "$HOME/.pgrx/config.toml" || need_init=true ;; esac
if $need_init; then
  log "cargo pgrx init ${init_args[*]}"
  cargo pgrx init "${init_args[@]}" >/dev/null
fi

# aiosmtpd: the SMTP server of the email alert tests (tests/smtp/server.py).
python3 -c 'import aiosmtpd' 2>/dev/null || {
  log "installing aiosmtpd (the tests' SMTP server)"
  python3 -m pip install -q 'aiosmtpd==1.4.6'
}

# psycopg is used by the Python peer in bench/ only; tests use psql.
log "ready: cargo-pgrx $PGRX_VERSION, PostgreSQL $($PG_CONFIG --version | awk '{print $2}')"
