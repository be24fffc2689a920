//! The listener's event loop: one thread, non-blocking sockets, [`mio`] (epoll) to wait.
//!
//! Why one event-loop thread. The first design, a thread per connection with a read timeout,
//! let a few dozen slow or idle clients take every thread (the timeout was per read, so a byte
//! every 0.4 s held a thread for hours), and stopping had to wait for whichever connection a
//! thread was serving. Here no client can hold the loop: every read and write is non-blocking,
//! so a connection costs a buffer and a descriptor, not a thread, and a complete request is
//! answered as soon as its bytes arrive. mio rather than hyper on a tokio runtime: the listener
//! needs one request and one answer per connection, and mio guarantees what a PostgreSQL process
//! needs with nothing to configure: it starts no thread of its own (the only thread is spawned by
//! [`crate::Listener::start`], while the caller blocks its signals), installs no signal handler,
//! and its sockets write with `MSG_NOSIGNAL` (no SIGPIPE).
//!
//! What bounds an attacker:
//! - a deadline per connection, counted from its accept, for the whole request and its answer
//!   ([`FIRST_BYTE_WITHIN`] while nothing arrived, then [`ANSWERED_WITHIN`]): a client sending a
//!   byte now and then, or not reading its answer, is dropped at its deadline;
//! - at most [`MAX_CONNECTIONS`] open; a new connection then drops the oldest, so a flood never
//!   locks a new client out. A new connection is read at once, and Odoo's request arrives with
//!   it (or a moment after), so it is answered before it could be the oldest;
//! - an exact head limit ([`http::MAX_HEAD`]) and body limit ([`crate::MAX_BODY`]);
//! - an accept() that fails for want of descriptors or memory is retried after
//!   [`ACCEPT_BACKOFF`], not at once, and meanwhile the open connections are served.
//!
//! A refused request may be closed with bytes unread: the kernel then resets the connection and
//! the client may not see its 400 or 413. Only a client that broke the rules loses its answer.
//!
//! Stopping sets a flag and wakes the loop through a [`mio::Waker`]: it returns in milliseconds
//! whatever the clients do.

use crate::http::{self, Parsed, Refusal, RequestReader};
use crate::{Hints, Request, Response, MAX_BODY};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections open at once. Odoo sends its webhooks one after the other per Odoo worker
/// process, so a few are in use; the bound keeps the descriptors a PostgreSQL process spends on
/// clients well under its usual soft limit of 1024.
const MAX_CONNECTIONS: usize = 256;

/// How long a connection may stay without sending a byte. Odoo sends its request as soon as it
/// is connected.
const FIRST_BYTE_WITHIN: Duration = Duration::from_secs(1);

/// How long a connection may take, from its accept, to send its whole request and take its
/// answer. Odoo gives up after 1 s; its request arrives in one packet.
const ANSWERED_WITHIN: Duration = Duration::from_secs(2);

/// How long accepting pauses after accept() failed for want of descriptors or memory.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections accepted in a row before the loop looks at the others' events again.
const ACCEPT_BATCH: usize = 64;

/// The longest wait in poll(): a safety net should a wake be lost (stop() still returns in time).
const MAX_WAIT: Duration = Duration::from_millis(500);

/// How long the loop pauses when poll() itself fails (it should not).
const POLL_ERROR_PAUSE: Duration = Duration::from_millis(50);

pub(crate) const LISTENER: Token = Token(0);
pub(crate) const WAKER: Token = Token(1);
/// Connections' tokens count up from here and are not reused (a 64-bit usize does not run out),
/// so a stale event (for a connection closed earlier in the same batch) reaches no other.
const FIRST_CONNECTION: usize = 2;

/// What to do after accept() failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterAcceptError {
    /// Nothing is waiting: wait for the listener's next event.
    WaitForEvent,
    /// That connection failed (reset before it was accepted) or a signal came: accept the next.
    RetryNow,
    /// The process is out of something (descriptors, memory): the connection stays queued in
    /// the kernel and is retried later; retrying at once would spin.
    RetryAfter(Duration),
}

pub(crate) fn after_accept_error(e: &io::Error) -> AfterAcceptError {
    match e.kind() {
        io::ErrorKind::WouldBlock => AfterAcceptError::WaitForEvent,
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
            AfterAcceptError::RetryNow
        }
        _ => AfterAcceptError::RetryAfter(ACCEPT_BACKOFF),
    }
}

/// One client, from its accept to its answer.
struct Conn {
    stream: TcpStream,
    accepted: Instant,
    phase: Phase,
}

enum Phase {
    Reading(RequestReader),
    /// The answer, and how much of it was sent.
    Writing(Vec<u8>, usize),
}

impl Conn {
    /// When the connection is dropped if it is still open.
    fn deadline(&self) -> Instant {
        match &self.phase {
            Phase::Reading(reader) if reader.is_empty() => self.accepted + FIRST_BYTE_WITHIN,
            _ => self.accepted + ANSWERED_WITHIN,
        }
    }
}

/// Whether a connection is still open after its turn.
enum Next {
    Open,
    Done,
}

pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    hints: Arc<Hints>,
    wake: fn(),
    stop: Arc<AtomicBool>,
    conns: HashMap<usize, Conn>,
    next_token: usize,
    /// The listener may have connections waiting (its events are edge-triggered: until accept()
    /// says WouldBlock, no new event comes).
    accept_ready: bool,
    /// No accept() before this (after an error).
    accept_after: Option<Instant>,
}

impl Server {
    pub(crate) fn new(poll: Poll, listener: TcpListener, hints: Arc<Hints>, wake: fn(), stop: Arc<AtomicBool>) -> Self {
        Server {
            poll,
            listener,
            hints,
            wake,
            stop,
            conns: HashMap::new(),
            next_token: FIRST_CONNECTION,
            accept_ready: true,
            accept_after: None,
        }
    }

    /// Runs until the stop flag is set (and the waker woken).
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Ordering::SeqCst) {
            let wait = self.wait(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(POLL_ERROR_PAUSE);
                }
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_ready = true,
                    WAKER => {}
                    Token(id) => self.on_event(id),
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            self.accept_some(Instant::now());
            self.drop_expired(Instant::now());
        }
        // Dropping the server closes the listener and every connection.
    }

    /// How long poll() may wait: until the next deadline, or the next accept() due.
    fn wait(&self, now: Instant) -> Duration {
        let mut until = now + MAX_WAIT;
        if let Some(first) = self.conns.values().map(Conn::deadline).min() {
            until = until.min(first);
        }
        if self.accept_ready {
            until = until.min(self.accept_after.unwrap_or(now));
        }
        until.saturating_duration_since(now)
    }

    /// Accepts up to a batch of waiting connections, unless accepting is paused.
    fn accept_some(&mut self, now: Instant) {
        if !self.accept_ready || self.accept_after.is_some_and(|after| now < after) {
            return;
        }
        self.accept_after = None;
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, _)) => self.admit(stream, now),
                Err(e) => match after_accept_error(&e) {
                    AfterAcceptError::WaitForEvent => {
                        self.accept_ready = false;
                        return;
                    }
                    AfterAcceptError::RetryNow => {}
                    AfterAcceptError::RetryAfter(pause) => {
                        self.accept_after = Some(now + pause);
                        return;
                    }
                },
            }
        }
        // A full batch: more may wait; the next poll() does not wait (see `wait`).
    }

    /// Registers a new connection (dropping the oldest if full) and reads what already arrived:
    /// a request sent in one packet is answered now, before a flood can push it out.
    fn admit(&mut self, mut stream: TcpStream, now: Instant) {
        if self.conns.len() >= MAX_CONNECTIONS {
            self.drop_oldest();
        }
        let id = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(FIRST_CONNECTION);
        // Both interests once and for all: a spurious readiness costs one WouldBlock.
        if self.poll.registry().register(&mut stream, Token(id), Interest::READABLE | Interest::WRITABLE).is_err() {
            return;
        }
        self.conns.insert(id, Conn { stream, accepted: now, phase: Phase::Reading(RequestReader::new(MAX_BODY)) });
        self.on_event(id);
    }

    fn drop_oldest(&mut self) {
        if let Some(id) = self.conns.iter().min_by_key(|(_, c)| c.accepted).map(|(id, _)| *id) {
            self.close(id);
        }
    }

    fn drop_expired(&mut self, now: Instant) {
        let expired: Vec<usize> = self.conns.iter().filter(|(_, c)| c.deadline() <= now).map(|(id, _)| *id).collect();
        for id in expired {
            self.close(id);
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(mut conn) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }

    /// Moves a connection on as far as its socket allows (any readiness: reads and writes are
    /// tried until they would block).
    fn on_event(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let next = advance(conn, &self.hints, self.wake);
        if let Next::Done = next {
            self.close(id);
        }
    }
}

/// Reads the request, answers it, and sends the answer, as far as the socket allows now.
fn advance(conn: &mut Conn, hints: &Hints, wake: fn()) -> Next {
    if let Phase::Reading(reader) = &mut conn.phase {
        match read_some(&mut conn.stream, reader) {
            Ok(None) => return Next::Open,
            Ok(Some(read)) => conn.phase = Phase::Writing(http::response_bytes(&answer(read, hints, wake)), 0),
            Err(_) => return Next::Done,
        }
    }
    match &mut conn.phase {
        Phase::Writing(out, sent) => write_some(&mut conn.stream, out, sent),
        Phase::Reading(_) => Next::Open,
    }
}

/// Reads until the request is complete or refused (Some), or the socket has no more for now
/// (None); an error when the peer went away before a complete request (nothing to answer).
fn read_some(stream: &mut TcpStream, reader: &mut RequestReader) -> io::Result<Option<Result<Request, Refusal>>> {
    let mut chunk = [0u8; 4096];
    loop {
        // `room` is never 0 here: the reader would have said complete or refused.
        let want = reader.room().clamp(1, chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => match reader.push(&chunk[..n]) {
                Parsed::NeedMore => {}
                Parsed::Complete(req) => return Ok(Some(Ok(req))),
                Parsed::Refused(why) => return Ok(Some(Err(why))),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Sends what is left of the answer; done when all is sent or the peer went away.
fn write_some(stream: &mut TcpStream, out: &[u8], sent: &mut usize) -> Next {
    while let Some(rest) = out.get(*sent..).filter(|rest| !rest.is_empty()) {
        match stream.write(rest) {
            Ok(0) => return Next::Done,
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Open,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Done,
        }
    }
    Next::Done
}

/// The answer to a complete or refused request; wakes the owner for a newly hinted model.
fn answer(read: Result<Request, Refusal>, hints: &Hints, wake: fn()) -> Response {
    match read {
        Ok(req) => {
            let (response, new) = hints.answer(&req);
            if new {
                wake();
            }
            response
        }
        Err(Refusal::TooLarge) => {
            hints.count_refused();
            Response::new(413, &format!("the body is larger than {MAX_BODY} bytes"))
        }
        Err(Refusal::Malformed(why)) => {
            hints.count_refused();
            Response::new(400, why)
        }
    }
}
