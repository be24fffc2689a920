#!/usr/bin/env bash
# The main job, as a newcomer runs it on a fresh Debian 12 machine (as root): build the
# extension and the built-in Odoo simulator, start a throwaway PostgreSQL cluster and the
# simulator on loopback, sync every model, change a few things in "Odoo", sync again, and
# print a report. Everything it starts is stopped at the end.
#   ORDERS=20000 bash scripts/demo.sh     # a bigger store history (default 5000 orders)
#   PG_MAJOR=17 bash scripts/demo.sh      # on PostgreSQL 17 (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-5000}
. scripts/pg.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

PG_MAJORS=$PG_MAJOR bash scripts/bootstrap.sh
say "building odoo_sync (release) for PostgreSQL $PG_MAJOR, and the Odoo simulator"
cargo build --release -q -p odoo-sim
cargo pgrx install -p odoo_sync --release "${pgrx_features[@]}" --pg-config "$pg_config_path" >/dev/null

WORK=$(mktemp -d /tmp/odoo_sync_demo.XXXXXX)
own_by_postgres "$WORK"
SIM_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  pg_tool pg_ctl -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "starting PostgreSQL $PG_MAJOR on 127.0.0.1:$PORT (data in $WORK)"
pg_tool initdb -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
pg_tool pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK" start >/dev/null

say "starting the Odoo simulator ($ORDERS orders)"
./target/release/odoo-sim --listen 127.0.0.1:0 --db odoo --user admin --password admin \
  --seed 42 --orders "$ORDERS" --with-brand --with-region-code > "$WORK/sim.out" &
SIM_PID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/sim.out" 2>/dev/null && break; sleep 0.1; done
SIM_URL=$(sed -n 's/^listening on //p' "$WORK/sim.out")
[ -n "$SIM_URL" ] || { echo "the simulator did not start"; exit 1; }
echo "Odoo simulator at $SIM_URL"

psql_() { psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_ -d postgres -At -c "SELECT version()"
psql_ -d postgres -c "CREATE DATABASE demo"
psql_ -d demo <<SQL
CREATE EXTENSION odoo_sync;
ALTER DATABASE demo SET odoo_sync.base_url = '$SIM_URL';
ALTER DATABASE demo SET odoo_sync.db = 'odoo';
ALTER DATABASE demo SET odoo_sync.username = 'admin';
SELECT scout.odoo_set_secret(password => 'admin');
SQL

say "first sync: SELECT * FROM scout.odoo_sync_all()"
psql_ -d demo -c "SELECT model, fetched, inserted, updated, unchanged, checkpoint, duration, status FROM scout.odoo_sync_all()"

say "meanwhile in Odoo: 25 orders change, 10 are created, 5 product prices change"
sim_post() { python3 - "$SIM_URL$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
}
sim_post /sim/mutate '{"model": "pos.order", "action": "update", "count": 25}'
sim_post /sim/mutate '{"model": "pos.order", "action": "create", "count": 10}'
sim_post /sim/mutate '{"model": "product.product", "action": "update", "count": 5}'
sim_post /sim/clock/advance '{"seconds": 10}'

say "incremental sync: only what changed"
psql_ -d demo -c "SELECT model, fetched, inserted, updated, unchanged, duration, status FROM scout.odoo_sync_all()"

say "report"
psql_ -d demo <<'SQL'
\echo 'Bronze tables (raw Odoo records):'
SELECT m.model, m.bronze_table,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM scout.%I', m.bronze_table), false, true, '')))[1]::text::bigint AS records
FROM scout.sync_models m ORDER BY m.sync_order;
\echo 'Checkpoints (high-water mark on Odoo''s clock):'
SELECT id, last_sync_at, records_synced, status FROM scout.sync_checkpoints ORDER BY model;
\echo 'Runs (scout.sync_logs):'
SELECT model, count(*) AS runs, sum(inserted) AS inserted, sum(updated) AS updated,
       max(completed_at - started_at) AS slowest, bool_and(status = 'success') AS all_ok
FROM scout.sync_logs GROUP BY model ORDER BY min(id);
\echo 'Orders in bronze by state (amounts exact, as Odoo sent them):'
SELECT payload->>'state' AS state, count(*) AS orders, sum((payload->>'amount_total')::numeric) AS amount_total
FROM scout.bronze_pos_order GROUP BY 1 ORDER BY 1;
\echo 'Silver: transactions by status, and what the data-quality rules quarantined:'
SELECT status, count(*) AS transactions, sum(gross_amount) AS gross_amount FROM scout.transactions GROUP BY 1 ORDER BY 1;
SELECT rule, count(*) AS rows FROM scout.silver_rejects GROUP BY 1 ORDER BY 2 DESC;
\echo 'Gold (after SELECT scout.refresh_gold()): the last five business days, all stores:'
SELECT scout.refresh_gold();
SELECT business_date, transaction_count, revenue, refunds, avg_transaction_value
FROM scout.v_tx_trends WHERE store_id IS NULL ORDER BY business_date DESC LIMIT 5;
\echo 'Revenue per Odoo company (multi-company), whole history:'
SELECT company_id, company_name, count(*) AS business_days, sum(transaction_count) AS transactions, sum(revenue) AS revenue
FROM scout.gold_company_daily_sales GROUP BY 1, 2 ORDER BY 1;
\echo 'Top five products by revenue:'
SELECT revenue_rank, product_name, product_category, brand_name, quantity, revenue
FROM scout.v_product_mix ORDER BY revenue_rank LIMIT 5;
SQL
say "done: everything started by this demo is being stopped"
