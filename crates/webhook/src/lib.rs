//! The receiver of Odoo's webhooks (Automation Rules whose action is "Send Webhook
//! Notification"). Odoo POSTs one JSON object per record, `{"_action": "...", "_id": 7,
//! "_model": "pos.order", ...}`, with no signature and no custom header, so the secret is in the
//! path: `POST /odoo/webhook/<token>`. A webhook is a hint ("model M changed"), never data: the
//! listener only remembers which models were hinted ([`Hints::take`]) and wakes its owner, which
//! runs the models' normal incremental sync.
//!
//! Answers: 202 for a valid hint (also for a model that is not synced: counted, ignored); 404
//! for a wrong or missing token, or any other path; 405 for another method with the right
//! token; 400 for a body that is not an Odoo webhook, or a request that is not HTTP/1.x or whose
//! head exceeds 16 KiB; 413 above [`MAX_BODY`]. Every answer is a JSON body with
//! `Connection: close`. The listener never waits for its owner: it only takes a mutex that the
//! owner holds for a few instructions, so it answers well within Odoo's one-second timeout, and
//! no client can hold it up (one event-loop thread, non-blocking sockets, a deadline per
//! connection: see server.rs). Nothing it logs or returns contains the token.

mod http;
mod server;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The largest body accepted. Odoo's payload is the record's selected fields: a few hundred
/// bytes for `id` and `write_date`.
pub const MAX_BODY: usize = 64 * 1024;

/// The path prefix; the token follows it.
pub const PATH_PREFIX: &str = "/odoo/webhook/";

/// What the listener counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Valid hints for a synced model.
    pub accepted: u64,
    /// Valid hints for a model that is not synced.
    pub ignored: u64,
    /// Wrong or missing token, or another path (404).
    pub not_found: u64,
    /// Not an Odoo webhook (400, 405) or too large (413).
    pub refused: u64,
}

/// What the listener and its owner share.
#[derive(Default)]
pub struct Hints {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    token: Option<String>,
    synced: HashSet<String>,
    hinted: BTreeSet<String>,
    /// Hints per model not synced (bounded: at most IGNORED_NAMES names are kept).
    ignored_models: BTreeMap<String, u64>,
    counts: Counts,
}

const IGNORED_NAMES: usize = 50;

impl Hints {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token the path must carry (None: every request is answered 404).
    pub fn set_token(&self, token: Option<String>) {
        self.lock().token = token.filter(|t| !t.is_empty());
    }

    /// The models a hint is accepted for (the others are counted and ignored).
    pub fn set_synced(&self, models: impl IntoIterator<Item = String>) {
        self.lock().synced = models.into_iter().collect();
    }

    /// The models hinted since the last call, in name order; each appears once however many
    /// hints arrived for it.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().hinted).into_iter().collect()
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Models hinted that are not synced, with their counts.
    pub fn ignored_models(&self) -> Vec<(String, u64)> {
        self.lock().ignored_models.iter().map(|(m, n)| (m.clone(), *n)).collect()
    }

    /// Answers one request; true in the second value when a new model was hinted (the owner
    /// should be woken).
    pub fn answer(&self, req: &Request) -> (Response, bool) {
        let mut inner = self.lock();
        let token_ok = match (req.path.strip_prefix(PATH_PREFIX), inner.token.as_deref()) {
            (Some(given), Some(token)) => constant_time_eq(given.as_bytes(), token.as_bytes()),
            _ => false,
        };
        if !token_ok {
            inner.counts.not_found += 1;
            return (Response::new(404, "not found"), false);
        }
        if req.method != "POST" {
            inner.counts.refused += 1;
            return (Response::new(405, "only POST is accepted"), false);
        }
        let model = match hinted_model(&req.body) {
            Ok(model) => model,
            Err(why) => {
                inner.counts.refused += 1;
                return (Response::new(400, &format!("not an Odoo webhook: {why}")), false);
            }
        };
        if !inner.synced.contains(&model) {
            inner.counts.ignored += 1;
            if inner.ignored_models.len() < IGNORED_NAMES || inner.ignored_models.contains_key(&model) {
                *inner.ignored_models.entry(model).or_default() += 1;
            }
            return (Response::new(202, "accepted (model not synced: ignored)"), false);
        }
        inner.counts.accepted += 1;
        let new = inner.hinted.insert(model);
        (Response::new(202, "accepted"), new)
    }

    fn count_refused(&self) {
        self.lock().counts.refused += 1;
    }
}

/// The model an Odoo webhook body names: a JSON object with a string `_model` and a positive
/// integer `_id` (Odoo's payload; its other keys are the selected fields).
pub fn hinted_model(body: &[u8]) -> Result<String, &'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let object = value.as_object().ok_or("the body is not a JSON object")?;
    let model = object.get("_model").and_then(|m| m.as_str()).ok_or("no \"_model\" string")?;
    if model.is_empty()
        || model.len() > 128
        || !model.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    {
        return Err("\"_model\" is not a model name");
    }
    object.get("_id").and_then(|id| id.as_u64()).filter(|&id| id > 0).ok_or("no positive integer \"_id\"")?;
    Ok(model.to_owned())
}

/// Compares in time that depends on the lengths only (the token's length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request as far as the listener reads it.
#[derive(Debug, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    fn new(status: u16, text: &str) -> Response {
        Response { status, body: format!("{{\"status\": {status}, \"message\": {}}}", serde_json::json!(text)) }
    }
}

/// A running listener; dropping it (or [`Listener::stop`]) stops it.
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: mio::Waker,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Listens on `addr` (`host:port`) on a thread of its own, answering with `hints`; `wake`
    /// is called (on the listener's thread) when a model is newly hinted. That thread is the
    /// only one, started here with the caller's signal mask (a PostgreSQL process blocks its
    /// signals first); nothing starts another later.
    pub fn start(addr: &str, hints: Arc<Hints>, wake: fn()) -> io::Result<Listener> {
        // std resolves `host:port` (a name too); mio takes the socket over, non-blocking.
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        let poll = mio::Poll::new()?;
        poll.registry().register(&mut listener, server::LISTENER, mio::Interest::READABLE)?;
        let waker = mio::Waker::new(poll.registry(), server::WAKER)?;
        let stop = Arc::new(AtomicBool::new(false));
        let server = server::Server::new(poll, listener, hints, wake, stop.clone());
        let thread = std::thread::Builder::new().name("odoo_sync webhook".into()).spawn(move || server.run())?;
        Ok(Listener { addr, stop, waker, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and closes every connection; returns within milliseconds, whatever the
    /// clients are doing (the loop never blocks on a client).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Should the wake fail, the loop sees the flag within its longest wait (500 ms).
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod attack_tests;
#[cfg(test)]
mod tests;
