//! Fetching the next page from Odoo while this page's SQL runs: the HTTP call, reading the
//! body and the page checks (pure Rust) happen on a second thread, the SQL on this one. Only
//! this thread ever calls into PostgreSQL.
//!
//! - The client's wait hook normally checks the host's interrupts (in the extension, a call into
//!   PostgreSQL), so the fetching thread gets a hook that only reads flags (`Host::stop_flag`: a
//!   cancel or terminate pending), or the SQL having failed. Either stops its retries (OdooError::Interrupted);
//!   this thread then handles the interrupt or the error as usual.
//! - The fetching thread blocks every signal, so that PostgreSQL's handlers only ever run on
//!   this thread.
//! - If no thread can be started (a process limit), the page is loaded and the next one fetched
//!   in turn, as without prefetching. So is a fetch that an interrupt stopped but that did not
//!   end the call.

use odoo_client::{Client, WaitHook};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Sets the flag when dropped during a panic (a PostgreSQL ERROR unwinding through `work`):
/// the other threads stop retrying and taking work.
pub(crate) struct AbandonOnUnwind(pub(crate) Arc<AtomicBool>);

impl Drop for AbandonOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Runs `work` on this thread and `fetch` with the client on another, and returns both results
/// (no fetch result if no thread could be started: the caller fetches in turn). If `work`
/// unwinds, the fetch is told to stop retrying and is waited for (at most one HTTP call: the
/// client's timeouts bound it) before the unwinding goes on.
pub fn alongside<T, F: Send>(
    client: &mut Client,
    stop_or_cancel: fn() -> bool,
    fetch: impl FnOnce(&mut Client) -> F + Send,
    work: impl FnOnce() -> T,
) -> (T, Option<F>) {
    let abandon = Arc::new(AtomicBool::new(false));
    let flag = abandon.clone();
    let thread_hook: WaitHook = Box::new(move || !flag.load(Ordering::Relaxed) && !stop_or_cancel());
    let own_hook = client.replace_wait_hook(thread_hook);
    let result = std::thread::scope(|scope| {
        let _guard = AbandonOnUnwind(abandon);
        let lent = &mut *client;
        // Spawned with every signal blocked, so that PostgreSQL's handlers never run on it.
        let spawned = odoo_client::with_signals_blocked(|| {
            std::thread::Builder::new().name("odoo_sync prefetch".into()).spawn_scoped(scope, move || fetch(lent))
        });
        match spawned {
            Ok(handle) => {
                let done = work();
                // The fetch only runs our own Rust code; a panic there is a bug: surface it
                // here, on the thread that may report errors.
                let fetched = handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                (done, Some(fetched))
            }
            Err(_) => (work(), None),
        }
    });
    drop(client.replace_wait_hook(own_hook)); // the thread's hook
    result
}
