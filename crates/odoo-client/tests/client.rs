//! The client against a scripted HTTP server on loopback: every way a call can fail becomes
//! the right typed error, and only transient failures are retried.

use odoo_client::{Client, ClientConfig, OdooError, Secret};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer: status line code, extra headers, body.
#[derive(Clone)]
struct Canned(u16, Vec<(&'static str, String)>, String);

struct Script {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn ok(result: serde_json::Value) -> Canned {
    Canned(200, vec![], json!({"jsonrpc": "2.0", "id": 1, "result": result}).to_string())
}

fn fault(name: &str, message: &str) -> Canned {
    Canned(200, vec![], json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 0, "message": "Odoo Server Error",
        "data": {"name": name, "message": message, "arguments": [message], "context": {}, "debug": "Traceback (most recent call last):\n secret internals"}}}).to_string())
}

const VERSION: &str = r#"{"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""], "server_serie": "19.0", "protocol_version": 1}"#;

/// Serves the canned answers in order, one per request (then 500s), recording request bodies.
fn serve(answers: Vec<Canned>) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            loop {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string());
                        }
                    }
                };
                let Some(body) = body else { break };
                seen.lock().unwrap().push(body);
                let Canned(status, headers, body) = answers.next().unwrap_or(Canned(500, vec![], "exhausted".into()));
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nDate: Wed, 25 Nov 2026 13:50:36 GMT\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes())).is_err() {
                    break;
                }
            }
        }
    });
    Script { url, requests }
}

fn client(url: &str) -> Client {
    let mut cfg = ClientConfig::new(url, "odoo", "admin", Secret("pa55word".into()));
    cfg.backoff = Duration::from_millis(10);
    cfg.max_retries = 2;
    cfg.timeout = Duration::from_secs(2);
    Client::new(cfg).unwrap()
}

fn connected(extra: Vec<Canned>) -> (Client, Script) {
    let mut answers = vec![ok(serde_json::from_str(VERSION).unwrap()), ok(json!(2))];
    answers.extend(extra);
    let s = serve(answers);
    let mut c = client(&s.url);
    c.connect().unwrap();
    (c, s)
}

fn page(c: &mut Client) -> Result<String, OdooError> {
    c.search_read_raw("pos.order", &json!([]), &["id".into()], "id asc", 10, &json!({"active_test": false}))
}

#[test]
fn reads_a_page_raw_and_odoos_clock() {
    let (mut c, s) = connected(vec![Canned(
        200,
        vec![],
        r#"{"jsonrpc":"2.0","id":1,"result":[{"id":1,"amount_total":4.81}]}"#.into(),
    )]);
    assert_eq!(page(&mut c).unwrap(), r#"[{"id":1,"amount_total":4.81}]"#, "numbers untouched");
    assert_eq!(odoo_client::time::format_odoo(c.server_time().unwrap()), "2026-11-25 13:50:36");
    let reqs = s.requests.lock().unwrap();
    assert!(reqs[2].contains(r#""method":"execute_kw""#) && reqs[2].contains(r#""active_test":false"#), "{}", reqs[2]);
}

#[test]
fn odoos_clock_for_planning_comes_from_an_answer_after_the_given_instant() {
    // A client kept between calls (a backend's cached session) must not plan on the Date of
    // an answer from before the caller's run: server_time_since asks Odoo again (common.version).
    let (mut c, s) = connected(vec![ok(serde_json::from_str(VERSION).unwrap())]);
    let before_run = std::time::Instant::now() - Duration::from_secs(1);
    assert!(c.server_time_since(before_run).is_ok(), "the login's answer is recent enough");
    assert_eq!(s.requests.lock().unwrap().len(), 2, "no extra call for a recent answer");
    let run_start = std::time::Instant::now();
    let t = c.server_time_since(run_start).unwrap();
    assert_eq!(odoo_client::time::format_odoo(t), "2026-11-25 13:50:36");
    let reqs = s.requests.lock().unwrap();
    assert_eq!(reqs.len(), 3, "one fresh call for a run that started after the last answer");
    assert!(reqs[2].contains(r#""method":"version""#), "{}", reqs[2]);
}

#[test]
fn a_false_authenticate_is_auth_failed() {
    let s = serve(vec![ok(serde_json::from_str(VERSION).unwrap()), ok(json!(false))]);
    let e = client(&s.url).connect().unwrap_err();
    assert_eq!(e, OdooError::AuthFailed { db: "odoo".into(), login: "admin".into() });
    assert!(!e.to_string().contains("pa55word"));
}

#[test]
fn odoo_faults_are_typed_not_retried_and_hide_the_traceback() {
    let (mut c, s) = connected(vec![fault("odoo.exceptions.AccessDenied", "Access Denied")]);
    let e = page(&mut c).unwrap_err();
    assert!(e.is_access_denied());
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("Traceback"), "{e}");
    assert_eq!(s.requests.lock().unwrap().len(), 3, "not retried");
}

#[test]
fn transient_http_errors_are_retried_then_succeed() {
    let (mut c, s) = connected(vec![
        Canned(502, vec![], "<html>Bad Gateway</html>".into()),
        Canned(429, vec![("Retry-After", "1".into())], "slow down".into()),
        ok(json!([{"id": 5}])),
    ]);
    let started = std::time::Instant::now();
    assert_eq!(page(&mut c).unwrap(), r#"[{"id":5}]"#);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(s.requests.lock().unwrap().len(), 5);
    assert_eq!(c.stats.retries, 2);
}

#[test]
fn a_429_holds_back_every_client_forked_from_the_same_one() {
    let s = serve(vec![
        ok(serde_json::from_str(VERSION).unwrap()),
        ok(json!(2)),
        Canned(429, vec![("Retry-After", "2".into())], "slow down".into()),
        ok(json!([{"id": 5}])),
    ]);
    let mut cfg = ClientConfig::new(&s.url, "odoo", "admin", Secret("pa55word".into()));
    cfg.max_retries = 0;
    cfg.timeout = Duration::from_secs(5);
    let mut first = Client::new(cfg).unwrap();
    first.connect().unwrap();
    let mut stream = first.fork().unwrap();
    // No retry budget: the first client gives up at once, but the wait Odoo asked for holds.
    let e = page(&mut first).unwrap_err();
    assert!(matches!(e, OdooError::Http { status: 429, .. }), "{e:?}");
    drop(first); // its connection closes, so the scripted server serves the next one
    let started = std::time::Instant::now();
    assert_eq!(page(&mut stream).unwrap(), r#"[{"id":5}]"#);
    assert!(started.elapsed() >= Duration::from_millis(1900), "the fork waited: {:?}", started.elapsed());
}

#[test]
fn retries_are_bounded() {
    let (mut c, s) = connected(vec![Canned(503, vec![], "down".into()); 5]);
    let e = page(&mut c).unwrap_err();
    assert!(matches!(e, OdooError::Http { status: 503, .. }), "{e:?}");
    assert_eq!(s.requests.lock().unwrap().len(), 2 + 3, "one try and two retries");
}

#[test]
fn a_500_is_not_retried() {
    let (mut c, s) = connected(vec![Canned(500, vec![], "boom".into()), ok(json!([]))]);
    assert!(matches!(page(&mut c).unwrap_err(), OdooError::Http { status: 500, .. }));
    assert_eq!(s.requests.lock().unwrap().len(), 3);
}

#[test]
fn garbage_and_wrong_shapes_are_protocol_errors() {
    let (mut c, _s) = connected(vec![
        Canned(200, vec![], "<html>Maintenance</html>".into()),
        ok(json!({"not": "a list"})),
        Canned(200, vec![], r#"{"jsonrpc":"2.0","id":1}"#.into()),
    ]);
    for _ in 0..3 {
        assert!(matches!(page(&mut c).unwrap_err(), OdooError::Protocol { .. }));
    }
}

#[test]
fn redirects_are_not_followed() {
    let (mut c, s) = connected(vec![Canned(301, vec![("Location", "http://evil.example/jsonrpc".into())], "".into())]);
    let e = page(&mut c).unwrap_err();
    assert!(matches!(&e, OdooError::Redirect { location, .. } if location == "http://evil.example/jsonrpc"), "{e:?}");
    assert_eq!(s.requests.lock().unwrap().len(), 3);
}

#[test]
fn oversized_responses_are_refused() {
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"result":["{}"]}}"#, "x".repeat(4096));
    let s = serve(vec![ok(serde_json::from_str(VERSION).unwrap()), ok(json!(2)), Canned(200, vec![], big)]);
    let mut cfg = ClientConfig::new(&s.url, "odoo", "admin", Secret("pw".into()));
    cfg.max_response_bytes = 1024;
    let mut c = Client::new(cfg).unwrap();
    c.connect().unwrap();
    assert!(matches!(page(&mut c).unwrap_err(), OdooError::TooLarge { limit: 1024, .. }));
}

#[test]
fn unreachable_and_timeouts() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = client(&format!("http://127.0.0.1:{port}")).connect().unwrap_err();
    assert!(matches!(e, OdooError::Connect { .. }), "{e:?}");
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let mut cfg = ClientConfig::new(&url, "odoo", "admin", Secret("pw".into()));
    cfg.timeout = Duration::from_millis(300);
    cfg.max_retries = 0;
    let e = Client::new(cfg).unwrap().connect().unwrap_err();
    assert!(matches!(e, OdooError::Timeout { .. }), "{e:?}");
    drop(silent);
}

#[test]
fn bad_settings_are_config_errors() {
    for (url, db, login, secret) in [
        ("odoo.example.com", "d", "l", "s"),
        ("ftp://x", "d", "l", "s"),
        ("http://x", "", "l", "s"),
        ("http://x", "d", "l", ""),
    ] {
        let r = Client::new(ClientConfig::new(url, db, login, Secret(secret.into())));
        assert!(matches!(r, Err(OdooError::Config(_))), "{url} {db} {login}");
    }
    assert_eq!(format!("{:?}", Secret("pw".into())), "Secret(***)");
}

/// Whether SIGHUP is blocked on the calling thread.
fn sighup_blocked() -> bool {
    // SAFETY: reads the calling thread's signal mask into a local set.
    unsafe {
        let mut current: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current);
        libc::sigismember(&current, libc::SIGHUP) == 1
    }
}

#[test]
fn threads_started_with_signals_blocked_never_take_a_signal_and_the_caller_gets_its_mask_back() {
    assert!(!sighup_blocked(), "a test thread takes signals");
    let inside = odoo_client::with_signals_blocked(|| std::thread::spawn(sighup_blocked).join().unwrap());
    assert!(inside, "a thread spawned inside starts with every signal blocked");
    assert!(!sighup_blocked(), "the caller's mask is restored");
    let unwound = std::panic::catch_unwind(|| odoo_client::with_signals_blocked(|| panic!("boom")));
    assert!(unwound.is_err());
    assert!(!sighup_blocked(), "restored after an unwind too");
}
