//! The background worker and its server: it dies with a killed postmaster (taking its webhook
//! listener's port with it, so the server starts again), it says what it is doing in
//! pg_stat_activity, a misspelt setting is reported, and outbox rows another session held are
//! sent as soon as they are free, not at the next scheduled round.

use odoo_sync_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// The worker's pid and what pg_stat_activity says it is doing.
fn worker(db: &Db) -> Option<(i32, String)> {
    db.connect()
        .query_opt("SELECT pid, coalesce(query, '') FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'", &[])
        .ok()
        .flatten()
        .map(|r| (r.get(0), r.get(1)))
}

/// Whether a process has exited (a zombie waiting for its reaper counts as exited: it holds
/// nothing any more).
fn exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Takes the outbox's sender lock in a transaction of its own (returned: COMMIT frees it) and,
/// from another session, queues a tag named `name` under key `key`: the worker, woken by the
/// insert, finds the sender busy.
fn hold_sender_and_queue(db: &Db, key: &str, name: &str) -> postgres::Client {
    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtext('odoo_sync'), hashtext('odoo_sync.outbox'))")
        .unwrap();
    db.connect()
        .execute(
            "INSERT INTO scout.odoo_outbox (model, external_key, \"values\") \
             VALUES ('res.partner.category', $1, jsonb_build_object('name', $2::text))",
            &[&key, &name],
        )
        .unwrap();
    holder
}

#[test]
fn a_killed_postmaster_takes_the_worker_and_its_listener_along_and_the_server_starts_again() {
    // Every Odoo call takes a second: the worker is caught in the middle of a sync.
    let sim = Sim::start(&["--orders", "2000", "--seed", "81"]);
    let port = free_port();
    let listen = format!("odoo_sync.webhook_listen = '127.0.0.1:{port}'");
    let cluster = worker_cluster_with(
        "hard_pm",
        "* * * * * *",
        &[&listen, "odoo_sync.worker_step_pages = 1", "odoo_sync.shedule = '* * * * *'"],
    );
    let db = cluster.create_db_named("hard_pm");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    // postgresql.conf's typo is reported, not ignored.
    let log = std::fs::read_to_string(cluster.log_path()).unwrap();
    assert!(log.contains("invalid configuration parameter name \"odoo_sync.shedule\""), "{}", cluster.log_tail(30));
    sim.set_faults(json!([{"kind": "latency", "ms": 1000, "match": {"method": "search_read"}}]));
    let (pid, doing) = wait_for(60, "the worker to report a sync in pg_stat_activity", || {
        worker(&db).filter(|(_, q)| q.starts_with("odoo_sync worker: syncing "))
    });
    println!("pg_stat_activity: {doing}");
    wait_for(10, "the listener", || std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()));

    let postmaster = cluster.postmaster_pid();
    let killed = Instant::now();
    // SAFETY: kill(2) of the test's own server process.
    assert_eq!(unsafe { libc::kill(postmaster, libc::SIGKILL) }, 0);
    wait_for(15, "the worker to exit after its postmaster", || exited(pid).then_some(()));
    println!("worker gone {:?} after kill -9 of the postmaster", killed.elapsed());
    assert!(
        std::net::TcpStream::connect_timeout(&(std::net::Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
            .is_err(),
        "the listener's port is closed"
    );

    sim.set_faults(json!([]));
    println!("server started again in {:?}", cluster.start_again(30));
    db.reconnect();
    wait_for(30, "the worker back", || worker(&db).filter(|(p, _)| *p != pid).map(|_| ()));
    wait_for(30, "the listener back on its port", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    });
    stop_worker_syncing(&db);
}

#[test]
fn outbox_rows_held_by_another_session_are_sent_once_it_lets_go_and_the_idle_worker_says_so() {
    let sim = Sim::start(&["--orders", "50", "--seed", "82"]);
    // A yearly schedule: whatever is sent here is sent because the worker retried soon.
    let cluster = worker_cluster_with("hard_wb_lock", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("hard_wb_lock");
    db.configure(&sim, &[]);
    let (_, idle) =
        wait_for(30, "the worker idle", || worker(&db).filter(|(_, q)| q.starts_with("odoo_sync worker: idle until ")));
    println!("pg_stat_activity: {idle}");
    let mut holder = hold_sender_and_queue(&db, "held", "Held");
    std::thread::sleep(Duration::from_secs(2));
    let state = |db: &Db| -> String {
        db.connect().query_one("SELECT state FROM scout.odoo_outbox WHERE external_key = 'held'", &[]).unwrap().get(0)
    };
    assert_eq!(state(&db), "pending", "the sender lock is held");
    let freed = Instant::now();
    holder.batch_execute("COMMIT").unwrap();
    wait_for(15, "the row sent once the lock is free", || (state(&db) == "sent").then_some(()));
    println!("sent {:?} after the lock was freed", freed.elapsed());
    let tags = sim.execute("res.partner.category", "search", json!([[["name", "=", "Held"]]]), json!({}));
    assert_eq!(tags.as_array().unwrap().len(), 1);
}

#[test]
fn a_worker_waiting_out_the_outboxs_backoff_sleeps_instead_of_spinning() {
    let sim = Sim::start(&["--orders", "50", "--seed", "83"]);
    let cluster = worker_cluster_with("hard_wb_spin", "0 0 1 1 *", &["odoo_sync.max_retries = 0"]);
    let db = cluster.create_db_named("hard_wb_spin");
    db.configure(&sim, &[("odoo_sync.max_retries", "0")]);
    wait_for(30, "the worker idle", || worker(&db).filter(|(_, q)| q.contains("idle until")));
    // Another session holds the sender while a row is queued: the worker plans a retry...
    let mut holder = hold_sender_and_queue(&db, "spin", "Spin");
    // ...which then meets an Odoo that refuses: the outbox backs off (5 s, then 10 s, ...).
    sim.set_faults(json!([{"kind": "http_status", "status": 503, "match": {"model": "res.partner.category"}}]));
    // Long enough for the worker, woken by the insert, to find the sender busy and plan a retry.
    std::thread::sleep(Duration::from_millis(1500));
    holder.batch_execute("COMMIT").unwrap();
    wait_for(15, "the send tried and left pending", || {
        let attempts: i32 = db
            .connect()
            .query_one("SELECT attempts FROM scout.odoo_outbox WHERE external_key = 'spin'", &[])
            .unwrap()
            .get(0);
        (attempts >= 1).then_some(())
    });
    // While it backs off, count the worker's turns: each reports its state anew
    // (pg_stat_activity.state_change). A loop woken every 50 ms by a retry time already past
    // would make about 40 turns in two seconds; a sleeping one none or one.
    let state_change = |db: &Db| -> String {
        db.connect()
            .query_one("SELECT state_change::text FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'", &[])
            .unwrap()
            .get(0)
    };
    let mut seen = std::collections::BTreeSet::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        seen.insert(state_change(&db));
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("worker turns in 2 s while the outbox backs off: {}", seen.len());
    assert!(seen.len() <= 3, "the worker spins: {} turns in 2 s", seen.len());
    sim.set_faults(json!([]));
    wait_for(30, "the row sent after the backoff", || {
        let state: String = db
            .connect()
            .query_one("SELECT state FROM scout.odoo_outbox WHERE external_key = 'spin'", &[])
            .unwrap()
            .get(0);
        (state == "sent").then_some(())
    });
}
