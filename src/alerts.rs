//! Failure alerts to a Slack-compatible webhook (`{"text": ...}`): one when a model starts
//! failing, one when it recovers; never one per retry or per run. The transition is read from
//! the checkpoint's status, which the failure and success paths update.
//! Alerts carry the (redacted) error message, never settings or secrets. A webhook that
//! fails is reported as a WARNING and never fails the sync.

use crate::errors::redact;
use crate::settings;
use crate::sync::RunSummary;
use pgrx::prelude::*;
use std::time::Duration;

pub fn on_success(summary: &RunSummary) {
    if summary.status == "success" && summary.previous_status.as_deref() == Some("failed") {
        send(&format!("odoo_sync on database {}: {} recovered; it syncs again.", database(), summary.model));
    }
}

pub fn on_failure(model: &str, previous_status: Option<&str>, message: &str) {
    if previous_status != Some("failed") {
        send(&format!("odoo_sync on database {}: {model} started failing: {message}", database()));
    }
}

fn database() -> String {
    Spi::get_one::<String>("SELECT current_database()::text").ok().flatten().unwrap_or_default()
}

fn send(text: &str) {
    let Some(url) = settings::alert_webhook_url() else { return };
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).max_redirects(0).build().into();
    let body = serde_json::json!({ "text": redact(text) }).to_string();
    if let Err(e) = agent.post(&url).header("Content-Type", "application/json").send(body) {
        pgrx::warning!(
            "odoo_sync: could not send the alert to odoo_sync.alert_webhook_url: {}",
            redact(&e.to_string())
        );
    }
}
