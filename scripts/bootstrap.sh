#!/usr/bin/env bash
# Installs what building and testing odoo_sync needs on a Debian 12 machine, as root.
# Idempotent: every step checks first, so a machine that has everything passes in seconds.
set -euo pipefail

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

if ! grep -qs "pg15 = \"$PG_CONFIG\"" "$HOME/.pgrx/config.toml"; then
  log "cargo pgrx init --pg15"
  cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
fi

# psycopg is used by the Python peer in bench/ only; tests use psql.
log "ready: cargo-pgrx $PGRX_VERSION, PostgreSQL $($PG_CONFIG --version | awk '{print $2}')"
