//! The engine's one error type. Each host maps it once at its boundary: the extension to
//! `ereport` (SQLSTATE, message, detail, hint), the runner to the same text and an exit status.
//! Every message passes through `redact` on the way out, so that even an Odoo error echoing a
//! request could not print the password.

use odoo_client::OdooError;
use std::fmt;
use std::sync::Mutex;

#[derive(Debug)]
pub enum SyncError {
    /// Odoo could not be reached or refused/failed the request.
    Odoo { model: Option<String>, error: OdooError },
    /// The model name is not one of scout.sync_models.
    UnknownModel { name: String, known: Vec<String> },
    /// A SQL argument is missing or out of range.
    InvalidArgument { message: String, hint: String },
    /// A required setting has no value in its GUC nor in its environment variable.
    NotConfigured { setting: &'static str, env: &'static str },
    /// A setting has a value we cannot use.
    InvalidSetting { setting: &'static str, detail: String },
    /// What was asked needs something this Odoo cannot do (webhooks on Odoo 16).
    NotSupported { message: String, hint: String },
    /// What was asked needs something set up first (an Odoo module, a setting).
    Prerequisite { message: String, hint: String },
    /// Odoo answered, but with data that breaks the sync's invariants (records outside the
    /// requested domain, duplicate ids, a record without an id, ...). Never loaded.
    BadData { model: String, detail: String },
    /// A PostgreSQL ERROR raised inside an unattended step (a user's trigger, a lock timeout,
    /// a value PostgreSQL refuses), caught so that the worker records it and goes on. The
    /// transaction it was raised in is aborted by whoever caught it.
    Postgres { sqlstate: String, message: String, detail: Option<String>, hint: Option<String> },
    /// A lock that another session holds and an unattended run does not wait for (the silver
    /// lock held by a user's open transaction): the model is skipped for the round.
    Busy { model: String, detail: String },
    /// A store call failed in a way that is a bug or a damaged schema, or Rust panicked.
    Internal(String),
}

pub type SyncResult<T> = Result<T, SyncError>;

impl SyncError {
    pub fn odoo(model: &str, error: OdooError) -> SyncError {
        SyncError::Odoo { model: Some(model.to_owned()), error }
    }

    /// The SQLSTATE (five characters, as `sync_logs.error_code` records it and the hosts report).
    pub fn sqlstate(&self) -> &str {
        match self {
            SyncError::Odoo { error, .. } => match error {
                OdooError::Config(_) => "22023",
                OdooError::Connect { .. } => "08001",
                OdooError::Timeout { .. } | OdooError::Io { .. } | OdooError::Http { .. } => "08006",
                OdooError::Redirect { .. } | OdooError::Protocol { .. } => "08P01",
                OdooError::TooLarge { .. } => "54000",
                OdooError::AuthFailed { .. } => "28000",
                OdooError::Interrupted => "57014",
                OdooError::NonJsonNumber { .. } => "22000",
                e @ OdooError::Fault { name, .. } => {
                    if e.is_access_denied() {
                        "28000"
                    } else if name.ends_with("AccessError") {
                        "42501"
                    } else {
                        "38000"
                    }
                }
            },
            SyncError::UnknownModel { .. } | SyncError::InvalidArgument { .. } => "22023",
            SyncError::NotConfigured { .. } => "55000",
            SyncError::InvalidSetting { .. } => "22023",
            SyncError::NotSupported { .. } => "0A000",
            SyncError::Prerequisite { .. } => "55000",
            SyncError::BadData { .. } => "22000",
            SyncError::Postgres { sqlstate, .. } => sqlstate,
            SyncError::Busy { .. } => "55P03",
            SyncError::Internal(_) => "XX000",
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            SyncError::Odoo { error: OdooError::Fault { name, code, http_status, .. }, .. } => {
                Some(format!("Odoo exception {name} (JSON-RPC code {code}, HTTP {http_status})."))
            }
            SyncError::Odoo { error, .. } => Some(format!("Failure kind: {}.", error.kind())),
            SyncError::UnknownModel { known, .. } => Some(format!("Known models: {}.", known.join(", "))),
            SyncError::InvalidSetting { detail, .. } => Some(detail.clone()),
            SyncError::BadData { detail, .. } => Some(detail.clone()),
            SyncError::Postgres { detail, .. } => detail.clone(),
            SyncError::Busy { detail, .. } => Some(detail.clone()),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SyncError::Odoo { error, .. } => Some(error.hint()),
            SyncError::UnknownModel { .. } => Some(
                "Pass an Odoo model name as listed in scout.sync_models, e.g. scout.odoo_sync('pos.order').".into(),
            ),
            SyncError::InvalidArgument { hint, .. }
            | SyncError::NotSupported { hint, .. }
            | SyncError::Prerequisite { hint, .. } => Some(hint.clone()),
            SyncError::NotConfigured { setting, .. } => {
                Some(format!("As a superuser: ALTER DATABASE <db> SET {setting} = '...'; then reconnect."))
            }
            SyncError::InvalidSetting { setting, .. } if setting.starts_with("scout.") => {
                Some(format!("Correct {setting} (UPDATE scout.sync_models ...), or create the field in Odoo."))
            }
            SyncError::InvalidSetting { setting, .. } => Some(format!("Fix {setting}.")),
            SyncError::BadData { .. } => Some(
                "Nothing from this page was loaded. When the detail names a record, fix that value in Odoo; else check \
                 the Odoo server (or proxy) at odoo_sync.base_url."
                    .into(),
            ),
            SyncError::Postgres { hint, .. } => hint.clone(),
            SyncError::Busy { .. } => Some("The worker tries again next round; end that session's transaction.".into()),
            SyncError::Internal(_) => Some("This is a bug in odoo_sync; please report it with the server log.".into()),
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Odoo { model: Some(m), error } => write!(f, "odoo_sync: syncing {m} failed: {error}"),
            SyncError::Odoo { model: None, error } => write!(f, "odoo_sync: {error}"),
            SyncError::UnknownModel { name, .. } => {
                write!(f, "odoo_sync: unknown model \"{}\"", name.chars().take(100).collect::<String>())
            }
            SyncError::InvalidArgument { message, .. }
            | SyncError::NotSupported { message, .. }
            | SyncError::Prerequisite { message, .. } => write!(f, "odoo_sync: {message}"),
            SyncError::NotConfigured { setting, env } => {
                write!(f, "odoo_sync: {setting} is not set (nor the environment variable {env})")
            }
            SyncError::InvalidSetting { setting, .. } => write!(f, "odoo_sync: invalid value for {setting}"),
            SyncError::BadData { model, .. } => write!(f, "odoo_sync: Odoo sent unusable data for {model}"),
            SyncError::Postgres { message, .. } => write!(f, "odoo_sync: {message}"),
            SyncError::Busy { model, .. } => {
                write!(f, "odoo_sync: {model} skipped: another session holds a lock it needs")
            }
            SyncError::Internal(m) => write!(f, "odoo_sync: internal error: {m}"),
        }
    }
}

/// Secret values this process loaded; never allowed to leave it in a message. Process-wide:
/// a message may be built on any thread.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn secrets() -> std::sync::MutexGuard<'static, Vec<String>> {
    SECRETS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers a secret so that `redact` masks it.
pub fn remember_secret(s: &str) {
    if s.len() >= 4 {
        let mut v = secrets();
        if !v.iter().any(|x| x == s) {
            v.push(s.to_owned());
        }
    }
}

/// The text with every secret this process knows replaced by `***`.
pub fn redact(text: &str) -> String {
    secrets().iter().fold(text.to_owned(), |acc, s| acc.replace(s.as_str(), "***"))
}
