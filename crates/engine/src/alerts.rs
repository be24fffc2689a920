//! Alerts: one when a model starts failing, one when it recovers, one when a reconciliation
//! repaired drift; never one per retry or per run. The transition is read from the checkpoint's
//! status, which the failure and success paths update.
//!
//! An alert is built once ([`Alert`]) and rendered for each channel the settings name: a
//! Slack-compatible webhook (`{"text": ...}`, `alert_webhook_url`) and email (`alert_email`,
//! email.rs). It is sent only once the transaction that recorded its transition commits
//! (`Store::after_commit`), never from inside it: a rolled-back run's transition never
//! happened. Alerts carry the (redacted) error message, never settings or secrets. A webhook
//! that fails is reported by the store's host as a warning; an email is sent on a thread of its
//! own, which writes its failure to stderr. Neither ever fails or delays the sync.

use crate::email::{self, Email};
use crate::error::redact;
use crate::settings::Settings;
use crate::store::{Drift, Store};
use odoo_client::time::{format_odoo, UnixSeconds};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the email's reader is pointed to for more.
const MORE: &str = "SELECT * FROM scout.sync_status;";

/// One alert, with every fact a channel shows.
#[derive(Clone, Debug)]
pub struct Alert {
    pub database: String,
    pub model: String,
    /// When the engine decided it (Unix seconds).
    pub at: UnixSeconds,
    pub kind: AlertKind,
}

#[derive(Clone, Debug)]
pub enum AlertKind {
    /// The model's run failed after it had not been failing.
    Failing(Failing),
    /// A model that had been failing synced successfully.
    Recovered,
    /// A reconciliation repaired more records than `drift_alert_threshold`.
    Drifted(Drift),
}

/// A model that started failing: what failed and since when.
#[derive(Clone, Debug)]
pub struct Failing {
    /// The SQLSTATE (`sync_logs.error_code`).
    pub error_code: String,
    /// The error's message and detail, redacted (`Failure::message`).
    pub message: String,
    pub hint: Option<String>,
    /// When the first failed run since the last success failed (Unix seconds).
    pub since: UnixSeconds,
    /// Failed runs since the last success, this one included.
    pub failed_runs: i64,
    /// When the model last synced successfully (Unix seconds); None: never.
    pub last_success: Option<UnixSeconds>,
}

/// A model that had been failing synced successfully.
pub fn recovered<S: Store>(store: &mut S, s: &Settings, model: &str, previous_status: Option<&str>) {
    if previous_status == Some("failed") {
        send_after_commit(store, s, model, AlertKind::Recovered);
    }
}

/// A model's run failed; alerts when it was not failing already (`previous_status`, the
/// checkpoint's status before this failure was recorded).
pub fn failing<S: Store>(store: &mut S, s: &Settings, model: &str, previous_status: Option<&str>, facts: Failing) {
    if previous_status != Some("failed") {
        send_after_commit(store, s, model, AlertKind::Failing(facts));
    }
}

/// A reconciliation repaired drift: an incremental run had missed something.
pub fn drifted<S: Store>(store: &mut S, s: &Settings, model: &str, d: &Drift) {
    send_after_commit(store, s, model, AlertKind::Drifted(d.clone()));
}

/// Sends the alert to every channel the settings name, once the current transaction commits.
fn send_after_commit<S: Store>(store: &mut S, s: &Settings, model: &str, kind: AlertKind) {
    if s.alert_webhook_url.is_none() && s.alert_email.is_none() {
        return; // not even the database's name is asked for
    }
    let alert = Alert { database: store.database_name(), model: model.to_owned(), at: now(), kind };
    if let Some(url) = s.alert_webhook_url.clone() {
        let text = redact(&alert.webhook_text());
        store.after_commit(Box::new(move || send(&url, &text)));
    }
    if let Some(settings) = s.alert_email.clone() {
        let email = Email { subject: redact(&alert.email_subject()), body: redact(&alert.email_body()) };
        store.after_commit(Box::new(move || email::send_in_background(settings, email)));
    }
}

impl Alert {
    /// The webhook's text (the end-to-end tests and users' filters read it: keep its wording).
    pub fn webhook_text(&self) -> String {
        let (db, model) = (&self.database, &self.model);
        match &self.kind {
            AlertKind::Failing(f) => format!("odoo_sync on database {db}: {model} started failing: {}", f.message),
            AlertKind::Recovered => format!("odoo_sync on database {db}: {model} recovered; it syncs again."),
            AlertKind::Drifted(d) => format!(
                "odoo_sync on database {db}: the reconciliation of {model} repaired {} records that incremental \
                 syncs had missed ({} missing, {} stale, {} deleted in Odoo, {} restored).",
                d.total(),
                d.missing,
                d.stale,
                d.deleted,
                d.restored
            ),
        }
    }

    /// The email's subject: what happened, to which model of which database.
    pub fn email_subject(&self) -> String {
        let (db, model) = (&self.database, &self.model);
        match &self.kind {
            AlertKind::Failing(f) => {
                format!("[odoo_sync] {db}: {model} failing since {} UTC ({})", hh_mm(f.since), runs(f.failed_runs, ""))
            }
            AlertKind::Recovered => format!("[odoo_sync] {db}: {model} recovered"),
            AlertKind::Drifted(d) => format!("[odoo_sync] {db}: {model} drifted: {} records repaired", d.total()),
        }
    }

    /// The email's plain-text body: the facts, one per line, and where to look next.
    pub fn email_body(&self) -> String {
        let opening = match &self.kind {
            // The webhook's text has the error too; here it has a line of its own.
            AlertKind::Failing(_) => {
                format!("odoo_sync on database {}: {} started failing.", self.database, self.model)
            }
            _ => self.webhook_text(),
        };
        let mut lines = vec![opening, String::new(), format!("Database:      {}", self.database)];
        lines.push(format!("Model:         {}", self.model));
        match &self.kind {
            AlertKind::Failing(f) => {
                lines.push(format!("Failing since: {} UTC ({})", timestamp(f.since), runs(f.failed_runs, "failed ")));
                lines.push(format!("Error:         {}", f.message));
                lines.push(format!("SQLSTATE:      {}", f.error_code));
                if let Some(hint) = &f.hint {
                    lines.push(format!("Hint:          {hint}"));
                }
                let last = f.last_success.map_or_else(|| "never".to_owned(), |t| format!("{} UTC", timestamp(t)));
                lines.push(format!("Last success:  {last}"));
                lines.push(String::new());
                lines.push("No other alert is sent while it keeps failing; one is sent when it recovers.".into());
            }
            AlertKind::Recovered => {
                lines.push(format!("Last success:  {} UTC (the run that recovered)", timestamp(self.at)));
            }
            AlertKind::Drifted(d) => {
                lines.push(format!(
                    "Repaired:      {} records ({} missing, {} stale, {} deleted in Odoo, {} restored)",
                    d.total(),
                    d.missing,
                    d.stale,
                    d.deleted,
                    d.restored
                ));
                lines.push(format!("Last success:  {} UTC (this reconciliation)", timestamp(self.at)));
            }
        }
        lines.push(String::new());
        lines.push(format!("To see more: {MORE}"));
        lines.join("\n") + "\n"
    }
}

/// Posts one alert to the webhook (after the commit, with a bounded timeout). Err: why it could
/// not, redacted.
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

fn now() -> UnixSeconds {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as UnixSeconds)
}

/// `2026-11-25 13:35:06`.
fn timestamp(t: UnixSeconds) -> String {
    format_odoo(t)
}

/// `13:35`.
fn hh_mm(t: UnixSeconds) -> String {
    format_odoo(t).get(11..16).unwrap_or_default().to_owned()
}

/// `1 run`, `3 runs` (with `what` before the noun: `1 failed run`).
fn runs(n: i64, what: &str) -> String {
    format!("{n} {what}run{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-25 13:35:06 and 2026-11-25 09:00:00 UTC.
    const AT: UnixSeconds = 1_795_613_706;
    const EARLIER: UnixSeconds = 1_795_597_200;

    fn alert(kind: AlertKind) -> Alert {
        Alert { database: "shop".into(), model: "pos.order".into(), at: AT, kind }
    }

    fn failing(failed_runs: i64, last_success: Option<UnixSeconds>) -> Alert {
        alert(AlertKind::Failing(Failing {
            error_code: "08001".into(),
            message: "odoo_sync: syncing pos.order failed: could not connect".into(),
            hint: Some("Check odoo_sync.base_url.".into()),
            since: AT,
            failed_runs,
            last_success,
        }))
    }

    fn drift() -> Drift {
        Drift { missing: 3, stale: 4, deleted: 5, restored: 1, ..Drift::default() }
    }

    #[test]
    fn the_webhook_text_keeps_its_wording() {
        assert_eq!(
            failing(1, None).webhook_text(),
            "odoo_sync on database shop: pos.order started failing: odoo_sync: syncing pos.order failed: could not \
             connect"
        );
        assert_eq!(
            alert(AlertKind::Recovered).webhook_text(),
            "odoo_sync on database shop: pos.order recovered; it syncs again."
        );
        assert_eq!(
            alert(AlertKind::Drifted(drift())).webhook_text(),
            "odoo_sync on database shop: the reconciliation of pos.order repaired 13 records that incremental syncs \
             had missed (3 missing, 4 stale, 5 deleted in Odoo, 1 restored)."
        );
    }

    #[test]
    fn the_email_subjects_name_the_database_the_model_and_what_happened() {
        assert_eq!(failing(1, None).email_subject(), "[odoo_sync] shop: pos.order failing since 13:35 UTC (1 run)");
        assert_eq!(failing(4, None).email_subject(), "[odoo_sync] shop: pos.order failing since 13:35 UTC (4 runs)");
        assert_eq!(alert(AlertKind::Recovered).email_subject(), "[odoo_sync] shop: pos.order recovered");
        assert_eq!(
            alert(AlertKind::Drifted(drift())).email_subject(),
            "[odoo_sync] shop: pos.order drifted: 13 records repaired"
        );
    }

    #[test]
    fn the_email_bodies_carry_the_facts_and_the_query_to_see_more() {
        let body = failing(2, Some(EARLIER)).email_body();
        for line in [
            "odoo_sync on database shop: pos.order started failing.",
            "Model:         pos.order",
            "Failing since: 2026-11-25 13:35:06 UTC (2 failed runs)",
            "Error:         odoo_sync: syncing pos.order failed: could not connect",
            "SQLSTATE:      08001",
            "Hint:          Check odoo_sync.base_url.",
            "Last success:  2026-11-25 09:00:00 UTC",
            "To see more: SELECT * FROM scout.sync_status;",
        ] {
            assert!(body.lines().any(|l| l == line), "{line:?} in\n{body}");
        }
        assert!(failing(1, None).email_body().lines().any(|l| l == "Last success:  never"));

        let body = alert(AlertKind::Recovered).email_body();
        assert!(body.starts_with("odoo_sync on database shop: pos.order recovered; it syncs again.\n"), "{body}");
        assert!(
            body.contains("Last success:  2026-11-25 13:35:06 UTC") && body.contains("scout.sync_status"),
            "{body}"
        );

        let body = alert(AlertKind::Drifted(drift())).email_body();
        assert!(
            body.contains("Repaired:      13 records (3 missing, 4 stale, 5 deleted in Odoo, 1 restored)"),
            "{body}"
        );
        assert!(
            body.contains("Last success:  2026-11-25 13:35:06 UTC") && body.contains("scout.sync_status"),
            "{body}"
        );
    }
}
