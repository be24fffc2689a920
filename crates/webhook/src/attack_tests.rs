//! The listener under hostile clients: slow senders, floods of idle connections, oversized
//! heads, no descriptors left. Each test prints what it measured (`cargo test -- --nocapture`).
//!
//! These tests use the public API only, so that they run against any implementation of the
//! listener. All traffic goes to 127.0.0.1; every loop is bounded in count and in time.

use crate::{Hints, Listener, PATH_PREFIX};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TOKEN: &str = "fedcba9876543210fedcba9876543210";
const ODOO_BODY: &str = r#"{"_action": "odoo_sync: pos.order changed(#12)", "_id": 7, "_model": "pos.order", "id": 7, "write_date": "2026-12-02 10:00:00"}"#;

/// Odoo gives up on a webhook after this.
const ODOO_TIMEOUT: Duration = Duration::from_secs(1);

/// The head limit documented at the top of lib.rs.
const HEAD_LIMIT: usize = 16 * 1024;

fn hints() -> Arc<Hints> {
    let h = Arc::new(Hints::default());
    h.set_token(Some(TOKEN.into()));
    h.set_synced(["pos.order".to_string()]);
    h
}

fn wake() {}

fn hint_request() -> Vec<u8> {
    format!(
        "POST {PATH_PREFIX}{TOKEN} HTTP/1.1\r\nHost: odoo\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ODOO_BODY}",
        ODOO_BODY.len()
    )
    .into_bytes()
}

/// A valid hint whose head (blank line included) is exactly `len` bytes, padded by a header.
fn hint_request_with_head_of(len: usize) -> Vec<u8> {
    let start = format!("POST {PATH_PREFIX}{TOKEN} HTTP/1.1\r\nContent-Length: {}\r\nX-Pad: ", ODOO_BODY.len());
    let pad = len.checked_sub(start.len() + 4).expect("a head that long");
    format!("{start}{}\r\n\r\n{ODOO_BODY}", "p".repeat(pad)).into_bytes()
}

/// The status of an answer (0: none).
fn status_of(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(answer).split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Reads until the server closes, an error, or 2 s; what was read.
fn read_answer(s: &mut TcpStream) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    for _ in 0..64 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

/// Sends `raw` in pieces of `piece` bytes (a pause between them) and returns the answer's
/// status (0: none, e.g. the server reset the connection); never waits more than a few seconds.
fn send_in_pieces(addr: SocketAddr, raw: &[u8], piece: usize, pause: Duration) -> u16 {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return 0 };
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    for part in raw.chunks(piece) {
        if s.write_all(part).is_err() {
            break; // refused and closed by the server: its answer may be there to read
        }
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    status_of(&read_answer(&mut s))
}

/// Posts a valid hint (waiting at most 2 s to connect and 2 s for the answer): its status (0:
/// none) and how long it took.
fn timed_hint(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let status = send_in_pieces(addr, &hint_request(), usize::MAX, Duration::ZERO);
    (status, started.elapsed())
}

/// Posts valid hints one after the other, every 100 ms, for `during` (at most 40).
fn hints_during(addr: SocketAddr, during: Duration) -> Vec<(u16, Duration)> {
    let started = Instant::now();
    let mut answers = Vec::new();
    while started.elapsed() < during && answers.len() < 40 {
        answers.push(timed_hint(addr));
        std::thread::sleep(Duration::from_millis(100));
    }
    answers
}

/// Prints the answers' times and checks each was a 202 within Odoo's timeout.
fn assert_answered_in_time(what: &str, answers: &[(u16, Duration)]) {
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    let not_202 = answers.iter().filter(|(status, _)| *status != 202).count();
    println!("{what}: {} valid hints, median {median:?}, max {max:?}, {not_202} not answered 202", answers.len());
    for (status, time) in answers {
        assert_eq!(*status, 202, "{what}: a valid hint answered {status} after {time:?}");
        assert!(*time < ODOO_TIMEOUT, "{what}: a valid hint answered after {time:?}");
    }
    assert!(answers.len() >= 5, "too few hints posted: {}", answers.len());
}

/// Connections that send a request head one byte at a time and never finish it, from one thread.
struct SlowLoris {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Option<Duration>>>,
}

impl SlowLoris {
    /// Opens `n` connections and sends each a byte every `every`, for `run_for` at most.
    fn start(addr: SocketAddr, n: usize, every: Duration, run_for: Duration) -> SlowLoris {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || slow_loris(addr, n, every, run_for, &flag));
        SlowLoris { stop, thread }
    }

    /// Stops sending; per connection, how long after its connect the server was seen to close it
    /// (None: still open).
    fn finish(self) -> Vec<Option<Duration>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn slow_loris(
    addr: SocketAddr,
    n: usize,
    every: Duration,
    run_for: Duration,
    stop: &AtomicBool,
) -> Vec<Option<Duration>> {
    let head: Vec<u8> = format!("POST {PATH_PREFIX}{TOKEN} HTTP/1.1\r\nX-Slow: ").into_bytes();
    let started = Instant::now();
    let mut conns: Vec<(TcpStream, Instant, Option<Duration>)> = (0..n)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
        .filter(|s| s.set_nonblocking(true).is_ok())
        .map(|s| (s, Instant::now(), None))
        .collect();
    let rounds = (run_for.as_millis() / every.as_millis().max(1)) as usize + 1;
    for round in 0..rounds {
        if stop.load(Ordering::SeqCst) || started.elapsed() >= run_for {
            break;
        }
        let byte = head.get(round).copied().unwrap_or(b'a');
        for (s, connected, closed) in conns.iter_mut().filter(|(_, _, closed)| closed.is_none()) {
            if server_closed(s) || s.write(&[byte]).is_err() {
                *closed = Some(connected.elapsed());
            }
        }
        std::thread::sleep(every);
    }
    // A last look, for connections closed since the last round.
    for (s, connected, closed) in conns.iter_mut().filter(|(_, _, closed)| closed.is_none()) {
        if server_closed(s) {
            *closed = Some(connected.elapsed());
        }
    }
    conns.into_iter().map(|(_, _, closed)| closed).collect()
}

/// The server closed (or reset) this non-blocking connection.
fn server_closed(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => true, // it answered (a refusal): it closes next
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

#[test]
fn slow_loris_connections_do_not_delay_valid_hints_and_are_closed_at_their_deadline() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let loris = SlowLoris::start(l.local_addr(), 40, Duration::from_millis(300), Duration::from_millis(3300));
    std::thread::sleep(Duration::from_millis(200)); // let them connect
    let answers = hints_during(l.local_addr(), Duration::from_secs(3));
    let closed = loris.finish();
    let seen: Vec<Duration> = closed.iter().flatten().copied().collect();
    println!(
        "slow loris: {} connections, {} closed by the server, the last seen closed {:?} after its connect",
        closed.len(),
        seen.len(),
        seen.iter().max()
    );
    assert_answered_in_time("40 slow-loris connections", &answers);
    assert_eq!(closed.len(), 40, "every slow connection was opened");
    // The deadline is 2 s for the whole request; seen closed at the next byte sent (every 0.3 s).
    for (i, c) in closed.iter().enumerate() {
        let c = c.unwrap_or_else(|| panic!("slow connection {i} still open after 3.3 s"));
        assert!(c < Duration::from_millis(2700), "slow connection {i} closed only after {c:?}");
    }
}

#[test]
fn a_flood_of_idle_connections_does_not_delay_valid_hints() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let addr = l.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let flood =
        std::thread::spawn(move || idle_flood(addr, 100, Duration::from_millis(300), Duration::from_secs(3), &flag));
    std::thread::sleep(Duration::from_millis(100));
    let answers = hints_during(addr, Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let (opened, failed) = flood.join().unwrap();
    println!("idle flood: {opened} connections opened, {failed} connects failed or timed out");
    assert_answered_in_time("a flood of idle connections", &answers);
    assert!(opened >= 500, "the flood opened {opened} connections only");
    assert_eq!(h.counts().accepted as usize, answers.len());
}

/// Opens `per_round` connections that send nothing every `every`, for `run_for`; each is kept
/// open 1.2 s (longer than any idle deadline, and the client's descriptors stay few). Returns
/// the connections opened and the connects that failed.
fn idle_flood(
    addr: SocketAddr,
    per_round: usize,
    every: Duration,
    run_for: Duration,
    stop: &AtomicBool,
) -> (usize, usize) {
    const KEEP: Duration = Duration::from_millis(1200);
    let started = Instant::now();
    let mut open: VecDeque<(TcpStream, Instant)> = VecDeque::new();
    let (mut opened, mut failed) = (0, 0);
    let rounds = (run_for.as_millis() / every.as_millis().max(1)) as usize;
    for _ in 0..rounds {
        let round = Instant::now();
        for _ in 0..per_round {
            if stop.load(Ordering::SeqCst) || started.elapsed() >= run_for {
                return (opened, failed);
            }
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => {
                    open.push_back((s, Instant::now()));
                    opened += 1;
                }
                Err(_) => failed += 1,
            }
        }
        while open.front().is_some_and(|(_, at)| at.elapsed() > KEEP) {
            open.pop_front();
        }
        std::thread::sleep(every.saturating_sub(round.elapsed()));
    }
    (opened, failed)
}

#[test]
fn stop_returns_at_once_while_slow_connections_are_open() {
    let l = Listener::start("127.0.0.1:0", hints(), wake).unwrap();
    let addr = l.local_addr();
    let loris = SlowLoris::start(addr, 40, Duration::from_millis(300), Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(600));
    let started = Instant::now();
    l.stop();
    let took = started.elapsed();
    let closed = loris.finish();
    println!("stop() with 40 slow connections open took {took:?}");
    assert!(took < Duration::from_millis(500), "stop() took {took:?}");
    // Stopped: the port refuses (or nothing answers there any more).
    assert_eq!(timed_hint(addr).0, 0);
    assert!(closed.iter().all(Option::is_some), "every slow connection was closed by stop()");
}

#[test]
fn heads_over_the_limit_are_refused_whole_or_in_pieces() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let mut statuses = Vec::new();
    for len in [17_000, 18_500, 20_000] {
        let raw = hint_request_with_head_of(len);
        statuses.push((len, "whole", send_in_pieces(l.local_addr(), &raw, usize::MAX, Duration::ZERO)));
        statuses.push((len, "pieces", send_in_pieces(l.local_addr(), &raw, 1000, Duration::from_millis(2))));
    }
    println!("heads of 17 000 to 20 000 bytes: {statuses:?}");
    for (len, how, status) in &statuses {
        // 0: the answer was lost to the reset of a connection closed with bytes unread.
        assert!(*status == 400 || *status == 0, "a head of {len} bytes sent {how}: {status}");
    }
    assert!(h.take().is_empty(), "nothing hinted");
    assert_eq!(h.counts().accepted, 0);
    assert_eq!(h.counts().refused, statuses.len() as u64, "every one refused by the listener");
}

#[test]
fn a_head_of_exactly_the_limit_is_taken_one_byte_more_is_not() {
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    let at_limit = send_in_pieces(l.local_addr(), &hint_request_with_head_of(HEAD_LIMIT), usize::MAX, Duration::ZERO);
    let over = send_in_pieces(l.local_addr(), &hint_request_with_head_of(HEAD_LIMIT + 1), usize::MAX, Duration::ZERO);
    println!("a head of {HEAD_LIMIT} bytes: {at_limit}; of {} bytes: {over}", HEAD_LIMIT + 1);
    assert_eq!(at_limit, 202);
    assert!(over == 400 || over == 0, "one byte over the limit: {over}");
    assert_eq!(h.counts().accepted, 1);
    assert_eq!(h.counts().refused, 1);
}

/// Set in the child process of the test below.
const EMFILE_CHILD: &str = "ODOO_WEBHOOK_TEST_EMFILE_CHILD";

/// With no descriptor left, accept() fails (EMFILE) until one is freed: the listener must retry
/// later, not at once (a spinning thread). The test uses up its process's descriptors, so it
/// runs in a child process (this test binary again, this test only).
#[cfg(target_os = "linux")]
#[test]
fn accept_errors_back_off_instead_of_spinning() {
    if std::env::var_os(EMFILE_CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "attack_tests::accept_errors_back_off_instead_of_spinning", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(EMFILE_CHILD, "1")
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the child failed: {}", out.status);
        return;
    }
    out_of_descriptors();
}

#[cfg(target_os = "linux")]
fn out_of_descriptors() {
    use std::io::Seek;
    let h = hints();
    let l = Listener::start("127.0.0.1:0", h.clone(), wake).unwrap();
    // Opened now: reading it again later needs no new descriptor.
    let mut stat = std::fs::File::open("/proc/self/stat").unwrap();
    let mut cpu_ticks = move || {
        let mut text = String::new();
        stat.rewind().and_then(|_| stat.read_to_string(&mut text)).unwrap();
        let after_name = &text[text.rfind(')').unwrap() + 1..];
        let fields: Vec<u64> = after_name.split_whitespace().skip(11).take(2).map(|f| f.parse().unwrap()).collect();
        fields.iter().sum::<u64>() // utime + stime, in clock ticks (1/100 s)
    };
    let mut hog = Vec::new();
    for _ in 0..200_000 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(_) => break,
        }
    }
    if hog.len() == 200_000 {
        println!("skipped: too many descriptors allowed to use them all up");
        return;
    }
    // One descriptor for a slow client, which the listener cannot accept (or, accepted, holds a
    // descriptor): accept() then fails with EMFILE until the descriptors are freed.
    hog.pop();
    let mut slow = TcpStream::connect(l.local_addr()).unwrap();
    slow.write_all(b"POST ").unwrap();
    let before = cpu_ticks();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(250));
        let _ = slow.write_all(b"x");
    }
    let ticks = cpu_ticks() - before;
    drop(hog);
    let (status, took) = timed_hint(l.local_addr());
    println!(
        "out of descriptors: {ticks} CPU ticks (1/100 s) in 1 s; once freed, a hint answered {status} in {took:?}"
    );
    assert!(ticks < 20, "the listener used {ticks}/100 s of CPU in 1 s while accept() failed");
    assert_eq!(status, 202);
    assert!(took < Duration::from_millis(500), "answered {took:?} after the descriptors were freed");
    drop(slow);
}
