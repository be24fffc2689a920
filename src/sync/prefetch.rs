//! Fetching the next page from Odoo while this page's SQL runs: the HTTP call, reading the
//! body and the page checks (pure Rust) happen on a second thread, the SQL on this one. Only
//! this thread ever calls into PostgreSQL.
//!
//! The client's wait hook normally checks PostgreSQL's interrupts (a call into PostgreSQL), so
//! the fetching thread gets a hook that only reads flags: this backend's pending interrupt
//! (cancel, statement_timeout, terminate), or the SQL having failed. Either stops its retries;
//! this thread then handles the interrupt or the error as usual.

use odoo_client::{Client, WaitHook};
use pgrx::pg_sys;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Sets the flag when dropped during a panic (a PostgreSQL ERROR unwinding through `work`).
struct AbandonOnUnwind(Arc<AtomicBool>);

impl Drop for AbandonOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

fn interrupt_pending() -> bool {
    // SAFETY: a sig_atomic_t that signal handlers set; only read here, never written.
    unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) != 0 }
}

/// Runs `work` on this thread and `fetch` with the client on another, and returns both results.
/// If `work` unwinds, the fetch is told to stop retrying and is waited for (at most one HTTP
/// call: the client's timeouts bound it) before the unwinding goes on.
pub fn alongside<T, F: Send>(client: &mut Client, fetch: impl FnOnce(&mut Client) -> F + Send, work: impl FnOnce() -> T) -> (T, F) {
    let abandon = Arc::new(AtomicBool::new(false));
    let flag = abandon.clone();
    let thread_hook: WaitHook = Box::new(move || !flag.load(Ordering::Relaxed) && !interrupt_pending());
    let own_hook = client.replace_wait_hook(thread_hook);
    let (done, fetched, client) = std::thread::scope(|scope| {
        let _guard = AbandonOnUnwind(abandon);
        let handle = scope.spawn(move || {
            let r = fetch(&mut *client);
            (r, client)
        });
        let done = work();
        let (fetched, client) = match handle.join() {
            Ok(v) => v,
            // The fetch only runs our own Rust code; a panic there is a bug: surface it here,
            // on the thread that may report errors.
            Err(p) => std::panic::resume_unwind(p),
        };
        (done, fetched, client)
    });
    drop(client.replace_wait_hook(own_hook)); // the thread's hook
    (done, fetched)
}
