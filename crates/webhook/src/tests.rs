use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn hints() -> Arc<Hints> {
    let h = Arc::new(Hints::default());
    h.set_token(Some(TOKEN.into()));
    h.set_synced(["pos.order".to_string(), "res.partner".to_string()]);
    h
}

fn wake() {}

/// Only the first test's listener counts its wakes here.
static WOKEN: AtomicUsize = AtomicUsize::new(0);
fn counting_wake() {
    WOKEN.fetch_add(1, Ordering::SeqCst);
}

/// Sends raw bytes and returns the status code and the whole answer.
fn send(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(raw).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send(addr, raw.as_bytes())
}

const ODOO_BODY: &str = r#"{"_action": "odoo_sync: pos.order changed(#12)", "_id": 7, "_model": "pos.order", "id": 7, "write_date": "2026-12-02 10:00:00"}"#;

#[test]
fn a_valid_hint_is_accepted_coalesced_and_wakes_once_per_new_model() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), counting_wake).unwrap();
    let woken = WOKEN.load(Ordering::SeqCst);
    for _ in 0..50 {
        assert_eq!(post(l.local_addr(), &format!("{PATH_PREFIX}{TOKEN}"), ODOO_BODY).0, 202);
    }
    assert_eq!(h.take(), vec!["pos.order".to_string()]);
    assert!(h.take().is_empty(), "taken once");
    assert_eq!(WOKEN.load(Ordering::SeqCst) - woken, 1, "one wake for the first hint of a model");
    assert_eq!(h.counts().accepted, 50);
}

#[test]
fn a_wrong_or_missing_token_is_404_and_hints_nothing() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let wrong = format!("{PATH_PREFIX}{}", TOKEN.replace('0', "1"));
    let (status, answer) = post(l.local_addr(), &wrong, ODOO_BODY);
    assert_eq!(status, 404);
    assert!(!answer.contains(TOKEN) && !answer.contains(&wrong[PATH_PREFIX.len()..]));
    assert_eq!(post(l.local_addr(), PATH_PREFIX, ODOO_BODY).0, 404);
    assert_eq!(post(l.local_addr(), "/", ODOO_BODY).0, 404);
    assert_eq!(post(l.local_addr(), &format!("{PATH_PREFIX}{TOKEN}x"), ODOO_BODY).0, 404);
    // No token set yet: nothing is accepted.
    h.set_token(None);
    assert_eq!(post(l.local_addr(), &format!("{PATH_PREFIX}{TOKEN}"), ODOO_BODY).0, 404);
    assert!(h.take().is_empty());
    assert_eq!(h.counts().not_found, 5);
}

#[test]
fn bodies_that_are_not_odoo_webhooks_are_400_and_large_ones_413() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let path = format!("{PATH_PREFIX}{TOKEN}");
    for body in [
        "",
        "not json",
        "[1,2]",
        r#"{"_id": 1}"#,
        r#"{"_model": "pos.order"}"#,
        r#"{"_model": "pos.order", "_id": -1}"#,
        r#"{"_model": "pos order; drop", "_id": 1}"#,
    ] {
        assert_eq!(post(l.local_addr(), &path, body).0, 400, "{body}");
    }
    let big = format!(r#"{{"_model": "pos.order", "_id": 1, "pad": "{}"}}"#, "x".repeat(MAX_BODY));
    assert_eq!(post(l.local_addr(), &path, &big).0, 413);
    // Announced as too large: refused before the body is read.
    let raw = format!("POST {path} HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
    assert_eq!(send(l.local_addr(), raw.as_bytes()).0, 413);
    let raw = format!("GET {path} HTTP/1.1\r\n\r\n");
    assert_eq!(send(l.local_addr(), raw.as_bytes()).0, 405);
    let raw = format!("POST {path} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(send(l.local_addr(), raw.as_bytes()).0, 400);
    assert!(h.take().is_empty());
    assert_eq!(h.counts().refused, 11);
}

#[test]
fn hints_for_models_not_synced_are_counted_and_ignored() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let body = r#"{"_action": "x(#1)", "_id": 3, "_model": "stock.move"}"#;
    assert_eq!(post(l.local_addr(), &format!("{PATH_PREFIX}{TOKEN}"), body).0, 202);
    assert!(h.take().is_empty());
    assert_eq!(h.counts().ignored, 1);
    assert_eq!(h.ignored_models(), vec![("stock.move".to_string(), 1)]);
}

#[test]
fn a_slow_client_does_not_hold_up_the_others() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    // Sends half a request and waits.
    let mut slow = TcpStream::connect(l.local_addr()).unwrap();
    slow.write_all(b"POST /odoo/webhook/").unwrap();
    let t = std::time::Instant::now();
    assert_eq!(post(l.local_addr(), &format!("{PATH_PREFIX}{TOKEN}"), ODOO_BODY).0, 202);
    assert!(t.elapsed() < Duration::from_millis(300), "answered in {:?}", t.elapsed());
    drop(slow);
}

#[test]
fn the_token_comparison_needs_every_byte() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn stopping_frees_the_port() {
    let l = Listener::start("127.0.0.1:0", hints(), wake).unwrap();
    let addr = l.local_addr();
    l.stop();
    let again = Listener::start(&addr.to_string(), hints(), wake).unwrap();
    assert_eq!(again.local_addr(), addr);
}

/// accept() failing for want of descriptors or memory is retried after a pause, not at once
/// (attack_tests.rs checks the listener's CPU while the process is out of descriptors).
#[cfg(target_os = "linux")]
#[test]
fn accept_errors_for_want_of_resources_back_off() {
    use server::{after_accept_error, AfterAcceptError, ACCEPT_BACKOFF};
    assert!(ACCEPT_BACKOFF >= Duration::from_millis(50) && ACCEPT_BACKOFF <= Duration::from_millis(100));
    // EMFILE, ENFILE, ENOBUFS, ENOMEM (Linux's numbers).
    for errno in [24, 23, 105, 12] {
        let e = io::Error::from_raw_os_error(errno);
        assert_eq!(after_accept_error(&e), AfterAcceptError::RetryAfter(ACCEPT_BACKOFF), "{e}");
    }
    assert_eq!(after_accept_error(&io::ErrorKind::WouldBlock.into()), AfterAcceptError::WaitForEvent);
    for kind in [io::ErrorKind::Interrupted, io::ErrorKind::ConnectionAborted] {
        assert_eq!(after_accept_error(&kind.into()), AfterAcceptError::RetryNow, "{kind:?}");
    }
}

/// Feeds a request to the incremental reader in pieces of `piece` bytes, taking no more than it
/// asks for; the outcome and the most bytes it held.
fn read_in_pieces(raw: &[u8], piece: usize) -> (Option<Result<Request, http::Refusal>>, usize) {
    let mut reader = http::RequestReader::new(MAX_BODY);
    let mut rest = raw;
    let mut held = 0;
    while !rest.is_empty() {
        let n = piece.min(reader.room()).min(rest.len());
        assert!(n > 0, "the reader asks for nothing while it needs more");
        let (now, later) = rest.split_at(n);
        rest = later;
        held += n;
        match reader.push(now) {
            http::Parsed::NeedMore => {}
            http::Parsed::Complete(req) => return (Some(Ok(req)), held),
            http::Parsed::Refused(why) => return (Some(Err(why)), held),
        }
    }
    (None, held)
}

fn request_with_head_of(len: usize) -> Vec<u8> {
    let start = format!("POST {PATH_PREFIX}{TOKEN} HTTP/1.1\r\nContent-Length: {}\r\nX-Pad: ", ODOO_BODY.len());
    format!("{start}{}\r\n\r\n{ODOO_BODY}", "p".repeat(len - start.len() - 4)).into_bytes()
}

#[test]
fn the_reader_takes_a_request_in_any_pieces() {
    let raw = format!("POST /a?b=c HTTP/1.1\r\nContent-Length: {}\r\n\r\n{ODOO_BODY}", ODOO_BODY.len());
    for piece in [1, 2, 3, 7, 4096, usize::MAX] {
        let (read, held) = read_in_pieces(raw.as_bytes(), piece);
        let req = read.unwrap().unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str(), req.body.as_slice()), ("POST", "/a", ODOO_BODY.as_bytes()));
        assert_eq!(held, raw.len(), "pieces of {piece}");
    }
    // Bytes after the announced body are not part of it; once the head is read, none is asked for.
    let pipelined = format!("{raw}GET / HTTP/1.1\r\n\r\n");
    for piece in [1, 4096] {
        let (read, held) = read_in_pieces(pipelined.as_bytes(), piece);
        assert_eq!(read.unwrap().unwrap().body, ODOO_BODY.as_bytes());
        assert!(piece > 1 || held == raw.len(), "{held}");
    }
    // An incomplete request is not complete.
    assert!(read_in_pieces(&raw.as_bytes()[..raw.len() - 1], 5).0.is_none());
}

#[test]
fn the_reader_never_holds_more_head_than_the_limit() {
    let (read, _) = read_in_pieces(&request_with_head_of(http::MAX_HEAD), 4096);
    assert_eq!(read.unwrap().unwrap().body, ODOO_BODY.as_bytes());
    for len in [http::MAX_HEAD + 1, 17_000, 20_000] {
        for piece in [1, 1000, 4096, usize::MAX] {
            let (read, held) = read_in_pieces(&request_with_head_of(len), piece);
            assert!(matches!(read, Some(Err(http::Refusal::Malformed(_)))), "a head of {len} in pieces of {piece}");
            assert_eq!(held, http::MAX_HEAD, "a head of {len} in pieces of {piece}");
        }
    }
    // A body announced too large is refused at the head.
    let raw = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
    assert_eq!(read_in_pieces(raw.as_bytes(), 10).0.unwrap().unwrap_err(), http::Refusal::TooLarge);
}
