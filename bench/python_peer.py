#!/usr/bin/env python3
"""The Python peer: the same sync written the way the reference design describes
(reference/seed-odoo-supabase-etl.md: odoo_client.py + supabase_loader.py + checkpoints.py),
as a baseline for the extension's benchmark.

- Odoo JSON-RPC with `requests` (one kept-alive session): common.authenticate, then
  object.execute_kw search_read, SYNC_BATCH_SIZE (500) records per page.
- The same window and paging as the extension: [L, U) on Odoo's clock (HTTP Date minus a safety
  lag), `id > last_id`, `order = 'id asc'`, context `active_test: false`; never offsets.
- psycopg 3 upserting each page (executemany, ON CONFLICT (id) DO UPDATE) into a table identical
  to scout.bronze_<model>, the checkpoint upserted in the same transaction, one commit per batch.

    python3 bench/python_peer.py --dsn 'host=... dbname=...' --url http://127.0.0.1:PORT \
        --model pos.order.line --table bench.peer_pos_order_line --fields id,order_id,... [--full]

Prints one JSON line with what it did.
"""
import argparse
import datetime as dt
import email.utils
import json
import sys
import time

import psycopg
import requests
from psycopg.types.json import Jsonb


class OdooError(Exception):
    pass


class OdooClient:
    """odoo_client.py: a JSON-RPC client on a kept-alive requests.Session."""

    def __init__(self, url, db, username, password, timeout=30):
        self.url = url.rstrip("/") + "/jsonrpc"
        self.db, self.password, self.timeout = db, password, timeout
        self.session = requests.Session()
        self.server_time = None
        self.uid = self._rpc("common", "authenticate", [db, username, password, {}])
        if not self.uid:
            raise OdooError("authentication failed")

    def _rpc(self, service, method, args):
        payload = {"jsonrpc": "2.0", "method": "call",
                   "params": {"service": service, "method": method, "args": args}, "id": 1}
        r = self.session.post(self.url, json=payload, timeout=self.timeout)
        r.raise_for_status()
        date = r.headers.get("Date")
        if date:
            self.server_time = email.utils.parsedate_to_datetime(date)
        body = r.json()
        if body.get("error"):
            err = body["error"]
            raise OdooError(err.get("data", {}).get("message") or err.get("message"))
        return body["result"]

    def execute_kw(self, model, method, args, kwargs):
        return self._rpc("object", "execute_kw",
                         [self.db, self.uid, self.password, model, method, args, kwargs])

    def search_read(self, model, domain, fields, limit, order="id asc"):
        return self.execute_kw(model, "search_read", [domain],
                               {"fields": fields, "limit": limit, "order": order,
                                "context": {"active_test": False}})


ODOO_FMT = "%Y-%m-%d %H:%M:%S"


def parse_odoo_datetime(v):
    """transformers.py: Odoo's naive UTC text -> aware datetime (False -> None)."""
    if not v:
        return None
    return dt.datetime.strptime(v, ODOO_FMT).replace(tzinfo=dt.timezone.utc)


def sync(args):
    odoo = OdooClient(args.url, args.db, args.username, args.password)
    fields = args.fields.split(",")
    cp_id = f"{args.checkpoint_key}:{args.model}"
    conn = psycopg.connect(args.dsn)
    with conn.cursor() as cur:  # checkpoints.py: read the high-water mark
        cur.execute(f"SELECT last_sync_at FROM {args.checkpoints} WHERE id = %s", (cp_id,))
        row = cur.fetchone()
    conn.commit()
    high_water = row[0] if row and row[0] != dt.datetime.min else None

    # The window [L, U) on Odoo's clock (authenticate's answer carried a Date header).
    upper = odoo.server_time - dt.timedelta(seconds=args.safety_lag)
    lower = None if (args.full or high_water is None) else high_water - dt.timedelta(seconds=args.lookback)
    base = [["write_date", "<", upper.strftime(ODOO_FMT)]]
    if lower is not None:
        base.insert(0, ["write_date", ">=", lower.strftime(ODOO_FMT)])

    upsert = (f"INSERT INTO {args.table} (id, write_date, payload, run_id, synced_at, deleted_at) "
              "VALUES (%s, %s, %s, %s, now(), NULL) "
              "ON CONFLICT (id) DO UPDATE SET write_date = EXCLUDED.write_date, payload = EXCLUDED.payload, "
              "run_id = EXCLUDED.run_id, synced_at = EXCLUDED.synced_at, deleted_at = NULL")
    save_cp = (f"INSERT INTO {args.checkpoints} AS c (id, model, last_sync_at, last_record_id, records_synced, status, updated_at) "
               "VALUES (%s, %s, %s, %s, %s, %s, now()) "
               "ON CONFLICT (id) DO UPDATE SET last_sync_at = EXCLUDED.last_sync_at, "
               "last_record_id = EXCLUDED.last_record_id, records_synced = c.records_synced + EXCLUDED.records_synced, "
               "status = EXCLUDED.status, updated_at = now()")
    run_id = int(time.time())
    last_id, fetched, pages, started = 0, 0, 0, time.monotonic()
    cp_mark = high_water or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    while True:
        domain = base + ([["id", ">", last_id]] if last_id else [])
        records = odoo.search_read(args.model, domain, fields, args.batch_size)
        pages += 1
        if records:
            rows = [(r["id"], parse_odoo_datetime(r.get("write_date")), Jsonb(r), run_id) for r in records]
            last_id = records[-1]["id"]
            fetched += len(records)
        done = len(records) < args.batch_size
        # supabase_loader.py + checkpoints.py: the batch and its checkpoint, one commit.
        with conn.transaction():
            with conn.cursor() as cur:
                if records:
                    cur.executemany(upsert, rows)
                cur.execute(save_cp, (cp_id, args.model, upper if done else cp_mark,
                                      None if done else last_id, len(records),
                                      "success" if done else "in_progress"))
        if done:
            break
    conn.close()
    secs = time.monotonic() - started
    return {"model": args.model, "fetched": fetched, "pages": pages, "seconds": round(secs, 3),
            "rows_per_s": round(fetched / secs) if secs else None}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dsn", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--db", default="odoo")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--model", required=True)
    p.add_argument("--fields", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--checkpoints", default="bench.peer_checkpoints")
    p.add_argument("--checkpoint-key", default="odoo_sync_checkpoint")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--safety-lag", type=int, default=5)
    p.add_argument("--lookback", type=int, default=600)
    p.add_argument("--full", action="store_true")
    args = p.parse_args()
    print(json.dumps(sync(args)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
