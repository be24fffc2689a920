//! Real time: Odoo's webhooks reach the background worker's listener (odoo_sync.webhook_listen),
//! and the hinted models reach bronze and silver within seconds. Every test runs the real
//! worker on a yearly schedule (what it syncs, it syncs because of a hint, unless the test says
//! otherwise) and compares bronze with the simulator afterwards.

use odoo_sync_tests::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Odoo's payload for one record (Odoo 17-19, fields id and write_date selected).
fn odoo_body(model: &str, id: i64) -> Vec<u8> {
    json!({"_action": format!("odoo_sync: {model} created or updated(#41)"), "_id": id, "_model": model,
           "id": id, "write_date": "2026-12-02 10:00:00"})
    .to_string()
    .into_bytes()
}

fn webhook_url(db: &Db) -> String {
    db.connect().query_one("SELECT scout.odoo_webhook_url()", &[]).unwrap().get(0)
}

/// Waits until the listener answers `url` with 202 (the worker takes a new token when it is
/// woken after the token's transaction commits), using a hint for a model that is not synced.
fn wait_for_listener(db: &Db, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while post_http(url, &odoo_body("stock.move", 1)) != 202 {
        assert!(
            Instant::now() < deadline,
            "the listener never accepted the token; the log ends:\n{}",
            db.cluster.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A worker cluster listening for webhooks on a free port; the database is configured and
/// synced once.
fn listening_cluster(name: &str, schedule: &str, extra: &[&str]) -> (Cluster, u16) {
    let port = free_port();
    let mut conf = vec![format!("odoo_sync.webhook_listen = '127.0.0.1:{port}'"), "log_min_messages = log".to_string()];
    conf.extend(extra.iter().map(|s| s.to_string()));
    let cluster = worker_cluster_with(name, schedule, &conf.iter().map(String::as_str).collect::<Vec<_>>());
    (cluster, port)
}

fn ids_of(created: &serde_json::Value) -> Vec<i64> {
    created["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
}

fn complete_in_silver(db: &Db, ids: &[i64]) -> i64 {
    db.connect()
        .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY ($1) AND complete", &[&ids])
        .unwrap()
        .get(0)
}

fn assert_orders_match(db: &Db, sim: &Sim) {
    for (model, table) in [("pos.order", "bronze_pos_order"), ("pos.order.line", "bronze_pos_order_line")] {
        let (_, _, fields, optional) = model_fields_of(db, model);
        assert_bronze_matches(db, sim, model, table, &requested_fields(sim, model, &fields, &optional));
    }
}

#[test]
fn a_webhook_brings_orders_into_silver_and_wrong_tokens_bad_bodies_and_big_ones_are_refused() {
    let sim = Sim::start(&["--orders", "300", "--seed", "81"]);
    let (cluster, port) = listening_cluster("webhook_listen", "0 0 1 1 *", &["log_statement = 'all'"]);
    let db = cluster.create_db_named("webhook_listen");
    // The default safety lag (the tests' is 0): a hinted run must not wait for it.
    db.configure(&sim, &[("odoo_sync.safety_lag", "5")]);
    sync_all(&db, "");

    // The URL: this server's listener, a 64-hex-digit token, the same on a second call.
    let url = webhook_url(&db);
    let prefix = format!("http://127.0.0.1:{port}/odoo/webhook/");
    // (No assertion message shows the URL: the token stays out of test output too.)
    let token = url.strip_prefix(&prefix).expect("the URL is this server's listener").to_owned();
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "64 hex digits");
    assert_eq!(webhook_url(&db), url);
    // Not for other roles: neither the function nor the table.
    db.connect().batch_execute("CREATE ROLE dashboard LOGIN; GRANT USAGE ON SCHEMA scout TO dashboard").unwrap();
    let mut other = cluster.connect_as(&db.name, "dashboard");
    for sql in
        ["SELECT scout.odoo_webhook_url()", "SELECT scout.odoo_webhook_rotate()", "SELECT * FROM scout.sync_secret"]
    {
        let e = DbErr::of(&other.batch_execute(sql).expect_err(sql));
        assert_eq!(e.code, "42501", "{sql}: {}", e.all_text());
    }
    wait_for_listener(&db, &url);

    // New orders in Odoo; hints with a wrong token, a bad body, a big body: nothing is synced.
    let ids = ids_of(&sim.mutate("pos.order", "create", 4));
    let since = now(&db);
    let wrong = format!("{prefix}{}", token.chars().rev().collect::<String>());
    assert_eq!(post_http(&wrong, &odoo_body("pos.order", ids[0])), 404, "wrong token");
    assert_eq!(post_http(&prefix, &odoo_body("pos.order", ids[0])), 404, "no token");
    assert_eq!(post_http(&format!("http://127.0.0.1:{port}/"), &odoo_body("pos.order", ids[0])), 404, "another path");
    assert_eq!(post_http(&url, b"{\"model\": \"pos.order\"}"), 400, "not an Odoo webhook");
    assert_eq!(post_http(&url, b"not json"), 400);
    let big = format!("{{\"_model\": \"pos.order\", \"_id\": 1, \"pad\": \"{}\"}}", "x".repeat(70_000));
    assert_eq!(post_http(&url, big.as_bytes()), 413, "above 64 kB");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(worker_runs_since(&db, "pos.order", &since), 0, "no refused request starts a sync");
    assert_eq!(complete_in_silver(&db, &ids), 0);

    // One valid hint: the orders, their lines and payments, complete in silver.
    let t = Instant::now();
    assert_eq!(post_http(&url, &odoo_body("pos.order", ids[0])), 202);
    wait_for(15, "the hinted orders complete in silver", || (complete_in_silver(&db, &ids) == 4).then_some(()));
    println!("webhook -> silver: {:?} (bench/realtime.sh measures it)", t.elapsed());
    for m in ["pos.order", "pos.order.line", "pos.payment"] {
        assert!(worker_runs_since(&db, m, &since) >= 1, "{m} synced for the hint");
    }
    assert_eq!(worker_runs_since(&db, "res.partner", &since), 0, "models not hinted wait for their round");
    // The hinted run read up to Odoo's now (its window's end), while the high-water mark stayed
    // safety_lag behind it (5 s, plus the second the Date header drops).
    let (end, mark): (f64, f64) = {
        let r = db
            .connect()
            .query_one(
                "SELECT extract(epoch FROM l.window_end)::float8, extract(epoch FROM c.last_sync_at)::float8 \
                 FROM scout.sync_logs l JOIN scout.sync_checkpoints c ON c.id = l.checkpoint_id \
                 WHERE l.model = 'pos.order' AND l.run_mode = 'worker' ORDER BY l.id DESC LIMIT 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(end - mark, 6.0, "an eager window: read to Odoo's now + 1 s, mark at now - safety_lag");

    // Rotating: the old URL is refused, the new one accepted.
    let rotated: String = db.connect().query_one("SELECT scout.odoo_webhook_rotate()", &[]).unwrap().get(0);
    assert!(rotated != url, "a new token");
    wait_for_listener(&db, &rotated);
    assert_eq!(post_http(&url, &odoo_body("pos.order", ids[0])), 404, "the old token is refused");
    let new_token = rotated.strip_prefix(&prefix).unwrap().to_owned();

    // The tokens never reach the server's log (log_statement = 'all', the listener's lines).
    let log = std::fs::read_to_string(cluster.log_path()).unwrap();
    assert!(log.contains("listening for Odoo's webhooks"), "the listener logged its start");
    assert!(log.contains("answered 404"), "the refusals were counted in the log");
    for t in [&token, &new_token] {
        assert!(!log.contains(t.as_str()), "a token is in the server log");
    }
    stop_worker_syncing(&db);
    assert_orders_match(&db, &sim);
}

#[test]
fn ten_thousand_webhooks_in_a_burst_make_a_handful_of_syncs_with_flat_memory_and_the_schedule_keeps_running() {
    let sim = Sim::start(&["--orders", "300", "--seed", "82"]);
    // Rounds every 20 s, to show that the schedule goes on during the burst.
    let (cluster, _) = listening_cluster("webhook_burst", "*/20 * * * * *", &[]);
    let db = cluster.create_db_named("webhook_burst");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let url = webhook_url(&db);
    wait_for_listener(&db, &url);
    let pid: i32 = db
        .connect()
        .query_one("SELECT pid FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker'", &[])
        .unwrap()
        .get(0);
    let rss = || -> i64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().to_owned();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };

    // n hints from 4 senders at once, as Odoo's workers would post them; how many were answered 202.
    let burst = |n: usize, ids: &[i64]| -> usize {
        let senders: Vec<_> = (0..4)
            .map(|k| {
                let (url, ids) = (url.clone(), ids.to_vec());
                std::thread::spawn(move || {
                    (0..n / 4)
                        .filter(|i| post_http(&url, &odoo_body("pos.order", ids[(i + k) % ids.len()])) == 202)
                        .count()
                })
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).sum()
    };
    // A first, smaller burst warms the worker up (its first runs load what a backend loads once).
    let warm = ids_of(&sim.mutate("pos.order", "create", 5));
    assert_eq!(burst(1_000, &warm), 1_000);
    wait_for(30, "the warm-up orders complete in silver", || (complete_in_silver(&db, &warm) == 5).then_some(()));
    std::thread::sleep(Duration::from_secs(2));

    let ids = ids_of(&sim.mutate("pos.order", "create", 20));
    let since = now(&db);
    let before = rss();
    let t = Instant::now();
    let accepted = burst(10_000, &ids);
    println!("10,000 webhooks answered in {:?}", t.elapsed());
    assert_eq!(accepted, 10_000, "every hint was answered 202");
    wait_for(30, "the burst's orders complete in silver", || (complete_in_silver(&db, &ids) == 20).then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    let after = rss();
    // The schedule still runs: a whole round after the burst started.
    wait_for_worker_round_since(&db, &since);
    let runs = worker_runs_since(&db, "pos.order", &since);
    let rounds: i64 = db.connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'res.partner' AND run_mode = 'worker' AND started_at > $1::text::timestamptz", &[&since])
        .unwrap()
        .get(0);
    println!("pos.order runs: {runs} ({rounds} scheduled rounds among them); worker RSS {before} kB -> {after} kB");
    assert!(runs - rounds <= 6, "10,000 hints were coalesced into a handful of runs, not {runs}");
    assert!(after - before < 4_096, "the worker's memory grew by {} kB", after - before);
    stop_worker_syncing(&db);
    assert_orders_match(&db, &sim);
}

#[test]
fn a_webhook_while_odoo_fails_is_one_failure_with_one_alert_and_the_next_hint_recovers() {
    let sim = Sim::start(&["--orders", "200", "--seed", "83"]);
    let hook = Receiver::start();
    let (cluster, _) = listening_cluster("webhook_fail", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("webhook_fail");
    db.configure(&sim, &[("odoo_sync.alert_webhook_url", &hook.url)]);
    sync_all(&db, "");
    let url = webhook_url(&db);
    wait_for_listener(&db, &url);

    let ids = ids_of(&sim.mutate("pos.order", "create", 3));
    sim.set_faults(
        json!([{"kind": "http_status", "status": 500, "match": {"model": "pos.order", "method": "search_read"}}]),
    );
    let since = now(&db);
    // Hints keep coming while Odoo fails (the model backs off: 5 s, 10 s, ...).
    for _ in 0..8 {
        assert_eq!(post_http(&url, &odoo_body("pos.order", ids[0])), 202);
        std::thread::sleep(Duration::from_secs(1));
    }
    let failed: i64 = db.connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'failed' AND started_at > $1::text::timestamptz", &[&since])
        .unwrap()
        .get(0);
    assert!((1..=3).contains(&failed), "a failing model backs off under hints: {failed} failed runs in 8 s");
    let alerts = hook.received();
    assert_eq!(alerts.len(), 1, "one alert for the failure: {alerts:?}");
    assert!(alerts[0].contains("pos.order"), "{}", alerts[0]);

    // Odoo is back: the next hint (after the backoff) recovers, with one recovery alert.
    sim.set_faults(json!([]));
    wait_for(40, "the recovery", || {
        post_http(&url, &odoo_body("pos.order", ids[0]));
        (complete_in_silver(&db, &ids) == 3).then_some(())
    });
    wait_for(10, "the recovery alert", || (hook.received().len() == 2).then_some(()));
    stop_worker_syncing(&db);
    assert_eq!(hook.received().len(), 2, "{:?}", hook.received());
    assert_orders_match(&db, &sim);
}

#[test]
fn a_hinted_change_streams_through_the_realtime_publication() {
    let sim = Sim::start(&["--orders", "200", "--seed", "84"]);
    let (cluster, _) = listening_cluster("webhook_realtime", "0 0 1 1 *", &["wal_level = logical"]);
    let db = cluster.create_db_named("webhook_realtime");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let mut c = db.connect();
    // Without Supabase's publication: odoo_sync_realtime, created; twice is the same.
    for _ in 0..2 {
        let publication: String = c.query_one("SELECT scout.enable_realtime()", &[]).unwrap().get(0);
        assert_eq!(publication, "odoo_sync_realtime");
    }
    let tables: Vec<String> =
        db.column("SELECT tablename::text FROM pg_publication_tables WHERE pubname = 'odoo_sync_realtime' ORDER BY 1");
    assert_eq!(tables, ["payments", "transaction_items", "transactions"]);
    let full: i64 = db.count("pg_class WHERE relnamespace = 'scout'::regnamespace AND relname IN ('transactions', 'transaction_items', 'payments') AND relreplident = 'f'");
    assert_eq!(full, 3, "REPLICA IDENTITY FULL, so that updates and deletes carry the old row");
    c.batch_execute("SELECT pg_create_logical_replication_slot('dashboard', 'pgoutput')").unwrap();

    // A change in Odoo, a webhook, the worker: the new order streams out of the publication.
    let url = webhook_url(&db);
    wait_for_listener(&db, &url);
    let ids = ids_of(&sim.mutate("pos.order", "create", 1));
    assert_eq!(post_http(&url, &odoo_body("pos.order", ids[0])), 202);
    wait_for(15, "the hinted order complete in silver", || (complete_in_silver(&db, &ids) == 1).then_some(()));
    let code: String =
        c.query_one("SELECT transaction_code FROM scout.transactions WHERE source_id = $1", &[&ids[0]]).unwrap().get(0);
    let rows = c
        .query(
            "SELECT data FROM pg_logical_slot_get_binary_changes('dashboard', NULL, NULL, \
             'proto_version', '1', 'publication_names', 'odoo_sync_realtime')",
            &[],
        )
        .unwrap();
    let messages: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
    // pgoutput: 'R' announces a relation (namespace and name as C strings), 'I' and 'U' carry
    // rows (text values).
    let relations: Vec<String> = messages
        .iter()
        .filter(|m| m.first() == Some(&b'R'))
        .map(|m| {
            let parts: Vec<&[u8]> = m[5..].split(|b| *b == 0).take(2).collect();
            format!("{}.{}", String::from_utf8_lossy(parts[0]), String::from_utf8_lossy(parts[1]))
        })
        .collect();
    assert!(relations.contains(&"scout.transactions".to_string()), "{relations:?}");
    assert!(
        relations
            .iter()
            .all(|r| ["scout.transactions", "scout.transaction_items", "scout.payments"].contains(&r.as_str())),
        "only the published tables stream: {relations:?}"
    );
    let carries_the_order = messages
        .iter()
        .filter(|m| matches!(m.first(), Some(b'I') | Some(b'U')))
        .any(|m| m.windows(code.len()).any(|w| w == code.as_bytes()));
    assert!(carries_the_order, "a row with the new order's code {code} streamed");
    c.batch_execute("SELECT pg_drop_replication_slot('dashboard')").unwrap();
    let out: String = c.query_one("SELECT scout.disable_realtime()", &[]).unwrap().get(0);
    assert!(out.contains("out of every publication"));
    assert_eq!(db.count("pg_publication_tables WHERE pubname = 'odoo_sync_realtime'"), 0);
    // On Supabase, its own publication is the one used.
    c.batch_execute("CREATE PUBLICATION supabase_realtime").unwrap();
    let publication: String = c.query_one("SELECT scout.enable_realtime()", &[]).unwrap().get(0);
    assert_eq!(publication, "supabase_realtime");
    assert_eq!(db.count("pg_publication_tables WHERE pubname = 'supabase_realtime' AND schemaname = 'scout'"), 3);
    stop_worker_syncing(&db);
    assert_orders_match(&db, &sim);
}

/// The webhook rules and actions in the simulator, as (rules, actions) counts.
fn rules_in_odoo(sim: &Sim) -> (i64, i64) {
    let count = |model: &str| sim.execute(model, "search_count", json!([[]]), json!({})).as_i64().unwrap();
    (count("base.automation"), count("ir.actions.server"))
}

#[test]
fn install_webhooks_twice_leaves_one_set_of_rules_and_odoos_own_webhooks_bring_changes_into_silver() {
    let sim = Sim::start(&["--orders", "200", "--seed", "85", "--version", "19"]);
    let (cluster, _) = listening_cluster("webhook_install", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("webhook_install");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let url = webhook_url(&db);
    wait_for_listener(&db, &url);
    let synced: i64 = db.count("scout.sync_models WHERE enabled");

    let mut c = db.connect();
    let install = "SELECT model, \"trigger\", rule_id, action_id FROM scout.odoo_install_webhooks() ORDER BY 1, 2";
    let first: Vec<(String, String, i64, i64)> =
        c.query(install, &[]).unwrap().iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert!(first.len() as i64 >= 2 * (synced - 1), "two rules per synced model Odoo has: {first:?}");
    assert!(first.iter().any(|r| r.0 == "pos.order" && r.1 == "on_create_or_write"));
    assert!(first.iter().any(|r| r.0 == "pos.order" && r.1 == "on_unlink"));
    let second: Vec<(String, String, i64, i64)> =
        c.query(install, &[]).unwrap().iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert_eq!(first, second, "found again by external id: the same records");
    assert_eq!(rules_in_odoo(&sim), (first.len() as i64, first.len() as i64), "one set of rules in Odoo");
    // Each action posts to this server's URL, selecting only id and write_date.
    let actions = sim.execute(
        "ir.actions.server",
        "search_read",
        json!([[["id", "=", first[0].3]]]),
        json!({"fields": ["state", "webhook_url", "webhook_field_ids"]}),
    );
    assert_eq!(actions[0]["state"], "webhook");
    assert_eq!(actions[0]["webhook_url"], url.as_str());
    assert_eq!(actions[0]["webhook_field_ids"].as_array().unwrap().len(), 2);

    // A change in Odoo: Odoo posts, the worker syncs, silver has it.
    let since = now(&db);
    let ids = ids_of(&sim.mutate("pos.order", "create", 3));
    wait_for(15, "Odoo's webhooks to bring the orders into silver", || {
        (complete_in_silver(&db, &ids) == 3).then_some(())
    });
    assert!(worker_runs_since(&db, "pos.order", &since) >= 1);
    let hooks = &sim.stats()["webhooks"];
    assert!(hooks["sent"].as_i64().unwrap() >= 3 && hooks["failed"] == 0, "the simulator's webhooks: {hooks}");

    // Removing them: no rule left, and a change no longer posts.
    let removed: i64 = c.query_one("SELECT scout.odoo_remove_webhooks()", &[]).unwrap().get(0);
    assert_eq!(removed, first.len() as i64);
    assert_eq!(rules_in_odoo(&sim), (0, 0));
    std::thread::sleep(Duration::from_secs(3)); // the runs still due for the hints above
    let since = now(&db);
    sim.mutate("pos.order", "update", 2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(worker_runs_since(&db, "pos.order", &since), 0, "no rule, no webhook, no hinted run");
    stop_worker_syncing(&db);
    sync_all(&db, ""); // the updates made without a rule come with the next run
    assert_orders_match(&db, &sim);
}

#[test]
fn install_webhooks_says_what_is_missing_on_odoo_16_and_without_base_automation() {
    let db = Cluster::shared().create_db("webhook_bad_url");
    let e = DbErr::of(
        &db.connect().batch_execute("SELECT * FROM scout.odoo_install_webhooks('ftp://x/y')").expect_err("refused"),
    );
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.message.contains("http:// or https://"), "{}", e.all_text());
    for (args, code, says) in [
        (vec!["--version", "16"], "0A000", "cannot send webhooks"),
        (vec!["--version", "18", "--no-base-automation"], "55000", "base_automation"),
    ] {
        let sim = Sim::start(&args);
        let db = Cluster::shared().create_db("webhook_missing");
        db.configure(&sim, &[]);
        let e = DbErr::of(
            &db.connect()
                .batch_execute("SELECT * FROM scout.odoo_install_webhooks('http://127.0.0.1:1/x')")
                .expect_err("refused"),
        );
        assert_eq!(e.code, code, "{args:?}: {}", e.all_text());
        assert!(e.message.contains(says), "{args:?}: {}", e.all_text());
        assert!(!e.hint.is_empty(), "{args:?}: a hint says what to do");
    }
}

#[test]
fn on_odoo_17_a_hint_sent_before_the_commit_is_rechecked_and_a_phantom_changes_nothing() {
    let sim = Sim::start(&["--orders", "200", "--seed", "86", "--version", "17"]);
    let (cluster, _) = listening_cluster("webhook_17", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("webhook_17");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let url = webhook_url(&db);
    wait_for_listener(&db, &url);
    db.connect().batch_execute("SELECT count(*) FROM scout.odoo_install_webhooks()").unwrap();

    // A transaction that stays open 1.5 s after Odoo posted its webhooks: the first hinted run
    // cannot see its orders; the re-check does.
    let tx = sim.control("/sim/tx/begin", json!({}))["tx"].as_i64().unwrap();
    let created =
        sim.control("/sim/tx/mutate", json!({"tx": tx, "model": "pos.order", "action": "create", "count": 2}));
    let ids = ids_of(&created);
    std::thread::sleep(Duration::from_millis(1500));
    sim.control("/sim/tx/commit", json!({"tx": tx}));
    wait_for(15, "the re-check to bring the orders into silver", || (complete_in_silver(&db, &ids) == 2).then_some(()));

    // A phantom: Odoo posts, then rolls back. The runs find nothing, change nothing.
    let before: i64 = db.count("scout.bronze_pos_order");
    let since = now(&db);
    let tx = sim.control("/sim/tx/begin", json!({}))["tx"].as_i64().unwrap();
    sim.control("/sim/tx/mutate", json!({"tx": tx, "model": "pos.order", "action": "update", "count": 3}));
    sim.control("/sim/tx/rollback", json!({"tx": tx}));
    wait_for(15, "the phantom's runs (first and re-check)", || {
        (worker_runs_since(&db, "pos.order", &since) >= 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let changed: i64 = db.connect()
        .query_one("SELECT coalesce(sum(inserted + updated), 0)::bigint FROM scout.sync_logs WHERE model = 'pos.order' AND started_at > $1::text::timestamptz", &[&since])
        .unwrap()
        .get(0);
    assert_eq!(changed, 0, "a phantom hint changes nothing");
    assert_eq!(db.count("scout.bronze_pos_order"), before);
    db.connect().batch_execute("SELECT scout.odoo_remove_webhooks()").unwrap();
    stop_worker_syncing(&db);
    assert_orders_match(&db, &sim);
}
