//! Failure alerts to a Slack-compatible webhook (`{"text": ...}`): one when a model starts
//! failing, one when it recovers; never one per retry or per run. The transition is read from
//! the checkpoint's status, which the failure and success paths update.
//!
//! An alert is sent only once the transaction that recorded its transition commits (a
//! transaction callback), never from inside it: a rolled-back run's transition never happened,
//! so `BEGIN; SELECT scout.odoo_sync(...); ROLLBACK;` sends nothing. Alerts carry the (redacted)
//! error message, never settings or secrets. A webhook that fails is reported as a WARNING and
//! never fails the sync.
//!
//! This module knows nothing of the engine: the engine tells it about transitions.

use crate::errors::redact;
use crate::settings;
use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};
use std::time::Duration;

/// A model that had been failing synced successfully.
pub fn recovered(model: &str, previous_status: Option<&str>) {
    if previous_status == Some("failed") {
        after_commit(format!("odoo_sync on database {}: {model} recovered; it syncs again.", database()));
    }
}

/// A model's run failed; alerts when it was not failing already.
pub fn failing(model: &str, previous_status: Option<&str>, message: &str) {
    if previous_status != Some("failed") {
        after_commit(format!("odoo_sync on database {}: {model} started failing: {message}", database()));
    }
}

/// A reconciliation repaired drift: an incremental run had missed something.
pub fn drifted(model: &str, missing: i64, stale: i64, deleted: i64, restored: i64) {
    after_commit(format!(
        "odoo_sync on database {}: the reconciliation of {model} repaired {} records that incremental syncs had missed \
         ({missing} missing, {stale} stale, {deleted} deleted in Odoo, {restored} restored).",
        database(),
        missing + stale + deleted + restored
    ));
}

fn database() -> String {
    Spi::get_one::<String>("SELECT current_database()::text").ok().flatten().unwrap_or_default()
}

/// Sends `text` when the current transaction commits; drops it if it aborts.
fn after_commit(text: String) {
    let Some(url) = settings::alert_webhook_url() else { return };
    let text = redact(&text);
    register_xact_callback(PgXactCallbackEvent::Commit, move || send(&url, &text));
}

/// Runs after the commit: makes no PostgreSQL call but the WARNING.
fn send(url: &str, text: &str) {
    let agent = odoo_client::signal_safe_agent(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).max_redirects(0).build(),
    );
    let body = serde_json::json!({ "text": text }).to_string();
    if let Err(e) = agent.post(url).header("Content-Type", "application/json").send(body) {
        pgrx::warning!(
            "odoo_sync: could not send the alert to odoo_sync.alert_webhook_url: {}",
            redact(&e.to_string())
        );
    }
}
