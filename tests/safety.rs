//! The promise under stress: secrets stay secret, cancellation works, a backend killed with
//! SIGKILL mid-load loses nothing and duplicates nothing, concurrent syncs do not collide.

use odoo_sync_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "Hunter2-Sup3r-Secret";

#[test]
fn the_password_is_readable_by_no_role_but_the_owner() {
    // API keys work as passwords on /jsonrpc, as in real Odoo: the secret here is one.
    let sim = Sim::start(&["--orders", "30", "--api-key", SECRET]);
    let db = Cluster::shared().create_db("secrets");
    db.configure(&sim, &[]);
    let mut admin = db.connect();
    admin.execute("SELECT scout.odoo_set_secret(password => $1)", &[&SECRET]).unwrap();
    let roles = format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plain_user') THEN CREATE ROLE plain_user LOGIN; END IF;
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'monitor_user') THEN CREATE ROLE monitor_user LOGIN IN ROLE pg_monitor, pg_read_all_settings, pg_read_all_stats; END IF;
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'etl_user') THEN CREATE ROLE etl_user LOGIN; END IF;
         END $$;
         GRANT USAGE ON SCHEMA scout TO plain_user, monitor_user, etl_user;
         GRANT EXECUTE ON FUNCTION scout.odoo_sync(text, boolean, boolean), scout.odoo_sync_all(boolean) TO etl_user;
         GRANT SELECT ON ALL TABLES IN SCHEMA scout TO etl_user;
         REVOKE SELECT ON scout.sync_secret FROM etl_user;
         ALTER DATABASE {0} SET odoo_sync.username = 'admin';",
        db.name
    );
    admin.batch_execute(&roles).unwrap();
    let connect = |role: &str| {
        postgres::Client::connect(
            &format!("host=127.0.0.1 port={} user={role} dbname={}", db.cluster.port, db.name),
            postgres::NoTls,
        )
        .unwrap()
    };

    // The ETL role can sync (the functions read the secret as the extension owner), and cannot
    // send the secret elsewhere: a base_url it set before the library was loaded (a GUC
    // placeholder, which PostgreSQL accepts from anyone) is discarded when the library loads.
    let trap = Receiver::start();
    let mut etl = connect("etl_user");
    let _ = etl.batch_execute(&format!("SET odoo_sync.base_url = '{}'", trap.url));
    let n: i64 = etl.query_one("SELECT fetched FROM scout.odoo_sync('pos.config')", &[]).unwrap().get(0);
    assert!(n > 0);
    assert!(trap.received().is_empty(), "the password went to the role's URL");
    let url: String = etl.query_one("SHOW odoo_sync.base_url", &[]).unwrap().get(0);
    assert_eq!(url, sim.url);
    for role in ["plain_user", "monitor_user", "etl_user"] {
        let mut c = connect(role);
        // Load the library in this session (any of its C functions does), so that its settings
        // are real settings with their privileges rather than placeholders.
        c.query_one("SELECT scout.odoo_sync_next_run()", &[]).unwrap();
        // ...but no role reads the secret: not the table, not any setting, not the logs.
        let e = c.query("SELECT * FROM scout.sync_secret", &[]).expect_err(role);
        assert_eq!(DbErr::of(&e).code, "42501", "{role}");
        let everything: String = c
            .query_one(
                "SELECT concat_ws('|', (SELECT string_agg(name || '=' || coalesce(setting, ''), ',') FROM pg_settings WHERE name LIKE 'odoo%'), \
                   (SELECT string_agg(array_to_string(setconfig, ','), ',') FROM pg_db_role_setting), \
                   current_setting('odoo_sync.base_url', true), current_setting('odoo_sync.username', true))",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(!everything.contains(SECRET), "{role} can read the secret in settings");
        if role != "etl_user" {
            let logs = c.query("SELECT * FROM scout.sync_logs", &[]);
            assert!(logs.is_err(), "{role} reads sync_logs without a grant");
            // Not granted: cannot run a sync, cannot change where the password goes.
            let e = c.query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err(role);
            assert_eq!(DbErr::of(&e).code, "42501", "{role}");
        }
        let e = c.batch_execute("SET odoo_sync.base_url = 'http://127.0.0.1:1'").expect_err(role);
        assert_eq!(DbErr::of(&e).code, "42501", "{role} may not redirect the sync");
        for setting in ["odoo_sync.db", "odoo_sync.username", "odoo_sync.alert_webhook_url", "odoo_sync.ca_file"] {
            assert!(c.batch_execute(&format!("SET {setting} = 'x'")).is_err(), "{role} sets {setting}");
        }
        let e = c.query("SELECT scout.odoo_set_secret(password => 'x')", &[]).expect_err(role);
        assert_eq!(DbErr::of(&e).code, "42501");
    }
    // Failures do not leak it either: wrong database name makes Odoo refuse the login.
    admin.batch_execute(&format!("ALTER DATABASE {} SET odoo_sync.db = 'nope'", db.name)).unwrap();
    let mut etl = connect("etl_user");
    let e = etl.query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("bad db");
    assert!(!DbErr::of(&e).all_text().contains(SECRET));
    let logs: String = admin
        .query_one("SELECT coalesce(string_agg(coalesce(error_message, ''), '|'), '') FROM scout.sync_logs", &[])
        .unwrap()
        .get(0);
    assert!(!logs.contains(SECRET));
    let server_log = std::fs::read_to_string(db.cluster.log_path()).unwrap();
    assert!(!server_log.contains(SECRET), "the server log holds the secret");
}

fn cancel_case(setup: &str, cancel: bool) -> (DbErr, Duration) {
    let sim = Sim::start(&["--orders", "50"]);
    let db = Cluster::shared().create_db("cancel");
    db.configure(&sim, &[("odoo_sync.http_timeout", "3")]);
    sim.set_faults(json!([{"kind": "latency", "ms": 20000, "match": {"method": "search_read"}}]));
    let mut c = db.connect();
    c.batch_execute(setup).unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let port = db.cluster.port;
    let name = db.name.clone();
    let canceller = std::thread::spawn(move || {
        if cancel {
            std::thread::sleep(Duration::from_millis(700));
            let mut k = postgres::Client::connect(
                &format!("host=127.0.0.1 port={port} user=postgres dbname={name}"),
                postgres::NoTls,
            )
            .unwrap();
            k.execute("SELECT pg_cancel_backend($1)", &[&pid]).unwrap();
        }
    });
    let started = Instant::now();
    let e = c.query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("cancelled");
    let took = started.elapsed();
    canceller.join().unwrap();
    assert_eq!(db.count("scout.bronze_pos_order"), 0);
    assert_eq!(db.count("scout.sync_checkpoints"), 0);
    (DbErr::of(&e), took)
}

#[test]
fn pg_cancel_backend_stops_a_sync_on_a_slow_odoo_within_one_http_timeout() {
    let (e, took) = cancel_case("SELECT 1", true);
    assert_eq!(e.code, "57014", "{}", e.all_text());
    assert!(took < Duration::from_secs(5), "took {took:?} with a 3 s HTTP timeout");
}

#[test]
fn statement_timeout_stops_a_sync_on_a_slow_odoo_within_one_http_timeout() {
    let (e, took) = cancel_case("SET statement_timeout = '1s'", false);
    assert_eq!(e.code, "57014", "{}", e.all_text());
    assert!(e.message.contains("statement timeout"), "{}", e.all_text());
    assert!(took < Duration::from_secs(5), "took {took:?} with a 3 s HTTP timeout");
}

/// Tiny seeded generator so that the kill points are reproducible.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn kill_9_during_loads_loses_and_duplicates_nothing() {
    const KILLS: usize = 20;
    const MAX_TRIES: usize = 40;
    let sim = Sim::start(&["--orders", "2500", "--seed", "13"]);
    let cluster = Cluster::start(&["restart_after_crash = on"]);
    let db = cluster.create_db_named("crash");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    // What orders, lines and payments refer to, so that silver is derived in full.
    for model in
        ["product.category", "product.product", "res.partner", "pos.config", "pos.session", "pos.payment.method"]
    {
        sync(&db, model, "");
    }
    sim.set_faults(json!([{"kind": "latency", "ms": 60, "match": {"method": "search_read"}}]));
    let mut rng = Lcg(0x5eed_0d00);
    let mut killed = 0;
    let models = ["pos.order", "pos.order.line", "pos.payment"];
    // A connection that works (after a kill, the postmaster resets every backend while it
    // recovers: a connection made just before that is cut, so retry).
    let connect = || {
        wait_for(60, "the server back after a crash", || {
            let mut c = postgres::Client::connect(
                &format!("host=127.0.0.1 port={} user=postgres dbname=crash", cluster.port),
                postgres::NoTls,
            )
            .ok()?;
            std::thread::sleep(Duration::from_millis(300));
            let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).ok()?.get(0);
            Some((c, pid))
        })
    };
    let mut i = 0;
    while killed < KILLS && i < MAX_TRIES {
        i += 1;
        let model = models[i % models.len()];
        let (c, pid) = connect();
        let mut c = c;
        // Mostly full loads (long enough to be killed in the middle), some incremental ones.
        let full = if i % 5 == 4 { "false" } else { "true" };
        let sql = format!("CALL scout.odoo_sync_run('{model}', \"full\" => {full})");
        let runner = std::thread::spawn(move || c.batch_execute(&sql).is_ok());
        std::thread::sleep(Duration::from_millis(100 + rng.next(1500)));
        // SAFETY: kill(2) on a pid of ours; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // The CALL failing means the kill landed while it ran (it did not finish first).
        if !runner.join().unwrap() {
            killed += 1;
        }
    }
    assert!(killed >= KILLS, "only {killed} kills landed during a load in {i} tries");
    // After the last crash, plain reruns converge to exactly Odoo's data.
    let _ = connect();
    sim.set_faults(json!([]));
    for model in models {
        db.connect().batch_execute(&format!("CALL scout.odoo_sync_run('{model}')")).unwrap();
    }
    for (model, table, fields, optional) in model_fields(&db) {
        if models.contains(&model.as_str()) {
            let f = requested_fields(&sim, &model, &fields, &optional);
            assert_bronze_matches(&db, &sim, &model, &table, &f);
        }
    }
    let open: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM scout.sync_checkpoints WHERE window_end IS NOT NULL OR status <> 'success'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "every window closed, every checkpoint healthy");
    let silver_rows = assert_silver_matches_bronze(&db);
    println!("kill -9: {killed} kills during loads ({i} tries) at seeded random points; then bronze equals Odoo for {models:?} and silver ({silver_rows} rows) equals its fresh derivation");
}

#[test]
fn concurrent_syncs_of_the_same_and_other_models_do_not_collide() {
    let sim = Sim::start(&["--orders", "800", "--seed", "21"]);
    // The background worker syncs every model every second while six sessions sync too.
    let cluster = Cluster::start(&[
        "shared_preload_libraries = 'odoo_sync'",
        "odoo_sync.database = 'concurrent'",
        "odoo_sync.schedule = '* * * * * *'",
    ]);
    let db = cluster.create_db_named("concurrent");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    // The worker reconnects once its database exists (5 s after its first try): start the
    // sessions once it is syncing.
    wait_for(60, "the worker syncing", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.sync_logs WHERE run_mode = 'worker'", &[])
            .unwrap()
            .get(0);
        (n > 0).then_some(())
    });
    let conn = format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name);
    let mut threads = Vec::new();
    for i in 0..6 {
        let conn = conn.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
            let mut statuses = Vec::new();
            for round in 0..3 {
                let sql = match (i + round) % 3 {
                    0 => "SELECT status FROM scout.odoo_sync('pos.order.line')".to_string(),
                    1 => "SELECT status FROM scout.odoo_sync_all()".to_string(),
                    _ => "CALL scout.odoo_sync_run('pos.order.line')".to_string(),
                };
                if sql.starts_with("CALL") {
                    c.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
                    statuses.push("called".to_string());
                } else {
                    for r in c.query(&sql, &[]).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e))) {
                        statuses.push(r.get(0));
                    }
                }
            }
            statuses
        }));
    }
    let statuses: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| s == "success" || s == "skipped" || s == "called"), "{statuses:?}");
    assert!(statuses.iter().any(|s| s == "success"));
    let worker_runs: i64 =
        db.connect().query_one("SELECT count(*) FROM scout.sync_logs WHERE run_mode = 'worker'", &[]).unwrap().get(0);
    assert!(worker_runs > 0, "the worker synced meanwhile");
    // Stop the worker, then one more sync of everything: exactly Odoo's data, nothing running.
    let mut c = db.connect();
    c.batch_execute("ALTER SYSTEM SET odoo_sync.worker_enabled = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_until_worker_idle(&db, 60);
    for r in sync_all(&db, "") {
        assert_eq!(r.status, "success", "{r:?}");
    }
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
    let logs_without_end: i64 =
        db.connect().query_one("SELECT count(*) FROM scout.sync_logs WHERE completed_at IS NULL", &[]).unwrap().get(0);
    assert_eq!(logs_without_end, 0);
    // No checkpoint update was lost: each is closed and at least as late as every run's window end.
    let behind: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM scout.sync_checkpoints c WHERE c.window_end IS NOT NULL OR c.last_sync_at < \
                    (SELECT max(l.window_end) FROM scout.sync_logs l WHERE l.model = c.model AND l.status = 'success')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(behind, 0, "a checkpoint moved backwards or stayed open");
}
