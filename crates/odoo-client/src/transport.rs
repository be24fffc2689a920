//! The two ways of talking to Odoo, behind one small interface so that the day `/jsonrpc` goes
//! (announced for Odoo 22) nothing above this file changes.
//!
//! Every call is expressed with named arguments (`domain`, `fields`, `ids`, ...), which is what
//! JSON-2 takes; the JSON-RPC transport moves the leading ones into positional `args` the way
//! `execute_kw` expects.

use crate::error::OdooError;
use crate::http::{Http, HttpResponse};
use crate::time::UnixSeconds;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// A successful call: the raw JSON text of the result (None when Odoo returned nothing),
/// and Odoo's clock at the time of the answer (the HTTP `Date` header).
pub struct CallResult {
    pub raw: Option<String>,
    pub server_time: Option<UnixSeconds>,
}

pub trait Transport {
    /// `model.method(**kwargs)` on Odoo as the configured user.
    fn call(
        &mut self,
        http: &Http,
        model: &str,
        method: &str,
        kwargs: Map<String, Value>,
    ) -> Result<CallResult, OdooError>;
    fn name(&self) -> &'static str;
    /// The same connection state (user, credentials) for another client: parallel streams.
    fn fork(&self) -> Box<dyn Transport + Send>;
}

/// Which leading named arguments become positional `args` for `execute_kw`.
fn positional_for(method: &str) -> &'static [&'static str] {
    match method {
        "search_read" | "search" | "search_count" => &["domain"],
        "read" => &["ids"],
        "write" => &["ids", "vals"],
        "unlink" => &["ids"],
        "create" => &["vals_list"],
        "load" => &["fields", "data"],
        _ => &[],
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<FaultData>,
}

/// Odoo's exception description, shared by both transports (JSON-2 sends it bare).
#[derive(Deserialize)]
struct FaultData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
}

/// Turns a non-success HTTP answer into the most precise error we can read from it.
fn http_failure(url: &str, resp: &HttpResponse) -> OdooError {
    if (300..400).contains(&resp.status) {
        return OdooError::Redirect { url: url.into(), location: resp.location.clone().unwrap_or_default() };
    }
    let excerpt: String = resp.body.chars().take(120).filter(|c| !c.is_control()).collect();
    OdooError::Http { url: url.into(), status: resp.status, retry_after: resp.retry_after, detail: excerpt }
}

/// `POST /jsonrpc` with `object.execute_kw` (Odoo 8 to 21).
pub struct JsonRpc {
    pub url: String,
    pub db: String,
    pub uid: i64,
    pub secret: String,
}

impl JsonRpc {
    /// A raw JSON-RPC call to any service; used for `common.version` and `common.authenticate`.
    pub fn rpc(http: &Http, url: &str, service: &str, method: &str, args: Value) -> Result<CallResult, OdooError> {
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}, "id": 1});
        let resp = http.post(url, body.to_string(), &[])?;
        if resp.status != 200 {
            return Err(http_failure(url, &resp));
        }
        let env: Envelope =
            serde_json::from_str(&resp.body).map_err(|e| not_json(url, &resp.body, e, "a JSON-RPC response"))?;
        if let Some(err) = env.error {
            let data = err.data.unwrap_or(FaultData { name: String::new(), message: err.message.clone() });
            return Err(OdooError::Fault {
                name: if data.name.is_empty() { "odoo.error".into() } else { data.name },
                message: if data.message.is_empty() { err.message } else { data.message },
                code: err.code,
                http_status: 200,
            });
        }
        Ok(CallResult { raw: env.result.map(|r| r.get().to_owned()), server_time: resp.date })
    }
}

impl Transport for JsonRpc {
    fn call(
        &mut self,
        http: &Http,
        model: &str,
        method: &str,
        mut kwargs: Map<String, Value>,
    ) -> Result<CallResult, OdooError> {
        let mut positional = Vec::new();
        for name in positional_for(method) {
            match kwargs.remove(*name) {
                Some(v) => positional.push(v),
                None => break,
            }
        }
        let args = json!([self.db, self.uid, self.secret, model, method, positional, kwargs]);
        JsonRpc::rpc(http, &self.url, "object", "execute_kw", args)
    }

    fn name(&self) -> &'static str {
        "jsonrpc"
    }

    fn fork(&self) -> Box<dyn Transport + Send> {
        Box::new(JsonRpc { url: self.url.clone(), db: self.db.clone(), uid: self.uid, secret: self.secret.clone() })
    }
}

/// Odoo 19's `POST /json/2/<model>/<method>` with a bearer API key: named arguments, bare
/// results, real HTTP status codes.
pub struct Json2 {
    pub base_url: String,
    pub db: String,
    pub api_key: String,
}

impl Transport for Json2 {
    fn call(
        &mut self,
        http: &Http,
        model: &str,
        method: &str,
        kwargs: Map<String, Value>,
    ) -> Result<CallResult, OdooError> {
        let url = format!("{}/json/2/{}/{}", self.base_url, model, method);
        let auth = format!("bearer {}", self.api_key);
        let mut headers = vec![("Authorization", auth.as_str())];
        if !self.db.is_empty() {
            headers.push(("X-Odoo-Database", self.db.as_str()));
        }
        let resp = http.post(&url, Value::Object(kwargs).to_string(), &headers)?;
        if resp.status == 200 {
            // Validate it is JSON without building a tree: the caller parses what it needs.
            serde_json::from_str::<&RawValue>(&resp.body).map_err(|e| not_json(&url, &resp.body, e, "JSON"))?;
            return Ok(CallResult { server_time: resp.date, raw: Some(resp.body) });
        }
        match serde_json::from_str::<FaultData>(&resp.body) {
            Ok(f) if !f.name.is_empty() => {
                Err(OdooError::Fault { name: f.name, message: f.message, code: 0, http_status: resp.status })
            }
            _ => Err(http_failure(&url, &resp)),
        }
    }

    fn name(&self) -> &'static str {
        "json2"
    }

    fn fork(&self) -> Box<dyn Transport + Send> {
        Box::new(Json2 { base_url: self.base_url.clone(), db: self.db.clone(), api_key: self.api_key.clone() })
    }
}

/// A body that does not parse: a number JSON cannot carry (named with its field and record), or
/// not what Odoo sends at all.
fn not_json(url: &str, body: &str, e: serde_json::Error, what: &str) -> OdooError {
    match crate::nonjson::find_non_json_number(body) {
        Some((token, field, record_id)) => OdooError::NonJsonNumber { url: url.into(), token, field, record_id },
        None => OdooError::Protocol { url: url.into(), detail: format!("the body is not {what} ({e})") },
    }
}
