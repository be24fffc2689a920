//! The engine's host in the runner: SIGTERM and SIGINT set a flag that stops a run between two
//! pages (the open transaction rolls back; every committed page stays), and an Odoo call in
//! a retry or backoff wait is abandoned; notices and warnings go to the log.

use engine::{SyncError, SyncResult};
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the SIGTERM and SIGINT handlers (once, at start).
pub fn install_signal_handlers() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; it is a
        // plain `extern "C" fn` that lives as long as the process.
        unsafe { libc::signal(signal, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

/// Whether SIGTERM or SIGINT arrived: safe on any thread.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The error of a run stopped by a signal: PostgreSQL's own for a cancelled statement.
pub fn stopped() -> SyncError {
    SyncError::Postgres {
        sqlstate: "57014".into(),
        message: "stopped by SIGTERM or SIGINT".into(),
        detail: Some("The open transaction was rolled back; every page committed before it is kept.".into()),
        hint: Some("Run the command again: it resumes where the last committed page ended.".into()),
    }
}

pub struct RunnerHost;

impl engine::Host for RunnerHost {
    fn check_interrupts(&self) -> SyncResult<()> {
        if stop_requested() {
            return Err(stopped());
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        stop_requested()
    }

    fn stop_flag(&self) -> fn() -> bool {
        stop_requested
    }

    fn odoo_wait_hook(&self) -> odoo_client::WaitHook {
        Box::new(|| !stop_requested())
    }

    fn notice(&self, text: &str) {
        crate::log::notice(text);
    }

    fn warning(&self, text: &str) {
        crate::log::warning(text);
    }
}
