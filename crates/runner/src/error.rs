//! The runner's one error type, mapped once in main.rs to the text a person reads (the same
//! message, detail and hint as the extension's ERROR, with its SQLSTATE) and an exit status.

use engine::{redact, SyncError};
use std::fmt;

/// Exit statuses, documented in `odoo-sync --help` and the README.
pub mod exit {
    /// A sync, reconciliation or install failed (the message says why).
    pub const FAILED: i32 = 1;
    /// The command line or a setting is wrong: nothing was done.
    pub const USAGE: i32 = 2;
    /// The database cannot be reached or refused us (connection, authentication, TLS, a pooler
    /// in transaction mode).
    pub const DATABASE: i32 = 3;
}

#[derive(Debug)]
pub struct RunnerError {
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub sqlstate: Option<String>,
    pub exit: i32,
}

pub type RunnerResult<T> = Result<T, RunnerError>;

impl RunnerError {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> RunnerError {
        RunnerError {
            message: message.into(),
            detail: None,
            hint: Some(hint.into()),
            sqlstate: None,
            exit: exit::USAGE,
        }
    }

    pub fn database(message: impl Into<String>, detail: Option<String>, hint: impl Into<String>) -> RunnerError {
        RunnerError {
            message: message.into(),
            detail,
            hint: Some(hint.into()),
            sqlstate: Some("08006".into()),
            exit: exit::DATABASE,
        }
    }

    /// A statement of ours that PostgreSQL refused, outside the engine (install, status).
    pub fn sql(what: &str, e: &postgres::Error) -> RunnerError {
        let sync = postgres_error(e);
        let mut err = RunnerError::from(sync);
        err.message = format!("odoo-sync: {what}: {}", err.message.trim_start_matches("odoo_sync: "));
        if e.as_db_error().is_none() {
            err.exit = exit::DATABASE;
        }
        err
    }
}

/// A PostgreSQL error as the engine's: the server's SQLSTATE, message, detail and hint; a lost
/// connection as 08006.
pub fn postgres_error(e: &postgres::Error) -> SyncError {
    match e.as_db_error() {
        Some(db) => SyncError::Postgres {
            sqlstate: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
        },
        None => SyncError::Postgres {
            sqlstate: "08006".into(),
            message: format!("the database connection failed: {e}"),
            detail: None,
            hint: Some("Check that the database is up and reachable; the run resumes from its last commit.".into()),
        },
    }
}

impl From<SyncError> for RunnerError {
    fn from(e: SyncError) -> RunnerError {
        let exit = match &e {
            SyncError::NotConfigured { .. } | SyncError::InvalidSetting { .. } | SyncError::UnknownModel { .. } => {
                exit::USAGE
            }
            SyncError::Postgres { sqlstate, .. } if sqlstate.starts_with("08") => exit::DATABASE,
            _ => exit::FAILED,
        };
        let hint = match &e {
            // The extension's hint names ALTER DATABASE; here settings are the environment.
            SyncError::NotConfigured { env, .. } => Some(format!("Set {env} in the runner's environment.")),
            _ => e.hint(),
        };
        RunnerError { message: e.to_string(), detail: e.detail(), hint, sqlstate: Some(e.sqlstate().to_owned()), exit }
    }
}

/// A text of the engine's (written for the extension's users) in the runner's terms: settings
/// by their environment names, the secret by where the runner reads it; redacted.
pub fn in_runner_terms(text: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("scout.odoo_set_secret()", "ODOO_PASSWORD or ODOO_API_KEY"),
        ("odoo_sync.base_url", "ODOO_BASE_URL"),
        ("odoo_sync.db", "ODOO_DB"),
        ("odoo_sync.username", "ODOO_USERNAME"),
        ("odoo_sync.batch_size", "SYNC_BATCH_SIZE"),
        ("odoo_sync.checkpoint_key", "SYNC_CHECKPOINT_KEY"),
        ("odoo_sync.schedule", "SYNC_SCHEDULE"),
    ];
    let mut out = redact(text);
    for (from, to) in NAMED {
        out = out.replace(from, to);
    }
    // Every other setting: odoo_sync.fetch_streams -> ODOO_SYNC_FETCH_STREAMS.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("odoo_sync.") {
        let name_len =
            rest[at + 10..].find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(rest.len() - at - 10);
        result.push_str(&rest[..at]);
        if name_len == 0 {
            result.push_str("odoo_sync.");
        } else {
            result.push_str(&format!("ODOO_SYNC_{}", rest[at + 10..at + 10 + name_len].to_ascii_uppercase()));
        }
        rest = &rest[at + 10 + name_len..];
    }
    result.push_str(rest);
    result
}

impl fmt::Display for RunnerError {
    /// The message, then DETAIL and HINT lines as psql shows an ERROR; every line redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.sqlstate.as_deref().map(|s| format!(" (SQLSTATE {s})")).unwrap_or_default();
        write!(f, "ERROR: {}{state}", in_runner_terms(&self.message))?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL: {}", in_runner_terms(d))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT: {}", in_runner_terms(h))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_setting_names_become_the_runners() {
        assert_eq!(
            in_runner_terms("Check odoo_sync.db, odoo_sync.username and the key set with scout.odoo_set_secret()."),
            "Check ODOO_DB, ODOO_USERNAME and the key set with ODOO_PASSWORD or ODOO_API_KEY."
        );
        assert_eq!(in_runner_terms("raise odoo_sync.http_timeout"), "raise ODOO_SYNC_HTTP_TIMEOUT");
        assert_eq!(in_runner_terms("the odoo_sync. prefix"), "the odoo_sync. prefix");
    }
}
