//! Odoo's webhooks, on our side: the listener the background worker runs
//! (`odoo_sync.webhook_listen`, crates/webhook), and `scout.odoo_install_webhooks()`, which
//! resolves this server's URL and has the engine load the Automation Rules into Odoo
//! (engine::webhooks).
//!
//! A webhook is a hint, never data: the worker runs the hinted model's normal incremental sync.

use crate::errors::{remember_secret, spi, SyncError, SyncResult};
use crate::host::with_engine;
use crate::{models, settings, wake};
use engine::webhooks::Installed;
use odoo_webhook::{Hints, Listener};
use pgrx::prelude::*;
use std::sync::Arc;

/// The worker's listener, started, moved or stopped to follow `odoo_sync.webhook_listen`.
#[derive(Default)]
pub struct Receiver {
    pub hints: Arc<Hints>,
    running: Option<(String, Listener)>,
    /// The address that could not be listened on (said once, tried again at every wake).
    failed: Option<String>,
}

impl Receiver {
    /// Starts, moves or stops the listener as the setting now says.
    pub fn follow_setting(&mut self) {
        let wanted = settings::webhook_listen();
        if self.running.as_ref().map(|(addr, _)| addr) == wanted.as_ref() {
            return;
        }
        if let Some((addr, listener)) = self.running.take() {
            listener.stop();
            pgrx::log!("odoo_sync worker: stopped listening for Odoo's webhooks on {addr}");
        }
        let Some(addr) = wanted else { return };
        // The listener's threads start with every signal blocked (inherited from this thread
        // for the moment of the spawn), so that PostgreSQL's handlers run on this thread only.
        let started =
            odoo_client::with_signals_blocked(|| Listener::start(&addr, self.hints.clone(), wake::wake_this_process));
        match started {
            Ok(listener) => {
                pgrx::log!(
                    "odoo_sync worker: listening for Odoo's webhooks on {} (POST /odoo/webhook/<token>)",
                    listener.local_addr()
                );
                self.running = Some((addr, listener));
                self.failed = None;
            }
            Err(e) => {
                if self.failed.as_ref() != Some(&addr) {
                    pgrx::warning!(
                        "odoo_sync worker: cannot listen for webhooks on {addr} (odoo_sync.webhook_listen): {e}"
                    );
                    self.failed = Some(addr);
                }
            }
        }
    }
}

/// Creates (or, found again by external id, updates) one Automation Rule per synced model and
/// trigger in Odoo, each with one "Send Webhook Notification" action posting to `receiver_url`
/// (default: scout.odoo_webhook_url(), this server's listener, its token created if need be).
/// The URL and the token are redacted from whatever Odoo answers.
pub fn install(receiver_url: Option<&str>) -> SyncResult<Vec<Installed>> {
    let url = match receiver_url {
        Some(url) => url.to_owned(),
        None => Spi::get_one::<String>("SELECT scout.odoo_webhook_url()").map_err(spi)?.unwrap_or_default(),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(SyncError::InvalidArgument {
            message: "receiver_url must be an http:// or https:// URL".into(),
            hint: "Leave it out to use scout.odoo_webhook_url(), this server's webhook listener.".into(),
        });
    }
    remember_secret(&url);
    if let Some(token) =
        Spi::get_one::<String>("SELECT webhook_token FROM scout.sync_secret WHERE id = 1").map_err(spi)?
    {
        remember_secret(&token);
    }
    let specs = models::enabled()?;
    with_engine(&settings::current(), |_, odoo| engine::webhooks::install_rules(odoo, &specs, &url))
}

/// Deletes the rules install() created (found by their external ids); returns how many rules
/// were deleted.
pub fn remove() -> SyncResult<i64> {
    with_engine(&settings::current(), |_, odoo| engine::webhooks::remove_rules(odoo))
}
