//! Every fault kind, observed from a raw client.

use crate::support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn set_faults(addr: SocketAddr, faults: Value) {
    let r = control(addr, "/sim/faults", json!({"faults": faults}));
    assert!(r["faults"].is_u64());
}

fn search_body() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "method": "call", "id": 3, "params": {"service": "object", "method": "execute_kw",
        "args": ["odoo", 2, "admin", "pos.order.line", "search_read", [[]], {"limit": 200}]}})
    .to_string()
    .into_bytes()
}

fn search_raw(addr: SocketAddr, timeout: Duration) -> (Vec<u8>, Option<std::io::Error>) {
    raw(addr, &request_bytes("POST", "/jsonrpc", &[("Content-Type", "application/json")], &search_body()), timeout)
}

fn search_ok(addr: SocketAddr) -> bool {
    let (bytes, err) = search_raw(addr, Duration::from_secs(10));
    err.is_none() && {
        let r = parse_raw(&bytes);
        r.status == 200 && serde_json::from_slice::<Value>(&r.body).map(|v| v.get("result").is_some()).unwrap_or(false)
    }
}

#[test]
fn latency_delays_then_answers() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "latency", "ms": 300, "match": {"method": "search_read"}}]));
    let t = Instant::now();
    assert!(search_ok(s.addr));
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    rpc(s.addr, "common", "version", json!([]));
    assert!(t.elapsed() < Duration::from_millis(300), "other methods are not delayed");
}

#[test]
fn http_status_with_retry_after() {
    let s = sim();
    set_faults(
        s.addr,
        json!([{"kind": "http_status", "status": 429, "retry_after": 7, "times": 1}, {"kind": "http_status", "status": 502}]),
    );
    let r = http(s.addr, "POST", "/jsonrpc", &[], &search_body());
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("7"));
    assert!(r.text().contains("429 Too Many Requests"));
    let r = http(s.addr, "POST", "/jsonrpc", &[], &search_body());
    assert_eq!(r.status, 502);
    assert!(r.header("Retry-After").is_none());
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    control_delete(s.addr);
    assert!(search_ok(s.addr));
}

fn control_delete(addr: SocketAddr) {
    let r = http(addr, "DELETE", "/sim/faults", &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn reset_breaks_the_connection_mid_body() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "reset"}]));
    let (bytes, err) = search_raw(s.addr, Duration::from_secs(10));
    let short = bytes.windows(4).any(|w| w == b"\r\n\r\n") && {
        let r = parse_raw(&bytes);
        let cl: usize = r.header("Content-Length").unwrap().parse().unwrap();
        r.body.len() < cl
    };
    match err {
        Some(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        None => assert!(short, "either an RST error or a short body"),
    }
}

#[test]
fn truncated_json_variants() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "truncated_json", "times": 1}, {"kind": "truncated_json_framed", "times": 1}]));
    let (bytes, err) = search_raw(s.addr, Duration::from_secs(10));
    assert!(err.is_none());
    let r = parse_raw(&bytes);
    let cl: usize = r.header("Content-Length").unwrap().parse().unwrap();
    assert!(r.body.len() < cl && !r.body.is_empty(), "short body: {} < {}", r.body.len(), cl);
    let (bytes, err) = search_raw(s.addr, Duration::from_secs(10));
    assert!(err.is_none());
    let r = parse_raw(&bytes);
    assert_eq!(r.header("Content-Length").unwrap().parse::<usize>().unwrap(), r.body.len(), "well framed");
    assert!(serde_json::from_slice::<Value>(&r.body).is_err(), "but not valid JSON");
    assert!(r.body.starts_with(b"{\"jsonrpc\": \"2.0\""));
    assert!(search_ok(s.addr));
}

#[test]
fn invalid_json_odoo_fault_access_denied_session_expired() {
    let s = sim();
    set_faults(
        s.addr,
        json!([
            {"kind": "invalid_json", "times": 1},
            {"kind": "odoo_fault", "name": "odoo.exceptions.ValidationError", "message": "Boom", "times": 1},
            {"kind": "access_denied", "times": 1},
            {"kind": "session_expired", "times": 1}
        ]),
    );
    let r = http(s.addr, "POST", "/jsonrpc", &[], &search_body());
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert!(r.text().contains("<html>"));
    let v = http(s.addr, "POST", "/jsonrpc", &[], &search_body()).json();
    assert_eq!(v["id"], json!(3));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.ValidationError"));
    assert_eq!(err_data(&v)["message"], json!("Boom"));
    assert_eq!(v["error"]["code"], json!(0));
    let v = http(s.addr, "POST", "/jsonrpc", &[], &search_body()).json();
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.AccessDenied"));
    assert_eq!(err_data(&v)["debug"], json!("odoo.exceptions.AccessDenied: Access Denied\n"));
    let v = http(s.addr, "POST", "/jsonrpc", &[], &search_body()).json();
    assert_eq!(v["error"]["code"], json!(100));
    assert_eq!(v["error"]["message"], json!("Odoo Session Expired"));
    assert_eq!(err_data(&v)["name"], json!("odoo.http.SessionExpiredException"));
    assert_eq!(err_data(&v)["message"], json!("Session expired"));
    assert!(search_ok(s.addr));
}

#[test]
fn drip_is_slower_than_any_timeout() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "drip", "bytes_per_sec": 20}]));
    let t = Instant::now();
    let (bytes, err) = search_raw(s.addr, Duration::from_millis(700));
    let e = err.expect("the read times out");
    assert!(matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{e}");
    assert!(bytes.len() < 100, "only a trickle arrived: {}", bytes.len());
    assert!(t.elapsed() >= Duration::from_millis(600));
    assert!(bytes.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn oversize_gives_a_huge_valid_result() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "oversize", "bytes": 1_000_001}]));
    let r = http(s.addr, "POST", "/jsonrpc", &[], &search_body());
    assert_eq!(r.body.len(), 1_000_001);
    let v = r.json();
    assert_eq!(v["id"], json!(3));
    assert!(v["result"].as_array().unwrap().len() > 300_000);
    let r = json2(s.addr, "pos.order", "search", &json!({"domain": []}), Some(KEY));
    assert_eq!(r.body.len(), 1_000_001);
    assert!(r.json().is_array());
}

#[test]
fn api_key_expired() {
    let s = sim();
    set_faults(s.addr, json!([{"kind": "api_key_expired"}]));
    let r = json2(s.addr, "pos.order", "search", &json!({"domain": []}), Some(KEY));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], json!("Invalid apikey"));
    let v = rpc(s.addr, "object", "execute_kw", json!(["odoo", 2, KEY, "pos.order", "search_count", [[]]]));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.AccessDenied"));
    assert_eq!(rpc(s.addr, "common", "authenticate", json!(["odoo", "admin", KEY, {}]))["result"], json!(false));
}

#[test]
fn skip_times_match_and_probability() {
    let s = sim();
    set_faults(
        s.addr,
        json!([{"kind": "http_status", "status": 503, "skip": 2, "times": 2, "match": {"path": "/jsonrpc", "service": "object", "model": "pos.order.line", "method": "search_read"}}]),
    );
    let statuses: Vec<u16> = (0..6).map(|_| http(s.addr, "POST", "/jsonrpc", &[], &search_body()).status).collect();
    assert_eq!(statuses, vec![200, 200, 503, 503, 200, 200]);
    // Other calls never match.
    assert_eq!(rpc(s.addr, "common", "version", json!([]))["result"]["server_serie"], json!("19.0"));
    assert_eq!(count(s.addr, "pos.order", json!([])), 400);
    let stats = control_get(s.addr, "/sim/stats");
    assert_eq!(stats["faults"]["fired"], json!(2));
    assert_eq!(stats["faults"]["by_kind"]["http_status"], json!(2));
    assert_eq!(stats["requests"]["by_call"]["pos.order.line/search_read"], json!(6));
    assert_eq!(stats["requests"]["by_call"]["common/version"], json!(1));
    assert!(stats["requests"]["total"].as_u64().unwrap() >= 8);

    set_faults(
        s.addr,
        json!([{"kind": "http_status", "status": 500, "probability": 0.5, "match": {"method": "search_count"}}]),
    );
    let failed = (0..200)
        .filter(|_| http(s.addr, "POST", "/jsonrpc", &[], json!({"jsonrpc": "2.0", "id": 1, "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "search_count", [[]]]}}).to_string().as_bytes()).status == 500)
        .count();
    assert!((60..=140).contains(&failed), "about half fail: {failed}");
    // JSON-2 method names match too; control endpoints are never faulted.
    set_faults(
        s.addr,
        json!([{"kind": "http_status", "status": 504, "match": {"path": "/json/2", "method": "search"}}]),
    );
    assert_eq!(json2(s.addr, "pos.order", "search", &json!({"domain": []}), Some(KEY)).status, 504);
    assert_eq!(json2(s.addr, "pos.order", "search_count", &json!({"domain": []}), Some(KEY)).status, 200);
    assert_eq!(http(s.addr, "GET", "/sim/clock", &[], b"").status, 200);
}

#[test]
fn faults_from_the_command_line() {
    let s = start(odoo_sim::Config {
        faults: Some(r#"{"faults":[{"kind":"http_status","status":503,"times":1}]}"#.into()),
        ..config(30)
    });
    assert_eq!(http(s.addr, "GET", "/web/version", &[], b"").status, 503);
    assert_eq!(http(s.addr, "GET", "/web/version", &[], b"").status, 200);
    let bad = odoo_sim::Sim::new(odoo_sim::Config {
        faults: Some("{\"faults\":[{\"kind\":\"nope\"}]}".into()),
        ..config(10)
    });
    assert!(bad.is_err());
}
