//! The runner, `odoo-sync`, as a hosted-Supabase user runs it: a database where the extension
//! is not installed and its owner is not a superuser (and cannot create the extension), TLS on,
//! reached through PgBouncer in session mode, with certificate and host name verified. Every
//! test compares bronze (and silver) with the simulator afterwards.

use odoo_sync_tests::runner::{plain_db, terminate, Bouncer, Certs, Runner};
use odoo_sync_tests::*;
use serde_json::json;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The owner of every runner database: a login role, not a superuser (Supabase's `postgres`).
const OWNER: &str = "shop_owner";

struct Env {
    cluster: Cluster,
    certs: Certs,
    session: Bouncer,
    transaction: Bouncer,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let certs = Certs::new("runner");
        let conf = certs.server_conf();
        let cluster = Cluster::start(&conf.iter().map(String::as_str).collect::<Vec<_>>());
        cluster.connect("postgres").batch_execute(&format!("CREATE ROLE {OWNER} LOGIN NOSUPERUSER")).unwrap();
        let session = Bouncer::start(&cluster, &certs, "session");
        let transaction = Bouncer::start(&cluster, &certs, "transaction");
        Env { cluster, certs, session, transaction }
    })
}

/// A connection URL as OWNER to `host:port/db`, TLS as `mode` says against `rootcert`.
fn url_tls(host: &str, port: u16, db: &str, mode: &str, rootcert: &std::path::Path) -> String {
    format!("postgresql://{OWNER}@{host}:{port}/{db}?sslmode={mode}&sslrootcert={}", rootcert.display())
}

/// The URL a user pastes: through the session pooler, TLS verified against the CA.
fn url_via(port: u16, db: &str) -> String {
    url_tls("127.0.0.1", port, db, "verify-full", &env().certs.ca)
}

/// A fresh database owned by OWNER, the runner pointed at it through PgBouncer (session mode),
/// and the schema installed.
fn installed(name: &str, sim: &Sim) -> (Db<'static>, Runner) {
    let e = env();
    let db = plain_db(&e.cluster, name, OWNER);
    let runner = Runner::new(&url_via(e.session.port, name), sim);
    let first = runner.ok(&["install"]);
    assert!(first.stdout.contains("Installed the scout schema"), "{}", first.all());
    (db, runner)
}

fn checksum(db: &Db, table: &str) -> String {
    db.column::<String>(&format!("SELECT md5(coalesce(string_agg(id || ':' || payload::text || ':' || (deleted_at IS NULL), ',' ORDER BY id), '')) FROM scout.{table}"))
        .remove(0)
}

#[test]
fn install_twice_load_incremental_and_dry_run_over_tls_through_pgbouncer_as_a_non_superuser() {
    let sim = Sim::start(&["--orders", "400", "--seed", "5"]);
    let (db, runner) = installed("rn_core", &sim);
    // What hosted Supabase's owner can and cannot do: it owns the database, it is no
    // superuser, and it cannot load the extension.
    let mut owner = db.cluster.connect_as(&db.name, OWNER);
    let is_super: bool =
        owner.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", &[]).unwrap().get(0);
    assert!(!is_super);
    let refused = owner.batch_execute("CREATE EXTENSION odoo_sync").unwrap_err();
    assert_eq!(DbErr::of(&refused).code, "42501", "{}", describe(&refused));
    assert_eq!(db.column::<i64>("SELECT count(*) FROM pg_extension WHERE extname = 'odoo_sync'"), vec![0]);
    // The connection really is TLS (PgBouncer to the server; verify-full to PgBouncer).
    let again = runner.ok(&["install"]);
    assert!(again.stdout.contains("nothing to do"), "{}", again.all());

    // First load: every model, bronze equal to Odoo, silver equal to its derivation.
    let ran = runner.ok(&["sync"]);
    assert!(ran.stdout.contains("pos.order.line") && ran.stdout.contains("success"), "{}", ran.stdout);
    assert!(assert_all_bronze_matches(&db, &sim) > 1000);
    assert!(assert_silver_matches_bronze(&db) > 1000);
    assert_eq!(db.column::<String>("SELECT DISTINCT run_mode FROM scout.sync_logs"), vec!["runner".to_string()]);

    // Incremental: updates and creates arrive, nothing else moves.
    sim.mutate("pos.order", "update", 12);
    sim.mutate("pos.order", "create", 4);
    sim.advance_clock(3.0);
    let lines_before = checksum(&db, "bronze_pos_order_line");
    // A dry run says what it would do and writes nothing.
    let orders_before = checksum(&db, "bronze_pos_order");
    let logs_before = db.count("scout.sync_logs");
    let dry = runner.ok(&["sync", "pos.order", "--dry-run"]);
    let row = dry.stdout.lines().find(|l| l.starts_with("pos.order ")).expect("a pos.order row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!((cells[3], cells[4]), ("4", "12"), "inserted and updated of the dry run: {row}");
    assert_eq!(checksum(&db, "bronze_pos_order"), orders_before, "a dry run wrote bronze");
    assert_eq!(db.count("scout.sync_logs"), logs_before, "a dry run wrote a log row");
    runner.ok(&["sync"]);
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
    assert_eq!(db.count("scout.bronze_pos_order"), 404);
    // The new orders' lines arrived; the old lines were not rewritten.
    assert_ne!(checksum(&db, "bronze_pos_order_line"), lines_before);

    // A third install on a database with data changes nothing and keeps it all.
    let kept = checksum(&db, "bronze_pos_order");
    runner.ok(&["install"]);
    assert_eq!(checksum(&db, "bronze_pos_order"), kept);

    // Gold, with the business time zone the runner was given.
    runner.with("ODOO_SYNC_TIMEZONE", "Asia/Manila").ok(&["install"]);
    assert_eq!(db.column::<String>("SELECT scout.business_timezone()"), vec!["Asia/Manila".to_string()]);
    owner.batch_execute("SELECT scout.refresh_gold()").unwrap();
    assert!(db.count("scout.gold_daily_sales") > 0);
    let bad_tz = runner.with("ODOO_SYNC_TIMEZONE", "Mars/Olympus").run(&["install"]);
    assert_eq!(bad_tz.code, 2, "{}", bad_tz.all());
    assert!(bad_tz.stderr.contains("Mars/Olympus") && bad_tz.stderr.contains("HINT"), "{}", bad_tz.stderr);

    // status: every model healthy, exit 0.
    let status = runner.ok(&["status"]);
    let healthy: Vec<&str> = status
        .stdout
        .lines()
        .skip(2)
        .filter(|l| l.contains('|'))
        .map(|l| l.split('|').nth(2).unwrap().trim())
        .collect();
    assert!(healthy.len() == 11 && healthy.iter().all(|h| *h == "true"), "{}", status.stdout);
    // The extension's sync function says where syncing happens here.
    let e = owner.batch_execute("SELECT scout.odoo_sync('pos.order')").unwrap_err();
    assert_eq!(DbErr::of(&e).code, "0A000", "{}", describe(&e));
    assert!(describe(&e).contains("odoo-sync sync"), "{}", describe(&e));
}

#[test]
fn a_reconciliation_soft_deletes_what_odoo_deleted_and_refetches_what_is_stale() {
    let sim = Sim::start(&["--orders", "200", "--seed", "6"]);
    let (db, runner) = installed("rn_reconcile", &sim);
    runner.ok(&["sync"]);
    let deleted = sim.mutate("pos.order", "delete", 5);
    let gone: Vec<i64> = deleted["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert!(!gone.is_empty(), "{deleted}");
    // Drift an incremental run cannot see: a bronze row changed behind the sync's back.
    db.connect()
        .batch_execute("UPDATE scout.bronze_pos_order SET payload = payload || '{\"write_date\": \"2000-01-01 00:00:00\"}' WHERE id = (SELECT min(id) FROM scout.bronze_pos_order)")
        .unwrap();
    let dry = runner.ok(&["reconcile", "pos.order", "--dry-run"]);
    assert_eq!(
        db.column::<i64>("SELECT count(*) FROM scout.bronze_pos_order WHERE deleted_at IS NOT NULL"),
        vec![0],
        "{}",
        dry.stdout
    );
    let ran = runner.ok(&["reconcile", "pos.order"]);
    let row = ran.stdout.lines().find(|l| l.starts_with("pos.order ")).expect("a pos.order row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!((cells[5], cells[6]), ("1", gone.len().to_string().as_str()), "stale and deleted: {row}");
    let soft: Vec<i64> = db.column("SELECT id FROM scout.bronze_pos_order WHERE deleted_at IS NOT NULL ORDER BY id");
    let mut expected = gone.clone();
    expected.sort();
    assert_eq!(soft, expected);
    assert_model_matches(&db, &sim, "pos.order");
    // Silver knows the orders are gone.
    let live_gone: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM scout.transactions WHERE source_id = ANY ($1) AND deleted_at IS NULL",
            &[&gone],
        )
        .unwrap()
        .get(0);
    assert_eq!(live_gone, 0);
    assert_silver_matches_bronze(&db);
}

#[test]
fn run_keeps_silver_fresh_from_webhooks_writes_back_exactly_once_and_stops_on_sigterm() {
    use odoo_sync_tests::outbox::{members, odoo_tags, tag_customers};
    let sim = Sim::start(&["--orders", "150", "--seed", "7"]);
    let (db, runner) = installed("rn_run", &sim);
    runner.ok(&["sync"]);
    let port = free_port();
    let runner = runner
        .with("ODOO_SYNC_WEBHOOK_LISTEN", &format!("127.0.0.1:{port}"))
        // Only what a hint or the outbox asks for runs: the schedules are yearly.
        .with("SYNC_SCHEDULE", "0 0 1 1 *")
        .with("ODOO_SYNC_GOLD_SCHEDULE", "0 0 1 1 *")
        .with("ODOO_SYNC_RECONCILE_SCHEDULE", "");
    let url = runner.ok(&["webhooks", "url"]).stdout.trim().to_owned();
    assert!(url.starts_with(&format!("http://127.0.0.1:{port}/odoo/webhook/")), "{url}");
    let daemon = runner.spawn(&["run"]);
    // The listener answers once the runner has read the token.
    let probe = json!({"_model": "stock.move", "_id": 1, "id": 1}).to_string();
    wait_for(20, "the runner's webhook listener", || (post_http(&url, probe.as_bytes()) == 202).then_some(()));
    assert_eq!(post_http(&format!("http://127.0.0.1:{port}/odoo/webhook/wrong-token"), probe.as_bytes()), 404);

    // A change in Odoo, then its webhook: silver has it within seconds.
    let changed = sim.mutate("pos.order", "update", 1);
    let id = changed["ids"][0].as_i64().unwrap();
    let sent = Instant::now();
    let body = json!({"_model": "pos.order", "_id": id, "id": id, "write_date": "2026-12-02 10:00:00"}).to_string();
    assert_eq!(post_http(&url, body.as_bytes()), 202);
    let odoo_date = sim.execute("pos.order", "read", json!([[id]]), json!({"fields": ["write_date"]}))[0]["write_date"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(10, "the hinted order in bronze and silver", || {
        let r = db
            .connect()
            .query_one(
                "SELECT b.payload->>'write_date', t.source_id IS NOT NULL FROM scout.bronze_pos_order b \
                 LEFT JOIN scout.transactions t ON t.source_id = b.id AND t.run_id = b.run_id WHERE b.id = $1",
                &[&id],
            )
            .ok()?;
        (r.get::<_, Option<String>>(0).as_deref() == Some(odoo_date.as_str()) && r.get::<_, bool>(1)).then_some(())
    });
    println!("webhook to silver: {:?}", sent.elapsed());
    assert_model_matches(&db, &sim, "pos.order");
    assert_silver_matches_bronze(&db);

    // Write-back: tags queued by a dashboard user's transaction reach Odoo once, woken by the
    // commit's NOTIFY (no schedule runs).
    let ids: Vec<i64> = db.column("SELECT id FROM scout.customers ORDER BY id LIMIT 3");
    let mut owner = db.cluster.connect_as(&db.name, OWNER);
    // One row for the tag, one per customer.
    assert_eq!(tag_customers(&mut owner, "Runner VIP", &ids, false), 4);
    wait_for(10, "the outbox sent", || {
        (db.column::<i64>("SELECT count(*) FROM scout.odoo_outbox WHERE state <> 'sent'")[0] == 0).then_some(())
    });
    let tags = odoo_tags(&sim, "Runner VIP");
    assert_eq!(tags.len(), 1, "one tag in Odoo");
    assert_eq!(members(&sim, tags[0]), ids.iter().copied().collect());
    assert_eq!(db.column::<i32>("SELECT max(attempts) FROM scout.odoo_outbox"), vec![1], "each row sent once");

    // scout.sync_status says when the runner syncs next.
    let next: Vec<Option<String>> = db.column("SELECT next_scheduled_run::text FROM scout.sync_status LIMIT 1");
    assert!(next[0].as_deref().is_some_and(|t| t.contains("-01-01 00:00:00")), "{next:?}");

    let (code, log) = terminate(daemon, 10);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("stopping"), "{log}");
    assert!(!log.contains(&sim.password) || sim.password.len() < 6, "the log names the password");
    assert!(!log.contains(url.rsplit('/').next().unwrap()), "the log names the webhook token");
}

#[test]
fn a_runner_killed_mid_load_loses_nothing_and_a_rerun_converges() {
    let sim = Sim::start(&["--orders", "1500", "--seed", "8"]);
    let (db, runner) = installed("rn_kill", &sim);
    let runner = runner.with("SYNC_BATCH_SIZE", "100").with("ODOO_SYNC_FETCH_STREAMS", "1");
    // Odoo slow enough that the load is caught half-way.
    sim.set_faults(json!([{"kind": "latency", "ms": 60, "match": {"method": "search_read", "model": "pos.order.line"}, "times": 100000}]));
    let mut child = runner.spawn(&["sync", "pos.order.line"]);
    wait_for(60, "some committed pages", || (db.count("scout.bronze_pos_order_line") >= 500).then_some(()));
    child.kill().unwrap(); // SIGKILL: no clean-up of any kind
    child.wait().unwrap();
    let committed = db.count("scout.bronze_pos_order_line");
    let last_id: Vec<Option<i64>> =
        db.column("SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order.line'");
    let max_id: Vec<i64> = db.column("SELECT max(id) FROM scout.bronze_pos_order_line");
    assert_eq!(last_id, vec![Some(max_id[0])], "the checkpoint names the last committed row");
    sim.set_faults(json!([]));
    let total = sim.count("pos.order.line");
    assert!(committed < total, "the kill came after the load ended ({committed} of {total})");
    let rerun = runner.ok(&["sync", "pos.order.line"]);
    let row = rerun.stdout.lines().find(|l| l.starts_with("pos.order.line ")).unwrap();
    let inserted: i64 = row.split('|').nth(3).unwrap().trim().parse().unwrap();
    assert_eq!(inserted, total - committed, "the rerun loads exactly what was not committed: {row}");
    assert_model_matches(&db, &sim, "pos.order.line");
    // The killed run's log row is closed as interrupted by the next run.
    let interrupted: Vec<i64> =
        db.column("SELECT count(*) FROM scout.sync_logs WHERE status = 'failed' AND error_message LIKE 'interrupted%'");
    assert_eq!(interrupted, vec![1]);
}

#[test]
fn a_pooler_in_transaction_mode_is_refused_with_what_to_use_instead() {
    let sim = Sim::start(&["--orders", "10"]);
    let e = env();
    let db = plain_db(&e.cluster, "rn_pooler", OWNER);
    let runner = Runner::new(&url_via(e.transaction.port, &db.name), &sim);
    let ran = runner.run(&["install"]);
    assert_eq!(ran.code, 3, "{}", ran.all());
    assert!(ran.stderr.contains("transaction mode") && ran.stderr.contains("session"), "{}", ran.stderr);
    assert!(ran.stderr.contains("pool_mode = session"), "{}", ran.stderr);
    assert_eq!(
        db.column::<i64>("SELECT count(*) FROM pg_namespace WHERE nspname = 'scout'"),
        vec![0],
        "nothing installed"
    );
}

#[test]
fn tls_is_verified_and_secrets_never_reach_the_output() {
    let sim = Sim::start(&["--orders", "10"]);
    let e = env();
    let (db, runner) = installed("rn_secrets", &sim);
    // A server certificate that does not chain to the given CA is refused (exit 3).
    let wrong_ca = workspace_root().join("tests/harness/mod.rs"); // no certificate in it
    let ran =
        Runner::new(&url_tls("127.0.0.1", e.session.port, &db.name, "verify-full", &wrong_ca), &sim).run(&["status"]);
    assert_eq!(ran.code, 2, "{}", ran.all());
    assert!(ran.stderr.contains("no usable certificate"), "{}", ran.stderr);
    // A real CA that did not sign the server's certificate: the connection is refused (exit 3),
    // in verify-ca as in verify-full.
    let other_ca = e.certs.dir.join("other_ca.pem");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=another CA", "-keyout"])
        .arg(e.certs.dir.join("other_ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    for mode in ["verify-ca", "verify-full"] {
        let ran = Runner::new(&url_tls("127.0.0.1", e.session.port, &db.name, mode, &other_ca), &sim).run(&["status"]);
        assert_eq!(ran.code, 3, "{mode}: {}", ran.all());
        assert!(ran.stderr.contains("cannot connect"), "{mode}: {}", ran.stderr);
    }
    // The right CA but another host name: verify-full refuses, verify-ca accepts.
    let by_name = |mode: &str| {
        Runner::new(&url_tls("127.0.0.2", e.session.port, &db.name, mode, &e.certs.ca), &sim).run(&["status"])
    };
    // (PgBouncer also listens on 127.0.0.2, a name the certificate does not carry.)
    let full = by_name("verify-full");
    assert_eq!(full.code, 3, "{}", full.all());
    // verify-ca connects (status then reports the models, never synced here: exit 1, not 3).
    let ca_only = by_name("verify-ca");
    assert!(
        ca_only.code != 3 && ca_only.stdout.contains("pos.order"),
        "verify-ca checks the chain only: {}",
        ca_only.all()
    );
    // A wrong Odoo password fails the sync (exit 1, 28000) without printing it.
    let secret = "s3cret-Odoo-passw0rd";
    let bad = runner.with("ODOO_API_KEY", "").with("ODOO_PASSWORD", secret).run(&["sync", "res.company"]);
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(bad.stderr.contains("28000"), "{}", bad.stderr);
    assert!(!bad.all().contains(secret), "the output names the password:\n{}", bad.all());
    // A database password in DATABASE_URL is not printed when the connection fails.
    let db_secret = "db-Passw0rd-xyz";
    let unreachable =
        Runner::new(&format!("postgresql://{OWNER}:{db_secret}@127.0.0.1:1/x?sslmode=disable"), &sim).run(&["status"]);
    assert_eq!(unreachable.code, 3, "{}", unreachable.all());
    assert!(!unreachable.all().contains(db_secret), "{}", unreachable.all());
    // Nor is it in the log table.
    let logged: Vec<i64> =
        db.column(&format!("SELECT count(*) FROM scout.sync_logs WHERE error_message LIKE '%{secret}%'"));
    assert_eq!(logged, vec![0]);
    // Settings are checked before anything connects.
    let typo = runner.run(&["--set", "batch_sise=10", "sync"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("unknown setting \"batch_sise\""), "{}", typo.stderr);
}

/// Every table a sync fills, as comparable rows: bronze (id, payload, live or not), silver and
/// its quarantine without the columns that say when or by which run a row was written, and
/// every gold view. Returns (object, md5 of its sorted rows, row count).
fn fingerprint(db: &Db) -> Vec<(String, String, i64)> {
    let mut c = db.connect();
    let mut objects: Vec<(String, String)> = c
        .query("SELECT bronze_table, silver_table FROM scout.sync_models ORDER BY sync_order", &[])
        .unwrap()
        .iter()
        .flat_map(|r| {
            let bronze: String = r.get(0);
            let silver: Option<String> = r.get(1);
            let b = (bronze.clone(), format!("SELECT jsonb_build_object('id', id, 'payload', payload, 'live', deleted_at IS NULL) FROM scout.{bronze}"));
            let s = silver.map(|t| (t.clone(), silver_rows(&t)));
            std::iter::once(b).chain(s)
        })
        .collect();
    objects.push(("silver_rejects".into(), silver_rows("silver_rejects")));
    let gold: Vec<String> = c
        .query("SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE n.nspname = 'scout' AND c.relkind IN ('m', 'v') AND (c.relname LIKE 'gold\\_%' OR c.relname LIKE 'v\\_%') ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(gold.len() >= 8, "gold objects: {gold:?}");
    objects.extend(gold.into_iter().map(|g| (g.clone(), format!("SELECT to_jsonb(x) FROM scout.{g} x"))));
    objects
        .into_iter()
        .map(|(name, rows)| {
            let r = c
                .query_one(&format!("SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')), count(*) FROM ({rows}) AS s(r)"), &[])
                .unwrap_or_else(|e| panic!("{name}: {}", describe(&e)));
            (name, r.get(0), r.get(1))
        })
        .collect()
}

fn silver_rows(table: &str) -> String {
    format!(
        "SELECT to_jsonb(x) - '{{run_id,synced_at,first_run_id,first_seen,last_seen,deleted_at,rejected_at}}'::text[] \
         || jsonb_build_object('live', to_jsonb(x) -> 'deleted_at' IS NULL OR to_jsonb(x) -> 'deleted_at' = 'null') FROM scout.{table} x"
    )
}

fn assert_same(step: &str, extension: &Db, runner: &Db) {
    let (a, b) = (fingerprint(extension), fingerprint(runner));
    let differing: Vec<String> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("{} ({} rows by the extension, {} by the runner)", x.0, x.2, y.2))
        .collect();
    assert!(differing.is_empty(), "after {step}, these differ: {}", differing.join(", "));
    let rows: i64 = a.iter().map(|x| x.2).sum();
    assert!(rows > 1000, "after {step}: only {rows} rows compared");
    println!("{step}: {} objects, {rows} rows identical", a.len());
}

#[test]
fn the_extension_and_the_runner_give_identical_bronze_silver_and_gold() {
    let sim = Sim::start(&["--orders", "600", "--seed", "9", "--with-brand"]);
    let e = env();
    let extension = e.cluster.create_db("rn_diff_ext");
    extension.configure(&sim, &[]);
    let (runner_db, runner) = installed("rn_diff_runner", &sim);
    let both = |step: &str, sql: &str, args: &[&str]| {
        extension.connect().batch_execute(sql).unwrap_or_else(|e| panic!("{step}: {}", describe(&e)));
        runner.ok(args);
        for db in [&extension, &runner_db] {
            db.connect().batch_execute("SELECT scout.refresh_gold()").unwrap();
        }
        assert_same(step, &extension, &runner_db);
    };
    both("the first load", "SELECT * FROM scout.odoo_sync_all()", &["sync"]);

    sim.mutate("pos.order", "update", 15);
    sim.mutate("pos.order", "create", 6);
    sim.mutate("product.product", "update", 5);
    sim.mutate("res.partner", "update", 5);
    sim.advance_clock(3.0);
    both("an incremental run", "SELECT * FROM scout.odoo_sync_all()", &["sync"]);

    let deleted = sim.mutate("pos.order", "delete", 4);
    assert!(!deleted["ids"].as_array().unwrap().is_empty());
    sim.mutate("pos.order", "update", 5);
    sim.advance_clock(3.0);
    both("a full sync with deletes", "SELECT * FROM scout.odoo_sync_all(true)", &["sync", "--full"]);

    sim.mutate("pos.payment", "delete", 3);
    sim.advance_clock(3.0);
    both("a reconciliation", "SELECT * FROM scout.odoo_reconcile()", &["reconcile"]);
    assert_all_bronze_matches(&runner_db, &sim);
}

#[test]
fn the_odoo_secret_can_come_from_a_file_or_supabase_vault() {
    let sim = Sim::start(&["--orders", "20"]);
    let (db, runner) = installed("rn_vault", &sim);
    // The password's sources (under the JSON-2 profile the simulator has an API key too, which
    // would win: the runner uses it when both are set).
    let runner = runner.with("ODOO_API_KEY", "");
    // Supabase Vault's view, as the runner reads it (a stand-in: the real one decrypts).
    let mut admin = db.connect();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA vault; CREATE VIEW vault.decrypted_secrets AS SELECT 'odoo_password'::text AS name, '{}'::text AS decrypted_secret; \
             GRANT USAGE ON SCHEMA vault TO {OWNER}; GRANT SELECT ON vault.decrypted_secrets TO {OWNER}",
            sim.password
        ))
        .unwrap();
    let from_vault = runner.with("ODOO_PASSWORD", "").with("ODOO_PASSWORD_VAULT", "odoo_password");
    from_vault.ok(&["sync", "res.company"]);
    let missing =
        runner.with("ODOO_PASSWORD", "").with("ODOO_PASSWORD_VAULT", "no_such_secret").run(&["sync", "res.company"]);
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert!(missing.stderr.contains("no secret named \"no_such_secret\""), "{}", missing.stderr);
    // From a file, its first line.
    let file = env().certs.dir.join("odoo_password");
    std::fs::write(&file, format!("{}\n", sim.password)).unwrap();
    runner.with("ODOO_PASSWORD", "").with("ODOO_PASSWORD_FILE", &file.to_string_lossy()).ok(&["sync", "res.partner"]);
    // Two ways at once is refused, saying which.
    let both =
        runner.with("ODOO_PASSWORD", &sim.password).with("ODOO_PASSWORD_FILE", &file.to_string_lossy()).run(&["sync"]);
    assert_eq!(both.code, 2);
    assert!(both.stderr.contains("more than one way"), "{}", both.stderr);
    odoo_sync_tests::outbox::assert_partners_match(&db, &sim);
}

#[test]
fn two_runners_and_the_extension_on_one_database_share_the_models_without_loss() {
    let sim = Sim::start(&["--orders", "1200", "--seed", "10"]);
    let e = env();
    // The extension's database: the runner syncs into the extension's own schema.
    let db = e.cluster.create_db("rn_shared");
    db.configure(&sim, &[("odoo_sync.batch_size", "100")]);
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={}",
        e.session.port,
        db.name,
        e.certs.ca.display()
    );
    let runner = Runner::new(&url, &sim).with("SYNC_BATCH_SIZE", "100");
    let said = runner.ok(&["install"]);
    assert!(said.stdout.contains("extension 0.2.0 is installed"), "{}", said.stdout);
    sim.set_faults(json!([{"kind": "latency", "ms": 20, "match": {"method": "search_read"}, "times": 100000}]));
    let (a, b) = (runner.spawn(&["sync"]), runner.spawn(&["sync"]));
    let by_extension = db.connect().query("SELECT status FROM scout.odoo_sync_all()", &[]);
    let (ra, rb) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for (name, r) in [("first runner", &ra), ("second runner", &rb)] {
        assert!(
            r.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }
    by_extension.unwrap_or_else(|e| panic!("the extension's run: {}", describe(&e)));
    sim.set_faults(json!([]));
    runner.ok(&["sync"]);
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
    // `run` on the extension's schema: it has no scout.runner_state, and the extension's own
    // odoo_sync.timezone rules gold there.
    let daemon = runner.with("ODOO_SYNC_TIMEZONE", "Asia/Manila").spawn(&["run"]);
    std::thread::sleep(Duration::from_millis(1500));
    let (code, log) = terminate(daemon, 10);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("ODOO_SYNC_TIMEZONE is not used here"), "{log}");
    assert!(!log.contains("WARNING: odoo-sync run"), "{log}");
}

#[test]
fn run_reconnects_after_the_server_restarts_and_syncs_what_it_missed() {
    let sim = Sim::start(&["--orders", "100", "--seed", "11"]);
    // A cluster of its own: this test restarts it.
    let cluster = Cluster::start(&[]);
    let db = plain_db(&cluster, "rn_restart", "postgres");
    let runner =
        Runner::new(&format!("postgresql://postgres@127.0.0.1:{}/{}?sslmode=disable", cluster.port, db.name), &sim)
            .with("SYNC_SCHEDULE", "0 0 1 1 *")
            .with("ODOO_SYNC_RECONCILE_SCHEDULE", "");
    runner.ok(&["install"]);
    runner.ok(&["sync"]);
    let daemon = runner.spawn(&["run"]);
    std::thread::sleep(Duration::from_secs(1));
    cluster.crash_and_restart();
    // After the restart, a change and its hint are synced: the runner connected again and
    // LISTENs again.
    let changed = sim.mutate("pos.order", "update", 3);
    let ids: Vec<i64> = changed["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    sim.advance_clock(2.0);
    let odoo_dates: Vec<String> = ids
        .iter()
        .map(|id| {
            sim.execute("pos.order", "read", json!([[id]]), json!({"fields": ["write_date"]}))[0]["write_date"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    wait_for(30, "the hinted orders after the restart", || {
        let mut c = postgres::Client::connect(
            &format!("host=127.0.0.1 port={} user=postgres dbname={}", cluster.port, db.name),
            postgres::NoTls,
        )
        .ok()?;
        c.batch_execute("SELECT scout.odoo_sync_soon('pos.order')").ok()?;
        std::thread::sleep(Duration::from_millis(500));
        let bronze: Vec<String> = c
            .query("SELECT payload->>'write_date' FROM scout.bronze_pos_order WHERE id = ANY ($1) ORDER BY id", &[&ids])
            .ok()?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut expected = ids.iter().zip(&odoo_dates).collect::<Vec<_>>();
        expected.sort();
        (bronze == expected.iter().map(|(_, d)| d.to_string()).collect::<Vec<_>>()).then_some(())
    });
    assert_model_matches(&db, &sim, "pos.order");
    let (code, log) = terminate(daemon, 10);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("reconnected"), "{log}");
}

#[test]
fn webhooks_install_makes_odoo_post_to_the_runner_and_remove_takes_the_rules_away() {
    let sim = Sim::start(&["--orders", "100", "--seed", "12", "--version", "19"]);
    let (db, runner) = installed("rn_rules", &sim);
    runner.ok(&["sync"]);
    let port = free_port();
    let runner = runner
        .with("ODOO_SYNC_WEBHOOK_LISTEN", &format!("127.0.0.1:{port}"))
        .with("SYNC_SCHEDULE", "0 0 1 1 *")
        .with("ODOO_SYNC_RECONCILE_SCHEDULE", "");
    let rules = |sim: &Sim| sim.execute("base.automation", "search_count", json!([[]]), json!({})).as_i64().unwrap();
    let first = runner.ok(&["webhooks", "install"]);
    let installed_rules = rules(&sim);
    assert!(installed_rules >= 2 * 8, "two rules per synced model: {}", first.stdout);
    runner.ok(&["webhooks", "install"]);
    assert_eq!(rules(&sim), installed_rules, "found again by external id: one set");
    let url = runner.ok(&["webhooks", "url"]).stdout.trim().to_owned();
    assert!(!first.all().contains(url.rsplit('/').next().unwrap()), "install printed the token");

    // Odoo's own webhooks, to the runner's listener: new orders reach silver.
    let daemon = runner.spawn(&["run"]);
    let probe = json!({"_model": "stock.move", "_id": 1, "id": 1}).to_string();
    wait_for(20, "the runner's webhook listener", || (post_http(&url, probe.as_bytes()) == 202).then_some(()));
    let created = sim.mutate("pos.order", "create", 3);
    let ids: Vec<i64> = created["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    wait_for(15, "Odoo's webhooks to bring the orders into silver", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY ($1) AND complete", &[&ids])
            .ok()?
            .get(0);
        (n == 3).then_some(())
    });

    // A new token: the old URL is refused once the runner has read it, the new one accepted.
    runner.ok(&["webhooks", "rotate"]);
    let new_url = runner.ok(&["webhooks", "url"]).stdout.trim().to_owned();
    assert_ne!(new_url, url);
    wait_for(10, "the old token refused", || (post_http(&url, probe.as_bytes()) == 404).then_some(()));
    assert_eq!(post_http(&new_url, probe.as_bytes()), 202);
    let (code, log) = terminate(daemon, 10);
    assert_eq!(code, 0, "{log}");

    let removed = runner.ok(&["webhooks", "remove"]);
    assert!(removed.stdout.contains(&format!("{installed_rules} Automation Rules removed")), "{}", removed.stdout);
    assert_eq!(rules(&sim), 0);
    assert_model_matches(&db, &sim, "pos.order");
}
