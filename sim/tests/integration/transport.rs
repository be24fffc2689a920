//! The HTTP layer and the binary: keep-alive, Connection: close, the ready line.

use crate::support::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn read_response(r: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("header line");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("content-length")
        .trim()
        .parse()
        .expect("number");
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("body");
    (head, body)
}

#[test]
fn keep_alive_then_connection_close() {
    let s = sim();
    let stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "common", "method": "version", "args": []}}).to_string();
    for i in 0..3 {
        let close = if i == 2 { "Connection: close\r\n" } else { "" };
        write!(w, "POST /jsonrpc HTTP/1.1\r\nHost: x\r\n{close}Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        let (head, b) = read_response(&mut r);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("\r\nDate: "), "{head}");
        assert_eq!(head.contains("Connection: close"), i == 2);
        assert!(String::from_utf8(b).unwrap().contains("\"server_serie\": \"19.0\""));
    }
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0, "closed after Connection: close");
    // Unknown paths are a 404 page; chunked request bodies are understood.
    assert_eq!(http(s.addr, "GET", "/nope", &[], b"").status, 404);
    let chunked = format!(
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        body.len(),
        body
    );
    let (bytes, err) = raw(s.addr, chunked.as_bytes(), Duration::from_secs(10));
    assert!(err.is_none());
    assert!(parse_raw(&bytes).text().contains("server_serie"));
}

#[test]
fn binary_prints_the_ready_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odoo-sim"))
        .args(["--listen", "127.0.0.1:0", "--orders", "50", "--seed", "9", "--version", "17", "--api-key", "k"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn odoo-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_string();
    let addr = url.parse().expect("an address");
    let v = rpc(addr, "common", "version", json!([]));
    assert_eq!(v["result"]["server_version"], json!("17.0"));
    assert_eq!(
        rpc(addr, "object", "execute_kw", json!(["odoo", 2, "k", "pos.order", "search_count", [[]]]))["result"],
        json!(50)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_odoo-sim")).args(["--version", "15"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
