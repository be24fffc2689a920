#!/usr/bin/env python3
"""The measurements of bench/run.sh (which builds, starts PostgreSQL and the simulators, and
calls this). Everything runs against the simulators on loopback and one local PostgreSQL 15.

Figures:
  wall      seconds from the client's call to its answer
  rows/s    rows loaded / wall
  CPU       over the same interval: the on-CPU time of the PostgreSQL backend running the sync
            (/proc/<pid>/schedstat), utime+stime of the simulator and of the client process
            (the Python peer, the raw client)
  RSS       of the backend running the sync, from /proc/<pid>/status: VmRSS before the call,
            VmHWM after it (the peak was reset to the current RSS just before the call, through
            /proc/<pid>/clear_refs), and the peak of RssAnon (private memory, sampled every 10 ms;
            VmHWM also counts the shared_buffers pages the backend touched)
  SQL / DB time  the summed planning + execution time of the SQL statements the sync ran
            inside the backend, from pg_stat_statements (track = all, track_planning = on),
            each statement counted once (see prepare_pgss)
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg

TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- /proc helpers

def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu(pid):
    """utime + stime of a process (seconds), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return None


def machine_busy():
    """Jiffies the whole machine spent busy and in all, over all its CPUs (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def busy_pct(b0, b1):
    """The share of the machine's CPU time (all cores) that was busy between two machine_busy()."""
    total = b1[1] - b0[1]
    return 100.0 * (b1[0] - b0[0]) / total if total else None


def report_stats(c):
    """Makes this session's backend report its pending statistics (function counts) now: it
    reports when it goes idle, at most once a second unless told to force the next report."""
    c.execute("SELECT pg_stat_force_next_flush()")
    c.execute("SELECT 1")


def backend_cpu(pid):
    """On-CPU time of a single-threaded process in seconds, with ns resolution (schedstat)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return proc_cpu(pid)


def normalize_sql(q):
    """Constants and parameters to '?', whitespace collapsed: to compare a function's body with
    the text pg_stat_statements keeps for it."""
    q = re.sub(r"'(?:[^']|'')*'", "?", q)
    q = re.sub(r"\$\d+|\b\d+(?:\.\d+)?\b", "?", q)
    return " ".join(q.split()).rstrip(";").strip().lower()


def reset_hwm(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Samples a process every 10 ms: peak RSS figures and its last CPU time (so that the CPU
    of a backend that exits at the end of the run is still known)."""

    def __init__(self, pid=None, find_pid=None):
        super().__init__(daemon=True)
        self.pid, self.find_pid = pid, find_pid
        self.stop_ev = threading.Event()
        self.peak_rss = self.peak_anon = 0
        self.cpu_first = self.cpu_last = None

    def run(self):
        while not self.stop_ev.is_set():
            if self.pid is None and self.find_pid:
                self.pid = self.find_pid()
                if self.pid is None:
                    self.stop_ev.wait(0.05)
                    continue
            if self.pid is not None:
                c = proc_cpu(self.pid)
                if c is not None:
                    if self.cpu_first is None:
                        self.cpu_first = c
                    self.cpu_last = c
                s = proc_status(self.pid)
                self.peak_rss = max(self.peak_rss, s.get("VmRSS", 0))
                self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
            self.stop_ev.wait(0.01)

    def stop(self):
        self.stop_ev.set()
        self.join()


# ----------------------------------------------------------------------------- the bench

class Bench:
    def __init__(self, a):
        self.a = a
        self.results = {"config": {}, "runs": {}}
        self.fields = {}
        self.silver_defs = {}
        self.inner_sql = {}

    def dsn(self, db, **kw):
        extra = " ".join(f"{k}={v}" for k, v in kw.items())
        return f"host={self.a.pghost} port={self.a.pgport} user=postgres dbname={db} {extra}".strip()

    def connect(self, db, **kw):
        return psycopg.connect(self.dsn(db, **kw), autocommit=True)

    def log(self, msg):
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    # --- setup
    def setup_db(self, db, sim_url, batch_size):
        with self.connect("postgres") as c:
            c.execute(f"DROP DATABASE IF EXISTS {db}")
            c.execute(f"CREATE DATABASE {db}")
        with self.connect(db) as c:
            c.execute("CREATE EXTENSION odoo_sync")
            c.execute("CREATE EXTENSION pg_stat_statements")
            for k, v in (("base_url", sim_url), ("db", "odoo"), ("username", "admin"), ("batch_size", str(batch_size))):
                c.execute(f"ALTER DATABASE {db} SET odoo_sync.{k} = '{v}'")
            c.execute("SELECT scout.odoo_set_secret(password => 'admin')")
            c.execute("CREATE SCHEMA bench")
            c.execute("CREATE TABLE bench.peer_checkpoints (LIKE scout.sync_checkpoints INCLUDING ALL)")
            for m, t in c.execute("SELECT model, bronze_table FROM scout.sync_models "
                                  "WHERE model IN ('pos.order', 'pos.order.line')").fetchall():
                for kind in ("peer", "copy"):
                    c.execute(f"CREATE TABLE bench.{kind}_{t[len('bronze_'):]} (LIKE scout.{t} INCLUDING ALL)")
            for m, f in c.execute("SELECT model, array_to_string(fields, ',') FROM scout.sync_models").fetchall():
                self.fields[m] = f
            self.results["config"]["postgres"] = c.execute("SHOW server_version").fetchone()[0]
            self.results["config"]["shared_buffers"] = c.execute("SHOW shared_buffers").fetchone()[0]
        self.prepare_pgss(db)

    def sync_dimensions(self, db):
        """The models a POS line depends on (categories, products, partners, POS configs,
        sessions, payment methods): loaded first, as scout.odoo_sync_all() would, so that
        silver finds what the orders and lines refer to."""
        with self.connect(db) as c:
            models = [m for (m,) in c.execute("SELECT model FROM scout.sync_models WHERE enabled "
                                              "AND model NOT IN ('pos.order', 'pos.order.line', 'pos.payment') ORDER BY sync_order")]
            for m in models:
                c.execute("SELECT * FROM scout.odoo_sync(%s, \"full\" => true)", (m,)).fetchall()
        self.log(f"{db}: dimensions loaded ({', '.join(models)})")

    def prepare_pgss(self, db):
        """pg_stat_statements with track = all counts a statement run inside a SQL function
        twice: in the function's caller and on its own. So that "DB time" is the time of the
        statements the extension ran (each including everything it called): the functions of
        schema scout that have SET clauses (never inlined) get SET pg_stat_statements.track =
        top, which hides their inner statements; the bodies of the others (one-line SQL
        functions, which PostgreSQL runs as nested statements when it cannot inline them) are
        remembered and left out of the sum."""
        inner = set()
        with self.connect(db) as c:
            for oid, lang, body, has_set in c.execute(
                    "SELECT p.oid, l.lanname, p.prosrc, p.proconfig IS NOT NULL FROM pg_proc p "
                    "JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'scout' AND l.lanname IN ('sql', 'plpgsql') AND p.prokind = 'f'").fetchall():
                if has_set:
                    sig = c.execute("SELECT %s::regprocedure::text", (oid,)).fetchone()[0]
                    c.execute(f"ALTER FUNCTION {sig} SET pg_stat_statements.track = 'top'")
                elif lang == "sql":
                    inner.add(normalize_sql(body))
        self.inner_sql[db] = inner

    SILVER_FN = "scout.silver_apply(text, bigint[], bigint)"

    def silver(self, db, on):
        """Silver on (the extension as shipped) or off: scout.silver_apply replaced, in this
        throwaway database only, by a function that does nothing, so that the engine's own cost
        (fetch + bronze) can be compared with the Python peer, which loads bronze only."""
        with self.connect(db) as c:
            oid = c.execute("SELECT to_regprocedure(%s)::oid", (self.SILVER_FN,)).fetchone()[0]
            if oid is None:
                return
            if db not in self.silver_defs:
                self.silver_defs[db] = c.execute("SELECT pg_get_functiondef(%s)", (oid,)).fetchone()[0]
            if on:
                c.execute(self.silver_defs[db])
            else:
                args = c.execute("SELECT pg_get_function_arguments(%s)", (oid,)).fetchone()[0]
                c.execute(f"CREATE OR REPLACE FUNCTION scout.silver_apply({args}) RETURNS bigint "
                          "LANGUAGE sql VOLATILE AS 'SELECT 0::bigint'")
        self.log(f"{db}: silver {'on' if on else 'off (bronze only)'}")

    def prefetch(self, db, on):
        """odoo_sync.prefetch: the next page is fetched (on a second thread) while the current
        one loads (on, the default), or fetching and loading take turns (off)."""
        with self.connect(db) as c:
            c.execute(f"ALTER DATABASE {db} SET odoo_sync.prefetch = {'on' if on else 'off'}")
        self.log(f"{db}: prefetch {'on' if on else 'off'}")

    def rebuild(self, db, label):
        """scout.silver_rebuild(): all of silver derived again from bronze, in a transaction
        that is rolled back (the loaded silver stays as it was)."""
        with self.connect(db) as c:
            rows = c.execute("SELECT count(*) FROM scout.bronze_pos_order_line").fetchone()[0]
            c.execute("BEGIN")
            t0 = time.time()
            c.execute("SELECT scout.silver_rebuild()")
            wall = time.time() - t0
            c.execute("ROLLBACK")
        r = {"rows": rows, "wall": wall, "rows_per_s": rows / wall if wall else 0}
        self.log(f"{label}: {wall:.1f} s")
        self.results["runs"][label] = r
        return r

    def silver_bound(self, db, label):
        """bench/silver_bound.sql: how long writing the silver rows of pos.order.line takes by
        themselves, beside _silver_items chunked, in one call and as one whole-table statement
        (rolled back). Its NOTICE lines are kept as they are printed."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "silver_bound.sql")
        out = subprocess.run(["psql", "-X", "-q", self.dsn(db), "-f", script],
                             capture_output=True, text=True, check=True)
        notice = out.stderr[out.stderr.index("silver bound:"):].splitlines()
        lines = [notice[0].split("NOTICE:")[-1].strip()] + [l.rstrip() for l in notice[1:] if "us a line" in l]
        self.log("; ".join(" ".join(l.split()) for l in lines))
        self.results["runs"][label] = {"lines": lines}
        return lines

    def silver_digest(self, db):
        """What silver holds of the sales: counts and sums, to compare two ways of loading."""
        with self.connect(db) as c:
            return [str(v) for v in c.execute(
                "SELECT (SELECT count(*) FROM scout.transaction_items WHERE deleted_at IS NULL), "
                "(SELECT sum(line_total) FROM scout.transaction_items WHERE deleted_at IS NULL), "
                "(SELECT count(*) FROM scout.transactions WHERE deleted_at IS NULL), "
                "(SELECT sum(gross_amount) FROM scout.transactions WHERE deleted_at IS NULL), "
                "(SELECT sum(quantity) FROM scout.transactions WHERE deleted_at IS NULL), "
                "(SELECT count(*) FILTER (WHERE complete) FROM scout.transactions), "
                "(SELECT count(*) FROM scout.silver_rejects)").fetchone()]

    def streams(self, db, n):
        """odoo_sync.fetch_streams: how many connections a full load fetches with at once."""
        with self.connect(db) as c:
            c.execute(f"ALTER DATABASE {db} SET odoo_sync.fetch_streams = {int(n)}")
        self.log(f"{db}: fetch_streams {n}")

    def set_batch(self, db, n):
        with self.connect(db) as c:
            c.execute(f"ALTER DATABASE {db} SET odoo_sync.batch_size = {int(n)}")

    def reset_model(self, db, model, table):
        """An empty bronze table (and the model's silver rows) and no checkpoint: the next sync
        is a first load."""
        with self.connect(db) as c:
            c.execute(f"TRUNCATE {table}")
            st = c.execute("SELECT silver_table FROM scout.sync_models WHERE model = %s", (model,)).fetchone()[0]
            if st:
                c.execute(f"TRUNCATE scout.{st}")
            if c.execute("SELECT to_regclass('scout.silver_rejects')").fetchone()[0]:
                c.execute("DELETE FROM scout.silver_rejects WHERE model = %s", (model,))
            c.execute("DELETE FROM scout.sync_checkpoints WHERE model = %s", (model,))
            c.execute("CHECKPOINT")

    def sim_post(self, sim_url, path, body):
        req = urllib.request.Request(sim_url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req).read() or b"null")

    # --- one measured SQL call in a fresh session
    def measured_sql(self, db, sql, sim_pid, warmup=None, pgss=False, timeout=None, functions=False):
        """Runs `sql` in a fresh session after `warmup` (which loads the extension library),
        measuring wall time, backend CPU/RSS and simulator CPU. With `timeout` (seconds) the
        statement is cancelled then; the last progress NOTICE tells how far it got."""
        with self.connect(db) as c:
            progress = {"done": None}

            def on_notice(d):
                m = re.search(r": (\d+) (?:of about \d+ )?records", d.message_primary or "")
                if m:
                    progress["done"] = int(m.group(1))

            c.add_notice_handler(on_notice)
            pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
            if warmup:
                c.execute(warmup).fetchall()
            if pgss:
                c.execute("SET pg_stat_statements.track = 'all'")
                c.execute("SELECT pg_stat_statements_reset()")
            if timeout:
                c.execute(f"SET statement_timeout = '{int(timeout)}s'")
            before = proc_status(pid)
            hwm_reset = reset_hwm(pid)
            if hwm_reset:
                before = proc_status(pid)
            if functions:
                # The warm-up's counts are reported first, then scout's are zeroed.
                report_stats(c)
                c.execute("SELECT pg_stat_reset_single_function_counters(p.oid) FROM pg_proc p "
                          "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'scout'").fetchall()
            cpu0, sim0, busy0 = backend_cpu(pid), proc_cpu(sim_pid), machine_busy()
            sampler = Sampler(pid)
            sampler.start()
            t0 = time.perf_counter()
            status, rows, cols = "ok", [], []
            try:
                cur = c.execute(sql)
                rows = cur.fetchall() if cur.description else []
                cols = [d.name for d in cur.description] if cur.description else []
            except psycopg.errors.QueryCanceled:
                status = "timeout"
            wall = time.perf_counter() - t0
            busy1 = machine_busy()
            sampler.stop()
            after = proc_status(pid)
            cpu1, sim1 = backend_cpu(pid), proc_cpu(sim_pid)
            c.execute("RESET statement_timeout")
            anon_peak = max(sampler.peak_anon, after.get("RssAnon", 0))
            r = {
                "status": status,
                "progress_rows": progress["done"],
                "wall": wall,
                "backend_cpu": cpu1 - cpu0,
                "sim_cpu": (sim1 - sim0) if sim0 is not None and sim1 is not None else None,
                "rss_start": before.get("VmRSS"),
                "hwm_end": after.get("VmHWM"),
                "hwm_growth": after.get("VmHWM", 0) - before.get("VmRSS", 0),
                "anon_start": before.get("RssAnon"),
                "anon_peak": anon_peak,
                "anon_growth": anon_peak - before.get("RssAnon", 0),
                "shmem_end": after.get("RssShmem"),
                "hwm_reset": hwm_reset,
                "machine_busy_pct": busy_pct(busy0, busy1),
                "result": [dict(zip(cols, [v if isinstance(v, (int, float)) else str(v) for v in row])) for row in rows],
            }
            if functions:
                report_stats(c)  # track_functions = all in bench/run.sh
                r["functions"] = {n: {"calls": k, "total_ms": t, "self_ms": st} for n, k, t, st in c.execute(
                    "SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions "
                    "WHERE schemaname = 'scout' ORDER BY total_time DESC").fetchall()}
            if pgss:
                c.execute("SET pg_stat_statements.track = 'none'")
                stmts = c.execute(
                    "SELECT query, calls, total_exec_time + total_plan_time FROM pg_stat_statements "
                    "WHERE NOT toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "ORDER BY total_exec_time DESC").fetchall()
                # Only the statements the extension itself ran: those run inside scout's SQL
                # functions are part of their caller's time (see prepare_pgss).
                inner = self.inner_sql.get(db, set())
                r["db_ms"] = sum(s[2] for s in stmts if normalize_sql(s[0]) not in inner)
                r["db_statements"] = [{"query": " ".join(q.split())[:300], "calls": n, "ms": round(ms, 3)} for q, n, ms in stmts]
            return r

    def sync_sql(self, model, full=True):
        return f"SELECT * FROM scout.odoo_sync('{model}', \"full\" => {'true' if full else 'false'})"

    def ours_full(self, db, sim_pid, model, table, label, procedure_pages=None, timeout=None):
        self.reset_model(db, model, table)
        if procedure_pages:
            sql = f"CALL scout.odoo_sync_run('{model}', \"full\" => true, pages_per_commit => {procedure_pages})"
        else:
            sql = self.sync_sql(model)
        self.log(f"{label}: {sql}")
        r = self.measured_sql(db, sql, sim_pid, warmup="SELECT * FROM scout.odoo_sync('pos.config')",
                              pgss=not procedure_pages, timeout=timeout, functions=not procedure_pages)
        with self.connect(db) as c:
            r["rows"] = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            log = c.execute("SELECT fetched, inserted, http_calls, extract(epoch FROM completed_at - started_at)::float8 "
                            "FROM scout.sync_logs WHERE model = %s ORDER BY id DESC LIMIT 1", (model,)).fetchone()
            r["log"] = {"fetched": log[0], "inserted": log[1], "http_calls": log[2], "log_seconds": log[3]} if log else None
        if r["status"] != "ok":
            # Rolled back: the rate is that of the rows it had done when it was stopped.
            r["rows"] = r["progress_rows"] or 0
        if not procedure_pages:
            st = r.get("db_statements", [])
            r["upsert_ms"] = sum(s["ms"] for s in st if "INSERT INTO scout.bronze" in s["query"])
            r["silver_ms"] = sum(s["ms"] for s in st if s["query"].startswith("SELECT scout.silver_apply"))
            r["delete_ms"] = sum(s["ms"] for s in st if "deleted_at = now()" in s["query"])
            r["checkpoint_ms"] = sum(s["ms"] for s in st if "INSERT INTO scout.sync_checkpoints" in s["query"])
        r["rows_per_s"] = r["rows"] / r["wall"]
        self.log(f"{label}: {r['rows']} rows in {r['wall']:.1f} s ({r['rows_per_s']:.0f}/s){'' if r['status'] == 'ok' else ' ' + r['status'].upper()}")
        self.results["runs"][label] = r
        return r

    def peer(self, db, sim_url, sim_pid, model, label):
        table = f"bench.peer_{model.replace('.', '_')}"
        with self.connect(db) as c:
            c.execute(f"TRUNCATE {table}")
            c.execute("DELETE FROM bench.peer_checkpoints WHERE model = %s", (model,))
            c.execute("CHECKPOINT")
        cmd = [sys.executable, os.path.join(HERE, "python_peer.py"), "--dsn", self.dsn(db, application_name="python_peer"),
               "--url", sim_url, "--model", model, "--fields", self.fields[model], "--table", table, "--full"]
        self.log(f"{label}: python_peer.py --model {model}")

        def find():
            try:
                with self.connect(db) as c:
                    row = c.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'python_peer'").fetchone()
                return row[0] if row else None
            except psycopg.Error:
                return None

        sampler = Sampler(find_pid=find)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim0 = proc_cpu(sim_pid)
        sampler.start()
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - t0
        sampler.stop()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim1 = proc_cpu(sim_pid)
        with self.connect(db) as c:
            rows = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        r = {"wall": wall, "rows": rows, "rows_per_s": rows / wall, "peer": json.loads(out.strip().splitlines()[-1]),
             "client_cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
             "backend_cpu": (sampler.cpu_last - sampler.cpu_first) if sampler.cpu_first is not None else None,
             "sim_cpu": sim1 - sim0}
        self.log(f"{label}: {rows} rows in {wall:.1f} s ({r['rows_per_s']:.0f}/s)")
        self.results["runs"][label] = r
        return r

    # --- the runner (odoo-sync, crates/runner): the same engine beside the database
    def runner_env(self, db, sim_url, streams=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ODOO_", "SYNC_", "PG")) and k != "DATABASE_URL"}
        env.update({"DATABASE_URL": f"postgresql://postgres@{self.a.pghost}:{self.a.pgport}/{db}?sslmode=disable",
                    "ODOO_BASE_URL": sim_url, "ODOO_DB": "odoo", "ODOO_USERNAME": "admin", "ODOO_PASSWORD": "admin",
                    "SYNC_BATCH_SIZE": str(self.a.batch)})
        if streams:
            env["ODOO_SYNC_FETCH_STREAMS"] = str(streams)
        return env

    def setup_runner_db(self, db, sim_url):
        """A database without the extension, its schema installed by `odoo-sync install`, the
        models a POS line depends on loaded by the runner."""
        with self.connect("postgres") as c:
            c.execute(f"DROP DATABASE IF EXISTS {db}")
            c.execute(f"CREATE DATABASE {db}")
        env = self.runner_env(db, sim_url)
        subprocess.run([self.a.runner, "install"], env=env, check=True, capture_output=True)
        with self.connect(db) as c:
            models = [m for (m,) in c.execute("SELECT model FROM scout.sync_models WHERE enabled "
                                              "AND model NOT IN ('pos.order', 'pos.order.line', 'pos.payment') ORDER BY sync_order")]
        subprocess.run([self.a.runner, "sync", "--full", *models], env=env, check=True, capture_output=True)
        self.log(f"{db}: installed by odoo-sync, dimensions loaded")

    def runner_full(self, db, sim_url, sim_pid, model, table, label, streams=None):
        """`odoo-sync sync MODEL --full` as a user runs it: wall time of the process, the rows
        loaded; CPU of the runner (the client) and of the backend serving it."""
        self.reset_model(db, model, table)
        env = self.runner_env(db, sim_url, streams)

        def find():
            try:
                with self.connect(db) as c:
                    row = c.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'odoo-sync' "
                                    "AND datname = current_database() ORDER BY backend_start LIMIT 1").fetchone()
                return row[0] if row else None
            except psycopg.Error:
                return None

        self.log(f"{label}: odoo-sync sync {model} --full")
        sampler = Sampler(find_pid=find)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim0 = proc_cpu(sim_pid)
        b0 = machine_busy()
        sampler.start()
        t0 = time.perf_counter()
        subprocess.run([self.a.runner, "sync", model, "--full"], env=env, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        sampler.stop()
        b1 = machine_busy()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with self.connect(db) as c:
            rows = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        r = {"wall": wall, "rows": rows, "rows_per_s": rows / wall, "status": "ok",
             "client_cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
             "backend_cpu": (sampler.cpu_last - sampler.cpu_first) if sampler.cpu_first is not None else None,
             "sim_cpu": proc_cpu(sim_pid) - sim0, "machine_busy_pct": busy_pct(b0, b1)}
        self.log(f"{label}: {rows} rows in {wall:.1f} s ({r['rows_per_s']:.0f}/s)")
        self.results["runs"][label] = r
        return r

    def copy_limit(self, db, model, label):
        src = f"scout.bronze_{model.replace('.', '_')}"
        dst = f"bench.copy_{model.replace('.', '_')}"
        path = os.path.join(self.a.workdir, f"{model}.copy")
        with self.connect(db) as c:
            # The same rows as the sync loaded: one record per line, its payload as jsonb text.
            c.execute(f"COPY (SELECT id, write_date, payload, run_id FROM {src} ORDER BY id) TO '{path}'")
            c.execute(f"TRUNCATE {dst}")
            c.execute("CHECKPOINT")
            self.log(f"{label}: COPY {dst} FROM '{path}' ({os.path.getsize(path) / 2**20:.0f} MiB)")
            t0 = time.perf_counter()
            c.execute(f"COPY {dst} (id, write_date, payload, run_id) FROM '{path}'")
            wall = time.perf_counter() - t0
            rows = c.execute(f"SELECT count(*) FROM {dst}").fetchone()[0]
        r = {"wall": wall, "rows": rows, "rows_per_s": rows / wall, "file_bytes": os.path.getsize(path)}
        os.unlink(path)
        self.log(f"{label}: {rows} rows in {wall:.1f} s ({r['rows_per_s']:.0f}/s)")
        self.results["runs"][label] = r
        return r

    def raw_rate(self, sim_url, sim_pid, model, label, batch=500, parallel=1):
        cmd = [self.a.rawclient, sim_url, "odoo", "admin", "admin", model, self.fields[model], str(batch), str(parallel)]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim0, busy0 = proc_cpu(sim_pid), machine_busy()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        ru1, busy1 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
        sim1 = proc_cpu(sim_pid)
        j = json.loads(out.strip().splitlines()[-1])
        r = {"wall": j["seconds"], "rows": j["records"], "rows_per_s": j["rows_per_s"], "bytes": j["bytes"],
             "client_cpu": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), "sim_cpu": sim1 - sim0,
             "machine_busy_pct": busy_pct(busy0, busy1)}
        self.log(f"{label}: {r['rows']} rows in {r['wall']:.1f} s ({r['rows_per_s']:.0f}/s)")
        self.results["runs"][label] = r
        return r

    def page_all(self, sim_url, sim_pid, label):
        if not self.a.page_all or not os.path.exists(self.a.page_all):
            return None
        sim0 = proc_cpu(sim_pid)
        out = subprocess.run([self.a.page_all, sim_url, "500", "pos.order.line"], check=True, capture_output=True, text=True).stdout
        sim1 = proc_cpu(sim_pid)
        kv = dict(x.split("=", 1) for x in out.split())
        r = {"wall": float(kv["seconds"]), "rows": int(kv["records"]), "rows_per_s": float(kv["records_per_sec"]),
             "bytes": int(kv["bytes"]), "sim_cpu": sim1 - sim0}
        self.log(f"{label}: {r['rows']} rows in {r['wall']:.1f} s ({r['rows_per_s']:.0f}/s)")
        self.results["runs"][label] = r
        return r

    def incremental(self, db, sim_pid, model, label, repeat=3):
        """Incremental runs, each in a fresh session after a warm-up call; the median run."""
        runs = []
        for _ in range(repeat):
            r = self.measured_sql(db, self.sync_sql(model, full=False), sim_pid,
                                  warmup="SELECT * FROM scout.odoo_sync('pos.config')", pgss=True)
            with self.connect(db) as c:
                r["log_ms"] = 1000 * c.execute(
                    "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM scout.sync_logs "
                    "WHERE model = %s ORDER BY id DESC LIMIT 1", (model,)).fetchone()[0]
            runs.append(r)
        runs.sort(key=lambda r: r["wall"])
        med = dict(runs[len(runs) // 2])
        med["all_wall_ms"] = [round(1000 * r["wall"], 1) for r in runs]
        med["all_db_ms"] = sorted(round(r["db_ms"], 2) for r in runs)
        med["fetched"] = med["result"][0]["fetched"] if med["result"] else None
        self.log(f"{label}: wall {1000 * med['wall']:.1f} ms, db {med['db_ms']:.2f} ms, fetched {med['fetched']}")
        self.results["runs"][label] = med
        return med

    def reconcile(self, db, sim_pid, model, label):
        """A reconciliation of a model that is in step with Odoo: lists every (id, write_date),
        compares, loads nothing."""
        r = self.measured_sql(db, f"SELECT * FROM scout.odoo_reconcile('{model}')", sim_pid,
                              warmup="SELECT * FROM scout.odoo_sync('pos.config')")
        res = r["result"][0] if r["result"] else {}
        r["rows"] = int(res.get("odoo_count") or 0)
        r["rows_per_s"] = r["rows"] / r["wall"] if r["wall"] else 0
        r["refetched"] = res.get("refetched")
        self.log(f"{label}: {r['rows']} records compared in {r['wall']:.1f} s, refetched {r['refetched']}")
        self.results["runs"][label] = r
        return r

    def changed(self, db, sim_url, sim_pid, orders, label):
        n = max(1, orders // 100)
        self.sim_post(sim_url, "/sim/mutate", {"model": "pos.order", "action": "update", "count": n})
        self.sim_post(sim_url, "/sim/clock/advance", {"seconds": 10})
        r = self.measured_sql(db, self.sync_sql("pos.order", full=False), sim_pid,
                              warmup="SELECT * FROM scout.odoo_sync('pos.config')", pgss=True)
        r["changed"] = n
        res = r["result"][0]
        r["fetched"], r["updated"] = res["fetched"], res["updated"]
        r["rows"] = res["fetched"]
        self.log(f"{label}: {n} orders changed: fetched {res['fetched']}, updated {res['updated']} in {r['wall']:.2f} s")
        self.results["runs"][label] = r
        return r


# ----------------------------------------------------------------------------- the table

def mib(b):
    return f"{b / 2**20:.0f}" if b is not None else "-"


def fmt_s(x):
    return "-" if x is None else f"{x:.1f}"


LINE_ROWS = [
    ("ours, bronze only: odoo_sync('pos.order.line', full)", "ours: pos.order.line full"),
    ("ours, bronze only: CALL odoo_sync_run(.., pages_per_commit)", "ours: pos.order.line procedure"),
    ("ours, bronze only: batch_size {b}", "ours: pos.order.line full batch {b}"),
    ("ours, bronze only: same again (repeatability)", "ours: pos.order.line full again"),
    ("ours, bronze only: odoo_sync.prefetch = off (fetch, then load)", "ours: pos.order.line full no prefetch"),
    ("ours, bronze only: smaller dataset", "ours: pos.order.line full small"),
    ("ours, bronze + silver: odoo_sync(.., full) as shipped", "ours+silver: pos.order.line full"),
    ("ours, bronze + silver: smaller dataset", "ours+silver: pos.order.line full small"),
    ("ours, bronze + silver: lines before their orders", "ours+silver lines first: pos.order.line full"),
    ("runner, bronze only: odoo-sync sync pos.order.line --full", "runner: pos.order.line full"),
    ("runner, bronze + silver: as shipped", "runner+silver: pos.order.line full"),
    ("python peer (requests + psycopg 3, 500/batch)", "peer: pos.order.line"),
    ("COPY limit (COPY FROM file, same rows)", "copy: pos.order.line"),
    ("sim raw rate (odoo-client, no DB)", "raw: pos.order.line"),
    ("sim raw rate, batch 5000", "raw: pos.order.line batch 5000"),
    ("sim raw rate, 2 id ranges in parallel", "raw: pos.order.line parallel 2"),
    ("sim raw rate, page_all example (ALL fields)", "raw: page_all"),
]
ORDER_ROWS = [
    ("ours, bronze only: odoo_sync('pos.order', full)", "ours: pos.order full"),
    ("ours, bronze + silver: odoo_sync('pos.order', full)", "ours+silver: pos.order full"),
    ("ours, bronze + silver: after its lines (releases them)", "ours+silver lines first: then pos.order full"),
    ("runner, bronze + silver: odoo-sync sync pos.order --full", "runner+silver: pos.order full"),
    ("python peer", "peer: pos.order"),
    ("COPY limit", "copy: pos.order"),
    ("sim raw rate (odoo-client, no DB)", "raw: pos.order"),
]


def table(res, a):
    R = res["runs"]
    cfg = res["config"]
    lines = []
    head = R.get("ours: pos.order.line full") or {}
    lines.append(f"odoo_sync benchmark: {cfg['orders']:,} simulated orders ({head.get('rows', 0):,} pos.order.line); "
                 f"PostgreSQL {cfg['postgres'].split()[0]}, shared_buffers {cfg['shared_buffers']}, {cfg['cpus']} CPUs, "
                 f"batch_size {cfg['batch']} unless said")
    w = 60
    hdr = f"{'':<{w}} {'rows':>10} {'wall s':>7} {'rows/s':>8} {'SQL':>6} {'backend':>8} {'sim':>6} {'client':>7} {'RSS':>5} {'VmHWM':>6} {'HWM':>6} {'anon':>6} {'shmem':>6}"
    sub = f"{'':<{w}} {'':>10} {'':>7} {'':>8} {'s':>6} {'CPU s':>8} {'CPU s':>6} {'CPU s':>7} {'start':>5} {'end':>6} {'growth':>6} {'growth':>6} {'end':>6}"

    def row(label, key):
        r = R.get(key)
        if not r:
            return
        note = "" if r.get("status", "ok") == "ok" else f"  STOPPED at the {a.silver_timeout} s limit (rate of the rows done)"
        lines.append(f"{label:<{w}} {r['rows']:>10,} {r['wall']:>7.1f} {r['rows_per_s']:>8,.0f} {fmt_s(r['db_ms'] / 1000 if 'db_ms' in r else None):>6} {fmt_s(r.get('backend_cpu')):>8} "
                     f"{fmt_s(r.get('sim_cpu')):>6} {fmt_s(r.get('client_cpu')):>7} {mib(r.get('rss_start')):>5} {mib(r.get('hwm_end')):>6} "
                     f"{mib(r.get('hwm_growth')):>6} {mib(r.get('anon_growth')):>6} {mib(r.get('shmem_end')):>6}{note}")

    for title, rows in (("full load: pos.order.line", LINE_ROWS), ("full load: pos.order", ORDER_ROWS)):
        lines += ["", f"{title:<{w}}" + hdr[w:], sub, "-" * len(hdr)]
        for label, key in rows:
            if "{b}" in key:
                for b in a.batch_sweep:
                    row(label.format(b=b), key.format(b=b))
            else:
                row(label, key)

    lines.append("")
    for name, key in (("bronze only", "ours: pos.order.line full"), ("bronze + silver", "ours+silver: pos.order.line full")):
        r = R.get(key)
        if not r or "db_ms" not in r:
            continue
        sql, up, sv, cp = r["db_ms"] / 1000, r["upsert_ms"] / 1000, r["silver_ms"] / 1000, r["checkpoint_ms"] / 1000
        sim = r.get("sim_cpu") or 0
        rest = r["wall"] - sql - sim
        lines.append(f"where the time goes, pos.order.line full load ({name}): wall {r['wall']:.1f} s = SQL {sql:.1f} s "
                     f"(bronze upsert {up:.1f}, silver {sv:.1f}, checkpoints {cp:.1f}, other {sql - up - sv - cp:.1f}) "
                     f"+ simulator serving {sim:.1f} s (its CPU) + rest {rest:.1f} s (HTTP client, JSON checks, waits; "
                     f"below zero when fetching overlaps the SQL)")
    for name, key in (("orders first", "ours+silver: pos.order.line full"),
                      ("lines before their orders", "ours+silver lines first: pos.order.line full"),
                      ("then their orders", "ours+silver lines first: then pos.order full")):
        r = R.get(key)
        f = (r or {}).get("functions") or {}
        if not f.get("silver_apply"):
            continue
        n = r["rows"]
        parts = ", ".join(f"{fn} {f[fn]['self_ms'] / 1000:.1f} s ({1000 * f[fn]['self_ms'] / n:.1f} us a record)"
                          for fn in ("_silver_items", "_silver_transactions", "_silver_record_rejects", "silver_apply")
                          if fn in f)
        lines.append(f"  silver, {name} ({n:,} records; track_functions, own time of each): {parts}")
    lines.append("")
    hdr2 = f"{'incremental runs, silver on (fresh session; median of 3)':<{w}} {'fetched':>10} {'wall ms':>9} {'DB ms':>8} {'backend CPU ms':>15} {'sync_logs ms':>13}"
    lines += [hdr2, "-" * len(hdr2)]
    for label, key in (("no change: pos.order.line", "noop: pos.order.line"), ("no change: pos.order", "noop: pos.order")):
        r = R.get(key)
        if r:
            lines.append(f"{label:<{w}} {r['fetched']:>10,} {1000 * r['wall']:>9.1f} {r['db_ms']:>8.2f} {1000 * r['backend_cpu']:>15.0f} {r['log_ms']:>13.1f}")
    r = R.get("changed: pos.order")
    if r:
        lines.append(f"{'1% of orders changed (' + format(r['changed'], ',') + '): pos.order (one run)':<{w}} {r['fetched']:>10,} {1000 * r['wall']:>9.1f} "
                     f"{r['db_ms']:>8.2f} {1000 * r['backend_cpu']:>15.0f} {'':>13}")
    r = R.get("changed: pos.order.line")
    if r:
        lines.append(f"{'  then pos.order.line (lines untouched)':<{w}} {r['fetched']:>10,} {1000 * r['wall']:>9.1f} {r['db_ms']:>8.2f} {1000 * r['backend_cpu']:>15.0f} {r['log_ms']:>13.1f}")
    r = R.get("rebuild: silver")
    if r:
        lines.append("")
        lines.append(f"{'scout.silver_rebuild(): all silver from bronze (rolled back)':<{w}} {r['rows']:>10,} lines in {r['wall']:.1f} s ({r['rows_per_s']:,.0f} lines/s)")
    r = R.get("silver bound")
    if r:
        lines.append("")
        lines.append(f"{r['lines'][0]} (bench/silver_bound.sql, rolled back):")
        lines.extend(r["lines"][1:])

    # Ratios and targets.
    lines.append("")
    ours, silver = R.get("ours: pos.order.line full"), R.get("ours+silver: pos.order.line full")
    peer, copy, raw = R.get("peer: pos.order.line"), R.get("copy: pos.order.line"), R.get("raw: pos.order.line")
    checks = []
    for name, o in (("bronze only", ours), ("bronze + silver", silver)):
        if o and peer:
            x = o["rows_per_s"] / peer["rows_per_s"]
            checks.append((f"ours ({name}) / python peer, rows/s", f"{x:.2f} x", ">= 5 x", x >= 5))
    proc = R.get("ours: pos.order.line procedure")
    if proc and peer:
        x = proc["rows_per_s"] / peer["rows_per_s"]
        checks.append(("ours (bronze only, commit per page) / python peer", f"{x:.2f} x", ">= 5 x", x >= 5))
    for name, o in (("bronze only", ours), ("bronze + silver", silver)):
        if o and copy:
            x = o["rows_per_s"] / copy["rows_per_s"]
            checks.append((f"ours ({name}) / COPY limit, rows/s", f"{100 * x:.0f} %", ">= 50 %", x >= 0.5))
    if ours and raw:
        checks.append(("ours (bronze only) / sim raw rate, rows/s", f"{100 * ours['rows_per_s'] / raw['rows_per_s']:.0f} %", "", None))
    rec, full_line = R.get("reconcile: pos.order.line"), R.get("ours+silver: pos.order.line full")
    if rec and full_line and full_line.get("status") == "ok":
        x = rec["wall"] / full_line["wall"]
        checks.append((f"reconcile {rec['rows']:,} unchanged lines / full sync (as shipped)", f"{100 * x:.0f} %", "<= 15 %", x <= 0.15))
        checks.append(("  records re-fetched by that reconciliation", f"{rec['refetched']}", "0", rec["refetched"] in (0, "0")))
    if rec and R.get("ours: pos.order.line full"):
        x = rec["wall"] / R["ours: pos.order.line full"]["wall"]
        checks.append(("  reconcile / full sync (bronze only)", f"{100 * x:.0f} %", "", None))
    lf_line, lf_order = R.get("ours+silver lines first: pos.order.line full"), R.get("ours+silver lines first: then pos.order full")
    of_order = R.get("ours+silver: pos.order full")
    if lf_line and silver and lf_line.get("status") == "ok" and silver.get("status") == "ok":
        x = lf_line["wall"] / silver["wall"]
        checks.append(("lines before their orders / after them: pos.order.line load", f"{x:.2f} x", "<= 1 x", x <= 1))
        if lf_order and of_order and lf_order.get("status") == "ok":
            x = (lf_line["wall"] + lf_order["wall"]) / (silver["wall"] + of_order["wall"])
            checks.append(("  both loads, lines first / orders first", f"{x:.2f} x", "", None))
        same = res.get("digest_lines_first") == res.get("digest_orders_first")
        checks.append(("  silver after lines first = after orders first", "yes" if same else "NO", "yes", same))
    noop = R.get("noop: pos.order.line")
    if noop:
        checks.append(("no-change incremental run, database time", f"{noop['db_ms']:.2f} ms", "<= 50 ms", noop["db_ms"] <= 50))
    for name, o, small in (("bronze only", ours, R.get("ours: pos.order.line full small")),
                           ("bronze + silver", silver, R.get("ours+silver: pos.order.line full small"))):
        if not o or o.get("status") != "ok":
            continue
        g, ga = o["hwm_growth"] / 2**20, o["anon_growth"] / 2**20
        checks.append((f"backend VmHWM growth ({name}), {o['rows']:,} rows", f"{g:.0f} MiB", "<= 64 MiB", g <= 64))
        checks.append((f"backend private RssAnon growth ({name}), {o['rows']:,}", f"{ga:.0f} MiB", "<= 64 MiB", ga <= 64))
        if small and small.get("status") == "ok":
            checks.append((f"  VmHWM / RssAnon growth at {small['rows']:,} rows",
                           f"{small['hwm_growth'] / 2**20:.0f} / {small['anon_growth'] / 2**20:.0f} MiB", "same", None))
    hdr3 = f"{'ratio / target':<{w}} {'measured':>14} {'target':>10}  met"
    lines += [hdr3, "-" * len(hdr3)]
    for name, val, tgt, ok in checks:
        lines.append(f"{name:<{w}} {val:>14} {tgt:>10}  {'' if ok is None else ('yes' if ok else 'NO')}")
    lines += odoo_like_table(R, cfg, w)
    lines += runner_table(R, w)
    return "\n".join(lines)


def runner_table(R, w):
    """The runner's first loads over the extension's, the same rows in the same run (target:
    at least 90 %)."""
    pairs = [("database-bound, bronze only", "runner: pos.order.line full", "ours: pos.order.line full"),
             ("database-bound, as shipped (bronze + silver)", "runner+silver: pos.order.line full", "ours+silver: pos.order.line full"),
             ("Odoo-like, as shipped, 4 streams", "odoo runner+silver: pos.order.line full", "odoo ours+silver: pos.order.line full")]
    rows = [(name, R.get(k1), R.get(k2)) for name, k1, k2 in pairs]
    if not any(r and e for _, r, e in rows):
        return []
    hdr = f"{'the runner / the extension (pos.order.line first load)':<{w}} {'runner/s':>9} {'ext/s':>9} {'ratio':>7} {'target':>7}  met"
    lines = ["", hdr, "-" * len(hdr)]
    for name, r, e in rows:
        if r and e:
            x = r["rows_per_s"] / e["rows_per_s"]
            lines.append(f"{name:<{w}} {r['rows_per_s']:>9,.0f} {e['rows_per_s']:>9,.0f} {100 * x:>6.0f}% {'>= 90%':>7}  {'yes' if x >= 0.9 else 'NO'}")
    return lines


ODOO_STREAMS = (1, 2, 4, 8)


def odoo_like_table(R, cfg, w):
    """The loads against the Odoo-like simulator: Odoo's serving limit per stream count (the raw
    client, no database), ours and the Python peer, and the ratios the targets name."""
    raw = {n: R.get(f"odoo raw: streams {n}") for n in ODOO_STREAMS}
    if not raw[1]:
        return []
    lines = ["", f"against an Odoo-like simulator (--serve-cost real --workers {cfg.get('odoo_workers')}; "
                 f"{cfg.get('odoo_orders') or 0:,} orders, {raw[1]['rows']:,} pos.order.line; batch_size {cfg['batch']})"]
    hdr = f"{'':<{w}} {'streams':>8} {'rows':>10} {'wall s':>7} {'rows/s':>8} {'CPU busy':>9}"
    lines += [hdr, "-" * len(hdr)]

    def busy(r):  # the machine's CPU time busy during the run, over all its cores
        return "-" if r.get("machine_busy_pct") is None else f"{r['machine_busy_pct']:.0f} %"

    for n in ODOO_STREAMS:
        r = raw[n]
        if r:
            lines.append(f"{'Odoo serving limit (raw client, no database)':<{w}} {n:>8} {r['rows']:>10,} {r['wall']:>7.1f} {r['rows_per_s']:>8,.0f} {busy(r):>9}")
    ours = {n: R.get(f"odoo ours: pos.order.line full streams {n}") for n in ODOO_STREAMS}
    rows = [(f"ours, bronze only (fetch_streams {n})", n, ours[n]) for n in ODOO_STREAMS]
    rows += [("ours as shipped (bronze + silver, orders first; fetch_streams 4)", 4, R.get("odoo ours+silver: pos.order.line full")),
             ("python peer (bronze only, as the reference design)", 1, R.get("odoo peer: pos.order.line"))]
    for label, n, r in rows:
        if r:
            lines.append(f"{label:<{w}} {n:>8} {r['rows']:>10,} {r['wall']:>7.1f} {r['rows_per_s']:>8,.0f} {busy(r):>9}")
    shipped, peer = R.get("odoo ours+silver: pos.order.line full"), R.get("odoo peer: pos.order.line")
    checks = []
    if ours[4] and peer:
        x = ours[4]["rows_per_s"] / peer["rows_per_s"]
        checks.append(("ours at 4 streams / python peer", f"{x:.2f} x", ">= 3 x", x >= 3))
    if shipped and peer:
        x = shipped["rows_per_s"] / peer["rows_per_s"]
        checks.append(("ours as shipped at 4 streams / python peer", f"{x:.2f} x", "", None))
    for n in ODOO_STREAMS:
        if ours[n] and raw[n]:
            x = ours[n]["rows_per_s"] / raw[n]["rows_per_s"]
            checks.append((f"ours (bronze only) / Odoo's limit, {n} streams", f"{100 * x:.0f} %", ">= 80 %", x >= 0.8))
    if shipped and raw[4]:
        x = shipped["rows_per_s"] / raw[4]["rows_per_s"]
        checks.append(("ours as shipped / Odoo's limit, 4 streams", f"{100 * x:.0f} %", "", None))
    hdr3 = f"{'ratio / target (Odoo-like)':<{w}} {'measured':>14} {'target':>10}  met"
    lines += ["", hdr3, "-" * len(hdr3)]
    for name, val, tgt, ok in checks:
        lines.append(f"{name:<{w}} {val:>14} {tgt:>10}  {'' if ok is None else ('yes' if ok else 'NO')}")
    return lines


# ----------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pghost", required=True)
    p.add_argument("--pgport", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--sim-url", required=True)
    p.add_argument("--sim-pid", type=int, required=True)
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--small-sim-url")
    p.add_argument("--small-sim-pid", type=int)
    p.add_argument("--small-orders", type=int)
    p.add_argument("--rawclient", required=True)
    p.add_argument("--page-all")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--batch-sweep", default="")
    p.add_argument("--procedure", type=int, default=1, help="pages_per_commit of the CALL odoo_sync_run run (0: skip)")
    p.add_argument("--silver-timeout", type=int, default=300, help="seconds allowed to each load with silver on")
    p.add_argument("--odoo-sim-url", help="a simulator serving like a real Odoo (--serve-cost real --workers N)")
    p.add_argument("--odoo-sim-pid", type=int)
    p.add_argument("--odoo-orders", type=int)
    p.add_argument("--odoo-workers", type=int)
    p.add_argument("--runner", help="the odoo-sync binary: measures the runner beside the extension")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    a.batch_sweep = [int(x) for x in a.batch_sweep.split() if x]
    b = Bench(a)
    b.results["config"].update({"orders": a.orders, "small_orders": a.small_orders, "batch": a.batch,
                                "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                "silver_timeout": a.silver_timeout})
    t_start = time.time()
    db, line_t, order_t = "bench_main", "scout.bronze_pos_order_line", "scout.bronze_pos_order"

    b.setup_db(db, a.sim_url, a.batch)
    b.sync_dimensions(db)
    # 1. The simulator alone.
    b.raw_rate(a.sim_url, a.sim_pid, "pos.order.line", "raw: pos.order.line")
    b.raw_rate(a.sim_url, a.sim_pid, "pos.order.line", "raw: pos.order.line batch 5000", batch=5000)
    b.raw_rate(a.sim_url, a.sim_pid, "pos.order.line", "raw: pos.order.line parallel 2", parallel=2)
    b.raw_rate(a.sim_url, a.sim_pid, "pos.order", "raw: pos.order")
    b.page_all(a.sim_url, a.sim_pid, "raw: page_all")
    # 2. The engine: fetch + bronze, silver off (what the Python peer does too).
    b.silver(db, False)
    b.ours_full(db, a.sim_pid, "pos.order", order_t, "ours: pos.order full")
    if a.procedure:
        b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours: pos.order.line procedure", procedure_pages=a.procedure)
    for n in a.batch_sweep:
        b.set_batch(db, n)
        b.ours_full(db, a.sim_pid, "pos.order.line", line_t, f"ours: pos.order.line full batch {n}")
    b.set_batch(db, a.batch)
    b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours: pos.order.line full")
    b.prefetch(db, False)
    b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours: pos.order.line full no prefetch")
    b.prefetch(db, True)
    b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours: pos.order.line full again")
    # 3. COPY and the Python peer, on the same rows.
    b.copy_limit(db, "pos.order.line", "copy: pos.order.line")
    b.copy_limit(db, "pos.order", "copy: pos.order")
    b.peer(db, a.sim_url, a.sim_pid, "pos.order.line", "peer: pos.order.line")
    b.peer(db, a.sim_url, a.sim_pid, "pos.order", "peer: pos.order")
    # 4. The extension as shipped: bronze + silver, a first load in dependency order (orders,
    #    then their lines), as scout.odoo_sync_all() does it.
    b.silver(db, True)
    b.reset_model(db, "pos.order.line", line_t)
    b.ours_full(db, a.sim_pid, "pos.order", order_t, "ours+silver: pos.order full", timeout=a.silver_timeout)
    r = b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours+silver: pos.order.line full", timeout=a.silver_timeout)
    if r["status"] != "ok":
        b.log("reloading pos.order.line with silver off, for the incremental runs")
        b.silver(db, False)
        with b.connect(db) as c:
            c.execute(b.sync_sql("pos.order.line")).fetchall()
        b.silver(db, True)
    # 4b. The runner beside the extension, the same loads: bronze only, then as shipped.
    if a.runner:
        rdb = "bench_runner"
        b.setup_runner_db(rdb, a.sim_url)
        b.silver(rdb, False)
        b.runner_full(rdb, a.sim_url, a.sim_pid, "pos.order.line", line_t, "runner: pos.order.line full")
        b.silver(rdb, True)
        b.reset_model(rdb, "pos.order.line", line_t)
        b.runner_full(rdb, a.sim_url, a.sim_pid, "pos.order", order_t, "runner+silver: pos.order full")
        b.runner_full(rdb, a.sim_url, a.sim_pid, "pos.order.line", line_t, "runner+silver: pos.order.line full")
        with b.connect("postgres") as c:
            c.execute(f"DROP DATABASE {rdb}")
    # 5. Incremental runs on the loaded dataset (silver on).
    b.incremental(db, a.sim_pid, "pos.order.line", "noop: pos.order.line")
    b.incremental(db, a.sim_pid, "pos.order", "noop: pos.order")
    b.changed(db, a.sim_url, a.sim_pid, a.orders, "changed: pos.order")
    b.incremental(db, a.sim_pid, "pos.order.line", "changed: pos.order.line", repeat=1)
    b.rebuild(db, "rebuild: silver")
    b.silver_bound(db, "silver bound")
    b.reconcile(db, a.sim_pid, "pos.order.line", "reconcile: pos.order.line")
    # 5b. Lines before their orders (odoo_sync('pos.order.line') called first): each line waits
    #     in quarantine for its order, and the orders' load releases them. Silver must end as
    #     the orders-first load left it (the 1 % changed above included).
    if r["status"] == "ok":
        b.results["digest_orders_first"] = b.silver_digest(db)
        b.reset_model(db, "pos.order", order_t)
        b.ours_full(db, a.sim_pid, "pos.order.line", line_t, "ours+silver lines first: pos.order.line full", timeout=a.silver_timeout)
        b.ours_full(db, a.sim_pid, "pos.order", order_t, "ours+silver lines first: then pos.order full", timeout=a.silver_timeout)
        b.results["digest_lines_first"] = b.silver_digest(db)
    # 6. The same loads on a smaller dataset: memory must not grow with the row count.
    if a.small_sim_url:
        sdb = "bench_small"
        b.setup_db(sdb, a.small_sim_url, a.batch)
        b.sync_dimensions(sdb)
        b.silver(sdb, False)
        b.ours_full(sdb, a.small_sim_pid, "pos.order.line", line_t, "ours: pos.order.line full small")
        if b.results["runs"]["ours+silver: pos.order.line full"]["status"] == "ok":
            b.silver(sdb, True)
            b.reset_model(sdb, "pos.order.line", line_t)
            b.ours_full(sdb, a.small_sim_pid, "pos.order", order_t, "ours+silver: pos.order full small", timeout=a.silver_timeout)
            b.ours_full(sdb, a.small_sim_pid, "pos.order.line", line_t, "ours+silver: pos.order.line full small", timeout=a.silver_timeout)
        else:
            b.log("silver runs at the small size skipped: the main one did not finish")

    # 7. Against an Odoo-like simulator (serving costs and workers of a real Odoo 19): what users
    #    meet, where one stream is bounded by Odoo, not by the database.
    if a.odoo_sim_url:
        odb = "bench_odoo"
        b.setup_db(odb, a.odoo_sim_url, a.batch)
        b.sync_dimensions(odb)
        for n in ODOO_STREAMS:
            b.raw_rate(a.odoo_sim_url, a.odoo_sim_pid, "pos.order.line", f"odoo raw: streams {n}", parallel=n)
        b.silver(odb, False)
        for n in ODOO_STREAMS:
            b.streams(odb, n)
            b.ours_full(odb, a.odoo_sim_pid, "pos.order.line", line_t, f"odoo ours: pos.order.line full streams {n}")
        b.streams(odb, 4)
        b.silver(odb, True)
        b.reset_model(odb, "pos.order.line", line_t)
        b.ours_full(odb, a.odoo_sim_pid, "pos.order", order_t, "odoo ours+silver: pos.order full", timeout=a.silver_timeout)
        b.ours_full(odb, a.odoo_sim_pid, "pos.order.line", line_t, "odoo ours+silver: pos.order.line full", timeout=a.silver_timeout)
        b.peer(odb, a.odoo_sim_url, a.odoo_sim_pid, "pos.order.line", "odoo peer: pos.order.line")
        if a.runner:
            rdb = "bench_runner_odoo"
            b.setup_runner_db(rdb, a.odoo_sim_url)
            b.runner_full(rdb, a.odoo_sim_url, a.odoo_sim_pid, "pos.order", order_t, "odoo runner+silver: pos.order full", streams=4)
            b.runner_full(rdb, a.odoo_sim_url, a.odoo_sim_pid, "pos.order.line", line_t, "odoo runner+silver: pos.order.line full", streams=4)

    b.results["config"]["seconds"] = round(time.time() - t_start, 1)
    b.results["config"].update({"odoo_orders": a.odoo_orders, "odoo_workers": a.odoo_workers})
    text = table(b.results, a)
    os.makedirs(a.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(a.out, f"results-{stamp}.json"), "w") as f:
        json.dump(b.results, f, indent=1, default=str)
    with open(os.path.join(a.out, f"results-{stamp}.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"\n(measured in {b.results['config']['seconds']:.0f} s; details in {a.out}/results-{stamp}.json)")


if __name__ == "__main__":
    main()
