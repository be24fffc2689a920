//! https Odoo URLs: certificates are verified against the system roots by default, and a
//! private CA is accepted only when odoo_sync.ca_file names it.

use odoo_sync_tests::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn https_is_verified_and_a_private_ca_is_accepted_when_configured() {
    let sim = Sim::start(&["--orders", "20"]);
    let dir = std::env::temp_dir().join(format!("odoo_sync_tls_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_string_lossy().to_string();
    // A private CA and a server certificate for 127.0.0.1 signed by it.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=odoo_sync test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p("server.key"),
        "-out",
        &p("server.csr"),
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p("san.ext"),
        "-out",
        &p("server.pem"),
    ]);
    // PostgreSQL runs as postgres: it must be able to read the CA file.
    let _ = Command::new("chmod").args(["-R", "a+rX", &dir.to_string_lossy()]).status();

    let script = workspace_root().join("tests/tls_proxy.py");
    let mut proxy = Command::new("python3")
        .args([script.to_string_lossy().as_ref(), &p("server.pem"), &p("server.key"), &sim.port().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 tls_proxy.py");
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("listening on ").unwrap().parse().unwrap();
    let https = format!("https://127.0.0.1:{port}");

    let db = Cluster::shared().create_db("tls");
    db.configure(&sim, &[("odoo_sync.base_url", &https), ("odoo_sync.max_retries", "0")]);
    let mut c = db.connect();
    let e = c.query("SELECT * FROM scout.odoo_sync('pos.config')", &[]).expect_err("untrusted certificate");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "08001", "{}", e.all_text());
    assert!(e.message.to_lowercase().contains("certificate"), "says why: {}", e.all_text());
    assert_eq!(db.count("scout.bronze_pos_config"), 0);

    db.set("odoo_sync.ca_file", &p("ca.pem"));
    let mut c = db.connect();
    let fetched: i64 = c.query_one("SELECT fetched FROM scout.odoo_sync('pos.config')", &[]).unwrap().get(0);
    assert_eq!(fetched, sim.count("pos.config"));

    db.set("odoo_sync.ca_file", &p("no-such-file.pem"));
    let e = db.connect().query("SELECT * FROM scout.odoo_sync('pos.config')", &[]).expect_err("missing CA file");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.all_text().contains("odoo_sync.ca_file"), "{}", e.all_text());
    let _ = proxy.kill();
    let _ = proxy.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
