#!/usr/bin/env bash
# Real time: how long a change in Odoo takes to reach silver (scout.transactions, complete with
# its lines and payments), with Odoo's webhooks on (the rules scout.odoo_install_webhooks()
# creates, posting to the worker's listener) and off (the worker's schedule only), on Odoo 19
# (webhooks after the commit) and 17 (inside the transaction, before the commit). The simulator
# makes RT_CHANGES new orders at random times over RT_SECONDS while a second session watches
# silver; prints p50 / p95 / max from the moment the change was asked of Odoo to the moment the
# silver row was visible. One table.
#
#   bash bench/realtime.sh                          # 200 changes over 60 s
#   RT_CHANGES=50 RT_SECONDS=20 RT_SCHEDULE='*/30 * * * * *' bash bench/realtime.sh
#
# The schedule-only rows use RT_SCHEDULE (default every minute, the shortest five-field cron):
# the default odoo_sync.schedule (every 15 minutes) waits 15 times longer on average.
# As root on Debian 12, like bench/run.sh (RT_SKIP_BUILD=1 uses what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
CHANGES=${RT_CHANGES:-200}
SECONDS_SPREAD=${RT_SECONDS:-60}
SCHEDULE=${RT_SCHEDULE:-* * * * *}
. bench/lib.sh
bench_build RT_SKIP_BUILD
python3 -c 'import psycopg' 2>/dev/null || python3 -m pip install -q 'psycopg[binary]'

LISTEN_PORT=$(bench_free_port)
bench_cluster realtime rt <<CONF
odoo_sync.schedule = '0 0 1 1 *'
odoo_sync.webhook_listen = '127.0.0.1:$LISTEN_PORT'
CONF

cat > "$WORK/watch.py" <<'PY'
# Makes the changes and watches silver; prints "p50 p95 max runs" (seconds, worker runs).
import json, random, sys, threading, time, urllib.request
import psycopg
sim, dsn, changes, spread, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
asked = {}          # order id -> when the change was asked of Odoo
seen = {}
lock = threading.Lock()
done = threading.Event()

def watch():
    with psycopg.connect(dsn, autocommit=True) as c:
        while not done.is_set():
            with lock:
                pending = [i for i in asked if i not in seen]
            if pending:
                rows = c.execute("SELECT source_id FROM scout.transactions WHERE source_id = ANY(%s) AND complete",
                                 (pending,)).fetchall()
                t = time.time()
                with lock:
                    for (i,) in rows:
                        seen[i] = t
            time.sleep(0.02)

w = threading.Thread(target=watch)
w.start()
random.seed(14)
times = sorted(random.uniform(0, spread) for _ in range(changes))
start = time.time()
with psycopg.connect(dsn, autocommit=True) as c:
    since = c.execute("SELECT clock_timestamp()").fetchone()[0]
    for at in times:
        time.sleep(max(0.0, start + at - time.time()))
        t = time.time()
        req = urllib.request.Request(sim + "/sim/mutate", json.dumps({"model": "pos.order", "action": "create", "count": 1}).encode(),
                                     {"Content-Type": "application/json"})
        ids = json.load(urllib.request.urlopen(req))["ids"]
        with lock:
            for i in ids:
                asked[i] = t
    deadline = time.time() + wait
    while time.time() < deadline:
        with lock:
            if len(seen) == len(asked):
                break
        time.sleep(0.1)
    done.set()
    w.join()
    runs = c.execute("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND run_mode = 'worker' AND started_at > %s",
                     (since,)).fetchone()[0]
lat = sorted(seen[i] - asked[i] for i in seen)
missing = len(asked) - len(seen)
def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print(f"{pct(50):.2f} {pct(95):.2f} {lat[-1]:.2f} {runs} {missing}")
PY

printf '\nreal time: %s new orders at random times over %s s; from the change asked of Odoo to its complete silver row\n' "$CHANGES" "$SECONDS_SPREAD"
printf '%-6s %-40s %8s %8s %8s %12s %8s\n' "Odoo" "how silver learns of it" "p50 s" "p95 s" "max s" "worker runs" "missed"
for version in 19 17; do
  url=$(bench_sim --version "$version" --orders 300)
  # A fresh schema per Odoo: the order ids of one simulator mean nothing to the other.
  q "DROP EXTENSION IF EXISTS odoo_sync CASCADE" >/dev/null 2>&1
  q "CREATE EXTENSION odoo_sync"
  q "SELECT scout.odoo_set_secret(password => 'admin')" >/dev/null
  bench_configure "$url"
  q "SELECT count(*) FROM scout.odoo_sync_all()" >/dev/null
  for mode in webhooks schedule; do
    if [ "$mode" = webhooks ]; then
      bench_conf odoo_sync.schedule '0 0 1 1 *'
      q "SELECT count(*) FROM scout.odoo_install_webhooks()" >/dev/null
      label="Odoo's webhooks (odoo_install_webhooks)"
      wait=30
    else
      q "SELECT scout.odoo_remove_webhooks()" >/dev/null
      bench_conf odoo_sync.schedule "$SCHEDULE"
      label="schedule '$SCHEDULE', no webhooks"
      wait=90
    fi
    sleep 2
    read -r p50 p95 max runs missed < <(python3 "$WORK/watch.py" "$url" "host=127.0.0.1 port=$PORT user=postgres dbname=rt" \
      "$CHANGES" "$SECONDS_SPREAD" "$wait")
    printf '%-6s %-40s %8s %8s %8s %12s %8s\n' "$version" "$label" "$p50" "$p95" "$max" "$runs" "$missed"
  done
  bench_conf odoo_sync.schedule '0 0 1 1 *'
done
