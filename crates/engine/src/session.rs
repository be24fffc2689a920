//! One authenticated Odoo connection for a whole run (every model of odoo_sync_all shares it):
//! built from the settings and the credentials, with the host's interrupt check wired into
//! the client's waits so that a cancel (pg_cancel_backend, statement_timeout, the runner's
//! SIGINT) works during retries. Kept per thread between calls (SESSION_TTL).

use crate::error::{remember_secret, SyncError, SyncResult};
use crate::host::Host;
use crate::settings::{validate_base_url, Credentials, Settings};
use odoo_client::shape::{shapes_of, Shapes};
use odoo_client::{Client, ClientConfig, FieldInfo, TransportChoice};
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

pub struct OdooSession {
    client: Client,
    connected: bool,
    /// fields_get per model, and when it was read.
    fields: HashMap<String, (Instant, BTreeMap<String, FieldInfo>)>,
    /// Models that only some Odoo databases have, found in this one (ir.model).
    present_models: HashSet<String>,
    /// Hash of everything the session was built from: a change of settings or secret means a
    /// new session.
    fingerprint: u64,
    opened: Instant,
}

/// How long a backend keeps one authenticated session (and its fields_get answers) across
/// calls; after that it logs in again and re-reads the fields, so that a module installed in
/// Odoo is noticed.
const SESSION_TTL: Duration = Duration::from_secs(600);

thread_local! {
    static CACHED: RefCell<Option<OdooSession>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's Odoo session, reusing the one kept from an earlier call (the
/// procedure and the worker call once per page) when the settings and secret are unchanged.
/// A failed call drops the session: the next one starts from a fresh connection.
pub fn with_session<T>(
    s: &Settings,
    creds: Option<Credentials>,
    host: &dyn Host,
    f: impl FnOnce(&mut OdooSession) -> SyncResult<T>,
) -> SyncResult<T> {
    // Only the cheap part (settings, the secret, a hash) runs per call: building a client
    // (TLS roots, agent) happens only when the cached session cannot be reused.
    let (cfg, fingerprint) = client_config(s, creds)?;
    let cached = CACHED
        .with(|c| c.borrow_mut().take())
        .filter(|old| old.fingerprint == fingerprint && old.opened.elapsed() < SESSION_TTL);
    let mut session = match cached {
        Some(session) => session,
        None => OdooSession::open(cfg, fingerprint, host)?,
    };
    let result = f(&mut session);
    if result.is_ok() {
        CACHED.with(|c| *c.borrow_mut() = Some(session));
    }
    result
}

/// The major version of the Odoo this backend's kept session talks to (None: no session yet,
/// or its version not read).
pub fn cached_odoo_major() -> Option<i64> {
    CACHED.with(|c| c.borrow().as_ref().and_then(|s| s.client.version().map(|v| v.major)))
}

/// The client settings for a run, and a hash of everything they were built from (a change
/// of settings or secret means a new session).
fn client_config(s: &Settings, creds: Option<Credentials>) -> SyncResult<(ClientConfig, u64)> {
    let base_url =
        s.base_url.clone().ok_or(SyncError::NotConfigured { setting: "odoo_sync.base_url", env: "ODOO_BASE_URL" })?;
    validate_base_url(&base_url)
        .map_err(|detail| SyncError::InvalidSetting { setting: "odoo_sync.base_url", detail })?;
    let db = s.db.clone().ok_or(SyncError::NotConfigured { setting: "odoo_sync.db", env: "ODOO_DB" })?;
    let login =
        s.username.clone().ok_or(SyncError::NotConfigured { setting: "odoo_sync.username", env: "ODOO_USERNAME" })?;
    let creds = creds.ok_or(SyncError::NotConfigured {
        setting: "the Odoo password or API key (scout.odoo_set_secret())",
        env: "ODOO_PASSWORD or ODOO_API_KEY",
    })?;
    remember_secret(&creds.secret.0);
    let mut h = DefaultHasher::new();
    (&base_url, &db, &login, &creds.secret.0, creds.is_api_key, &s.transport, &s.ca_file).hash(&mut h);
    (s.http_timeout, s.max_retries, s.max_response_bytes).hash(&mut h);
    let mut cfg = ClientConfig::new(&base_url, &db, &login, creds.secret);
    cfg.secret_is_api_key = creds.is_api_key;
    cfg.transport = match s.transport.as_str() {
        "jsonrpc" => TransportChoice::JsonRpc,
        "json2" => TransportChoice::Json2,
        _ => TransportChoice::Auto,
    };
    cfg.timeout = Duration::from_secs(s.http_timeout as u64);
    cfg.max_retries = s.max_retries as u32;
    cfg.max_response_bytes = s.max_response_bytes;
    if let Some(path) = &s.ca_file {
        let pem = std::fs::read(path).map_err(|e| SyncError::InvalidSetting {
            setting: "odoo_sync.ca_file",
            detail: format!("cannot read {path}: {e}"),
        })?;
        cfg.extra_ca_pem = Some(pem);
    }
    Ok((cfg, h.finish()))
}

impl OdooSession {
    fn open(cfg: ClientConfig, fingerprint: u64, host: &dyn Host) -> SyncResult<OdooSession> {
        let mut client = Client::new(cfg).map_err(|error| SyncError::Odoo { model: None, error })?;
        // Between retries and in backoff sleeps: a cancel raises or abandons the call, and an
        // unattended run's stop abandons it, so that it stops within one HTTP timeout whatever
        // it was doing.
        drop(client.replace_wait_hook(host.odoo_wait_hook()));
        Ok(OdooSession {
            client,
            connected: false,
            fields: HashMap::new(),
            present_models: HashSet::new(),
            fingerprint,
            opened: Instant::now(),
        })
    }

    /// Authenticates on first use; `model` only names the failing model in the error.
    pub fn client(&mut self, model: &str) -> SyncResult<&mut Client> {
        if !self.connected {
            self.client.connect().map_err(|e| SyncError::odoo(model, e))?;
            self.connected = true;
        }
        Ok(&mut self.client)
    }

    /// Whether this Odoo has `model` (its ir.model lists it), for models that only some
    /// databases have. A yes is kept for the session; a no is asked again by the next run, so
    /// that a module installed in Odoo meanwhile is noticed at once.
    pub fn has_model(&mut self, model: &str) -> SyncResult<bool> {
        if self.present_models.contains(model) || self.fields.contains_key(model) {
            return Ok(true);
        }
        let n = self
            .client(model)?
            .search_count("ir.model", &serde_json::json!([["model", "=", model]]), &serde_json::json!({}))
            .map_err(|e| SyncError::odoo(model, e))?;
        if n > 0 {
            self.present_models.insert(model.to_owned());
        }
        Ok(n > 0)
    }

    /// Which of `wanted` the server's model has (fields_get, once per model per session).
    /// Returns (present, missing). An answer read before `run_started` that lacks one of
    /// `required` (whose absence fails the run) is read again: the field may have been created
    /// in Odoo since (a user adds it, then names it in extra_fields), and a run must not fail on
    /// an earlier call's answer. Optional fields that appear later are noticed at SESSION_TTL.
    pub fn existing_fields(
        &mut self,
        model: &str,
        wanted: &[String],
        required: &[String],
        run_started: Instant,
    ) -> SyncResult<(Vec<String>, Vec<String>)> {
        let lacks_some = |known: &BTreeMap<String, FieldInfo>| required.iter().any(|f| !known.contains_key(f));
        let stale = match self.fields.get(model) {
            None => true,
            Some((read_at, known)) => *read_at < run_started && lacks_some(known),
        };
        if stale {
            let read_at = Instant::now();
            let f = self.client(model)?.fields_get(model).map_err(|e| SyncError::odoo(model, e))?;
            self.fields.insert(model.to_owned(), (read_at, f));
        }
        let known = &self.fields[model].1;
        let (present, missing): (Vec<String>, Vec<String>) =
            wanted.iter().cloned().partition(|f| f == "id" || known.contains_key(f));
        Ok((present, missing))
    }

    /// Odoo's description of a model's fields (fields_get, once per session).
    pub fn fields_of(&mut self, model: &str) -> SyncResult<&BTreeMap<String, FieldInfo>> {
        if !self.fields.contains_key(model) {
            let read_at = Instant::now();
            let f = self.client(model)?.fields_get(model).map_err(|e| SyncError::odoo(model, e))?;
            self.fields.insert(model.to_owned(), (read_at, f));
        }
        Ok(&self.fields[model].1)
    }

    /// The value shape of each of these fields, from the `fields_get` answer that
    /// `existing_fields` read (id and write_date are checked on their own).
    pub fn shapes(&self, model: &str, fields: &[String]) -> Shapes {
        self.fields.get(model).map(|(_, known)| shapes_of(known, fields)).unwrap_or_default()
    }
}
