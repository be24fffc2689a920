//! The outgoing HTTP client of the webhooks: a URL check and one POST.
//!
//! A module of its own (no crate imports) because the command line checks `--webhook-url`
//! (config.rs) before any simulator exists: when this lived in webhook.rs, which needs the
//! simulator, config.rs → webhook.rs → sim.rs → config.rs made an import cycle.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// `http://host[:port]/path` → (host:port, host header, path).
pub fn parse_url(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported webhook URL {url:?}: only http://host[:port]/path is supported"))?;
    let (hostport, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if hostport.is_empty() || hostport.contains('@') {
        return Err(format!("unsupported webhook URL {url:?}: no host"));
    }
    let has_port = match hostport.rsplit_once(':') {
        Some((h, p)) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']'))
        }
        None => false,
    };
    let addr = if has_port { hostport.to_string() } else { format!("{hostport}:80") };
    Ok((addr, hostport.to_string(), path))
}

/// POSTs `body` as JSON with a total `timeout` (connect + write + status line), `Connection:
/// close`; returns the status, Err for a non-2xx status or any failure.
pub fn post(url: &str, body: &str, timeout: Duration) -> Result<u16, String> {
    let deadline = Instant::now() + timeout;
    let left = || {
        let d = deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err("timed out after 1s".to_string())
        } else {
            Ok(d)
        }
    };
    let (addr, host, path) = parse_url(url)?;
    let addrs: Vec<_> = addr.to_socket_addrs().map_err(|e| format!("cannot resolve {addr}: {e}"))?.collect();
    let mut stream = None;
    let mut last = format!("cannot resolve {addr}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, left()?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connect {a}: {e}"),
        }
    }
    let mut s = stream.ok_or(last)?;
    let _ = s.set_nodelay(true);
    // What python-requests sends, with Odoo's only header of its own: Content-Type.
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: python-requests/2.31.0\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    s.set_write_timeout(Some(left()?)).map_err(|e| e.to_string())?;
    s.write_all(&bytes).map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let line = loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&buf[..i]).into_owned();
        }
        s.set_read_timeout(Some(left()?)).map_err(|e| e.to_string())?;
        match s.read(&mut chunk) {
            Ok(0) => return Err("connection closed before a response".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err("timed out after 1s".into())
            }
            Err(e) => return Err(format!("receive: {e}")),
        }
        if buf.len() > 16 * 1024 {
            return Err("no status line".into());
        }
    };
    let status: u16 = line
        .strip_prefix("HTTP/")
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("HTTP {status}"))
    }
}
