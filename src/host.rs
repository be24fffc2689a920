//! The engine's host inside PostgreSQL: a cancel or terminate raises through
//! check_for_interrupts, the background worker's SIGTERM and the postmaster's death stop
//! unattended runs between pages, and what a person should see goes out as NOTICE/WARNING.

use crate::interrupts;
use engine::error::SyncResult;

/// This backend (an ordinary one or the background worker).
pub struct PgHost;

impl engine::Host for PgHost {
    fn check_interrupts(&self) -> SyncResult<()> {
        pgrx::check_for_interrupts!();
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        interrupts::stop_requested()
    }

    fn stop_flag(&self) -> fn() -> bool {
        interrupts::stop_or_cancel_pending
    }

    fn odoo_wait_hook(&self) -> odoo_client::WaitHook {
        // Between retries and in backoff sleeps: a cancel or terminate of this backend raises
        // (check_for_interrupts), and the worker's SIGTERM (a flag, not an interrupt) abandons
        // the call, so that it stops within one HTTP timeout whatever it was doing.
        Box::new(|| {
            pgrx::check_for_interrupts!();
            !interrupts::stop_requested()
        })
    }

    fn notice(&self, text: &str) {
        pgrx::notice!("{text}");
    }

    fn warning(&self, text: &str) {
        pgrx::warning!("{text}");
    }
}

/// Runs `f` with this backend's Odoo session (kept between calls: engine::session), the SPI
/// store and this host: how every SQL function and the worker call the engine.
pub fn with_engine<T>(
    s: &engine::Settings,
    f: impl FnOnce(&mut crate::store::SpiStore, &mut engine::session::OdooSession) -> SyncResult<T>,
) -> SyncResult<T> {
    let creds = crate::secret::load()?;
    engine::session::with_session(s, creds, &PgHost, |odoo| f(&mut crate::store::SpiStore, odoo))
}

/// Sends pending write-back rows in the current transaction (engine::outbox), opening this
/// backend's Odoo session only when a row is pending.
pub fn push_outbox(
    s: &engine::Settings,
    wait: engine::outbox::Wait,
    batches: usize,
) -> SyncResult<engine::outbox::Pushed> {
    engine::outbox::push(&mut crate::store::SpiStore, &PgHost, wait, batches, |send| {
        let creds = crate::secret::load()?;
        engine::session::with_session(s, creds, &PgHost, |odoo| send(odoo))
    })
}
