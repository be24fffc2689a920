//! Waking the background worker: from a backend once its transaction commits (write-back,
//! hints, a new webhook token), and from the worker's own webhook listener thread. Both send
//! SIGUSR1, which PostgreSQL handles (procsignal_sigusr1_handler) by setting the worker's latch.

use crate::errors::{spi, SyncResult};
use pgrx::prelude::*;

thread_local! {
    /// A wake-up is already registered for the current transaction.
    static WAKE_REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Wakes the worker once the current transaction commits (scout.odoo_push_soon): it then sends
/// what is pending and takes the hints. Once per transaction, however many statements ask.
pub fn wake_worker_after_commit() -> SyncResult<()> {
    if WAKE_REGISTERED.with(|w| w.replace(true)) {
        return Ok(());
    }
    let pids = Spi::get_one::<Vec<i32>>(
        "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity \
         WHERE backend_type = 'odoo_sync worker' AND datname = current_database()",
    )
    .map_err(spi)?
    .unwrap_or_default();
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || WAKE_REGISTERED.with(|w| w.set(false)));
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
        WAKE_REGISTERED.with(|w| w.set(false));
        for pid in pids {
            // SAFETY: kill(2) with a pid and a signal number; the worker (a backend of this
            // server, same user) handles SIGUSR1 with procsignal_sigusr1_handler, which sets its
            // latch. A pid that has exited meanwhile gets ESRCH, which is harmless.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
    });
    Ok(())
}

/// Wakes this process's main thread: called by the webhook listener's threads, which block
/// every signal, so that the kernel delivers it to the main thread. A system call, no
/// PostgreSQL function: safe on any thread.
pub fn wake_this_process() {
    // SAFETY: kill(2) of our own pid with SIGUSR1, handled on the main thread as above.
    unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
}
