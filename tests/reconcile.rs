//! Reconciliation: what incremental runs cannot see (deletes in Odoo, commits older than the
//! look-back, records wrongly marked deleted) is found by comparing every (id, write_date) of
//! Odoo with bronze, repaired, counted and alerted. Each test compares bronze with the simulator
//! and silver with a fresh derivation afterwards.

use odoo_sync_tests::*;
use serde_json::json;

const RECONCILE_COLUMNS: &str =
    "model, odoo_count, bronze_count, missing, stale, deleted, restored, refetched, status, run_id";

#[derive(Debug, Clone)]
struct Reconciled {
    model: String,
    odoo_count: i64,
    bronze_count: i64,
    missing: i64,
    stale: i64,
    deleted: i64,
    restored: i64,
    refetched: i64,
    status: String,
    run_id: Option<i64>,
}

fn reconcile(db: &Db, args: &str) -> Vec<Reconciled> {
    let sql = format!("SELECT {RECONCILE_COLUMNS} FROM scout.odoo_reconcile({args})");
    db.session(|c| c.query(&sql, &[]))
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
        .iter()
        .map(|r| Reconciled {
            model: r.get(0),
            odoo_count: r.get(1),
            bronze_count: r.get(2),
            missing: r.get(3),
            stale: r.get(4),
            deleted: r.get(5),
            restored: r.get(6),
            refetched: r.get(7),
            status: r.get(8),
            run_id: r.get(9),
        })
        .collect()
}

fn one(db: &Db, model: &str, args: &str) -> Reconciled {
    reconcile(db, &format!("'{model}'{args}")).remove(0)
}

fn drift(r: &Reconciled) -> i64 {
    r.missing + r.stale + r.deleted + r.restored
}

#[test]
fn a_reconciliation_right_after_a_clean_sync_finds_no_drift_and_a_dry_run_writes_nothing() {
    let sim = Sim::start(&["--orders", "300", "--seed", "51", "--with-brand"]);
    let db = Cluster::shared().create_db("rec_clean");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let rows = reconcile(&db, "");
    assert_eq!(rows.len() as i64, enabled_model_count(&db), "every enabled model: {rows:?}");
    for r in &rows {
        assert_eq!((r.status.as_str(), drift(r), r.refetched), ("success", 0, 0), "{r:?}");
        assert_eq!(r.odoo_count, sim.count(&r.model), "{r:?}");
        assert_eq!(r.bronze_count, r.odoo_count, "{r:?}");
    }
    // The log has a row per model, mode reconcile, and sync_status shows it.
    let logged: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE run_mode = 'reconcile' AND status = 'success'", &[])
        .unwrap()
        .get(0);
    assert_eq!(logged, enabled_model_count(&db));
    let (at, last): (Option<String>, Option<i64>) = db
        .connect()
        .query_one("SELECT last_reconciled_at::text, last_drift FROM scout.sync_status WHERE model = 'pos.order'", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(at.is_some());
    assert_eq!(last, Some(0));
    // A dry run over drift reports it and changes nothing at all.
    sim.mutate("pos.order", "delete", 3);
    sim.mutate("pos.order", "update", 4);
    let before: String = db.connect().query_one("SELECT (SELECT count(*) FROM scout.sync_logs)::text || '/' || (SELECT md5(string_agg(id::text || coalesce(deleted_at::text, '') || payload::text, ',' ORDER BY id)) FROM scout.bronze_pos_order)", &[]).unwrap().get(0);
    let r = one(&db, "pos.order", ", dry_run => true");
    assert!(r.deleted >= 1 && r.stale == 4, "{r:?}");
    assert_eq!((r.refetched, r.run_id), (0, None), "{r:?}");
    let after: String = db.connect().query_one("SELECT (SELECT count(*) FROM scout.sync_logs)::text || '/' || (SELECT md5(string_agg(id::text || coalesce(deleted_at::text, '') || payload::text, ',' ORDER BY id)) FROM scout.bronze_pos_order)", &[]).unwrap().get(0);
    assert_eq!(before, after, "a dry run writes nothing");
}

#[test]
fn deletes_late_commits_and_wrong_deletes_are_repaired() {
    let sim = Sim::start(&["--orders", "300", "--seed", "52"]);
    let hook = Receiver::start();
    let db = Cluster::shared().create_db("rec_repair");
    db.configure(&sim, &[("odoo_sync.alert_webhook_url", &hook.url)]);
    sync_all(&db, "");
    // 1. Deleted in Odoo: no incremental run sees it.
    let gone = sim.mutate("pos.order", "delete", 3);
    let n_gone = gone["ids"].as_array().unwrap().len() as i64;
    // 2. A late commit older than the look-back: a long Odoo transaction writes 5 orders, the
    //    clock moves past the look-back while it is open, incremental syncs run, then it commits.
    let tx = sim.control("/sim/tx/begin", json!({}));
    sim.control("/sim/tx/mutate", json!({"tx": tx["tx"], "model": "pos.order", "action": "update", "count": 5}));
    sim.advance_clock(700.0);
    sync(&db, "pos.order", "");
    sim.control("/sim/tx/commit", json!({"tx": tx["tx"]}));
    sim.advance_clock(1.0);
    let r = sync(&db, "pos.order", "");
    assert_eq!(r.updated, 0, "the incremental run misses the late commit: {r:?}");
    // 3. A record wrongly marked deleted in bronze (and silver) while Odoo still has it.
    let wrong: i64 = db
        .connect()
        .query_one(
            "UPDATE scout.bronze_pos_order SET deleted_at = now() WHERE id = (SELECT min(id) FROM scout.bronze_pos_order WHERE deleted_at IS NULL) RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    db.connect().execute("SELECT scout.silver_mark_deleted('pos.order', ARRAY[$1::bigint])", &[&wrong]).unwrap();
    let r = one(&db, "pos.order", "");
    assert_eq!((r.deleted, r.stale, r.restored), (n_gone, 5, 1), "{r:?}");
    assert_eq!(r.refetched, 6, "{r:?}");
    let fields = model_fields(&db).into_iter().find(|m| m.0 == "pos.order").unwrap();
    assert_bronze_matches(
        &db,
        &sim,
        "pos.order",
        "bronze_pos_order",
        &requested_fields(&sim, "pos.order", &fields.2, &fields.3),
    );
    let silver_gone: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.transactions WHERE deleted_at IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(silver_gone, n_gone, "silver follows: the deleted orders, and the restored one live again");
    // Lines of the deleted orders: a reconciliation of lines marks them too.
    reconcile(&db, "");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
    // One drift alert per drifting reconciliation, none for the clean one after.
    let alerts: Vec<String> = hook.received().into_iter().filter(|a| a.contains("repaired")).collect();
    let repaired = format!("reconciliation of pos.order repaired {} records", n_gone + 6);
    assert_eq!(alerts.iter().filter(|a| a.contains(&repaired)).count(), 1, "{alerts:?}");
    let before = hook.received().len();
    for r in reconcile(&db, "") {
        assert_eq!(drift(&r), 0, "{r:?}");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(hook.received().len(), before, "no alert for a clean reconciliation");
}

#[test]
fn the_worker_reconciles_on_its_schedule_and_deletes_reach_silver_without_any_full_sync() {
    let sim = Sim::start(&["--orders", "200", "--seed", "53"]);
    let cluster = Cluster::start(&[
        "shared_preload_libraries = 'odoo_sync'",
        "odoo_sync.database = 'wk_rec'",
        "odoo_sync.schedule = '*/2 * * * * *'",
        "odoo_sync.reconcile_schedule = '*/5 * * * * *'",
        "odoo_sync.gold_refresh_schedule = '0 0 1 1 *'",
    ]);
    let db = cluster.create_db_named("wk_rec");
    db.configure(&sim, &[]);
    // The first round is the worker's own syncs of every model: a reconciliation may come first
    // (its schedule is shorter) and repair an empty bronze, but the first incremental sync of a
    // model without a checkpoint is a full one, so the mark must follow the worker's round.
    wait_for(60, "a first round of worker syncs of every model", || {
        let n: i64 = db
            .connect()
            .query_one(
                "SELECT count(DISTINCT model) FROM scout.sync_logs WHERE run_mode = 'worker' AND status = 'success'",
                &[],
            )
            .unwrap()
            .get(0);
        (n == enabled_model_count(&db)).then_some(())
    });
    let mark: i64 = db.connect().query_one("SELECT max(id) FROM scout.sync_logs", &[]).unwrap().get(0);
    let gone = sim.mutate("pos.order", "delete", 4);
    let n_gone = gone["ids"].as_array().unwrap().len() as i64;
    wait_for(60, "the scheduled reconciliation to find the deletes", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.bronze_pos_order WHERE deleted_at IS NOT NULL", &[])
            .unwrap()
            .get(0);
        (n == n_gone).then_some(())
    });
    let full: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM scout.sync_logs WHERE full_sync AND run_mode <> 'reconcile' AND id > $1",
            &[&mark],
        )
        .unwrap()
        .get(0);
    let runs: Vec<String> = db
        .connect()
        .query("SELECT concat_ws(' ', id, run_mode, status, full_sync, fetched, message, error_message) FROM scout.sync_logs WHERE model = 'pos.order' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(full, 0, "no full sync anywhere since the deletes: {runs:#?}");
    let logged: i64 = db.connect().query_one("SELECT coalesce(sum(deleted), 0)::bigint FROM scout.sync_logs WHERE run_mode = 'reconcile' AND model = 'pos.order'", &[]).unwrap().get(0);
    assert_eq!(logged, n_gone);
    // Its lines follow when their own reconciliation runs; then everything equals Odoo.
    wait_for(60, "every model reconciled after the deletes", || {
        let n: i64 = db.connect().query_one("SELECT count(DISTINCT model) FROM scout.sync_logs WHERE run_mode = 'reconcile' AND status = 'success' AND started_at > (SELECT max(completed_at) FROM scout.sync_logs WHERE run_mode = 'reconcile' AND model = 'pos.order' AND deleted > 0)", &[]).unwrap().get(0);
        (n == enabled_model_count(&db)).then_some(())
    });
    stop_worker_syncing(&db);
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn a_reconciliation_killed_half_way_resumes_where_it_stopped_and_converges() {
    let sim = Sim::start(&["--orders", "3000", "--seed", "54"]);
    let cluster = Cluster::start(&[]); // its own: a SIGKILLed backend restarts every backend
    let db = cluster.create_db("rec_kill");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let lines = db.count("scout.bronze_pos_order_line");
    assert!(lines > 10_000, "{lines} lines: several listing pages of 5,000");
    // Every line stale (as after a long outage of the incremental runs): each page re-fetches.
    db.connect()
        .batch_execute("UPDATE scout.bronze_pos_order_line SET payload = jsonb_set(payload, '{write_date}', '\"2000-01-01 00:00:00\"')")
        .unwrap();
    let mut c = db.connect();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let runner = std::thread::spawn(move || c.batch_execute("CALL scout.odoo_reconcile_run('pos.order.line')").is_ok());
    wait_for(60, "the first page committed with its cursor", || {
        let cursor: Option<i64> = db
            .connect()
            .query_one("SELECT max(reconcile_last_id) FROM scout.sync_checkpoints WHERE model = 'pos.order.line'", &[])
            .unwrap()
            .get(0);
        cursor.filter(|c| *c > 0)
    });
    // SAFETY: kill(2) on the backend's pid; no memory is involved.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(!runner.join().unwrap(), "the killed CALL did not finish");
    db.wait_for_crash_recovery();
    let done_before: i64 = db
        .connect()
        .query_one("SELECT coalesce(sum(fetched), 0)::bigint FROM scout.sync_logs WHERE run_mode = 'reconcile'", &[])
        .unwrap()
        .get(0);
    assert!(done_before > 0 && done_before < lines, "part of it was committed: {done_before} of {lines}");
    db.connect().batch_execute("CALL scout.odoo_reconcile_run('pos.order.line')").unwrap();
    let (runs, refetched, open): (i64, i64, Option<i64>) = db
        .connect()
        .query_one(
            "SELECT count(*), coalesce(sum(fetched), 0)::bigint, (SELECT max(reconcile_run_id) FROM scout.sync_checkpoints) \
             FROM scout.sync_logs WHERE run_mode = 'reconcile'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!(runs, 1, "the second CALL continued the first one's run");
    // Each stale line re-fetched once: the pages committed before the kill were not redone.
    assert_eq!(refetched, lines, "re-fetched {refetched} for {lines} stale lines: resumed, not restarted");
    assert_eq!(open, None, "no reconciliation left open");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn concurrent_syncs_reconciliations_and_committing_runs_neither_collide_nor_lose_anything() {
    let sim = Sim::start(&["--orders", "600", "--seed", "55"]);
    let db = Cluster::shared().create_db("rec_concurrent");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    sync_all(&db, "");
    let conn = format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name);
    let sqls = [
        "SELECT status FROM scout.odoo_reconcile()",
        "SELECT status FROM scout.odoo_sync_all()",
        "CALL scout.odoo_reconcile_run()",
        "SELECT status FROM scout.odoo_sync('pos.order.line')",
    ];
    let mut threads = Vec::new();
    for (i, sql) in sqls.iter().enumerate() {
        let (conn, sql) = (conn.clone(), sql.to_string());
        threads.push(std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
            c.batch_execute("SET statement_timeout = '120s'").unwrap(); // a deadlock would end here
            let mut statuses = Vec::new();
            for _ in 0..3 {
                if sql.starts_with("CALL") {
                    c.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
                    statuses.push("called".to_string());
                } else {
                    for r in c.query(&sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))) {
                        statuses.push(r.get(0));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(50 * i as u64));
            }
            statuses
        }));
    }
    // Odoo changes meanwhile.
    for _ in 0..3 {
        sim.mutate("pos.order", "update", 10);
        sim.mutate("pos.order", "delete", 2);
        sim.advance_clock(1.0);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let statuses: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| ["success", "skipped", "called"].contains(&s.as_str())), "{statuses:?}");
    assert!(statuses.iter().any(|s| s == "success"));
    // Then one more of each, alone: exactly Odoo's data.
    sim.advance_clock(2.0);
    sync_all(&db, "");
    for r in reconcile(&db, "") {
        assert_eq!(r.status, "success", "{r:?}");
    }
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}
