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
. bench/lib.sh
bench_build WB_SKIP_BUILD
bench_cluster wb wb <<'CONF'
odoo_sync.schedule = '0 0 1 1 *'
CONF

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
  local url
  url=$(bench_sim --orders 2000 --serve-cost "$1" --workers 8)
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
  bench_configure "$url"
  q "TRUNCATE scout.odoo_outbox" >/dev/null
  q "SELECT count(*) FROM scout.odoo_sync('res.partner')" >/dev/null
  for by in "scout.odoo_push()" "the worker (woken at commit)"; do
    tag="Bench $cost $RANDOM"
    if [ "$by" = "scout.odoo_push()" ]; then
      bench_conf odoo_sync.worker_enabled off; sleep 1
    else
      bench_conf odoo_sync.worker_enabled on; sleep 1
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
