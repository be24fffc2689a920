//! The high-level client: authenticate once, then typed calls for what a sync needs, each with
//! bounded retries for transient failures.

use crate::error::OdooError;
use crate::http::Http;
use crate::time::UnixSeconds;
use crate::transport::{CallResult, Json2, JsonRpc, Transport};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A password or API key. Its Debug output is redacted so that it cannot end up in a log line.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportChoice {
    /// `/jsonrpc` with `execute_kw` (every Odoo version up to 21).
    JsonRpc,
    /// Odoo 19+'s `/json/2` with the secret used as a bearer API key.
    Json2,
    /// JSON-2 when the server is 19 or newer and the secret is an API key, else JSON-RPC.
    Auto,
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base_url: String,
    pub db: String,
    pub login: String,
    pub secret: Secret,
    /// True when the secret is an API key rather than a password (JSON-2 needs a key).
    pub secret_is_api_key: bool,
    pub transport: TransportChoice,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_response_bytes: u64,
    /// First backoff delay; doubled per attempt, capped at `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// PEM file contents of an extra CA to trust for https (private CAs).
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl ClientConfig {
    pub fn new(base_url: &str, db: &str, login: &str, secret: Secret) -> ClientConfig {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            db: db.to_owned(),
            login: login.to_owned(),
            secret,
            secret_is_api_key: false,
            transport: TransportChoice::JsonRpc,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            max_response_bytes: 256 << 20,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            extra_ca_pem: None,
        }
    }

    fn validate(&self) -> Result<(), OdooError> {
        let url = &self.base_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(OdooError::Config(format!("base URL \"{url}\" must start with http:// or https://")));
        }
        if url.len() <= "https://".len() || url["http://".len()..].trim_start_matches('/').is_empty() {
            return Err(OdooError::Config(format!("base URL \"{url}\" has no host")));
        }
        if self.db.is_empty() {
            return Err(OdooError::Config("the Odoo database name is empty".into()));
        }
        if self.login.is_empty() && self.transport != TransportChoice::Json2 {
            return Err(OdooError::Config("the Odoo login is empty".into()));
        }
        if self.secret.0.is_empty() {
            return Err(OdooError::Config("no Odoo password or API key is set".into()));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    pub major: i64,
    pub text: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FieldInfo {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub relation: Option<String>,
    #[serde(default)]
    pub store: Option<bool>,
}

/// Counters a caller can report (how hard the run had to work).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    pub calls: u64,
    pub retries: u64,
    pub bytes: u64,
}

impl CallStats {
    /// Adds another client's counters (a forked stream's) to these.
    pub fn add(&mut self, other: &CallStats) {
        self.calls += other.calls;
        self.retries += other.retries;
        self.bytes += other.bytes;
    }
}

pub struct Client {
    cfg: ClientConfig,
    http: Http,
    transport: Option<Box<dyn Transport + Send>>,
    version: Option<ServerVersion>,
    /// Odoo's clock (HTTP `Date`) of the last answer, and when that answer arrived here.
    server_time: Option<(UnixSeconds, Instant)>,
    wait_hook: WaitHook,
    /// Shared with the clients forked from this one (and it from): see [`Throttle`].
    throttle: Arc<Throttle>,
    pub stats: CallStats,
}

/// When Odoo (or its proxy) answers 429 or 503 it is overloaded: every client of one family
/// (a client and its forks, the streams of one run) sends nothing more until the wait that
/// answer asked for (`Retry-After`, else the client's backoff) is over, instead of each stream
/// retrying into the overload on its own.
#[derive(Default)]
struct Throttle {
    until: Mutex<Option<Instant>>,
}

impl Throttle {
    fn hold_until(&self, t: Instant) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        *until = Some(until.map_or(t, |u| u.max(t)));
    }

    fn remaining(&self) -> Duration {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.map_or(Duration::ZERO, |u| u.saturating_duration_since(Instant::now()))
    }
}

/// Called often while the client waits between retries (in slices of 100 ms); returning false
/// abandons the call with [`OdooError::Interrupted`]. It may also panic/unwind to abort it.
/// `Send`, like the whole client, so that a page can be fetched on another thread.
pub type WaitHook = Box<dyn FnMut() -> bool + Send>;

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, OdooError> {
        cfg.validate()?;
        let http = Http::new(cfg.timeout, cfg.max_response_bytes, cfg.extra_ca_pem.as_deref())?;
        Ok(Client {
            cfg,
            http,
            transport: None,
            version: None,
            server_time: None,
            wait_hook: Box::new(|| true),
            throttle: Arc::default(),
            stats: CallStats::default(),
        })
    }

    /// Another client on the same Odoo as the same user, with a connection of its own: a
    /// stream for fetching in parallel. It needs no login of its own (the session's state is
    /// copied); its wait hook lets every wait run until the caller sets one, and its stats
    /// start at zero (add them back with [`CallStats::add`]).
    pub fn fork(&self) -> Result<Client, OdooError> {
        let http = Http::new(self.cfg.timeout, self.cfg.max_response_bytes, self.cfg.extra_ca_pem.as_deref())?;
        Ok(Client {
            cfg: self.cfg.clone(),
            http,
            transport: self.transport.as_ref().map(|t| t.fork()),
            version: self.version.clone(),
            server_time: self.server_time,
            wait_hook: Box::new(|| true),
            throttle: self.throttle.clone(),
            stats: CallStats::default(),
        })
    }

    /// Sets the [`WaitHook`], so that an embedding program can honour cancellation.
    pub fn set_wait_hook(&mut self, hook: impl FnMut() -> bool + Send + 'static) {
        self.wait_hook = Box::new(hook);
    }

    /// Swaps the [`WaitHook`] (e.g. for one that is safe on another thread); returns the old one.
    pub fn replace_wait_hook(&mut self, hook: WaitHook) -> WaitHook {
        std::mem::replace(&mut self.wait_hook, hook)
    }

    /// Odoo's clock as of the last answer (HTTP `Date`, whole seconds). Possibly old: a
    /// client kept between calls last heard from Odoo whenever its last call was. To plan
    /// anything on Odoo's clock use [`Client::server_time_since`].
    pub fn server_time(&self) -> Option<UnixSeconds> {
        self.server_time.map(|(t, _)| t)
    }

    /// Odoo's clock as read by an answer that arrived after `since`: the last answer's `Date`
    /// when it is that recent, else a fresh `common.version` call (no login, the cheapest
    /// request Odoo answers; it also refreshes [`Client::version`]). The result is never
    /// earlier than Odoo's clock at `since`, less the `Date` header's truncation to a second.
    pub fn server_time_since(&mut self, since: Instant) -> Result<UnixSeconds, OdooError> {
        if let Some((t, at)) = self.server_time {
            if at >= since {
                return Ok(t);
            }
        }
        self.server_version()?;
        match self.server_time {
            Some((t, at)) if at >= since => Ok(t),
            _ => Err(OdooError::Protocol {
                url: self.jsonrpc_url(),
                detail: "the answer has no HTTP Date header: cannot read Odoo's clock".into(),
            }),
        }
    }

    pub fn version(&self) -> Option<&ServerVersion> {
        self.version.as_ref()
    }

    pub fn transport_name(&self) -> &'static str {
        self.transport.as_ref().map(|t| t.name()).unwrap_or("none")
    }

    fn jsonrpc_url(&self) -> String {
        format!("{}/jsonrpc", self.cfg.base_url)
    }

    /// Runs `op` until it succeeds, fails for good, or the retry budget is spent.
    fn with_retries<T>(&mut self, mut op: impl FnMut(&mut Client) -> Result<T, OdooError>) -> Result<T, OdooError> {
        let mut attempt = 0u32;
        loop {
            let held = self.throttle.remaining();
            if !held.is_zero() && !self.pause(held) {
                return Err(OdooError::Interrupted);
            }
            self.stats.calls += 1;
            let result = op(self);
            let backoff = self.cfg.backoff.saturating_mul(1 << attempt.min(16)).min(self.cfg.max_backoff);
            let delay = match &result {
                Err(OdooError::Http { retry_after: Some(s), .. }) => {
                    Duration::from_secs(*s).min(self.cfg.max_backoff.max(Duration::from_secs(60)))
                }
                _ => backoff,
            };
            if let Err(OdooError::Http { status: 429 | 503, .. }) = &result {
                self.throttle.hold_until(Instant::now() + delay);
            }
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.cfg.max_retries => {
                    attempt += 1;
                    self.stats.retries += 1;
                    if !self.pause(delay) {
                        return Err(OdooError::Interrupted);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits `d`, asking the hook every 100 ms; false if the hook asked to stop.
    fn pause(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if !(self.wait_hook)() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    fn note_time(&mut self, r: &CallResult) {
        if let Some(t) = r.server_time {
            self.server_time = Some((t, Instant::now()));
        }
        self.stats.bytes += r.raw.as_ref().map(|s| s.len() as u64).unwrap_or(0);
    }

    fn common(&mut self, method: &str, args: Value) -> Result<CallResult, OdooError> {
        let url = self.jsonrpc_url();
        let r = self.with_retries(|c| JsonRpc::rpc(&c.http, &url, "common", method, args.clone()))?;
        self.note_time(&r);
        Ok(r)
    }

    /// `common.version`: works without credentials on every version.
    pub fn server_version(&mut self) -> Result<ServerVersion, OdooError> {
        let url = self.jsonrpc_url();
        let r = self.common("version", json!([]))?;
        #[derive(Deserialize)]
        struct V {
            server_version: String,
            #[serde(default)]
            server_version_info: Vec<Value>,
        }
        let v: V = parse(&url, r.raw.as_deref())?;
        let major = v
            .server_version_info
            .first()
            .and_then(Value::as_i64)
            .or_else(|| leading_int(&v.server_version))
            .unwrap_or(0);
        let sv = ServerVersion { major, text: v.server_version };
        self.version = Some(sv.clone());
        Ok(sv)
    }

    /// Logs in and picks the transport. Must be called before any model call.
    pub fn connect(&mut self) -> Result<(), OdooError> {
        let version = match &self.version {
            Some(v) => v.clone(),
            None => self.server_version()?,
        };
        let use_json2 = match self.cfg.transport {
            TransportChoice::JsonRpc => false,
            TransportChoice::Json2 => true,
            TransportChoice::Auto => version.major >= 19 && self.cfg.secret_is_api_key,
        };
        if use_json2 {
            if version.major < 19 {
                return Err(OdooError::Config(format!(
                    "the JSON-2 API needs Odoo 19 or newer; this server is {}",
                    version.text
                )));
            }
            self.transport = Some(Box::new(Json2 {
                base_url: self.cfg.base_url.clone(),
                db: self.cfg.db.clone(),
                api_key: self.cfg.secret.0.clone(),
            }));
            return Ok(());
        }
        let url = self.jsonrpc_url();
        let args = json!([self.cfg.db, self.cfg.login, self.cfg.secret.0, {}]);
        let r = self.common("authenticate", args)?;
        let uid: Value = parse(&url, r.raw.as_deref())?;
        let uid = match uid {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
            Value::Bool(false) | Value::Null => {
                return Err(OdooError::AuthFailed { db: self.cfg.db.clone(), login: self.cfg.login.clone() })
            }
            other => {
                return Err(OdooError::Protocol { url, detail: format!("authenticate returned {}", short(&other)) })
            }
        };
        self.transport =
            Some(Box::new(JsonRpc { url, db: self.cfg.db.clone(), uid, secret: self.cfg.secret.0.clone() }));
        Ok(())
    }

    /// `model.method(**kwargs)` with retries; returns the raw JSON text of the result.
    pub fn call_raw(
        &mut self,
        model: &str,
        method: &str,
        kwargs: Map<String, Value>,
    ) -> Result<Option<String>, OdooError> {
        if self.transport.is_none() {
            self.connect()?;
        }
        let r = self.with_retries(|c| {
            let Client { transport, http, .. } = c;
            match transport.as_mut() {
                Some(t) => t.call(http, model, method, kwargs.clone()),
                None => Err(OdooError::Config("not connected".into())),
            }
        })?;
        self.note_time(&r);
        Ok(r.raw)
    }

    fn call_parsed<T: for<'de> Deserialize<'de>>(
        &mut self,
        model: &str,
        method: &str,
        kwargs: Map<String, Value>,
    ) -> Result<T, OdooError> {
        let raw = self.call_raw(model, method, kwargs)?;
        parse(&format!("{model}.{method}"), raw.as_deref())
    }

    /// Field names and types of a model (`fields_get`).
    pub fn fields_get(&mut self, model: &str) -> Result<BTreeMap<String, FieldInfo>, OdooError> {
        let mut kw = Map::new();
        kw.insert("attributes".into(), json!(["type", "relation", "store"]));
        self.call_parsed(model, "fields_get", kw)
    }

    /// One page of `search_read`, returned as the raw JSON array text exactly as Odoo sent it
    /// (numbers untouched, so money is never rounded through a float).
    pub fn search_read_raw(
        &mut self,
        model: &str,
        domain: &Value,
        fields: &[String],
        order: &str,
        limit: u32,
        context: &Value,
    ) -> Result<String, OdooError> {
        let mut kw = Map::new();
        kw.insert("domain".into(), domain.clone());
        kw.insert("fields".into(), json!(fields));
        kw.insert("order".into(), json!(order));
        kw.insert("limit".into(), json!(limit));
        kw.insert("context".into(), context.clone());
        let raw = self.call_raw(model, "search_read", kw)?;
        match raw {
            Some(s) if s.trim_start().starts_with('[') => Ok(s),
            other => Err(OdooError::Protocol {
                url: format!("{model}.search_read"),
                detail: format!(
                    "expected a list of records, got {}",
                    other.as_deref().map(|s| &s[..s.len().min(80)]).unwrap_or("no result")
                ),
            }),
        }
    }

    pub fn search_count(&mut self, model: &str, domain: &Value, context: &Value) -> Result<i64, OdooError> {
        let mut kw = Map::new();
        kw.insert("domain".into(), domain.clone());
        kw.insert("context".into(), context.clone());
        self.call_parsed(model, "search_count", kw)
    }

    /// Ids matching a domain, in id order, one bounded page at a time.
    pub fn search_ids(
        &mut self,
        model: &str,
        domain: &Value,
        limit: u32,
        context: &Value,
    ) -> Result<Vec<i64>, OdooError> {
        let mut kw = Map::new();
        kw.insert("domain".into(), domain.clone());
        kw.insert("order".into(), json!("id asc"));
        kw.insert("limit".into(), json!(limit));
        kw.insert("context".into(), context.clone());
        self.call_parsed(model, "search", kw)
    }
}

/// What `load` answered: the records' ids in row order, or Odoo's messages when any row failed
/// (then nothing of the call was kept).
#[derive(Debug, Deserialize)]
pub struct LoadAnswer {
    #[serde(deserialize_with = "ids_or_false")]
    pub ids: Option<Vec<i64>>,
    #[serde(default)]
    pub messages: Vec<LoadMessage>,
}

/// One of `load`'s messages: `{"type": "error", "field": ..., "message": ..., "record": i}`.
#[derive(Debug, Deserialize)]
pub struct LoadMessage {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: String,
    /// The row it is about (0-based), when Odoo says.
    #[serde(default)]
    pub record: Option<i64>,
}

fn ids_or_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(a) => a
            .into_iter()
            .map(|v| v.as_i64().ok_or_else(|| serde::de::Error::custom("an id that is not an integer")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Value::Bool(false) | Value::Null => Ok(None),
        other => Err(serde::de::Error::custom(format!("ids is {other}"))),
    }
}

impl Client {
    /// `model.load(fields, data)`: Odoo's import, an upsert keyed on the `id` column's external
    /// ids. Atomic on Odoo's side: a row that fails leaves the whole call undone. Safe to retry:
    /// a retry after a lost answer finds the records by external id again.
    pub fn load(&mut self, model: &str, fields: &[String], rows: &[Vec<String>]) -> Result<LoadAnswer, OdooError> {
        let mut kw = Map::new();
        kw.insert("fields".into(), json!(fields));
        kw.insert("data".into(), json!(rows));
        self.call_parsed(model, "load", kw)
    }

    /// `model.browse(ids).write(vals)`. Only idempotent values belong here (plain values and the
    /// many2many commands link `[4, id]` and unlink `[3, id]`): the client retries.
    pub fn write(&mut self, model: &str, ids: &[i64], vals: &Map<String, Value>) -> Result<(), OdooError> {
        let mut kw = Map::new();
        kw.insert("ids".into(), json!(ids));
        kw.insert("vals".into(), Value::Object(vals.clone()));
        let ok: Value = self.call_parsed(model, "write", kw)?;
        match ok {
            Value::Bool(true) => Ok(()),
            other => Err(OdooError::Protocol {
                url: format!("{model}.write"),
                detail: format!("write returned {}", short(&other)),
            }),
        }
    }
}

impl Client {
    /// `model.browse(ids).unlink()`.
    pub fn unlink(&mut self, model: &str, ids: &[i64]) -> Result<(), OdooError> {
        let mut kw = Map::new();
        kw.insert("ids".into(), json!(ids));
        let _: Value = self.call_parsed(model, "unlink", kw)?;
        Ok(())
    }
}

fn leading_int(s: &str) -> Option<i64> {
    let digits: String = s.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(80).collect()
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, raw: Option<&str>) -> Result<T, OdooError> {
    let raw =
        raw.ok_or_else(|| OdooError::Protocol { url: what.into(), detail: "the response has no result".into() })?;
    serde_json::from_str(raw)
        .map_err(|e| OdooError::Protocol { url: what.into(), detail: format!("unexpected result: {e}") })
}
