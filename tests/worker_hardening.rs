//! The unattended worker on the paths nobody watches: any error in a step is recorded and the
//! worker goes on (same process throughout), it stops when told whatever it waits for, and it
//! follows every ALTER DATABASE ... SET / RESET at its next round. Each test has its own
//! cluster (a worker serves one database); a restart of the worker process ("exited with exit
//! code", logged at LOG, which the server log always shows) would show in its log.

use odoo_sync_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// The harness's worker cluster.
fn worker_cluster(db: &str, schedule: &str) -> Cluster {
    worker_cluster_with(db, schedule, &[])
}

fn worker_pid(db: &Db) -> Option<i32> {
    db.connect()
        .query_opt("SELECT pid FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'", &[])
        .unwrap()
        .map(|r| r.get(0))
}

fn count(db: &Db, sql: &str) -> i64 {
    db.connect().query_one(sql, &[]).unwrap().get(0)
}

fn server_log(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.log_path()).unwrap_or_default()
}

/// No "exited with exit code" once the worker had started on its database (before that, it
/// exits and is restarted while the test's database does not exist yet).
fn assert_never_restarted(cluster: &Cluster) {
    let log = server_log(cluster);
    let started = log.find("odoo_sync worker started on database").expect("the worker started");
    assert!(
        !log[started..].contains("exited with exit code"),
        "the worker process was restarted:\n{}",
        &log[started..]
    );
}

#[test]
fn a_sql_error_in_a_step_is_recorded_and_the_worker_goes_on_with_the_other_models() {
    let sim = Sim::start(&["--orders", "120", "--seed", "21"]);
    let hook = Receiver::start();
    let cluster = worker_cluster("wk_sqlerr", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_sqlerr");
    let mut c = db.connect();
    // A trigger of the user's own that refuses every order, and a model row without a bronze
    // table (01_core.sql's comment invites adding models): two models that fail in SQL, one
    // before and one among the models that must keep syncing.
    c.batch_execute(
        "CREATE FUNCTION public.boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom from a user trigger'; END $$;
         CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON scout.bronze_pos_order FOR EACH ROW EXECUTE FUNCTION public.boom();
         INSERT INTO scout.sync_models (model, bronze_table, fields, sync_order, enabled)
           VALUES ('res.currency', 'bronze_res_currency', '{id,name,write_date}', 3, true);",
    )
    .unwrap();
    db.configure(&sim, &[("odoo_sync.alert_webhook_url", &hook.url)]);
    wait_for(90, "the other models synced", || {
        (count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.payment' AND status = 'success'") >= 1)
            .then_some(())
    });
    let worker = worker_pid(&db).expect("worker running");
    // Both failures are recorded with their SQLSTATE, and sync_status says so.
    wait_for(30, "both failures recorded", || {
        (count(&db, "SELECT count(DISTINCT model) FROM scout.sync_logs WHERE status = 'failed' AND model IN ('pos.order', 'res.currency')") == 2).then_some(())
    });
    let (code, error): (Option<String>, Option<String>) = c
        .query_one("SELECT error_code, error_message FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'failed' ORDER BY id DESC LIMIT 1", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(code.as_deref(), Some("P0001"), "{error:?}");
    assert!(error.unwrap_or_default().contains("boom from a user trigger"));
    let code: Option<String> = c
        .query_one("SELECT error_code FROM scout.sync_logs WHERE model = 'res.currency' AND status = 'failed' ORDER BY id DESC LIMIT 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(code.as_deref(), Some("42P01"), "an undefined table");
    let (healthy, current_code): (bool, Option<String>) = c
        .query_one("SELECT healthy, current_error_code FROM scout.sync_status WHERE model = 'pos.order'", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(!healthy);
    assert_eq!(current_code.as_deref(), Some("P0001"));
    // The models after the failing ones kept syncing, and equal Odoo.
    for (model, table) in [("pos.order.line", "bronze_pos_order_line"), ("pos.payment", "bronze_pos_payment")] {
        let fields = model_fields(&db).into_iter().find(|m| m.0 == model).unwrap();
        assert_bronze_matches(&db, &sim, model, table, &requested_fields(&sim, model, &fields.2, &fields.3));
    }
    // It backs off: over 12 s of rounds every 2 s, far fewer than six retries of pos.order.
    let before = count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'failed'");
    std::thread::sleep(Duration::from_secs(12));
    let after = count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'failed'");
    assert!(after - before <= 3, "{} failed runs in 12 s: no backoff", after - before);
    let failing: Vec<String> =
        hook.received().into_iter().filter(|a| a.contains("pos.order started failing")).collect();
    assert_eq!(failing.len(), 1, "one alert when it starts failing: {:?}", hook.received());

    // The cause removed, it recovers on its own (within the backoff's cap), with one alert.
    c.batch_execute(
        "DROP TRIGGER boom ON scout.bronze_pos_order; DELETE FROM scout.sync_models WHERE model = 'res.currency'",
    )
    .unwrap();
    wait_for(120, "pos.order recovered", || {
        hook.received().iter().any(|a| a.contains("pos.order recovered")).then_some(())
    });
    let fields = model_fields(&db).into_iter().find(|m| m.0 == "pos.order").unwrap();
    assert_bronze_matches(
        &db,
        &sim,
        "pos.order",
        "bronze_pos_order",
        &requested_fields(&sim, "pos.order", &fields.2, &fields.3),
    );
    std::thread::sleep(Duration::from_secs(3));
    let recovered = hook.received().into_iter().filter(|a| a.contains("pos.order recovered")).count();
    assert_eq!(recovered, 1, "{:?}", hook.received());
    assert_eq!(worker_pid(&db), Some(worker), "the same worker process throughout");
    assert_never_restarted(&cluster);
}

#[test]
fn a_fast_shutdown_during_a_slow_odoo_returns_within_one_http_timeout() {
    let sim = Sim::start(&["--orders", "60", "--seed", "22"]);
    let cluster = worker_cluster("wk_drip", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_drip");
    db.configure(&sim, &[("odoo_sync.http_timeout", "4"), ("odoo_sync.max_retries", "5")]);
    // Every search_read of lines drips (slower than the timeout): the worker is in a request or
    // between its retries when the server is told to stop.
    sim.set_faults(
        json!([{"kind": "drip", "bytes_per_sec": 20, "match": {"model": "pos.order.line", "method": "search_read"}}]),
    );
    wait_for(60, "the worker stuck on the slow model", || {
        (count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'success'") >= 1)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    cluster.stop_fast();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(4 + 5), "pg_ctl stop -m fast took {took:?} (http_timeout 4 s)");
}

#[test]
fn the_worker_does_not_wait_unboundedly_for_a_silver_lock_that_an_idle_session_holds() {
    let sim = Sim::start(&["--orders", "60", "--seed", "23"]);
    let cluster = worker_cluster("wk_lock", "*/2 * * * * *");
    let db = cluster.create_db_named("wk_lock");
    db.configure(&sim, &[]);
    wait_for(60, "a first round", || {
        (count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.payment' AND status = 'success'") >= 1)
            .then_some(())
    });
    // A session takes the silver lock and stays idle in its transaction.
    let mut holder = db.connect();
    holder.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtext('odoo_sync'), hashtext('silver'))").unwrap();
    let holder_pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    sim.mutate("pos.order", "update", 5);
    sim.advance_clock(2.0);
    // The worker skips the model for the round, naming the holder, and goes on.
    wait_for(60, "the skip in the server log", || {
        server_log(&cluster).contains(&format!("silver lock is held by pid {holder_pid}")).then_some(())
    });
    // And it can be terminated while it tries: it exits within seconds.
    let pid = worker_pid(&db).expect("worker running");
    db.connect().execute("SELECT pg_terminate_backend($1)", &[&pid]).unwrap();
    wait_for(5, "the worker to exit", || {
        db.connect()
            .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .unwrap()
            .is_none()
            .then_some(())
    });
    // Once the holder ends its transaction, the changes arrive.
    holder.batch_execute("ROLLBACK").unwrap();
    wait_for(60, "the updates in bronze", || {
        (count(&db, "SELECT coalesce(sum(updated), 0)::bigint FROM scout.sync_logs WHERE model = 'pos.order'") >= 5)
            .then_some(())
    });
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn database_settings_the_worker_cannot_apply_are_skipped_and_resets_are_followed() {
    let sim = Sim::start(&["--orders", "150", "--seed", "24"]);
    // Made while the library is not preloaded, as a placeholder: a postgresql.conf-only setting
    // at database level.
    let cluster = Cluster::start(&[]);
    let db = cluster.create_db_named("wk_guc");
    db.configure(&sim, &[("odoo_sync.company_ids", "1")]);
    db.set("odoo_sync.schedule", "*/7 * * * * *");
    cluster.restart_with(&[
        "shared_preload_libraries = 'odoo_sync'",
        "odoo_sync.database = 'wk_guc'",
        "odoo_sync.schedule = '*/2 * * * * *'",
        "odoo_sync.gold_refresh_schedule = '0 0 1 1 *'",
    ]);
    wait_for(60, "a first round", || {
        (count(&db, "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.payment' AND status = 'success'") >= 1)
            .then_some(())
    });
    let worker = worker_pid(&db).expect("worker running");
    std::thread::sleep(Duration::from_secs(5));
    let warnings = server_log(&cluster).matches("ignoring ALTER DATABASE ... SET odoo_sync.schedule").count();
    assert_eq!(warnings, 1, "one WARNING naming the value, not one per round");
    // With company_ids = 1, company-2 orders are filtered out.
    let company2 = count(&db, "SELECT count(*) FROM scout.bronze_pos_order WHERE payload->'company_id'->>0 = '2'");
    assert_eq!(company2, 0);
    // RESET of the filter: the worker follows it at its next round (no restart).
    db.connect().batch_execute("ALTER DATABASE wk_guc RESET odoo_sync.company_ids").unwrap();
    wait_for(60, "company-2 orders after the RESET", || {
        (count(&db, "SELECT count(*) FROM scout.bronze_pos_order WHERE payload->'company_id'->>0 = '2'") > 0)
            .then_some(())
    });
    // A value SET later is followed too: a batch size of 7 shows in the number of calls.
    db.connect().batch_execute("ALTER DATABASE wk_guc SET odoo_sync.batch_size = '7'").unwrap();
    sim.mutate("pos.order", "update", 30);
    sim.advance_clock(2.0);
    let after: i64 = count(&db, "SELECT coalesce(max(id), 0) FROM scout.sync_logs");
    wait_for(60, "a run with the new batch size", || {
        db.connect()
            .query_opt(
                "SELECT 1 FROM scout.sync_logs WHERE id > $1 AND model = 'pos.order' AND status = 'success' AND fetched >= 30 AND http_calls >= 5",
                &[&after],
            )
            .unwrap()
            .map(|_| ())
    });
    // The README's way to remove the value that cannot be RESET with the library loaded.
    db.connect()
        .batch_execute(
            "UPDATE pg_db_role_setting SET setconfig = array(SELECT c FROM unnest(setconfig) c WHERE c NOT LIKE 'odoo\\_sync.schedule=%') \
             WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'wk_guc') AND setrole = 0",
        )
        .unwrap();
    let left = count(
        &db,
        "SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) c WHERE c LIKE 'odoo\\_sync.schedule=%'",
    );
    assert_eq!(left, 0);
    assert_eq!(worker_pid(&db), Some(worker), "the same worker process throughout");
    assert_never_restarted(&cluster);
    assert_all_bronze_matches(&db, &sim);
}

#[test]
fn the_worker_logs_a_missing_secret_once_not_once_per_model_and_round() {
    let cluster = worker_cluster("wk_nosecret", "*/1 * * * * *");
    let db = cluster.create_db_named("wk_nosecret");
    db.set("odoo_sync.base_url", "http://127.0.0.1:9");
    std::thread::sleep(Duration::from_secs(6));
    let lines = server_log(&cluster).matches("not syncing").count();
    assert_eq!(lines, 1, "{}", server_log(&cluster));
}

#[test]
fn a_recovery_alert_goes_out_once_and_only_for_a_committed_recovery() {
    let sim = Sim::start(&["--orders", "30", "--seed", "25"]);
    let hook = Receiver::start();
    let db = Cluster::shared().create_db("alert_commit");
    db.configure(&sim, &[("odoo_sync.alert_webhook_url", &hook.url)]);
    sync(&db, "pos.config", "");
    // The model was failing (as a worker or procedure failure leaves it).
    db.connect()
        .batch_execute(
            "UPDATE scout.sync_checkpoints SET status = 'failed', error_message = 'x' WHERE model = 'pos.config'",
        )
        .unwrap();
    let mut c = db.connect();
    for _ in 0..2 {
        c.batch_execute("BEGIN; SELECT scout.odoo_sync('pos.config'); ROLLBACK").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(hook.received().is_empty(), "a rolled-back recovery sent {:?}", hook.received());
    c.batch_execute("SELECT scout.odoo_sync('pos.config')").unwrap();
    wait_for(10, "the recovery alert", || (!hook.received().is_empty()).then_some(()));
    std::thread::sleep(Duration::from_millis(300));
    let alerts = hook.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("pos.config recovered"), "{alerts:?}");
}

#[test]
fn a_run_that_fails_in_its_first_step_logs_when_it_started_and_the_procedure_sums_its_run() {
    let sim = Sim::start(&["--orders", "400", "--seed", "26"]);
    let db = Cluster::shared().create_db("first_step");
    db.configure(&sim, &[("odoo_sync.max_retries", "0"), ("odoo_sync.batch_size", "100")]);
    // The procedure's NOTICE gives the whole run's figures, not its last step's.
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = notices.clone();
    let mut config: postgres::Config =
        format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name).parse().unwrap();
    config.notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()));
    let mut c = config.connect(postgres::NoTls).unwrap();
    c.batch_execute("CALL scout.odoo_sync_run('pos.order')").unwrap();
    let orders = sim.count("pos.order");
    let last = notices.lock().unwrap().last().cloned().unwrap_or_default();
    assert!(last.contains(&format!("success: {orders} fetched, {orders} inserted")), "{last}");
    // A first step that fails after 1.5 s: its log row starts when the step started.
    sim.set_faults(json!([
        {"kind": "latency", "ms": 1500, "match": {"model": "pos.payment"}},
        {"kind": "http_status", "status": 503, "match": {"model": "pos.payment"}}
    ]));
    let e = c.batch_execute("CALL scout.odoo_sync_run('pos.payment')").unwrap_err();
    assert_eq!(DbErr::of(&e).code, "08006", "{}", DbErr::of(&e).all_text());
    let took: f64 = db
        .connect()
        .query_one(
            "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM scout.sync_logs WHERE model = 'pos.payment' AND status = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(took >= 1.4, "the failed run's log row lasts {took} s: it should start when the step did");
}
