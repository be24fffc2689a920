#!/usr/bin/env bash
# The benchmark: builds odoo_sync and the simulator, starts a throwaway PostgreSQL 15 cluster
# and two Odoo simulators on loopback, measures (bench/bench.py), prints a table, and stops
# everything it started. Run as root on Debian 12 (like scripts/demo.sh):
#
#   bash bench/run.sh                        # 220,000 orders, ~1,000,000 pos.order.line
#   BENCH_ORDERS=20000 bash bench/run.sh     # a quick run
#
# Knobs (environment):
#   BENCH_ORDERS        orders in the main dataset (default 220000; ~4.5 lines per order)
#   BENCH_SMALL_ORDERS  orders in the second dataset, for memory independence (default 1/4)
#   BENCH_BATCH         odoo_sync.batch_size of the main runs (default 500, as the reference)
#   BENCH_BATCH_SWEEP   extra full loads of pos.order.line at these batch sizes (default "2000 5000")
#   BENCH_PROCEDURE     pages_per_commit of the CALL odoo_sync_run measurement (default 1; 0 skips)
#   BENCH_SILVER_TIMEOUT  seconds allowed to each full load with silver on (default 300)
#   BENCH_SKIP_BUILD=1  use the installed extension and built binaries as they are
#   BENCH_ODOO_ORDERS   orders in the Odoo-like simulator (--serve-cost real, default 20000; 0 skips)
#   BENCH_ODOO_WORKERS  its Odoo workers (--workers, default 8)
#   BENCH_LOCK          a lock file held for the whole run, so that nobody reinstalls the
#                       extension meanwhile (default /tmp/odoo_sync_install.lock; "" for none)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LOCK=${BENCH_LOCK-/tmp/odoo_sync_install.lock}
if [ -n "$LOCK" ] && [ -z "${BENCH_LOCK_HELD:-}" ]; then
  echo "[run.sh] waiting for $LOCK" >&2
  exec env BENCH_LOCK_HELD=1 flock "$LOCK" bash "$0" "$@"
fi

ORDERS=${BENCH_ORDERS:-220000}
SMALL_ORDERS=${BENCH_SMALL_ORDERS:-$((ORDERS / 4))}
BATCH=${BENCH_BATCH:-500}
SWEEP=${BENCH_BATCH_SWEEP-2000 5000}
PROCEDURE=${BENCH_PROCEDURE:-1}
SILVER_TIMEOUT=${BENCH_SILVER_TIMEOUT:-300}
ODOO_ORDERS=${BENCH_ODOO_ORDERS:-20000}
ODOO_WORKERS=${BENCH_ODOO_WORKERS:-8}
PG_BIN=/usr/lib/postgresql/15/bin
say() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  bash scripts/bootstrap.sh
  say "building the simulator, the raw client and odoo_sync (release)"
  cargo build --release -q -p odoo-sim --bin odoo-sim --example page_all
  cargo build --release -q -p odoo-sync-runner
  (cd bench/rawclient && cargo build --release -q)
  cargo pgrx install -p odoo_sync --release --pg-config "$PG_BIN/pg_config" >/dev/null
fi
python3 -c 'import requests, psycopg' 2>/dev/null || {
  say "installing Python dependencies (requests, psycopg[binary])"
  python3 -m pip install -q requests 'psycopg[binary]'
}
SIM_BIN=$ROOT/target/release/odoo-sim
RAW_BIN=$ROOT/bench/rawclient/target/release/bench-rawclient
RUNNER_BIN=$ROOT/target/release/odoo-sync
PAGE_ALL=$ROOT/target/release/examples/page_all
for b in "$SIM_BIN" "$RAW_BIN" "$RUNNER_BIN"; do [ -x "$b" ] || { echo "missing $b (run without BENCH_SKIP_BUILD)"; exit 1; }; done

WORK=$(mktemp -d /tmp/odoo_sync_bench.XXXXXX)
chown postgres:postgres "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_sim() { # orders outfile [more flags] -> pid in SIM_PID
  "$SIM_BIN" --listen 127.0.0.1:0 --db odoo --user admin --password admin --seed 42 --orders "$1" "${@:3}" >"$2" 2>&1 &
  SIM_PID=$!
  PIDS+=("$SIM_PID")
}
wait_sim() { # outfile -> url
  for _ in $(seq 1 1200); do
    grep -q '^listening on' "$1" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$1"
}

say "starting simulators: $ORDERS orders and $SMALL_ORDERS orders"
start_sim "$ORDERS" "$WORK/sim.out"; SIM_MAIN_PID=$SIM_PID
SIM_SMALL_PID=""
if [ "$SMALL_ORDERS" -gt 0 ]; then start_sim "$SMALL_ORDERS" "$WORK/sim_small.out"; SIM_SMALL_PID=$SIM_PID; fi
SIM_ODOO_PID=""
if [ "$ODOO_ORDERS" -gt 0 ]; then
  start_sim "$ODOO_ORDERS" "$WORK/sim_odoo.out" --serve-cost real --workers "$ODOO_WORKERS"; SIM_ODOO_PID=$SIM_PID
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting PostgreSQL 15 on 127.0.0.1:$PORT (data in $WORK)"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
# A server tuned for loading, identical for every loader measured: durable commits (fsync and
# synchronous_commit stay on), WAL large enough that no checkpoint lands inside a run
# (each run starts after an explicit CHECKPOINT), pg_stat_statements for the incremental runs.
cat >>"$WORK/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
shared_buffers = 256MB
max_wal_size = 16GB
checkpoint_timeout = 1h
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = none
pg_stat_statements.track_planning = on
pg_stat_statements.max = 1000
track_functions = all
CONF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null

SIM_URL=$(wait_sim "$WORK/sim.out")
[ -n "$SIM_URL" ] || { echo "the simulator did not start:"; cat "$WORK/sim.out"; exit 1; }
small_args=()
if [ -n "$SIM_SMALL_PID" ]; then
  SMALL_URL=$(wait_sim "$WORK/sim_small.out")
  [ -n "$SMALL_URL" ] || { echo "the small simulator did not start:"; cat "$WORK/sim_small.out"; exit 1; }
  small_args=(--small-sim-url "$SMALL_URL" --small-sim-pid "$SIM_SMALL_PID" --small-orders "$SMALL_ORDERS")
fi
odoo_args=()
if [ -n "$SIM_ODOO_PID" ]; then
  ODOO_URL=$(wait_sim "$WORK/sim_odoo.out")
  [ -n "$ODOO_URL" ] || { echo "the Odoo-like simulator did not start:"; cat "$WORK/sim_odoo.out"; exit 1; }
  odoo_args=(--odoo-sim-url "$ODOO_URL" --odoo-sim-pid "$SIM_ODOO_PID" --odoo-orders "$ODOO_ORDERS" --odoo-workers "$ODOO_WORKERS")
fi
say "simulators at $SIM_URL, ${SMALL_URL:-none} and ${ODOO_URL:-none} (Odoo-like); measuring"

python3 bench/bench.py --pghost 127.0.0.1 --pgport "$PORT" --workdir "$WORK" \
  --sim-url "$SIM_URL" --sim-pid "$SIM_MAIN_PID" --orders "$ORDERS" "${small_args[@]}" \
  --rawclient "$RAW_BIN" --page-all "$PAGE_ALL" --batch "$BATCH" --batch-sweep "$SWEEP" "${odoo_args[@]}" \
  --procedure "$PROCEDURE" --silver-timeout "$SILVER_TIMEOUT" --runner "$RUNNER_BIN" --out "$ROOT/bench/out"
say "done; stopping everything this run started"
