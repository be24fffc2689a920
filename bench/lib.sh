# Shared by the benchmarks that run the background worker (source it): a throwaway PostgreSQL 15
# cluster with odoo_sync preloaded, simulators on loopback, and the cleanup of both.
#
#   . bench/lib.sh
#   bench_build SKIP_VAR          # bootstrap, build the simulator, install the extension (release)
#   bench_cluster NAME DB <<EOF   # postgresql.conf lines on stdin; sets WORK and PORT; defines q
#   url=$(bench_sim ARGS...)      # a simulator (--db odoo --user admin --password admin ARGS)
#   bench_configure URL           # points database DB at a simulator, secret included

PG_BIN=/usr/lib/postgresql/15/bin
SIM_BIN=$PWD/target/release/odoo-sim

bench_build() {
  if [ -z "${!1:-}" ]; then
    bash scripts/bootstrap.sh
    cargo build --release -q -p odoo-sim
    cargo pgrx install -p odoo_sync --release --pg-config "$PG_BIN/pg_config" >/dev/null
  fi
}

bench_cleanup() {
  # bench_sim runs in a subshell ($(...)): its simulators' pids are in a file.
  for p in $(cat "$WORK/sim.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_cluster() {
  WORK=$(mktemp -d "/tmp/odoo_sync_$1_bench.XXXXXX")
  BENCH_DB=$2
  chown postgres:postgres "$WORK"
  trap bench_cleanup EXIT
  PORT=$(bench_free_port)
  runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
  {
    echo "port = $PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$WORK'"
    echo "shared_preload_libraries = 'odoo_sync'"
    echo "odoo_sync.database = '$BENCH_DB'"
    echo "odoo_sync.reconcile_schedule = ''"
    echo "odoo_sync.gold_refresh_schedule = '0 0 1 1 *'"
    cat
  } >> "$WORK/data/postgresql.auto.conf"
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
  psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -c "CREATE DATABASE $BENCH_DB"
  q "CREATE EXTENSION odoo_sync"
  q "SELECT scout.odoo_set_secret(password => 'admin')" >/dev/null
}

q() { psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -A -t -d "$BENCH_DB" -c "$1"; }

bench_sim() {
  local out
  out=$(mktemp "$WORK/sim.XXXXXX")
  "$SIM_BIN" --listen 127.0.0.1:0 --db odoo --user admin --password admin "$@" > "$out" 2>/dev/null &
  echo $! >> "$WORK/sim.pids"
  for _ in $(seq 100); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.2; done
  sed -n 's/^listening on //p' "$out"
}

bench_configure() {
  q "ALTER DATABASE $BENCH_DB SET odoo_sync.base_url = '$1'"
  q "ALTER DATABASE $BENCH_DB SET odoo_sync.db = 'odoo'"
  q "ALTER DATABASE $BENCH_DB SET odoo_sync.username = 'admin'"
}

# Sets a postgresql.conf value and reloads (the worker follows at once).
bench_conf() {
  q "ALTER SYSTEM SET $1 = '$2'" >/dev/null
  q "SELECT pg_reload_conf()" >/dev/null
}
