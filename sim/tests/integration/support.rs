//! Test support: start simulators in-process on 127.0.0.1:0 and talk raw HTTP/1.1 to them
//! with a tiny std::net client (so that faults such as resets and truncation are observable).

#![allow(dead_code)]

use odoo_sim::{Config, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const KEY: &str = "test-api-key";

pub fn config(orders: usize) -> Config {
    Config { listen: "127.0.0.1:0".into(), orders, api_key: Some(KEY.into()), ..Config::default() }
}

pub fn start(cfg: Config) -> Server {
    odoo_sim::start(cfg).expect("simulator starts")
}

/// A small default instance (Odoo 19) for tests that only read.
pub fn sim() -> Server {
    start(config(400))
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request on a fresh connection and reads until the server closes it.
/// Returns the raw bytes received, or the I/O error that ended the read. `timeout` bounds the
/// whole exchange (a dripping server never lets a per-read timeout expire).
pub fn raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> (Vec<u8>, Option<std::io::Error>) {
    let deadline = std::time::Instant::now() + timeout;
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.write_all(request).expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return (buf, Some(std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline")));
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut chunk) {
            Ok(0) => return (buf, None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return (buf, Some(e)),
        }
    }
}

pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Splits a raw HTTP response; the body is everything after the headers (not trimmed to
/// Content-Length, so that truncation stays visible).
pub fn parse_raw(bytes: &[u8]) -> Resp {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Resp { status, headers, body: bytes[end + 4..].to_vec() }
}

pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let (bytes, err) = raw(addr, &request_bytes(method, path, headers, body), Duration::from_secs(30));
    if let Some(e) = err {
        panic!("{method} {path}: {e}");
    }
    let r = parse_raw(&bytes);
    if let Some(cl) = r.header("Content-Length") {
        assert_eq!(cl.parse::<usize>().expect("length"), r.body.len(), "body length matches Content-Length");
    }
    r
}

pub fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Resp {
    http(addr, "POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
}

/// A JSON-RPC call; returns the whole response object.
pub fn rpc(addr: SocketAddr, service: &str, method: &str, args: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}, "id": 7});
    let r = post_json(addr, "/jsonrpc", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// execute_kw as admin/admin on db "odoo"; returns the whole response object.
pub fn ek(addr: SocketAddr, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
    rpc(addr, "object", "execute_kw", json!(["odoo", 2, "admin", model, method, args, kwargs]))
}

/// execute_kw that must succeed; returns `result`.
pub fn ok(addr: SocketAddr, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
    let v = ek(addr, model, method, args, kwargs);
    assert!(v.get("error").is_none(), "unexpected error: {v}");
    v["result"].clone()
}

/// search_read returning the list of records.
pub fn sr(addr: SocketAddr, model: &str, domain: Value, kwargs: Value) -> Vec<Value> {
    ok(addr, model, "search_read", json!([domain]), kwargs).as_array().expect("list").clone()
}

pub fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().expect("id")).collect()
}

pub fn count(addr: SocketAddr, model: &str, domain: Value) -> u64 {
    ok(addr, model, "search_count", json!([domain]), json!({})).as_u64().expect("count")
}

/// JSON-2 call with a bearer key (or none).
pub fn json2(addr: SocketAddr, model: &str, method: &str, body: &Value, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("bearer {k}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http(addr, "POST", &format!("/json/2/{model}/{method}"), &headers, body.to_string().as_bytes())
}

pub fn control(addr: SocketAddr, path: &str, body: Value) -> Value {
    let r = post_json(addr, path, &body);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

pub fn control_get(addr: SocketAddr, path: &str) -> Value {
    let r = http(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// The error `data` of a JSON-RPC error response (panics when there is none).
pub fn err_data(v: &Value) -> &Value {
    v.get("error").map(|e| &e["data"]).unwrap_or_else(|| panic!("expected an error, got {v}"))
}
