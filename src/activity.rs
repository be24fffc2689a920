//! What the background worker is doing, in `pg_stat_activity.query` (with `state` active or
//! idle), as pg_net reports its own: "syncing pos.order.line, step 12 (12,000 records)",
//! "sending the outbox", "idle until 10:15:00 UTC". Only ever called on the worker's main thread.

use pgrx::pg_sys;
use std::ffi::CString;
use std::time::{Duration, SystemTime};

/// Reports `what` as the worker's current activity (state active).
pub fn working(what: &str) {
    report(pg_sys::BackendState::STATE_RUNNING, what);
}

/// Reports the worker idle until `wait` from now.
pub fn idle_until(wait: Duration) {
    let until = SystemTime::now() + wait;
    let secs = until.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    report(pg_sys::BackendState::STATE_IDLE, &format!("idle until {h:02}:{m:02}:{s:02} UTC"));
}

fn report(state: pg_sys::BackendState::Type, what: &str) {
    // A text with a NUL cannot be reported; the worker's own texts never have one.
    let Ok(text) = CString::new(format!("odoo_sync worker: {what}")) else { return };
    // SAFETY: the worker's main thread, a backend with a PgBackendStatus entry; the text is
    // copied into shared memory before the call returns.
    unsafe { pg_sys::pgstat_report_activity(state, text.as_ptr()) };
}
