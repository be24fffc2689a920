#!/usr/bin/env bash
# The upgrade test: a database synced by the previous release keeps everything across
# ALTER EXTENSION odoo_sync UPDATE, and ends up with exactly the schema of a fresh install.
#   1. builds and installs the previous release (RELEASES.md) from this repository's history;
#   2. with it, on a throwaway PostgreSQL 15 with the background worker preloaded: a full sync of
#      every model but pos.order, whose run is interrupted after one committed page (its window
#      open), so that order lines wait in quarantine;
#   3. installs this version (the old library moved aside first, as a package manager's rename
#      would), restarts PostgreSQL (a preloaded library is the postmaster's), checks that the
#      worker, now on the new library, waits for the update and says so, then ALTER EXTENSION
#      ... UPDATE;
#   4. checks: every row is still there; the interrupted run resumes where it stopped; the next
#      incremental run continues from the old checkpoints (it does not re-read everything); the
#      worker syncs on the updated schema; pg_dump --schema-only of the updated schema equals
#      that of a fresh CREATE EXTENSION (extension membership removed in both, so that pg_dump
#      shows the objects).
# As root on Debian 12 after scripts/bootstrap.sh. Prints "upgrade: N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/.."
PG_MAJOR=15
. scripts/pg.sh
ROOT_DIR=$(pwd)

# The last row of RELEASES.md's table with a commit id: the previous release.
prev=$(awk -F'|' '{c=$3; gsub(/ /, "", c)} c ~ /^[0-9a-f]+$/ && length(c) == 40 {v=$2; gsub(/ /, "", v); last=v " " c} END {print last}' RELEASES.md)
read -r PREV_VERSION PREV_COMMIT <<<"$prev"
NEW_VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$PREV_COMMIT" ] && [ "$PREV_VERSION" != "$NEW_VERSION" ] || { echo "upgrade_test: no previous release in RELEASES.md" >&2; exit 1; }
[ -f "sql/odoo_sync--$PREV_VERSION--$NEW_VERSION.sql" ] || { echo "upgrade_test: sql/odoo_sync--$PREV_VERSION--$NEW_VERSION.sql is missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/odoo_sync_upgrade.XXXXXX)
own_by_postgres "$WORK"
SIM_PID=""
LIB=$("$pg_config_path" --pkglibdir)/odoo_sync.so
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  pg_tool pg_ctl -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
  rm -f "$LIB.previous"
}
trap cleanup EXIT
passed=0
failed=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok: $1";
  else failed=$((failed + 1)); echo "FAILED: $1: expected [$2], got [$3]"; fi
}

if ! git cat-file -e "$PREV_COMMIT^{commit}" 2>/dev/null; then
  # A shallow clone lacks the release's commit: deepen it if the origin can be reached.
  git fetch -q --unshallow 2>/dev/null || true
  git cat-file -e "$PREV_COMMIT^{commit}" 2>/dev/null ||
    { echo "upgrade_test: commit $PREV_COMMIT ($PREV_VERSION) is not in this clone's history (clone without --depth)" >&2; exit 1; }
fi
echo "== building $PREV_VERSION ($PREV_COMMIT) from history"
mkdir -p "$WORK/prev"
git archive "$PREV_COMMIT" | tar -x -C "$WORK/prev"
# Its own target directory (kept between runs): with a shared one, cargo-pgrx's schema generator
# of one version could write the other's SQL.
(cd "$WORK/prev" && CARGO_TARGET_DIR="$ROOT_DIR/target/previous-release" cargo pgrx install -p odoo_sync --pg-config "$pg_config_path" >/dev/null)

cargo build --release -q -p odoo-sim
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_tool initdb -D "$WORK/data" -A trust -U postgres --no-sync >/dev/null
cat >> "$WORK/data/postgresql.auto.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_preload_libraries = 'odoo_sync'
odoo_sync.database = 'upg'
odoo_sync.schedule = '0 0 1 1 *'
odoo_sync.gold_refresh_schedule = '0 0 1 1 *'
CONF
pg_tool pg_ctl -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
q() { psql -X -q -A -t -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -d "${DB:-upg}" -c "$1"; }
DB=postgres q "CREATE DATABASE upg"
DB=postgres q "CREATE DATABASE fresh"

./target/release/odoo-sim --listen 127.0.0.1:0 --db odoo --user admin --password admin --seed 5 --orders 800 > "$WORK/sim.out" &
SIM_PID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/sim.out" 2>/dev/null && break; sleep 0.1; done
SIM_URL=$(sed -n 's/^listening on //p' "$WORK/sim.out")
odoo_count() { python3 - "$SIM_URL" "$1" <<'PY'
import json, sys, urllib.request
url, model = sys.argv[1], sys.argv[2]
def call(service, method, args):
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}, "id": 1})
    req = urllib.request.Request(url + "/jsonrpc", data=body.encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["result"]
uid = call("common", "authenticate", ["odoo", "admin", "admin", {}])
print(call("object", "execute_kw", ["odoo", uid, "admin", model, "search_count", [[]], {"context": {"active_test": False}}]))
PY
}

echo "== loading data with $PREV_VERSION"
q "CREATE EXTENSION odoo_sync VERSION '$PREV_VERSION'"
check "the database runs $PREV_VERSION" "$PREV_VERSION" "$(q "SELECT extversion FROM pg_extension WHERE extname = 'odoo_sync'")"
for s in "base_url = '$SIM_URL'" "db = 'odoo'" "username = 'admin'" "safety_lag = 0" "batch_size = 50"; do
  q "ALTER DATABASE upg SET odoo_sync.$s"
done
q "SELECT scout.odoo_set_secret(password => 'admin')"
# The models of the previous release, all loaded with it (pos.order half-way, below).
OLD_MODELS="product.category product.product res.partner pos.config pos.session pos.payment.method pos.order.line pos.payment"
for m in $OLD_MODELS; do
  q "SELECT status FROM scout.odoo_sync('$m')" >/dev/null
done
# pos.order: one committed step of a run, as an interrupted CALL scout.odoo_sync_run leaves it.
q "SELECT status FROM scout.odoo_sync_step('pos.order', false, NULL, 1, 'procedure')" >/dev/null
open_before=$(q "SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order' AND window_end IS NOT NULL")
check "pos.order's run is interrupted with its window open" "yes" "$([ -n "$open_before" ] && [ "$open_before" -gt 0 ] && echo yes)"
rejects_before=$(q "SELECT count(*) FROM scout.silver_rejects")
check "order lines wait in quarantine" "yes" "$([ "$rejects_before" -gt 0 ] && echo yes)"
snapshot() {
  q "SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
       SELECT 'bronze_' || m.model AS t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM scout.%I', m.bronze_table), false, true, '')))[1]::text AS n FROM scout.sync_models m
         WHERE m.model = ANY (string_to_array('$OLD_MODELS pos.order', ' '))
       UNION ALL SELECT 'transactions', count(*)::text FROM scout.transactions
       UNION ALL SELECT 'transaction_items', count(*)::text FROM scout.transaction_items
       UNION ALL SELECT 'products', count(*)::text FROM scout.products
       UNION ALL SELECT 'customers', count(*)::text FROM scout.customers
       UNION ALL SELECT 'payments', count(*)::text FROM scout.payments
       UNION ALL SELECT 'silver_rejects', count(*)::text FROM scout.silver_rejects
       UNION ALL SELECT 'sync_logs', count(*)::text FROM scout.sync_logs
       UNION ALL SELECT 'checkpoints', md5(string_agg(concat_ws(',', id, last_sync_at, last_record_id, window_start, window_end, window_full, status), ';' ORDER BY id)) FROM scout.sync_checkpoints) x"
}
before=$(snapshot)

echo "== installing $NEW_VERSION, restarting, updating"
mv "$LIB" "$LIB.previous"   # processes that run keep the old file mapped until they exit
cargo pgrx install -p odoo_sync --pg-config "$pg_config_path" >/dev/null
# A preloaded library is the postmaster's: backends and the worker get the new one only after a
# restart; until ALTER EXTENSION ... UPDATE the worker waits (and says so once).
DB=postgres q "ALTER SYSTEM SET odoo_sync.schedule = '*/2 * * * * *'"
pg_tool pg_ctl -D "$WORK/data" -l "$WORK/server.log" -m fast -w restart >/dev/null
for _ in $(seq 1 150); do grep -q "not syncing until ALTER EXTENSION odoo_sync UPDATE" "$WORK/server.log" && break; sleep 0.2; done
check "the new worker waits for the update, saying so" "1" "$(grep -c "not syncing until ALTER EXTENSION odoo_sync UPDATE" "$WORK/server.log")"
check "...and runs nothing meanwhile" "$before" "$(snapshot)"
# The checks right after the update are a user's own calls: the worker must not take pos.order's
# open window first (it syncs again below).
DB=postgres q "ALTER SYSTEM SET odoo_sync.worker_enabled = off"
DB=postgres q "SELECT pg_reload_conf()" >/dev/null
q "ALTER EXTENSION odoo_sync UPDATE"
check "the database runs $NEW_VERSION" "$NEW_VERSION" "$(q "SELECT extversion FROM pg_extension WHERE extname = 'odoo_sync'")"
check "every row is still there (bronze, silver, quarantine, logs, checkpoints)" "$before" "$(snapshot)"

echo "== after the update"
orders=$(odoo_count pos.order)
q "CALL scout.odoo_sync_run('pos.order')"
resumed=$(q "SELECT fetched FROM scout.sync_logs WHERE model = 'pos.order' ORDER BY id DESC LIMIT 1")
check "the interrupted run resumed (it read only the orders after its last committed page)" "$((orders - 50))" "$resumed"
check "all orders in bronze" "$orders" "$(q "SELECT count(*) FROM scout.bronze_pos_order")"
check "the quarantined lines were released when their orders arrived" "0" "$(q "SELECT count(*) FROM scout.silver_rejects WHERE rule = 'missing_order'")"
# res.partner is re-read once on purpose: 0.2.0 reads its tags (category_id) too.
read "incremental" "partners_read" <<< "$(q "WITH r AS (SELECT model, fetched FROM scout.odoo_sync_all() WHERE model <> 'pos.order')
  SELECT (SELECT sum(fetched) FROM r WHERE model <> 'res.partner') || ' ' || (SELECT fetched FROM r WHERE model = 'res.partner')")"
total=$(q "SELECT sum(c) FROM (SELECT (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM scout.%I', bronze_table), false, true, '')))[1]::text::bigint AS c FROM scout.sync_models WHERE model NOT IN ('pos.order', 'res.partner')) x")
check "the next incremental runs continue from the old checkpoints (re-read $incremental of $total records: the look-back only)" "yes" "$([ "$incremental" -lt $((total / 10)) ] && echo yes)"
check "res.partner was re-read once for its tags (new in $NEW_VERSION), and silver has every partner's" \
  "$(q "SELECT count(*) FROM scout.bronze_res_partner") 0 yes" \
  "$partners_read $(q "SELECT count(*) FROM scout.customers WHERE tag_ids IS NULL") $(q "SELECT CASE WHEN count(*) > 0 THEN 'yes' ELSE 'no' END FROM scout.customers WHERE cardinality(tag_ids) > 0")"
check "the model new in $NEW_VERSION (res.company) had its first load, and stores take its names" \
  "$(odoo_count res.company) 0" \
  "$(q "SELECT (SELECT count(*) FROM scout.companies) || ' ' || (SELECT count(*) FROM scout.stores s JOIN scout.companies c ON c.id = s.company_id WHERE s.company_name IS DISTINCT FROM c.name)")"
for m in product.product res.partner pos.order.line pos.payment; do
  t="bronze_${m//./_}"
  check "$m: bronze has Odoo's records" "$(odoo_count "$m")" "$(q "SELECT count(*) FROM scout.$t WHERE deleted_at IS NULL")"
done

echo "== the background worker after the update"
worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'")
check "the worker runs the new library" "yes" "$([ -n "$worker" ] && grep -q " $LIB\$" "/proc/$worker/maps" && echo yes)"
DB=postgres q "ALTER SYSTEM SET odoo_sync.worker_enabled = on"
DB=postgres q "SELECT pg_reload_conf()" >/dev/null
python3 - "$SIM_URL" <<'PY'
import json, sys, urllib.request
for path, body in (("/sim/mutate", {"model": "pos.order", "action": "update", "count": 5}), ("/sim/clock/advance", {"seconds": 2})):
    req = urllib.request.Request(sys.argv[1] + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
last=$(q "SELECT max(id) FROM scout.sync_logs")
ok=""
for _ in $(seq 1 150); do
  [ "$(q "SELECT count(*) FROM scout.sync_logs WHERE id > $last AND run_mode = 'worker' AND model = 'pos.payment' AND status = 'success'")" -gt 0 ] && { ok=ok; break; }
  sleep 0.2
done
check "the worker syncs on the updated schema" "ok" "$ok"
check "...with no failed run" "0" "$(q "SELECT count(*) FROM scout.sync_logs WHERE id > $last AND status = 'failed'")"
check "...and has the 5 changed orders" "yes" "$([ "$(q "SELECT coalesce(sum(updated), 0) FROM scout.sync_logs WHERE id > $last AND model = 'pos.order'")" -ge 5 ] && echo yes)"

echo "== the updated schema equals a fresh install"
DB=fresh q "CREATE EXTENSION odoo_sync"
schema() {
  # pg_dump leaves out an extension's members: detach them (in these throwaway databases only).
  DB=$1 q "DELETE FROM pg_depend WHERE deptype = 'e' AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'odoo_sync')"
  pg_tool pg_dump -h 127.0.0.1 -p "$PORT" -U postgres --schema-only --schema=scout --no-owner "$1" | grep -v '^--' | grep -v '^$' | grep -Ev '^\\(un)?restrict '
}
schema upg > "$WORK/upgraded.sql"
schema fresh > "$WORK/fresh.sql"
if diff -u "$WORK/fresh.sql" "$WORK/upgraded.sql" > "$WORK/schema.diff"; then
  check "pg_dump --schema-only: updated = fresh ($(wc -l < "$WORK/fresh.sql") lines)" same same
else
  head -60 "$WORK/schema.diff"
  check "pg_dump --schema-only: updated = fresh" same different
fi

# What pg_dump --schema-only leaves out but CREATE EXTENSION makes: the model rows, and which
# tables the extension's dumps keep (pg_extension_config_dump).
models_of() { DB=$1 q "SELECT md5(string_agg(concat_ws('|', model, bronze_table, sync_order, fields, optional_fields, extra_fields, enabled, silver_table, odoo_module), ';' ORDER BY model)) FROM scout.sync_models"; }
check "scout.sync_models: updated = fresh" "$(models_of fresh)" "$(models_of upg)"
config_of() { DB=$1 q "SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text) FROM pg_extension, unnest(extconfig) c WHERE extname = 'odoo_sync'"; }
check "the extension's config tables: updated = fresh" "$(config_of fresh)" "$(config_of upg)"

echo "upgrade: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
