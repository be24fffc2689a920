//! A small HTTP/1.1 server on std::net: one thread per connection, keep-alive, Content-Length
//! (and chunked) request bodies, `Connection: close` honoured.
//!
//! It is hand-written because fault injection needs raw control of the socket: resetting a
//! connection mid-body (SO_LINGER 0), sending half a body, or dripping bytes slowly.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const MAX_HEADER: usize = 64 * 1024;
const MAX_BODY: usize = 256 * 1024 * 1024;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How the bytes of a response reach the client (faults change this).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delivery {
    Normal,
    /// Headers and part of the body, then an RST (SO_LINGER 0).
    Reset,
    /// Full Content-Length announced, half the body sent, then FIN.
    Truncated,
    /// Content-Length of the half body actually sent: well framed, broken JSON.
    TruncatedFramed,
    /// The whole response at this many bytes per second.
    Drip(f64),
}

#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
    pub close: bool,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delivery: Delivery::Normal,
            close: false,
        }
    }
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "application/json; charset=utf-8", body)
    }
    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }
    pub fn header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "BAD REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT FOUND",
        405 => "METHOD NOT ALLOWED",
        411 => "LENGTH REQUIRED",
        413 => "REQUEST ENTITY TOO LARGE",
        422 => "UNPROCESSABLE ENTITY",
        429 => "TOO MANY REQUESTS",
        500 => "INTERNAL SERVER ERROR",
        502 => "BAD GATEWAY",
        503 => "SERVICE UNAVAILABLE",
        504 => "GATEWAY TIMEOUT",
        _ => "UNKNOWN",
    }
}

/// What the server calls for each request; `date` gives the Date header (the sim's clock).
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;
    fn date(&self) -> String;
}

pub fn serve<H: Handler>(listener: TcpListener, handler: Arc<H>) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let h = handler.clone();
        let _ = std::thread::Builder::new().name("odoo-sim-conn".into()).spawn(move || {
            let _ = connection(stream, &*h);
        });
    }
}

enum ReadErr {
    Closed,
    Bad(u16, &'static str),
    Io,
}

fn read_request(r: &mut BufReader<TcpStream>, w: &mut TcpStream) -> Result<Request, ReadErr> {
    let mut line = String::new();
    // Skip stray CRLFs between pipelined requests.
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return Err(ReadErr::Closed),
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => break,
            Err(_) => return Err(ReadErr::Io),
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), version) = (parts.next(), parts.next(), parts.next().unwrap_or("HTTP/1.0")) else {
        return Err(ReadErr::Bad(400, "Bad request line"));
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let mut headers = Vec::new();
    let mut total = line.len();
    loop {
        let mut h = String::new();
        match r.read_line(&mut h) {
            Ok(0) => return Err(ReadErr::Closed),
            Ok(n) => total += n,
            Err(_) => return Err(ReadErr::Io),
        }
        if total > MAX_HEADER {
            return Err(ReadErr::Bad(431, "Request headers too large"));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    let conn = get("Connection").unwrap_or_default().to_ascii_lowercase();
    let keep_alive = if version == "HTTP/1.1" { !conn.contains("close") } else { conn.contains("keep-alive") };
    if get("Expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let mut body = Vec::new();
    if get("Transfer-Encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size_line = String::new();
            if r.read_line(&mut size_line).map_err(|_| ReadErr::Io)? == 0 {
                return Err(ReadErr::Closed);
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| ReadErr::Bad(400, "Bad chunk size"))?;
            if size == 0 {
                // Trailers until an empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t).map_err(|_| ReadErr::Io)? == 0 || t.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadErr::Bad(413, "Request body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).map_err(|_| ReadErr::Io)?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).map_err(|_| ReadErr::Io)?;
        }
    } else if let Some(cl) = get("Content-Length") {
        let n: usize = cl.trim().parse().map_err(|_| ReadErr::Bad(400, "Bad Content-Length"))?;
        if n > MAX_BODY {
            return Err(ReadErr::Bad(413, "Request body too large"));
        }
        body.resize(n, 0);
        r.read_exact(&mut body).map_err(|_| ReadErr::Io)?;
    }
    Ok(Request { method: method.to_string(), path, query, headers, body, keep_alive })
}

fn connection<H: Handler>(stream: TcpStream, h: &H) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Idle keep-alive connections are dropped after a while so threads do not pile up.
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let req = match read_request(&mut r, &mut w) {
            Ok(req) => req,
            Err(ReadErr::Closed) | Err(ReadErr::Io) => return Ok(()),
            Err(ReadErr::Bad(status, msg)) => {
                let mut resp = Response::new(status, "text/plain; charset=utf-8", msg);
                resp.close = true;
                return send(&mut w, resp, &h.date());
            }
        };
        let mut resp = h.handle(&req);
        if !req.keep_alive {
            resp.close = true;
        }
        let close = resp.close || resp.delivery != Delivery::Normal;
        send(&mut w, resp, &h.date())?;
        if close {
            return Ok(());
        }
    }
}

fn head(resp: &Response, date: &str, content_length: usize, close: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: Werkzeug/3.0.1 Python/3.12.3\r\n",
        resp.status,
        reason(resp.status),
        date
    );
    for (k, v) in &resp.headers {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str(&format!("Content-Length: {}\r\n", content_length));
    if close {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn send(w: &mut TcpStream, resp: Response, date: &str) -> io::Result<()> {
    let half = resp.body.len() / 2;
    match resp.delivery {
        Delivery::Normal => {
            let mut out = head(&resp, date, resp.body.len(), resp.close);
            out.extend_from_slice(&resp.body);
            w.write_all(&out)?;
            if resp.close {
                let _ = w.shutdown(Shutdown::Write);
            }
        }
        Delivery::Reset => {
            let mut out = head(&resp, date, resp.body.len(), false);
            out.extend_from_slice(&resp.body[..half]);
            w.write_all(&out)?;
            w.flush()?;
            // Give the client a moment to read the partial body before the RST tears it down.
            std::thread::sleep(Duration::from_millis(20));
            set_linger_zero(w);
        }
        Delivery::Truncated => {
            let mut out = head(&resp, date, resp.body.len(), true);
            out.extend_from_slice(&resp.body[..half]);
            w.write_all(&out)?;
            let _ = w.shutdown(Shutdown::Write);
        }
        Delivery::TruncatedFramed => {
            let mut out = head(&resp, date, half, true);
            out.extend_from_slice(&resp.body[..half]);
            w.write_all(&out)?;
            let _ = w.shutdown(Shutdown::Write);
        }
        Delivery::Drip(bps) => {
            let mut out = head(&resp, date, resp.body.len(), true);
            out.extend_from_slice(&resp.body);
            // Ten writes a second (or one byte per tick when slower); stop when the client leaves.
            let bps = bps.max(0.01);
            let per_tick = (bps / 10.0).floor().max(1.0) as usize;
            let tick = Duration::from_secs_f64(per_tick as f64 / bps);
            for chunk in out.chunks(per_tick) {
                w.write_all(chunk)?;
                std::thread::sleep(tick);
            }
            let _ = w.shutdown(Shutdown::Write);
        }
    }
    Ok(())
}

#[repr(C)]
struct Linger {
    l_onoff: i32,
    l_linger: i32,
}

extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const std::ffi::c_void, len: u32) -> i32;
}

/// SO_LINGER with a zero timeout: closing the socket then sends an RST instead of a FIN.
fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let l = Linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid fd owned by `s`, and a correctly sized `struct linger` that outlives the call.
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l as *const Linger as *const std::ffi::c_void,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}
