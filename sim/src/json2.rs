//! Odoo 19's JSON-2 API: `POST /json/2/<model>/<method>` with `Authorization: bearer <key>`,
//! keyword arguments as the body, the bare result on success, and errors as a bare
//! `{name, message, arguments, context, debug}` with a real HTTP status.

use crate::errors::OdooError;
use crate::faults::ReqInfo;
use crate::http::{Request, Response};
use crate::orm::{self, Call};
use crate::sim::Sim;
use serde_json::{Map, Value};

pub const NOT_FOUND_HTML: &str = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n";

pub fn not_found() -> Response {
    Response::html(404, NOT_FOUND_HTML)
}

/// `/json/2/<model>/<method>` → (model, method).
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/json/2/")?;
    let (model, method) = rest.split_once('/')?;
    if model.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((model, method))
}

pub fn info(path: &str) -> ReqInfo {
    let (model, method) =
        split_path(path).map(|(a, b)| (Some(a.to_string()), Some(b.to_string()))).unwrap_or((None, None));
    ReqInfo { path: path.to_string(), service: None, method, model }
}

pub fn error(e: &OdooError) -> Response {
    let mut r = Response::json(e.status, e.json2_body());
    for (k, v) in &e.headers {
        r.headers.push((k.clone(), v.clone()));
    }
    r
}

/// The bearer token of the Authorization header (scheme is case-insensitive).
fn bearer(req: &Request) -> Option<&str> {
    let h = req.header("Authorization")?.trim();
    let (scheme, token) = h.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

pub fn authorized(sim: &Sim, req: &Request) -> bool {
    match (bearer(req), sim.cfg.api_key.as_deref()) {
        (Some(t), Some(k)) => t == k,
        _ => false,
    }
}

pub fn respond(sim: &Sim, req: &Request) -> Response {
    if !sim.v19() {
        return not_found();
    }
    let Some((model, method)) = split_path(&req.path) else { return not_found() };
    if let Some(db) = req.header("X-Odoo-Database") {
        if db != sim.cfg.db {
            return not_found();
        }
    }
    if !authorized(sim, req) {
        return error(&OdooError::invalid_apikey());
    }
    if req.method != "POST" {
        return error(&OdooError::http(405, "The method is not allowed for the requested URL."));
    }
    let mut kwargs: Map<String, Value> = if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return error(&OdooError::http(400, "could not parse the body, expecting a json object")),
            Err(e) => return error(&OdooError::http(400, format!("could not parse the body as json: {e}"))),
        }
    };
    let Some(mi) = sim.schema.model(model) else {
        return error(&OdooError::http(404, format!("the model '{model}' does not exist")));
    };
    let m = match orm::resolve_method(sim.schema.get(mi), method) {
        Ok(m) => m,
        Err(e) if e.name == "builtins.AttributeError" => return error(&OdooError::http(404, e.message)),
        Err(e) => return error(&e),
    };
    let context = kwargs.remove("context").unwrap_or(Value::Null);
    let ids_v = kwargs.remove("ids");
    let ids = match &ids_v {
        Some(v) => match crate::args::parse_ids(v) {
            Ok(ids) => ids,
            Err(e) => return error(&e),
        },
        None => Vec::new(),
    };
    if !m.records && !ids.is_empty() {
        return error(&OdooError::http(422, format!("cannot call {model}.{method} with ids")));
    }
    let params = match orm::bind(m, &[], &kwargs, true) {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    let call = Call { model: mi, method: m, ids, params, context: &context, uid: crate::jsonrpc::UID, json2: true };
    let mut out = String::with_capacity(64 * 1024);
    match orm::run(sim, &call, &mut out) {
        Ok(true) => Response::json(200, out),
        Ok(false) => Response::json(200, "null"),
        Err(e) => error(&e),
    }
}
