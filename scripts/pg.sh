# Sourced by the scripts: how to build for, and run, the PostgreSQL major in PG_MAJOR (15, the
# host's own, or 17, inside the Debian 13 root that scripts/pg17.sh provides). The one place
# that knows where each major lives; tests/harness/mod.rs (`Pg`) mirrors it for the tests.
#   pg_config_path     the pg_config to build against
#   pgrx_features      cargo flags that pick pgrx's PostgreSQL
#   pg_tool NAME ARGS  runs PostgreSQL's NAME (initdb, pg_ctl, pg_dump...) as the postgres user
#   own_by_postgres D  gives directory D (under /tmp) to the postgres user that runs the server
PG_MAJOR=${PG_MAJOR:-15}
PG17_ROOT=${PG17_ROOT:-/var/lib/odoo_sync/pg17}
case "$PG_MAJOR" in
  15)
    pg_config_path=/usr/lib/postgresql/15/bin/pg_config
    pgrx_features=()
    pg_tool() { local t=$1; shift; runuser -u postgres -- "/usr/lib/postgresql/15/bin/$t" "$@"; }
    own_by_postgres() { chown postgres:postgres "$@"; }
    ;;
  17)
    pg_config_path=$PG17_ROOT/pg_config
    pgrx_features=(--no-default-features --features pg17)
    pg_tool() { local t=$1; shift; chroot "$PG17_ROOT/root" runuser -u postgres -- "/usr/lib/postgresql/17/bin/$t" "$@"; }
    # The root's postgres user has its own uid: resolve the name inside the root.
    own_by_postgres() { chroot "$PG17_ROOT/root" chown postgres:postgres "$@"; }
    ;;
  *)
    echo "PG_MAJOR=$PG_MAJOR: this project builds for PostgreSQL 15 and 17" >&2
    exit 2
    ;;
esac
