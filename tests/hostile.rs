//! A hostile or broken server: answers that break the sync's invariants are refused with a
//! clear error before anything is loaded, and the backend survives. The "Odoo" here is a
//! scripted fake on loopback (the simulator always answers correctly).

use odoo_sync_tests::*;
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpListener;

/// pos.config's fields as the fake describes them (fields_get types).
const FIELDS: &[(&str, &str)] = &[
    ("id", "integer"),
    ("name", "char"),
    ("company_id", "many2one"),
    ("currency_id", "many2one"),
    ("active", "boolean"),
    ("write_date", "datetime"),
    ("create_date", "datetime"),
];

/// A fake Odoo 19 that logs in, describes pos.config, and answers search_read with `page`
/// (raw bytes, so that invalid UTF-8 can be sent). `extra_headers` go on that answer.
fn fake_odoo(page: Vec<u8>, status_line: &'static str, extra_headers: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let page = page.clone();
            let extra = extra_headers.clone();
            std::thread::spawn(move || loop {
                let Some(body) = read_http_request(&mut s) else { return };
                let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let method = req["params"]["method"].as_str().unwrap_or("");
                let inner = req["params"]["args"][4].as_str().unwrap_or("");
                let (status, headers, out): (&str, String, Vec<u8>) = match (method, inner) {
                    ("version", _) => ("200 OK", String::new(), json!({"jsonrpc": "2.0", "id": 1, "result": {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""]}}).to_string().into_bytes()),
                    ("authenticate", _) => ("200 OK", String::new(), br#"{"jsonrpc": "2.0", "id": 1, "result": 2}"#.to_vec()),
                    ("execute_kw", "fields_get") => {
                        let f: serde_json::Map<String, Value> = FIELDS.iter().map(|(n, t)| (n.to_string(), json!({"type": t}))).collect();
                        ("200 OK", String::new(), json!({"jsonrpc": "2.0", "id": 1, "result": f}).to_string().into_bytes())
                    }
                    _ => (status_line, extra.clone(), page.clone()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nDate: Wed, 25 Nov 2026 13:50:36 GMT\r\n{headers}Content-Length: {}\r\n\r\n", out.len());
                if s.write_all(head.as_bytes()).and_then(|_| s.write_all(&out)).is_err() {
                    return;
                }
            });
        }
    });
    url
}

fn rpc_page(records: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "result": records}).to_string().into_bytes()
}

fn record(id: Value, write_date: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "company_id": [1, "C"], "currency_id": [1, "PHP"], "active": true, "write_date": write_date, "create_date": write_date})
}

fn expect_refusal(case: &str, url: &str, code: &str, says: &str) {
    let db = Cluster::shared().create_db("hostile");
    let mut c = db.connect();
    for (k, v) in [("base_url", url), ("db", "odoo"), ("username", "admin"), ("max_retries", "0"), ("safety_lag", "0")]
    {
        c.batch_execute(&format!("ALTER DATABASE {} SET odoo_sync.{k} = '{v}'", db.name)).unwrap();
    }
    c.execute("SELECT scout.odoo_set_secret(password => 'admin')", &[]).unwrap();
    let mut c = db.connect();
    let e = c.query("SELECT * FROM scout.odoo_sync('pos.config')", &[]).expect_err(case);
    let e = DbErr::of(&e);
    assert_eq!(e.code, code, "{case}: {}", e.all_text());
    assert!(e.all_text().contains(says), "{case}: {}", e.all_text());
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1, "{case}: the backend survived");
    assert_eq!(db.count("scout.bronze_pos_config"), 0, "{case}: nothing loaded");
    assert_eq!(db.count("scout.sync_checkpoints"), 0, "{case}: no checkpoint");
}

#[test]
fn a_record_outside_an_incremental_window_is_refused_before_loading() {
    // (A first or full sync has no bounds on write_date: it re-reads every record, also those
    // written while Odoo's clock was ahead. An incremental window has both.)
    let page =
        rpc_page(json!([record(json!(1), "2026-11-25 13:00:00", "a"), record(json!(2), "2027-01-01 00:00:00", "b")]));
    let url = fake_odoo(page, "200 OK", String::new());
    let db = Cluster::shared().create_db("hostile_window");
    let mut c = db.connect();
    for (k, v) in
        [("base_url", url.as_str()), ("db", "odoo"), ("username", "admin"), ("max_retries", "0"), ("safety_lag", "0")]
    {
        c.batch_execute(&format!("ALTER DATABASE {} SET odoo_sync.{k} = '{v}'", db.name)).unwrap();
    }
    c.execute("SELECT scout.odoo_set_secret(password => 'admin')", &[]).unwrap();
    c.batch_execute(
        "INSERT INTO scout.sync_checkpoints (id, model, last_sync_at) VALUES ('odoo_sync_checkpoint:pos.config', 'pos.config', '2026-11-25 12:00:00+00')",
    )
    .unwrap();
    let mut c = db.connect();
    let e = DbErr::of(&c.query("SELECT * FROM scout.odoo_sync('pos.config')", &[]).expect_err("outside the window"));
    assert_eq!(e.code, "22000", "{}", e.all_text());
    assert!(e.all_text().contains("outside the requested window"), "{}", e.all_text());
    assert_eq!(db.count("scout.bronze_pos_config"), 0, "nothing loaded");
    let h: String = c.query_one("SELECT last_sync_at::text FROM scout.sync_checkpoints", &[]).unwrap().get(0);
    assert_eq!(h, "2026-11-25 12:00:00+00", "the checkpoint did not move");
}

#[test]
fn answers_that_break_the_invariants_are_refused_before_loading() {
    let ok = "2026-11-20 10:00:00";
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "duplicate ids in one page",
            rpc_page(json!([record(json!(1), ok, "a"), record(json!(1), ok, "a")])),
            "22000",
            "duplicate",
        ),
        (
            "ids out of order",
            rpc_page(json!([record(json!(5), ok, "a"), record(json!(3), ok, "b")])),
            "22000",
            "not above the previous id",
        ),
        ("an id that is not an integer", rpc_page(json!([record(json!("abc"), ok, "a")])), "22000", "not an integer"),
        ("a record without write_date", rpc_page(json!([{"id": 1, "name": "a"}])), "22000", "write_date"),
        ("a result that is not a list", rpc_page(json!({"id": 1})), "08P01", "expected a list"),
        // PostgreSQL cannot store a NUL: refused naming the record and field (not jsonb's 22P05).
        (
            "a string with a NUL character",
            rpc_page(json!([record(json!(1), ok, "nul\u{0}byte")])),
            "22000",
            "record 1 has name = \"nul\\u0000byte\", which holds a NUL character",
        ),
        // What Python's json.dumps writes for 1e309: named, not "the body is not JSON".
        (
            "a number JSON cannot carry",
            format!(
                r#"{{"jsonrpc": "2.0", "id": 1, "result": [{{"id": 1, "name": Infinity, "company_id": [1, "C"], "currency_id": [1, "PHP"], "active": true, "write_date": "{ok}", "create_date": "{ok}"}}]}}"#
            )
            .into_bytes(),
            "22000",
            "sent Infinity in field name of record 1, which is not a JSON number",
        ),
    ];
    // Values of the wrong type for their field (silver reads them typed): refused, naming the field.
    let wrong = |field: &str, value: Value| {
        let mut r = record(json!(1), ok, "a");
        r[field] = value;
        rpc_page(json!([r]))
    };
    let cases = cases.into_iter().chain(vec![
        (
            "a many2one that is a string",
            wrong("company_id", json!("Company 1")),
            "22000",
            "record 1 has company_id = \"Company 1\"",
        ),
        (
            "a many2one whose id is not an integer",
            wrong("currency_id", json!(["1", "PHP"])),
            "22000",
            "false or [id, name]",
        ),
        (
            "a boolean that is a string",
            wrong("active", json!("yes")),
            "22000",
            "active = \"yes\", but Odoo's values of that field are true or false",
        ),
        ("a char field that is a number", wrong("name", json!(42)), "22000", "name = 42"),
        (
            "a datetime that is not one",
            wrong("create_date", json!("yesterday")),
            "22000",
            "a datetime YYYY-MM-DD HH:MM:SS",
        ),
        ("a null where Odoo sends false", wrong("company_id", Value::Null), "22000", "company_id = null"),
    ]);
    for (case, page, code, says) in cases {
        let url = fake_odoo(page, "200 OK", String::new());
        expect_refusal(case, &url, code, says);
    }
    // Invalid UTF-8 in the body.
    let mut bad = br#"{"jsonrpc": "2.0", "id": 1, "result": [{"id": 1, "name": ""#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe]);
    bad.extend_from_slice(br#""}]}"#);
    expect_refusal("invalid UTF-8", &fake_odoo(bad, "200 OK", String::new()), "08P01", "UTF-8");
}

#[test]
fn a_redirect_to_another_host_is_not_followed_and_gets_no_credentials() {
    let elsewhere = Receiver::start();
    let url = fake_odoo(Vec::new(), "302 Found", format!("Location: {}/jsonrpc\r\n", elsewhere.url));
    expect_refusal("a redirect", &url, "08P01", "redirects are not followed");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(elsewhere.received().is_empty(), "the other host got {:?}", elsewhere.received());
}
