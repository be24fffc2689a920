#!/usr/bin/env bash
# The background worker's first load of pos.order.line at several odoo_sync.worker_step_pages,
# side by side in one run: a throwaway PostgreSQL 15 with the worker preloaded and the
# simulator on loopback. The extension as shipped (silver on). Prints one table.
#
#   bash bench/worker_step.sh                       # 60,000 orders (~270,000 lines), steps "1 50"
#   WORKER_ORDERS=20000 WORKER_STEPS="1 10 50" bash bench/worker_step.sh
#
# As root on Debian 12, like bench/run.sh: it builds and installs the extension (release) and the
# simulator first (WORKER_SKIP_BUILD=1 uses what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${WORKER_ORDERS:-60000}
STEPS=${WORKER_STEPS:-1 50}
PG_BIN=/usr/lib/postgresql/15/bin
SIM_BIN=$PWD/target/release/odoo-sim
if [ -z "${WORKER_SKIP_BUILD:-}" ]; then
  bash scripts/bootstrap.sh
  cargo build --release -q -p odoo-sim
  cargo pgrx install -p odoo_sync --release --pg-config "$PG_BIN/pg_config" >/dev/null
fi

WORK=$(mktemp -d /tmp/odoo_sync_worker_bench.XXXXXX)
chown postgres:postgres "$WORK"
SIM_PID=
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$SIM_BIN" --listen 127.0.0.1:0 --db odoo --user admin --password admin --orders "$ORDERS" > "$WORK/sim.out" 2>/dev/null &
SIM_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/sim.out" 2>/dev/null && break; sleep 0.2; done
SIM_URL=$(sed -n 's/^listening on //p' "$WORK/sim.out")

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
cat >> "$WORK/data/postgresql.auto.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_buffers = 256MB
max_wal_size = 16GB
shared_preload_libraries = 'odoo_sync'
odoo_sync.database = 'wb'
odoo_sync.schedule = '* * * * * *'
odoo_sync.worker_enabled = off
EOF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
q() { psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -A -t -d wb -c "$1"; }
psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -c "CREATE DATABASE wb"
q "CREATE EXTENSION odoo_sync"
for kv in "base_url=$SIM_URL" db=odoo username=admin; do q "ALTER DATABASE wb SET odoo_sync.${kv%%=*} = '${kv#*=}'"; done
q "SELECT scout.odoo_set_secret(password => 'admin')" >/dev/null
# Everything but the lines, once, by function.
for m in product.category product.product res.partner pos.config pos.session pos.payment.method pos.order pos.payment; do
  q "SELECT status FROM scout.odoo_sync('$m')" >/dev/null
done
LINES=$(curl -s "$SIM_URL/sim/info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"]["pos.order.line"])')

printf '\nworker first load of pos.order.line, %s lines, batch_size 500, silver on\n' "$LINES"
printf '%-28s %10s %10s\n' "odoo_sync.worker_step_pages" "wall s" "rows/s"
for step in $STEPS; do
  q "TRUNCATE scout.bronze_pos_order_line, scout.transaction_items" >/dev/null
  q "DELETE FROM scout.silver_rejects WHERE model = 'pos.order.line'; DELETE FROM scout.sync_checkpoints WHERE model = 'pos.order.line'" >/dev/null
  q "UPDATE scout.transactions SET quantity = 0, line_count = 0, complete = false" >/dev/null
  q "CHECKPOINT" >/dev/null
  before=$(q "SELECT coalesce(max(id), 0) FROM scout.sync_logs")
  q "ALTER SYSTEM SET odoo_sync.worker_step_pages = $step" >/dev/null
  q "ALTER SYSTEM SET odoo_sync.worker_enabled = on" >/dev/null
  q "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 1200); do
    done_=$(q "SELECT count(*) FROM scout.sync_logs WHERE id > $before AND model = 'pos.order.line' AND status = 'success' AND fetched > 0")
    [ "$done_" -ge 1 ] && break
    sleep 0.5
  done
  q "ALTER SYSTEM SET odoo_sync.worker_enabled = off" >/dev/null
  q "SELECT pg_reload_conf()" >/dev/null
  wall=$(q "SELECT round(extract(epoch FROM max(completed_at) - min(started_at))::numeric, 1) FROM scout.sync_logs WHERE id > $before AND model = 'pos.order.line' AND fetched > 0")
  rows=$(q "SELECT count(*) FROM scout.bronze_pos_order_line")
  [ "$rows" = "$LINES" ] || { echo "step $step: bronze has $rows lines, Odoo $LINES"; exit 1; }
  printf '%-28s %10s %10.0f\n' "$step" "$wall" "$(python3 -c "print($rows / $wall)")"
  # Wait for the round that had started to end before the next measurement empties the tables.
  for _ in $(seq 120); do
    [ "$(q "SELECT count(*) FROM scout.sync_status WHERE running")" = 0 ] && [ "$(q "SELECT count(*) FROM scout.sync_logs WHERE status = 'running'")" = 0 ] && break
    sleep 0.5
  done
  sleep 1
done
