//! Secrets never travel in SQL text, and no grant lets a role forge history or alerts.
//!
//! The server here logs every statement (`log_statement = 'all'`) and errors with their
//! statement (the default `log_min_error_statement`), and a pg_monitor member watches
//! pg_stat_activity: the ways of setting the password and the API key that the README offers
//! must leave the value in none of them, and the literal form is shown to leak (so that these
//! checks can fail).

use odoo_sync_tests::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const PASSWORD: &str = "Fi1e-Secret-Passw0rd";
const API_KEY: &str = "Cli-Secret-ApiKey-42";

fn logging_cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| Cluster::start(&["log_statement = 'all'"]))
}

fn server_log(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.log_path()).unwrap_or_default()
}

/// What a pg_monitor member sees of every session's current or last statement.
fn activity_seen_by_monitor(db: &Db) -> String {
    let mut admin = db.connect();
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watcher') THEN \
               CREATE ROLE watcher LOGIN IN ROLE pg_monitor; END IF; END $$",
        )
        .unwrap();
    let mut watcher = postgres::Client::connect(
        &format!("host=127.0.0.1 port={} user=watcher dbname={}", db.cluster.port, db.name),
        postgres::NoTls,
    )
    .unwrap();
    watcher.query_one("SELECT coalesce(string_agg(query, ' | '), '') FROM pg_stat_activity", &[]).unwrap().get(0)
}

/// A file only the server's user can read, as the README says to make it.
fn secret_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("odoo_sync_secrets_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    own_by_postgres(&path);
    if running_as_root() {
        let status = Command::new("chmod").args(["0600", &path.to_string_lossy()]).status().unwrap();
        assert!(status.success());
    }
    path
}

fn set_secret_command() -> PathBuf {
    let root = workspace_root();
    let bin = root.join("target/debug/odoo-sync-set-secret");
    if !bin.exists() {
        let status = Command::new("cargo")
            .args(["build", "-q", "-p", "odoo-sync-set-secret"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success(), "building odoo-sync-set-secret failed");
    }
    bin
}

/// Points the database at the simulator without storing a secret.
fn configure_without_secret(db: &Db, sim: &Sim) {
    for (k, v) in [("base_url", sim.url.as_str()), ("db", "odoo"), ("username", "admin"), ("safety_lag", "0")] {
        db.set(&format!("odoo_sync.{k}"), v);
    }
}

#[test]
fn a_password_from_a_server_file_reaches_no_log_and_no_activity_view() {
    // API keys work as passwords on /jsonrpc, as in real Odoo: the secret here is one.
    let sim = Sim::start(&["--orders", "20", "--api-key", PASSWORD]);
    let cluster = logging_cluster();
    let db = cluster.create_db("secret_file");
    configure_without_secret(&db, &sim);
    let file = secret_file("password", &format!("# the Odoo API user's password\npassword = {PASSWORD}\n"));
    let mut admin = db.connect();
    admin.batch_execute(&format!("SELECT scout.odoo_set_secret(file => '{}')", file.display())).unwrap();
    let r = sync(&db, "pos.config", "");
    assert!(r.fetched > 0, "the stored password works: {r:?}");
    // A malformed file is refused naming the line, never its content.
    let bad = secret_file("bad", &format!("pasword = {PASSWORD}\n"));
    let e = admin.batch_execute(&format!("SELECT scout.odoo_set_secret(file => '{}')", bad.display())).unwrap_err();
    let e = DbErr::of(&e);
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.message.contains("line 1"), "{}", e.all_text());
    assert!(!e.all_text().contains(PASSWORD));
    let seen = activity_seen_by_monitor(&db);
    assert!(seen.contains("odoo_set_secret"), "the monitor sees the admin's last statement: {seen}");
    assert!(!seen.contains(PASSWORD), "pg_stat_activity shows the password");
    assert!(!server_log(cluster).contains(PASSWORD), "the server log holds the password");
}

#[test]
fn the_set_secret_command_sends_the_api_key_as_a_parameter_and_keeps_it_out_of_the_log() {
    let sim = Sim::start(&["--orders", "20", "--version", "19", "--api-key", API_KEY]);
    let cluster = logging_cluster();
    let db = cluster.create_db("secret_cli");
    configure_without_secret(&db, &sim);
    let conninfo = format!("host=127.0.0.1 port={} user=postgres dbname={}", cluster.port, db.name);
    let mut child = Command::new(set_secret_command())
        .args([&conninfo, "api_key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{API_KEY}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = sync(&db, "pos.config", "");
    assert!(r.fetched > 0, "the stored API key works: {r:?}");
    let transport: String = db
        .connect()
        .query_one("SELECT transport FROM scout.sync_logs WHERE id = $1", &[&r.run_id.unwrap()])
        .unwrap()
        .get(0);
    assert_eq!(transport, "json2", "stored as an API key");
    assert!(!server_log(cluster).contains(API_KEY), "the server log holds the API key");
    // The same statement, with the value as a parameter, shows as `$1` to a monitor.
    let mut admin = db.connect();
    admin.execute("SELECT scout.odoo_set_secret(api_key => $1)", &[&API_KEY]).unwrap();
    let seen = activity_seen_by_monitor(&db);
    assert!(seen.contains("api_key => $1"), "{seen}");
    assert!(!seen.contains(API_KEY));
}

#[test]
fn the_literal_form_leaks_into_a_logging_server_as_the_readme_warns() {
    // The control experiment: without the file or the command, the value is in the log.
    let cluster = logging_cluster();
    let db = cluster.create_db("secret_literal");
    let literal = "Literal-Leaks-Here-7";
    db.connect().batch_execute(&format!("SELECT scout.odoo_set_secret(password => '{literal}')")).unwrap();
    assert!(server_log(cluster).contains(literal), "log_statement = 'all' logs the literal");
}

#[test]
fn a_role_granted_the_failure_function_cannot_forge_failures_history_or_alerts() {
    let sim = Sim::start(&["--orders", "30", "--seed", "31"]);
    let hook = Receiver::start();
    let db = Cluster::shared().create_db("forge");
    db.configure(&sim, &[("odoo_sync.alert_webhook_url", &hook.url)]);
    let ok = sync(&db, "pos.order", "");
    let mut admin = db.connect();
    // Every grant that 90_grants.sql suggests for an ETL role.
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'etl_forger') THEN CREATE ROLE etl_forger LOGIN; END IF; END $$;
             GRANT USAGE ON SCHEMA scout TO etl_forger;
             GRANT EXECUTE ON FUNCTION scout.odoo_sync(text, boolean, boolean), scout.odoo_sync_all(boolean) TO etl_forger;
             GRANT EXECUTE ON PROCEDURE scout.odoo_sync_run(text, boolean, integer) TO etl_forger;
             GRANT EXECUTE ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer), scout.odoo_sync_record_failure() TO etl_forger;
             ALTER DATABASE {} SET odoo_sync.username = 'admin';",
            db.name
        ))
        .unwrap();
    let snapshot = |c: &mut postgres::Client| -> String {
        c.query_one(
            "SELECT (SELECT string_agg(concat_ws(',', id, status, error_message, updated, fetched), ';' ORDER BY id) FROM scout.sync_logs) \
                 || '|' || (SELECT string_agg(concat_ws(',', id, status, error_message), ';' ORDER BY id) FROM scout.sync_checkpoints)",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = snapshot(&mut admin);
    let mut forger = postgres::Client::connect(
        &format!("host=127.0.0.1 port={} user=etl_forger dbname={}", db.cluster.port, db.name),
        postgres::NoTls,
    )
    .unwrap();
    // No failure of its own to record: refused, and it can choose neither run nor text.
    let e = DbErr::of(&forger.query("SELECT scout.odoo_sync_record_failure()", &[]).unwrap_err());
    assert_eq!(e.code, "22023", "{}", e.all_text());
    for forged in [
        "SELECT scout.odoo_sync_record_failure('pos.order', NULL, 'Odoo is down, call +63-XXX', 'worker', '08006')",
        "SELECT scout.odoo_sync_record_failure('pos.config', 7, 'URGENT: rotate the key at http://evil.example', 'procedure', 'XX000')",
    ] {
        let e = DbErr::of(&forger.query(forged, &[]).unwrap_err());
        assert_eq!(e.code, "42883", "no such function: {}", e.all_text());
    }
    // A step cannot continue (and so rewrite) a finished run's log row.
    let e = DbErr::of(
        &forger
            .query("SELECT * FROM scout.odoo_sync_step('pos.order', false, $1, 1)", &[&ok.run_id.unwrap()])
            .unwrap_err(),
    );
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.message.contains("is not a running run"), "{}", e.all_text());
    assert_eq!(snapshot(&mut admin), before, "the logs and checkpoints are as they were");
    assert!(hook.received().is_empty(), "no alert: {:?}", hook.received());
    // What it is allowed: a real run (through the procedure) that really fails is recorded with
    // Odoo's own error, and alerts once.
    sim.set_faults(serde_json::json!([{"kind": "http_status", "status": 503, "match": {"model": "pos.payment"}}]));
    forger.batch_execute("SET client_min_messages = error").unwrap();
    let e = DbErr::of(&forger.batch_execute("CALL scout.odoo_sync_run('pos.payment')").unwrap_err());
    assert_eq!(e.code, "08006", "{}", e.all_text());
    let (status, code, text): (String, Option<String>, Option<String>) = admin
        .query_one("SELECT status, error_code, error_message FROM scout.sync_logs WHERE model = 'pos.payment' ORDER BY id DESC LIMIT 1", &[])
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!((status.as_str(), code.as_deref()), ("failed", Some("08006")));
    assert!(text.unwrap_or_default().contains("HTTP 503"));
    let alerts = hook.received();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("pos.payment started failing"), "{alerts:?}");
}

#[test]
fn a_role_allowed_to_refresh_gold_cannot_move_its_time_zone_with_a_placeholder() {
    let sim = Sim::start(&["--orders", "400", "--seed", "32"]);
    let db = Cluster::shared().create_db("gold_tz");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let mut admin = db.connect();
    admin.batch_execute("SELECT scout.refresh_gold()").unwrap();
    let daily = |c: &mut postgres::Client| -> String {
        c.query_one("SELECT string_agg(concat_ws(',', store_id, business_date, revenue), ';' ORDER BY store_id, business_date) FROM scout.gold_daily_sales", &[])
            .unwrap()
            .get(0)
    };
    let utc = daily(&mut admin);
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gold_refresher') THEN CREATE ROLE gold_refresher LOGIN; END IF; END $$;
             GRANT USAGE ON SCHEMA scout TO gold_refresher;
             GRANT EXECUTE ON FUNCTION scout.refresh_gold() TO gold_refresher;",
        )
        .unwrap();
    let mut role = postgres::Client::connect(
        &format!("host=127.0.0.1 port={} user=gold_refresher dbname={}", db.cluster.port, db.name),
        postgres::NoTls,
    )
    .unwrap();
    // The library is not loaded in this new session: PostgreSQL accepts the SET as a placeholder.
    role.batch_execute("SET odoo_sync.timezone = 'Pacific/Kiritimati'").unwrap();
    role.batch_execute("SET client_min_messages = error; SELECT scout.refresh_gold()").unwrap();
    assert_eq!(daily(&mut admin), utc, "gold moved to the role's time zone");
    // The control experiment: the superuser's database setting does move it.
    db.set("odoo_sync.timezone", "Pacific/Kiritimati");
    db.connect().batch_execute("SELECT scout.refresh_gold()").unwrap();
    assert_ne!(daily(&mut db.connect()), utc, "a real setting moves the business days");
}
