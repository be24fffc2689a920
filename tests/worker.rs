//! The committing ways of running: the background worker (with shared_preload_libraries), the
//! scout.odoo_sync_run() procedure, and pg_cron. Each worker test has its own cluster, since a
//! worker serves one database.

use odoo_sync_tests::*;
use serde_json::json;

/// The harness's worker cluster (gold refreshed every 5 s: these tests watch it).
fn worker_cluster(db: &str, schedule: &str) -> Cluster {
    worker_cluster_with(db, schedule, &["odoo_sync.gold_refresh_schedule = '*/5 * * * * *'"])
}

fn successes(db: &Db, model: &str) -> i64 {
    db.connect()
        .query_one(
            "SELECT count(*) FROM scout.sync_logs WHERE model = $1 AND status = 'success' AND run_mode = 'worker'",
            &[&model],
        )
        .unwrap()
        .get(0)
}

/// Waits until pos.order.line is half loaded: its window open, some pages committed.
fn wait_half_loaded(db: &Db) {
    wait_for(120, "pos.order.line half loaded", || {
        let open: Option<i64> = db
            .connect()
            .query_opt("SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order.line' AND window_end IS NOT NULL", &[])
            .unwrap()
            .and_then(|r| r.get(0));
        open.filter(|id| *id > 0).map(|_| ())
    });
}

fn worker_pid(db: &Db) -> Option<i32> {
    db.connect()
        .query_opt("SELECT pid FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'", &[])
        .unwrap()
        .map(|r| r.get(0))
}

#[test]
fn the_worker_syncs_on_its_schedule_and_follows_a_new_schedule() {
    let sim = Sim::start(&["--orders", "300", "--seed", "5"]);
    let cluster = worker_cluster("wk_sched", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_sched");
    db.configure(&sim, &[]);
    wait_for(60, "the worker's first full round", || (successes(&db, "pos.payment") >= 1).then_some(()));
    assert_all_bronze_matches(&db, &sim);

    // A change in Odoo arrives with a later round, committed page by page.
    sim.mutate("pos.order", "update", 4);
    sim.advance_clock(2.0);
    wait_for(30, "the update in bronze", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT coalesce(sum(updated), 0)::bigint FROM scout.sync_logs WHERE model = 'pos.order'", &[])
            .unwrap()
            .get(0);
        (n >= 4).then_some(())
    });
    assert_all_bronze_matches(&db, &sim);

    // ALTER SYSTEM + reload: the next run moves to the new schedule (1 January) and no more runs happen.
    let mut c = db.connect();
    c.batch_execute("ALTER SYSTEM SET odoo_sync.schedule = '0 0 1 1 *'").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for(10, "the new schedule in sync_status", || {
        let next: Option<String> = db
            .connect()
            .query_one(
                "SELECT to_char(min(next_scheduled_run) AT TIME ZONE 'UTC', 'MM-DD HH24:MI') FROM scout.sync_status",
                &[],
            )
            .unwrap()
            .get(0);
        (next.as_deref() == Some("01-01 00:00")).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(3)); // let a round that had started finish
    let before: i64 = c.query_one("SELECT count(*) FROM scout.sync_logs", &[]).unwrap().get(0);
    std::thread::sleep(std::time::Duration::from_secs(5));
    let after: i64 = c.query_one("SELECT count(*) FROM scout.sync_logs", &[]).unwrap().get(0);
    assert_eq!(before, after, "no run after the schedule moved to next year");
    let healthy: i64 = c.query_one("SELECT count(*) FROM scout.sync_status WHERE healthy", &[]).unwrap().get(0);
    assert_eq!(healthy, enabled_model_count(&db));
}

#[test]
fn the_worker_on_a_short_schedule_syncs_each_change_with_its_next_run() {
    // The worker keeps one backend and one Odoo session for many rounds: each run must read
    // Odoo's clock itself. A change is in bronze after the first run that starts more than the
    // safety lag after it, and every run's window ends within safety_lag + 1 s of Odoo's clock
    // at its start.
    let sim = Sim::start(&["--orders", "200", "--seed", "12"]);
    let cluster = worker_cluster("wk_fresh", "*/3 * * * * *");
    let db = cluster.create_db_named("wk_fresh");
    db.configure(&sim, &[("odoo_sync.safety_lag", "1")]);
    wait_for(60, "the worker's first full round", || (successes(&db, "pos.payment") >= 1).then_some(()));
    let worker = worker_pid(&db).expect("worker running");
    let mut c = db.connect();
    // pos.order first in each round (as when a user syncs only the sales models): its run is the
    // round's first call to Odoo, so nothing earlier in the round has refreshed any clock.
    c.batch_execute("UPDATE scout.sync_models SET enabled = model IN ('pos.order', 'pos.order.line', 'pos.payment')")
        .unwrap();
    for round in 0..4 {
        let changed = sim.mutate("pos.order", "update", 10);
        let ids: Vec<i64> = changed["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let changed_at = sim.clock();
        // Rows as Odoo has them now, to find in bronze.
        let expected = sim.execute_raw("pos.order", "read", json!([ids]), json!({"fields": ["id", "write_date"]}));
        // The first pos.order run that starts more than safety_lag + 1 s after the change (the
        // HTTP Date that carries Odoo's clock is whole seconds).
        std::thread::sleep(std::time::Duration::from_millis(2200));
        let after: i64 = c.query_one("SELECT coalesce(max(id), 0) FROM scout.sync_logs", &[]).unwrap().get(0);
        let run: i64 = wait_for(30, "the next worker run of pos.order", || {
            c.query_opt(
                "SELECT id FROM scout.sync_logs WHERE model = 'pos.order' AND run_mode = 'worker' AND id > $1 \
                   AND status = 'success' ORDER BY id LIMIT 1",
                &[&after],
            )
            .unwrap()
            .map(|r| r.get(0))
        });
        let missing: i64 = c
            .query_one(
                "SELECT count(*) FROM jsonb_array_elements($1::text::jsonb) e \
                 WHERE NOT EXISTS (SELECT 1 FROM scout.bronze_pos_order b WHERE b.id = (e->>'id')::bigint \
                                     AND b.payload->>'write_date' = e->>'write_date')",
                &[&expected],
            )
            .unwrap()
            .get(0);
        let (updated, window_ok): (i64, bool) = c
            .query_one(
                "SELECT updated, window_end > ($2::text::timestamp AT TIME ZONE 'UTC') FROM scout.sync_logs WHERE id = $1",
                &[&run, &changed_at],
            )
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
        assert_eq!(missing, 0, "round {round}: run {run} (updated {updated}) missed changes made before it started");
        assert!(
            window_ok,
            "round {round}: run {run}'s window ends before the change it should have read ({changed_at})"
        );
    }
    assert_eq!(worker_pid(&db), Some(worker), "one worker process throughout");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn a_terminated_worker_comes_back_and_finishes_a_large_first_load() {
    let sim = Sim::start(&["--orders", "6000", "--seed", "9"]);
    let cluster = worker_cluster("wk_kill", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_kill");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    // Kill it while pos.order.line is half loaded (its window open, some pages committed).
    let mut kills = 0;
    wait_half_loaded(&db);
    let pid = worker_pid(&db).expect("worker running");
    let mut c = db.connect();
    c.execute("SELECT pg_terminate_backend($1)", &[&pid]).unwrap();
    kills += 1;
    let loaded_before_kill: i64 = db.count("scout.bronze_pos_order_line");
    // It comes back (restart after a few seconds) and finishes the open window.
    wait_for(180, "the load to finish after the restart", || (successes(&db, "pos.payment") >= 1).then_some(()));
    let new_pid = worker_pid(&db).expect("worker restarted");
    assert_ne!(new_pid, pid);
    assert!(loaded_before_kill > 0);
    assert_eq!(kills, 1);
    let total = assert_all_bronze_matches(&db, &sim);
    assert!(total > 25_000, "{total}");
    // The resumed run did not start over: together the runs fetched each line about once.
    let fetched: i64 = c
        .query_one("SELECT sum(fetched)::bigint FROM scout.sync_logs WHERE model = 'pos.order.line'", &[])
        .unwrap()
        .get(0);
    let lines = db.count("scout.bronze_pos_order_line");
    assert!(fetched < lines + 200, "fetched {fetched} for {lines} lines: the load restarted instead of resuming");
}

#[test]
fn failures_alert_once_and_recovery_alerts_once() {
    let sim = Sim::start(&["--orders", "50", "--seed", "2"]);
    let hook = Receiver::start();
    let cluster = worker_cluster("wk_alert", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_alert");
    db.configure(&sim, &[("odoo_sync.max_retries", "0"), ("odoo_sync.alert_webhook_url", &hook.url)]);
    wait_for(60, "a first successful round", || (successes(&db, "pos.payment") >= 1).then_some(()));
    assert!(hook.received().is_empty(), "{:?}", hook.received());

    // Odoo breaks for a while: several rounds fail.
    sim.set_faults(json!([{"kind": "http_status", "status": 503, "match": {"model": "pos.order"}}]));
    wait_for(60, "three failed rounds", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'failed'", &[])
            .unwrap()
            .get(0);
        (n >= 3).then_some(())
    });
    let status: (bool, Option<String>) = {
        let r = db
            .connect()
            .query_one("SELECT healthy, current_error FROM scout.sync_status WHERE model = 'pos.order'", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(!status.0);
    assert!(status.1.as_deref().unwrap_or("").contains("HTTP 503"), "{status:?}");
    let alerts = hook.received();
    assert_eq!(alerts.len(), 1, "one alert for the outage, not one per run: {alerts:?}");
    assert!(alerts[0].contains("pos.order started failing"), "{alerts:?}");
    assert!(!alerts[0].contains("admin\""), "no credentials in alerts");

    sim.set_faults(json!([]));
    wait_for(60, "the recovery alert", || (hook.received().len() >= 2).then_some(()));
    std::thread::sleep(std::time::Duration::from_secs(4));
    let alerts = hook.received();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts[1].contains("pos.order recovered"), "{alerts:?}");
    assert!(db
        .connect()
        .query_one("SELECT healthy FROM scout.sync_status WHERE model = 'pos.order'", &[])
        .unwrap()
        .get::<_, bool>(0));
}

#[test]
fn the_procedure_commits_per_page_and_resumes_after_being_killed() {
    let sim = Sim::start(&["--orders", "1500", "--seed", "4"]);
    let db = Cluster::shared().create_db("procedure");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    // Slow Odoo down so that the run can be killed half-way.
    sim.set_faults(json!([{"kind": "latency", "ms": 150, "match": {"method": "search_read"}}]));
    let conn_str = format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name);
    let runner = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&conn_str, postgres::NoTls).unwrap();
        c.batch_execute("CALL scout.odoo_sync_run('pos.order.line', \"full\" => true)").err().map(|e| describe(&e))
    });
    wait_for(60, "some committed pages", || (db.count("scout.bronze_pos_order_line") >= 300).then_some(()));
    let mut c = db.connect();
    // Its progress is visible from this other session: running, rows done of Odoo's estimate.
    let (running, done, estimate): (bool, Option<i64>, Option<i64>) = {
        let r = c.query_one("SELECT running, running_fetched, running_estimate FROM scout.sync_status WHERE model = 'pos.order.line'", &[]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert!(running, "sync_status shows the run");
    assert!(done.unwrap_or(0) >= 300, "rows done: {done:?}");
    assert_eq!(estimate, Some(sim.count("pos.order.line")), "estimate from search_count");
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CALL scout.odoo_sync_run%'",
        &[],
    )
    .unwrap();
    let err = runner.join().unwrap();
    assert!(err.is_some(), "the killed CALL reports an error");
    let kept = db.count("scout.bronze_pos_order_line");
    assert!(kept >= 300, "committed pages survive the kill: {kept}");
    let (last_id, open): (Option<i64>, bool) = {
        let r = c.query_one("SELECT last_record_id, window_end IS NOT NULL FROM scout.sync_checkpoints WHERE model = 'pos.order.line'", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert!(open && last_id.unwrap_or(0) > 0, "the checkpoint holds the open window");

    sim.set_faults(json!([]));
    c.batch_execute("CALL scout.odoo_sync_run('pos.order.line', \"full\" => true)").unwrap();
    let resumed: i64 = c
        .query_one("SELECT fetched FROM scout.sync_logs WHERE model = 'pos.order.line' AND status = 'success' ORDER BY id DESC LIMIT 1", &[])
        .unwrap()
        .get(0);
    let total = db.count("scout.bronze_pos_order_line");
    assert!(resumed <= total - kept + 100, "resumed from the last page ({resumed} fetched, {kept} kept of {total})");
    let f = requested_fields(&sim, "pos.order.line", &model_fields_of(&db, "pos.order.line").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order.line", "bronze_pos_order_line", &f);
}

#[test]
fn a_failed_procedure_run_is_logged_even_though_its_page_rolled_back() {
    let sim = Sim::start(&["--orders", "100"]);
    let db = Cluster::shared().create_db("procedure_fail");
    db.configure(&sim, &[("odoo_sync.max_retries", "0"), ("odoo_sync.batch_size", "50")]);
    sim.set_faults(json!([{"kind": "http_status", "status": 502, "skip": 2, "match": {"method": "search_read"}}]));
    let mut c = db.connect();
    let e = c.batch_execute("CALL scout.odoo_sync_run('pos.order')").expect_err("the third page fails");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "08006", "{}", e.all_text());
    assert!(e.message.contains("HTTP 502"), "{}", e.all_text());
    let r = c.query_one("SELECT status, error_count, fetched, error_message FROM scout.sync_logs WHERE model = 'pos.order' ORDER BY id DESC LIMIT 1", &[]).unwrap();
    assert_eq!((r.get::<_, String>(0), r.get::<_, i32>(1), r.get::<_, i64>(2)), ("failed".into(), 1, 100));
    assert!(r.get::<_, String>(3).contains("HTTP 502"));
    assert_eq!(db.count("scout.bronze_pos_order"), 100, "the two committed pages stay");
    sim.set_faults(json!([]));
    c.batch_execute("CALL scout.odoo_sync_run('pos.order')").unwrap();
    let f = requested_fields(&sim, "pos.order", &model_fields_of(&db, "pos.order").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &f);
}

#[test]
fn pg_cron_runs_the_sync_and_skips_a_model_another_session_is_syncing() {
    let sim = Sim::start(&["--orders", "100", "--seed", "8"]);
    let cluster = Cluster::start(&["shared_preload_libraries = 'pg_cron'", "cron.database_name = 'cron_db'"]);
    let db = cluster.create_db_named("cron_db");
    db.configure(&sim, &[]);
    let mut c = db.connect();
    c.batch_execute("CREATE EXTENSION pg_cron").unwrap();
    // Another session is syncing pos.order (it holds that model's lock).
    let mut holder = db.connect();
    holder
        .execute("SELECT pg_advisory_lock(hashtext('odoo_sync'), hashtext('odoo_sync_checkpoint:pos.order'))", &[])
        .unwrap();
    c.execute("SELECT cron.schedule('odoo-sync', '* * * * *', $$SELECT * FROM scout.odoo_sync_all()$$)", &[]).unwrap();
    let status: String = wait_for(75, "the cron job's first run", || {
        db.connect()
            .query_opt("SELECT status FROM cron.job_run_details WHERE status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1", &[])
            .unwrap()
            .map(|r| r.get(0))
    });
    assert_eq!(status, "succeeded");
    let skipped: (String, String) = {
        let r = c
            .query_one("SELECT status, message FROM scout.sync_logs WHERE model = 'pos.order' ORDER BY id LIMIT 1", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(skipped.0, "skipped");
    assert!(skipped.1.contains("being synced by another session"), "{skipped:?}");
    assert_eq!(db.count("scout.bronze_pos_order"), 0, "never synced twice at once");
    assert_eq!(db.count("scout.bronze_pos_order_line"), sim.count("pos.order.line"), "the other models synced");
    holder.execute("SELECT pg_advisory_unlock_all()", &[]).unwrap();
    c.execute("SELECT cron.unschedule('odoo-sync')", &[]).unwrap();
}

#[test]
fn an_immediate_shutdown_during_a_worker_load_loses_and_duplicates_nothing() {
    let sim = Sim::start(&["--orders", "5000", "--seed", "19"]);
    let cluster = worker_cluster("wk_crash", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_crash");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    wait_half_loaded(&db);
    cluster.crash_and_restart();
    wait_for(180, "the load to finish after the crash", || (successes(&db, "pos.payment") >= 1).then_some(()));
    assert_all_bronze_matches(&db, &sim);
    // The run cut by the crash could not record its end; the next run of the model says so.
    let interrupted: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order.line' AND status = 'failed' AND error_message LIKE 'interrupted%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(interrupted, 1);
    let stale: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order.line' AND status = 'running'", &[])
        .unwrap()
        .get(0);
    assert_eq!(stale, 0);
}
