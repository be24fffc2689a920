//! The client's one error type. Messages name what failed and never carry the secret, the
//! request body, or Odoo's server traceback (`data.debug`), which can leak internals.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum OdooError {
    /// The client was given settings it cannot use (bad URL, empty login, ...).
    Config(String),
    /// No TCP/TLS connection could be made (refused, DNS, TLS handshake, certificate).
    Connect { url: String, detail: String },
    /// A call took longer than the configured timeout.
    Timeout { url: String, seconds: u64 },
    /// The connection broke while a response was being read.
    Io { url: String, detail: String },
    /// A non-success HTTP status that is not an Odoo error envelope (proxy errors, 429, ...).
    Http { url: String, status: u16, retry_after: Option<u64>, detail: String },
    /// Odoo redirected us; credentials are never sent on to another location.
    Redirect { url: String, location: String },
    /// The body was not what Odoo sends: not JSON, truncated, or an unexpected shape.
    Protocol { url: String, detail: String },
    /// The response was larger than the configured cap.
    TooLarge { url: String, limit: u64 },
    /// `common.authenticate` returned false: wrong login, password/API key or database.
    AuthFailed { db: String, login: String },
    /// Odoo raised an exception (`odoo.exceptions.AccessDenied`, `builtins.ValueError`, ...).
    Fault { name: String, message: String, code: i64, http_status: u16 },
    /// The caller's wait hook asked to stop waiting (between retries): the call was abandoned.
    Interrupted,
    /// Odoo sent a number that JSON cannot carry (`Infinity`, `-Infinity`, `NaN`: what Python's
    /// json.dumps writes for 1e309 or a NaN float): a value to fix in Odoo, not a transport error.
    NonJsonNumber { url: String, token: String, field: Option<String>, record_id: Option<i64> },
}

impl OdooError {
    /// Errors worth another try: the request never reached Odoo, or a proxy/Odoo said "later".
    /// Odoo faults are deterministic and never retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            OdooError::Connect { .. } | OdooError::Timeout { .. } | OdooError::Io { .. } => true,
            OdooError::Http { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Short machine-friendly kind, used for logs and SQLSTATE mapping.
    pub fn kind(&self) -> &'static str {
        match self {
            OdooError::Config(_) => "config",
            OdooError::Connect { .. } => "connect",
            OdooError::Timeout { .. } => "timeout",
            OdooError::Io { .. } => "io",
            OdooError::Http { .. } => "http",
            OdooError::Redirect { .. } => "redirect",
            OdooError::Protocol { .. } => "protocol",
            OdooError::TooLarge { .. } => "too_large",
            OdooError::AuthFailed { .. } => "auth_failed",
            OdooError::Fault { .. } => "fault",
            OdooError::Interrupted => "interrupted",
            OdooError::NonJsonNumber { .. } => "non_json_number",
        }
    }

    /// True when Odoo rejected our credentials (bad password, expired or revoked API key).
    pub fn is_access_denied(&self) -> bool {
        match self {
            OdooError::AuthFailed { .. } => true,
            OdooError::Fault { name, .. } => name.ends_with("AccessDenied") || name.ends_with("Unauthorized"),
            _ => false,
        }
    }

    /// A hint for the person reading the error: what to check or do next.
    pub fn hint(&self) -> String {
        match self {
            OdooError::Config(_) => "Check the odoo_sync.* settings.".into(),
            OdooError::Connect { .. } => {
                "Check odoo_sync.base_url and that Odoo is reachable from the database server.".into()
            }
            OdooError::Timeout { .. } => {
                "Odoo answered too slowly; raise odoo_sync.http_timeout or lower odoo_sync.batch_size.".into()
            }
            OdooError::Io { .. } => "The connection to Odoo broke; the run can simply be repeated.".into(),
            OdooError::Http { status: 429, .. } => "Odoo (or a proxy) is rate limiting; run less often.".into(),
            OdooError::Http { status, .. } if *status >= 500 => {
                "Odoo or a proxy in front of it failed; check the Odoo server log.".into()
            }
            OdooError::Http { .. } => "Check odoo_sync.base_url: it should be the Odoo root URL.".into(),
            OdooError::Redirect { .. } => {
                "Set odoo_sync.base_url to the final URL (e.g. https:// instead of http://); redirects are not followed so that credentials stay with the configured host.".into()
            }
            OdooError::Protocol { .. } => {
                "The server at odoo_sync.base_url did not answer like Odoo; check the URL and any proxy in between.".into()
            }
            OdooError::TooLarge { .. } => "Lower odoo_sync.batch_size.".into(),
            OdooError::AuthFailed { .. } => {
                "Check odoo_sync.db, odoo_sync.username and the password or API key set with scout.odoo_set_secret(); Odoo API keys expire (at most three months).".into()
            }
            OdooError::Fault { name, .. } if name.ends_with("AccessDenied") || name.ends_with("Unauthorized") => {
                "Odoo rejected the credentials: check the password or API key (scout.odoo_set_secret()); Odoo API keys expire.".into()
            }
            OdooError::Fault { name, .. } if name.ends_with("AccessError") => {
                "The Odoo user lacks access rights to this model; grant it in Odoo (Point of Sale / Inventory read access).".into()
            }
            OdooError::Fault { .. } => "See the Odoo server log for the full traceback.".into(),
            OdooError::Interrupted => "The run was cancelled or stopped; it can simply be repeated.".into(),
            OdooError::NonJsonNumber { .. } => {
                "Fix the value in Odoo (a float field set to an infinite or NaN value); nothing of this page was loaded.".into()
            }
        }
    }
}

impl fmt::Display for OdooError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OdooError::Config(m) => write!(f, "invalid Odoo client settings: {m}"),
            OdooError::Connect { url, detail } => write!(f, "could not connect to Odoo at {url}: {detail}"),
            OdooError::Timeout { url, seconds } => write!(f, "Odoo at {url} did not answer within {seconds} s"),
            OdooError::Io { url, detail } => write!(f, "connection to Odoo at {url} broke: {detail}"),
            OdooError::Http { url, status, detail, .. } => write!(f, "Odoo at {url} answered HTTP {status}: {detail}"),
            OdooError::Redirect { url, location } => {
                write!(f, "Odoo at {url} redirected to {location}; redirects are not followed")
            }
            OdooError::Protocol { url, detail } => write!(f, "unexpected response from {url}: {detail}"),
            OdooError::TooLarge { url, limit } => {
                write!(f, "response from {url} is larger than the {limit}-byte limit")
            }
            OdooError::AuthFailed { db, login } => {
                write!(f, "Odoo rejected the login \"{login}\" on database \"{db}\"")
            }
            OdooError::Fault { name, message, .. } => write!(f, "Odoo raised {name}: {message}"),
            OdooError::Interrupted => write!(f, "the call to Odoo was abandoned"),
            OdooError::NonJsonNumber { url, token, field, record_id } => {
                let field = field.as_deref().map(|f| format!(" in field {f}")).unwrap_or_default();
                let record = record_id.map(|id| format!(" of record {id}")).unwrap_or_default();
                write!(f, "Odoo at {url} sent {token}{field}{record}, which is not a JSON number")
            }
        }
    }
}

impl std::error::Error for OdooError {}
