//! The outgoing webhooks' state that the simulator keeps (`Sim::webhooks`): the benchmark
//! rule, the writers' gate and the delivery counters; and the delivery itself.
//!
//! Apart from webhook.rs, which decides what to send and needs the whole `Sim`, so that sim.rs
//! can own this state without importing webhook.rs back (sim.rs ↔ webhook.rs was an import
//! cycle).

use crate::http_client::post;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Odoo's `requests.post(..., timeout=1)` (here a bound on the whole exchange).
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// The benchmark rule (`--webhook-url`, `POST /sim/webhooks`): where to send, and for which
/// models (None: every model but ir.* and base.automation).
#[derive(Clone, Debug)]
pub struct Bench {
    pub url: String,
    pub models: Option<Vec<usize>>,
}

/// A POST to send.
pub struct Event {
    pub url: String,
    pub body: String,
}

/// What `Sim::webhooks` holds.
#[derive(Default)]
pub struct Hooks {
    /// Serializes writers that may send webhooks, so that a write held back while its events
    /// are sent (16, 17, 18) is not overtaken by another write.
    pub gate: Mutex<()>,
    pub bench: Mutex<Option<Bench>>,
    sent: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Hooks {
    pub fn new(bench: Option<Bench>) -> Hooks {
        Hooks { bench: Mutex::new(bench), ..Hooks::default() }
    }

    pub fn set_bench(&self, b: Option<Bench>) {
        *self.bench.lock().unwrap_or_else(|e| e.into_inner()) = b;
    }

    pub fn reset_counters(&self) {
        self.sent.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The counters, with `rules`: how many active rules have a webhook action (webhook::stats).
    pub fn stats(&self, rules: usize) -> Value {
        json!({
            "sent": self.sent.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "last_error": *self.last_error.lock().unwrap_or_else(|e| e.into_inner()),
            "rules": rules,
        })
    }

    /// Sends the events one after the other (synchronously, as Odoo does).
    pub fn send(&self, events: Vec<Event>) {
        for e in events {
            match post(&e.url, &e.body, TIMEOUT) {
                Ok(_) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(msg) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{}: {msg}", e.url));
                }
            }
        }
    }
}
