//! Failure alerts to a Slack-compatible webhook (`{"text": ...}`): one when a model starts
//! failing, one when it recovers, one when a reconciliation repaired drift; never one per
//! retry or per run. The transition is read from the checkpoint's status, which the failure and
//! success paths update.
//!
//! An alert is sent only once the transaction that recorded its transition commits
//! (`Store::after_commit`), never from inside it: a rolled-back run's transition never
//! happened. Alerts carry the (redacted) error message, never settings or secrets. A webhook
//! that fails is reported by the store's host as a warning and never fails the sync.

use crate::error::redact;
use crate::settings::Settings;
use crate::store::Store;
use std::time::Duration;

/// A model that had been failing synced successfully.
pub fn recovered<S: Store>(store: &mut S, s: &Settings, model: &str, previous_status: Option<&str>) {
    if previous_status == Some("failed") {
        let db = store.database_name();
        after_commit(store, s, format!("odoo_sync on database {db}: {model} recovered; it syncs again."));
    }
}

/// A model's run failed; alerts when it was not failing already.
pub fn failing<S: Store>(store: &mut S, s: &Settings, model: &str, previous_status: Option<&str>, message: &str) {
    if previous_status != Some("failed") {
        let db = store.database_name();
        after_commit(store, s, format!("odoo_sync on database {db}: {model} started failing: {message}"));
    }
}

/// A reconciliation repaired drift: an incremental run had missed something.
pub fn drifted<S: Store>(store: &mut S, s: &Settings, model: &str, d: &crate::store::Drift) {
    let db = store.database_name();
    let text = format!(
        "odoo_sync on database {db}: the reconciliation of {model} repaired {} records that incremental syncs had \
         missed ({} missing, {} stale, {} deleted in Odoo, {} restored).",
        d.total(),
        d.missing,
        d.stale,
        d.deleted,
        d.restored
    );
    after_commit(store, s, text);
}

/// Sends `text` once the current transaction commits.
fn after_commit<S: Store>(store: &mut S, s: &Settings, text: String) {
    let Some(url) = s.alert_webhook_url.clone() else { return };
    let text = redact(&text);
    store.after_commit(Box::new(move || send(&url, &text)));
}

/// Posts one alert (after the commit, with a bounded timeout). Err: why it could not, redacted.
pub fn send(url: &str, text: &str) -> Result<(), String> {
    let agent = odoo_client::signal_safe_agent(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).max_redirects(0).build(),
    );
    let body = serde_json::json!({ "text": text }).to_string();
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map(|_| ())
        .map_err(|e| format!("could not send the alert to odoo_sync.alert_webhook_url: {}", redact(&e.to_string())))
}
