//! The extension's one error type, and its single mapping to `ereport` (SQLSTATE, message,
//! detail, hint) at the SQL boundary. Every message passes through `redact` on the way out, so
//! that even an Odoo error echoing a request could not print the password.

use odoo_client::OdooError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::fmt;

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
    Postgres { code: PgSqlErrorCode, message: String, detail: Option<String>, hint: Option<String> },
    /// A lock that another session holds and an unattended run does not wait for (the silver
    /// lock held by a user's open transaction): the model is skipped for the round.
    Busy { model: String, detail: String },
    /// An SPI call returned an error code, a composite could not be built, or Rust panicked: a
    /// bug or a damaged schema. (A PostgreSQL ERROR inside SPI does not come back as a value:
    /// it unwinds, and only a catching caller such as the worker turns it into `Postgres`.)
    Internal(String),
}

pub type SyncResult<T> = Result<T, SyncError>;

impl From<pgrx::spi::Error> for SyncError {
    fn from(e: pgrx::spi::Error) -> Self {
        SyncError::Internal(format!("SPI: {e}"))
    }
}

impl SyncError {
    /// What PgTryBuilder caught: a PostgreSQL ERROR (ours or PostgreSQL's) keeps its SQLSTATE,
    /// message, detail and hint; a Rust panic is an internal error.
    pub fn described(caught: &pgrx::pg_sys::panic::CaughtError) -> SyncError {
        use pgrx::pg_sys::panic::CaughtError;
        match caught {
            CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => SyncError::Postgres {
                code: r.sql_error_code(),
                message: r.message().to_owned(),
                detail: r.detail().map(str::to_owned),
                hint: r.hint().map(str::to_owned),
            },
            CaughtError::RustPanic { ereport, .. } => SyncError::Internal(format!("panic: {}", ereport.message())),
        }
    }

    pub fn odoo(model: &str, error: OdooError) -> SyncError {
        SyncError::Odoo { model: Some(model.to_owned()), error }
    }

    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            SyncError::Odoo { error, .. } => match error {
                OdooError::Config(_) => ERRCODE_INVALID_PARAMETER_VALUE,
                OdooError::Connect { .. } => ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                OdooError::Timeout { .. } | OdooError::Io { .. } | OdooError::Http { .. } => ERRCODE_CONNECTION_FAILURE,
                OdooError::Redirect { .. } | OdooError::Protocol { .. } => ERRCODE_PROTOCOL_VIOLATION,
                OdooError::TooLarge { .. } => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                OdooError::AuthFailed { .. } => ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                OdooError::Interrupted => ERRCODE_QUERY_CANCELED,
                OdooError::NonJsonNumber { .. } => ERRCODE_DATA_EXCEPTION,
                e @ OdooError::Fault { name, .. } => {
                    if e.is_access_denied() {
                        ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
                    } else if name.ends_with("AccessError") {
                        ERRCODE_INSUFFICIENT_PRIVILEGE
                    } else {
                        ERRCODE_EXTERNAL_ROUTINE_EXCEPTION
                    }
                }
            },
            SyncError::UnknownModel { .. } | SyncError::InvalidArgument { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            SyncError::NotConfigured { .. } => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            SyncError::InvalidSetting { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            SyncError::NotSupported { .. } => ERRCODE_FEATURE_NOT_SUPPORTED,
            SyncError::Prerequisite { .. } => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            SyncError::BadData { .. } => ERRCODE_DATA_EXCEPTION,
            SyncError::Postgres { code, .. } => *code,
            SyncError::Busy { .. } => ERRCODE_LOCK_NOT_AVAILABLE,
            SyncError::Internal(_) => ERRCODE_INTERNAL_ERROR,
        }
    }

    /// The SQLSTATE as its five characters (e.g. "08006"), as sync_logs.error_code records it.
    pub fn sqlstate_text(&self) -> String {
        // PostgreSQL packs the five characters six bits each (MAKE_SQLSTATE in elog.h).
        let packed = self.sqlstate() as i64;
        (0..5).map(|i| char::from(b'0' + ((packed >> (6 * i)) & 0x3F) as u8)).collect()
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

    /// Raises this error as a PostgreSQL ERROR. Does not return.
    pub fn report(self) -> ! {
        let mut report = ErrorReport::new(self.sqlstate(), redact(&self.to_string()), "odoo_sync");
        if let Some(d) = self.detail() {
            report = report.set_detail(redact(&d));
        }
        if let Some(h) = self.hint() {
            report = report.set_hint(redact(&h));
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
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

thread_local! {
    /// Secret values loaded by this backend; never allowed to leave it in a message.
    static SECRETS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Registers a secret so that `redact` masks it.
pub fn remember_secret(s: &str) {
    if s.len() >= 4 {
        SECRETS.with(|v| {
            let mut v = v.borrow_mut();
            if !v.iter().any(|x| x == s) {
                v.push(s.to_owned());
            }
        });
    }
}

pub fn redact(text: &str) -> String {
    SECRETS.with(|v| v.borrow().iter().fold(text.to_owned(), |acc, s| acc.replace(s.as_str(), "***")))
}
