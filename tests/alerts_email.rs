//! Alerts by email: a real SMTP server (aiosmtpd, STARTTLS required before AUTH, a certificate
//! of a private CA named by odoo_sync.ca_file) gets the failure, the recovery and the drift alert
//! once each, with their subject and body; a wrong password, an unreachable server and a server
//! that never answers are logged once and never delay or fail a sync; no secret reaches a log.

use odoo_sync_tests::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An SMTP server of the test's own (tests/smtp/server.py).
struct Smtp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Smtp {
    fn start(user: &str, password: &str) -> Smtp {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("odoo_sync_smtp_{}_{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let testdata = workspace_root().join("crates/engine/testdata");
        for f in ["smtp_test_ca.pem", "smtp_test_server.pem", "smtp_test_server.key"] {
            std::fs::copy(testdata.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join("password"), password).unwrap();
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/smtp/server.py"))
            .args([
                &port.to_string(),
                "smtp_test_server.pem",
                "smtp_test_server.key",
                user,
                "password",
                "messages.jsonl",
            ])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/bootstrap.sh installs it)");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(
            ready.trim(),
            "ready",
            "the SMTP server did not start: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        Smtp { child, port, dir }
    }

    fn ca_file(&self) -> String {
        self.dir.join("smtp_test_ca.pem").to_string_lossy().into_owned()
    }

    /// Every message accepted so far.
    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("messages.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The subject of a message as the server received it.
fn subject(m: &Value) -> String {
    let data = m["data"].as_str().unwrap_or_default();
    data.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default().to_owned()
}

fn body(m: &Value) -> String {
    let data = m["data"].as_str().unwrap_or_default();
    data.split_once("\r\n\r\n").or_else(|| data.split_once("\n\n")).map(|(_, b)| b.to_owned()).unwrap_or_default()
}

const SMTP_PASSWORD: &str = "smtp-Pa55word-not-in-logs";

fn email_settings<'a>(smtp: &'a Smtp, server: &'a str) -> Vec<(&'static str, String)> {
    vec![
        ("odoo_sync.alert_email_to", "ops@example.com, owner@example.com".into()),
        ("odoo_sync.alert_email_from", "odoo-sync@example.com".into()),
        ("odoo_sync.alert_smtp_server", server.into()),
        ("odoo_sync.alert_smtp_user", "alerts".into()),
        ("odoo_sync.ca_file", smtp.ca_file()),
        ("odoo_sync.max_retries", "0".into()),
    ]
}

fn set_smtp_password(db: &Db, password: &str) {
    db.connect().execute("SELECT scout.odoo_set_secret(smtp_password => $1)", &[&password]).unwrap();
}

fn failed_runs(db: &Db, model: &str) -> i64 {
    db.connect()
        .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = $1 AND status = 'failed'", &[&model])
        .unwrap()
        .get(0)
}

#[test]
fn failure_recovery_and_drift_each_arrive_once_by_email_over_starttls() {
    let sim = Sim::start(&["--orders", "60", "--seed", "91"]);
    let smtp = Smtp::start("alerts", SMTP_PASSWORD);
    let cluster = worker_cluster_with("mail_alerts", "*/2 * * * * *", &[]);
    let db = cluster.create_db_named("mail_alerts");
    let server = format!("127.0.0.1:{}", smtp.port);
    let settings = email_settings(&smtp, &server);
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    db.configure(&sim, &extra);
    set_smtp_password(&db, SMTP_PASSWORD);
    wait_for(60, "a first successful round", || {
        let ok: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.payment' AND status = 'success'", &[])
            .unwrap()
            .get(0);
        (ok >= 1).then_some(())
    });
    assert!(smtp.messages().is_empty(), "no alert while all is well");

    // Odoo fails for several rounds: one email.
    sim.set_faults(json!([{"kind": "http_status", "status": 503, "match": {"model": "pos.order"}}]));
    wait_for(60, "three failed rounds", || (failed_runs(&db, "pos.order") >= 3).then_some(()));
    wait_for(20, "the failure email", || (!smtp.messages().is_empty()).then_some(()));
    let m = &smtp.messages()[0];
    assert_eq!(m["tls"], json!(true), "sent after STARTTLS");
    assert_eq!(m["to"], json!(["ops@example.com", "owner@example.com"]));
    let s = subject(m);
    assert!(s.starts_with("[odoo_sync] mail_alerts: pos.order failing since ") && s.ends_with("(1 run)"), "{s}");
    let b = body(m);
    for part in ["pos.order", "HTTP 503", "08006", "SELECT * FROM scout.sync_status"] {
        assert!(b.contains(part), "the body names {part}: {b}");
    }

    // Odoo is back: one recovery email.
    sim.set_faults(json!([]));
    wait_for(60, "the recovery email", || (smtp.messages().len() >= 2).then_some(()));
    assert_eq!(subject(&smtp.messages()[1]), "[odoo_sync] mail_alerts: pos.order recovered");
    stop_worker_syncing(&db);

    // A reconciliation that repairs drift: one drift email.
    let gone = sim.mutate("pos.order", "delete", 2)["ids"].as_array().unwrap().len();
    let r = db.connect().query_one("SELECT deleted FROM scout.odoo_reconcile('pos.order')", &[]).unwrap();
    assert_eq!(r.get::<_, i64>(0), gone as i64);
    wait_for(20, "the drift email", || (smtp.messages().len() >= 3).then_some(()));
    let s = subject(&smtp.messages()[2]);
    assert!(s.starts_with("[odoo_sync] mail_alerts: pos.order drifted"), "{s}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.messages().len(), 3, "once each: {:?}", smtp.messages().iter().map(subject).collect::<Vec<_>>());

    // No secret in either server's log.
    let pg_log = std::fs::read_to_string(cluster.log_path()).unwrap();
    assert!(!pg_log.contains(SMTP_PASSWORD) && !smtp.log().contains(SMTP_PASSWORD));
}

#[test]
fn a_wrong_password_or_an_unreachable_or_silent_server_is_logged_once_and_never_delays_a_sync() {
    let sim = Sim::start(&["--orders", "60", "--seed", "92"]);
    let smtp = Smtp::start("alerts", SMTP_PASSWORD);
    let cluster = Cluster::start(&[]);
    let db = cluster.create_db("mail_bad");
    let server = format!("127.0.0.1:{}", smtp.port);
    let settings = email_settings(&smtp, &server);
    let extra: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    db.configure(&sim, &extra);
    let wrong = "wrong-Pa55word-not-in-logs";
    set_smtp_password(&db, wrong);
    sync_all(&db, "");
    // A change no window saw (Odoo's write_date moved past the look-back): drift, one alert.
    let reconcile_after_drift = |db: &Db| -> Duration {
        let changed = sim.mutate("pos.order", "update", 1)["ids"].as_array().map_or(0, Vec::len);
        assert_eq!(changed, 1);
        let t = Instant::now();
        let r = db.connect().query_one("SELECT status FROM scout.odoo_reconcile('pos.order')", &[]).unwrap();
        assert_eq!(r.get::<_, String>(0), "success", "the alert's failure never fails the sync");
        t.elapsed()
    };
    let log_lines = |needle: &str| -> usize {
        std::fs::read_to_string(cluster.log_path()).unwrap().lines().filter(|l| l.contains(needle)).count()
    };

    // A wrong password: refused by the server, logged once, nothing delivered.
    reconcile_after_drift(&db);
    let through = format!("through {server}");
    wait_for(20, "the failed send logged", || (log_lines(&through) >= 1).then_some(()));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(log_lines(&through), 1, "logged once");
    assert!(smtp.messages().is_empty());
    assert!(smtp.log().contains("authentication failed"), "{}", smtp.log());

    // Nothing listens there: logged once, the sync untouched.
    let nowhere = format!("127.0.0.1:{}", free_port());
    db.set("odoo_sync.alert_smtp_server", &nowhere);
    reconcile_after_drift(&db);
    let through = format!("through {nowhere}");
    wait_for(20, "the failed send logged", || (log_lines(&through) >= 1).then_some(()));
    assert_eq!(log_lines(&through), 1);

    // A server that accepts and never answers: the sync returns at once all the same.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    db.set("odoo_sync.alert_smtp_server", &silent_addr);
    let took = reconcile_after_drift(&db);
    assert!(took < Duration::from_secs(5), "the reconciliation waited for the SMTP server: {took:?}");
    let through = format!("through {silent_addr}");
    wait_for(60, "the timed-out send logged", || (log_lines(&through) >= 1).then_some(()));
    drop(silent);

    let pg_log = std::fs::read_to_string(cluster.log_path()).unwrap();
    assert!(!pg_log.contains(wrong) && !smtp.log().contains(wrong), "no password in a log");
}
