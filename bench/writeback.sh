#!/usr/bin/env bash
# Write-back: 10,000 customers tagged in one scout.tag_customers() call, until Odoo has them all,
# sent by scout.odoo_push() and by the worker (woken by the insert), against the simulator serving
# as fast as it can and as slowly as a real Odoo 19 (--serve-cost real). Prints one table.
#
#   bash bench/writeback.sh                   # 10,000 customers
#   WB_CUSTOMERS=50000 bash bench/writeback.sh
#
# As root on Debian 12, like bench/run.sh: it builds and installs the extension (release) and the
# simulator first (WB_SKIP_BUILD=1 uses what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${WB_CUSTOMERS:-10000}
PG_BIN=/usr/lib/postgresql/15/bin
SIM_BIN=$PWD/target/release/odoo-sim
if [ -z "${WB_SKIP_BUILD:-}" ]; then
  bash scripts/bootstrap.sh
  cargo build --release -q -p odoo-sim
  cargo pgrx install -p odoo_sync --release --pg-config "$PG_BIN/pg_config" >/dev/null
fi

WORK=$(mktemp -d /tmp/odoo_sync_wb_bench.XXXXXX)
chown postgres:postgres "$WORK"
cleanup() {
  # start_sim runs in a subshell ($(...)): its simulators' pids are in a file.
  for p in $(cat "$WORK/sim.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
cat >> "$WORK/data/postgresql.auto.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_preload_libraries = 'odoo_sync'
odoo_sync.database = 'wb'
odoo_sync.schedule = '0 0 1 1 *'
odoo_sync.reconcile_schedule = ''
odoo_sync.gold_refresh_schedule = '0 0 1 1 *'
EOF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
q() { psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -A -t -d wb -c "$1"; }
psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -c "CREATE DATABASE wb"
q "CREATE EXTENSION odoo_sync"
q "SELECT scout.odoo_set_secret(password => 'admin')" >/dev/null

# Runs the Python on standard input after call(model, method, args, kw): execute_kw as admin
# on the simulator at $1; its other arguments are sys.argv[2:].
cat > "$WORK/odoo.py" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
def call(model, method, args, kw={}):
    body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
            "args": ["odoo", 2, "admin", model, method, args, kw]}}
    req = urllib.request.Request(url + "/jsonrpc", json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
PY
odoo_py() { python3 -c "$(cat "$WORK/odoo.py" -)" "$@"; }

# A simulator with at least $CUSTOMERS active partners; prints its URL.
start_sim() {
  local out="$WORK/sim.$1.out"
  "$SIM_BIN" --listen 127.0.0.1:0 --db odoo --user admin --password admin --orders 2000 --serve-cost "$1" --workers 8 \
    > "$out" 2>/dev/null &
  echo $! >> "$WORK/sim.pids"
  for _ in $(seq 100); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.2; done
  local url
  url=$(sed -n 's/^listening on //p' "$out")
  odoo_py "$url" "$CUSTOMERS" <<'PY'
want = int(sys.argv[2])
have = call("res.partner", "search_count", [[]])
if have < want:
    call("res.partner", "create", [[{"name": f"Bench customer {i}"} for i in range(want - have)]])
PY
  echo "$url"
}

# Members of the tag in Odoo.
members() {
  odoo_py "$1" "$2" <<'PY'
name = sys.argv[2]
tags = call("res.partner.category", "search", [[["name", "=", name]]])
print(call("res.partner", "search_count", [[["category_id", "in", tags]]]) if len(tags) == 1 else f"{len(tags)} tags")
PY
}

printf '\nwrite-back: %s customers tagged in one scout.tag_customers() call, until Odoo has them all\n' "$CUSTOMERS"
printf '%-12s %-30s %10s %12s %14s\n' "Odoo" "sent by" "rows" "seconds" "Odoo calls"
for cost in none real; do
  url=$(start_sim "$cost")
  q "ALTER DATABASE wb SET odoo_sync.base_url = '$url'"
  q "ALTER DATABASE wb SET odoo_sync.db = 'odoo'"
  q "ALTER DATABASE wb SET odoo_sync.username = 'admin'"
  q "TRUNCATE scout.odoo_outbox" >/dev/null
  q "SELECT count(*) FROM scout.odoo_sync('res.partner')" >/dev/null
  for by in "scout.odoo_push()" "the worker (woken at commit)"; do
    tag="Bench $cost $RANDOM"
    if [ "$by" = "scout.odoo_push()" ]; then
      q "ALTER SYSTEM SET odoo_sync.worker_enabled = off" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 1
    else
      q "ALTER SYSTEM SET odoo_sync.worker_enabled = on" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 1
    fi
    calls0=$(curl -s "$url/sim/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin)["requests"]["by_call"]; print(sum(v for k,v in d.items() if k.endswith(("/load","/write"))))')
    start=$(date +%s.%N)
    rows=$(q "SELECT scout.tag_customers('$tag', ARRAY(SELECT id FROM scout.customers WHERE active AND deleted_at IS NULL ORDER BY id LIMIT $CUSTOMERS))")
    if [ "$by" = "scout.odoo_push()" ]; then
      q "SELECT * FROM scout.odoo_push()" >/dev/null
    else
      for _ in $(seq 1200); do [ "$(q "SELECT pending FROM scout.outbox_status")" = 0 ] && break; sleep 0.05; done
    fi
    end=$(date +%s.%N)
    calls1=$(curl -s "$url/sim/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin)["requests"]["by_call"]; print(sum(v for k,v in d.items() if k.endswith(("/load","/write"))))')
    got=$(members "$url" "$tag")
    [ "$got" = "$CUSTOMERS" ] || { echo "Odoo has $got members of $tag, not $CUSTOMERS"; exit 1; }
    printf '%-12s %-30s %10s %12.2f %14s\n' "$cost" "$by" "$rows" "$(python3 -c "print($end - $start)")" "$((calls1 - calls0))"
  done
done
