//! Pages through every pos.order.line with search_read (all fields, 500 per page, `id > last`,
//! order "id asc") over one keep-alive connection, and reports records per second.
//!
//! usage: page_all URL [page_size] [model]
//! The client validates every response body as JSON (serde_json into `IgnoredAny`, which checks
//! the whole syntax without building a tree) and finds the records and the last id with a scan,
//! so the client costs little and the figure measures the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8069".into());
    let page: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
    let model = args.get(3).cloned().unwrap_or_else(|| "pos.order.line".into());
    let hostport = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let stream = TcpStream::connect(&hostport).expect("connect");
    stream.set_nodelay(true).ok();
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::with_capacity(1 << 20, stream);
    let (mut last, mut total, mut bytes, mut pages) = (0u64, 0u64, 0u64, 0u64);
    let t0 = Instant::now();
    loop {
        let body = format!(
            r#"{{"jsonrpc":"2.0","method":"call","params":{{"service":"object","method":"execute_kw","args":["odoo",2,"admin","{model}","search_read",[[["id",">",{last}]]],{{"fields":[],"limit":{page},"order":"id asc"}}]}},"id":{pages}}}"#
        );
        let req = format!("POST /jsonrpc HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        w.write_all(req.as_bytes()).expect("send");
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).expect("read header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("Content-Length:").or_else(|| l.strip_prefix("content-length:")) {
                len = v.trim().parse().expect("content-length");
            }
        }
        let mut buf = vec![0u8; len];
        r.read_exact(&mut buf).expect("read body");
        bytes += len as u64;
        let _: serde::de::IgnoredAny = serde_json::from_slice(&buf).expect("valid JSON");
        pages += 1;
        // Records are objects whose first key is "id" (odoo's read() order); nothing else in a
        // pos.order.line record is an object, so each `{"id": ` starts one record.
        let marker = b"{\"id\": ";
        let starts: Vec<usize> =
            buf.windows(marker.len()).enumerate().filter(|(_, w)| *w == marker).map(|(i, _)| i).collect();
        if starts.is_empty() {
            assert!(
                buf.ends_with(b"\"result\": []}"),
                "unexpected body: {}",
                String::from_utf8_lossy(&buf[..buf.len().min(300)])
            );
            break;
        }
        total += starts.len() as u64;
        let tail = &buf[starts[starts.len() - 1] + marker.len()..];
        let digits: String = tail.iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
        last = digits.parse().expect("id");
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "records={} pages={} bytes={} seconds={:.3} records_per_sec={:.0}",
        total,
        pages,
        bytes,
        secs,
        total as f64 / secs
    );
}
