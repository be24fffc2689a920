#!/usr/bin/env bash
# Provides PostgreSQL 17 (server, headers, pg_cron 1.6, contrib: pg_stat_statements,
# test_decoding) on a Debian 12 host, which ships only 15: Debian 13's own packages, inside a
# Debian 13 root made with debootstrap (they need a newer glibc than the host's). As root;
# idempotent: a root that has everything is found and reused in seconds.
#
# What it leaves (PG17_ROOT, default /var/lib/odoo_sync/pg17):
#   $PG17_ROOT/root          the Debian 13 root, with the host's /tmp, /proc and /dev/shm
#                            bind-mounted (the same paths inside and out: test clusters live in /tmp)
#   $PG17_ROOT/pg_config     a pg_config for the host: runs the root's and prefixes its paths,
#                            for `cargo pgrx init --pg17` and `cargo pgrx install --pg-config`
#   $PG17_ROOT/run           runs a command inside the root: run initdb -D /tmp/x
set -euo pipefail

PG17_ROOT=${PG17_ROOT:-/var/lib/odoo_sync/pg17}
ROOT=$PG17_ROOT/root
export DEBIAN_FRONTEND=noninteractive
log() { printf '[pg17] %s\n' "$*" >&2; }

mkdir -p "$PG17_ROOT"
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  log "making a Debian 13 root in $ROOT (debootstrap, about 30 s)"
  rm -rf "$ROOT"
  debootstrap --variant=minbase trixie "$ROOT" >/dev/null
fi

mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mkdir -p "$ROOT/dev/shm"
mountpoint -q "$ROOT/dev/shm" || mount --bind /dev/shm "$ROOT/dev/shm"
mountpoint -q "$ROOT/tmp" || mount --bind /tmp "$ROOT/tmp"

if [ ! -x "$ROOT/usr/lib/postgresql/17/bin/pg_config" ] || ! chroot "$ROOT" dpkg -s postgresql-17-cron >/dev/null 2>&1; then
  log "installing postgresql-17, its server headers and pg_cron inside the root (about 30 s)"
  # Debian would create a default cluster; we never use one (our scripts start their own).
  chroot "$ROOT" sh -c 'mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf'
  if ! { chroot "$ROOT" apt-get update -qq &&
         chroot "$ROOT" apt-get install -y -qq --no-install-recommends postgresql-17 postgresql-server-dev-17 postgresql-17-cron; } \
       >"$PG17_ROOT/apt.log" 2>&1; then
    cat "$PG17_ROOT/apt.log" >&2
    exit 1
  fi
fi

cat > "$PG17_ROOT/pg_config" <<WRAP
#!/bin/sh
# pg_config of the PostgreSQL 17 inside $ROOT, with its absolute paths as seen from the host.
chroot "$ROOT" /usr/lib/postgresql/17/bin/pg_config "\$@" | sed -e 's#^/#$ROOT/#'
WRAP
cat > "$PG17_ROOT/run" <<WRAP
#!/bin/sh
# Runs a command inside the PostgreSQL 17 root (PostgreSQL's tools are in /usr/lib/postgresql/17/bin there).
exec chroot "$ROOT" "\$@"
WRAP
chmod +x "$PG17_ROOT/pg_config" "$PG17_ROOT/run"
log "ready: $("$PG17_ROOT/pg_config" --version)"
