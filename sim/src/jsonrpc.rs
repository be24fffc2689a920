//! `POST /jsonrpc`: services `common` (version, login, authenticate) and `object`
//! (execute_kw, execute), with Odoo's envelopes and errors.

use crate::errors::{OResult, OdooError};
use crate::faults::ReqInfo;
use crate::http::Response;
use crate::json::{py_repr, write_value};
use crate::orm::{self, Call};
use crate::sim::Sim;
use serde_json::{Map, Value};

pub const UID: u32 = 2;

/// A parsed JSON-RPC request (or the 400 response Odoo gives for a broken one).
pub struct RpcRequest {
    pub id: Value,
    pub params: Value,
}

pub fn parse(body: &[u8]) -> Result<RpcRequest, Response> {
    let v: Value = serde_json::from_slice(body).map_err(|_| Response::html(400, "Invalid JSON data"))?;
    let Value::Object(o) = v else {
        return Err(Response::html(400, "Invalid JSON-RPC data"));
    };
    Ok(RpcRequest {
        id: o.get("id").cloned().unwrap_or(Value::Null),
        params: o.get("params").cloned().unwrap_or(Value::Null),
    })
}

impl RpcRequest {
    pub fn service(&self) -> Option<&str> {
        self.params.get("service").and_then(|v| v.as_str())
    }
    pub fn method(&self) -> Option<&str> {
        self.params.get("method").and_then(|v| v.as_str())
    }
    fn args(&self) -> &[Value] {
        self.params.get("args").and_then(|v| v.as_array()).map(|v| v.as_slice()).unwrap_or(&[])
    }
    /// For fault matching and stats: the model method for `object`, else the service method.
    pub fn info(&self, path: &str) -> ReqInfo {
        let args = self.args();
        let (model, method) = if self.service() == Some("object") {
            (
                args.get(3).and_then(|v| v.as_str()).map(String::from),
                args.get(4).and_then(|v| v.as_str()).map(String::from),
            )
        } else {
            (None, self.method().map(String::from))
        };
        ReqInfo { path: path.to_string(), service: self.service().map(String::from), method, model }
    }
}

pub fn envelope_prefix(id: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("{\"jsonrpc\": \"2.0\", \"id\": ");
    write_value(&mut out, id);
    out
}

pub fn result_json(id: &Value, result: &Value) -> Response {
    let mut out = envelope_prefix(id);
    out.push_str(", \"result\": ");
    write_value(&mut out, result);
    out.push('}');
    Response::json(200, out)
}

pub fn error_response(sim: &Sim, id: &Value, e: &OdooError) -> Response {
    Response::json(200, e.rpc_envelope(id, sim.rpc_code()))
}

pub fn respond(sim: &Sim, req: &RpcRequest) -> Response {
    let mut out = envelope_prefix(&req.id);
    out.push_str(", \"result\": ");
    match dispatch(sim, req, &mut out) {
        Ok(true) => {
            out.push('}');
            Response::json(200, out)
        }
        Ok(false) => Response::json(200, format!("{}}}", envelope_prefix(&req.id))),
        Err(e) => error_response(sim, &req.id, &e),
    }
}

fn arg(args: &[Value], i: usize) -> OResult<&Value> {
    args.get(i).ok_or_else(|| OdooError::new("builtins.IndexError", "list index out of range", 500))
}

/// True when the password (or the API key) is right; `expired_key` rejects the API key.
pub fn password_ok(sim: &Sim, password: &Value, expired_key: bool) -> bool {
    let Some(p) = password.as_str() else { return false };
    p == sim.cfg.password || (!expired_key && sim.cfg.api_key.as_deref() == Some(p))
}

fn dispatch(sim: &Sim, req: &RpcRequest, out: &mut String) -> OResult<bool> {
    let p = &req.params;
    let (Some(service), Some(method)) = (p.get("service"), p.get("method")) else {
        let missing = if p.get("service").is_none() { "service" } else { "method" };
        return Err(OdooError::type_error(format!("jsonrpc() missing 1 required positional argument: '{missing}'")));
    };
    if p.get("args").is_none() {
        return Err(OdooError::type_error("jsonrpc() missing 1 required positional argument: 'args'"));
    }
    let service = service.as_str().unwrap_or("");
    let method = method.as_str().unwrap_or("");
    let args = req.args();
    match service {
        "common" => common(sim, method, args, out, false),
        "object" => object(sim, method, args, out, false),
        "db" => Err(OdooError::access_denied()),
        other => Err(OdooError::key_error(other)),
    }
}

/// `common` service. `expired_key` is the api_key_expired fault.
pub fn common(sim: &Sim, method: &str, args: &[Value], out: &mut String, expired_key: bool) -> OResult<bool> {
    match method {
        "version" => {
            let v = sim.cfg.version;
            out.push_str(&format!(
                "{{\"server_version\": \"{v}.0\", \"server_version_info\": [{v}, 0, 0, \"final\", 0, \"\"], \"server_serie\": \"{v}.0\", \"protocol_version\": 1}}"
            ));
            Ok(true)
        }
        "login" | "authenticate" => {
            let need = if method == "login" { 3 } else { 4 };
            if args.len() < need {
                let names = ["db", "login", "password", "user_agent_env"];
                let missing: Vec<String> = names[args.len()..need].iter().map(|n| format!("'{n}'")).collect();
                return Err(OdooError::type_error(format!(
                    "exp_{}() missing {} required positional argument{}: {}",
                    method,
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" },
                    join_and(&missing)
                )));
            }
            let db = args[0].as_str().unwrap_or("");
            if db != sim.cfg.db {
                return Err(OdooError::unknown_db(db));
            }
            let ok = args[1].as_str() == Some(sim.cfg.user.as_str()) && password_ok(sim, &args[2], expired_key);
            out.push_str(if ok { "2" } else { "false" });
            Ok(true)
        }
        other => Err(OdooError::new("builtins.Exception", format!("Method not found: {other}"), 500)),
    }
}

fn join_and(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// `object` service: execute_kw(db, uid, password, model, method, args, kwargs) / execute.
pub fn object(sim: &Sim, method: &str, args: &[Value], out: &mut String, expired_key: bool) -> OResult<bool> {
    let db = arg(args, 0)?;
    let uid_v = arg(args, 1)?;
    let password = arg(args, 2)?;
    let uid: i64 = match uid_v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::Bool(b) => *b as i64,
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| OdooError::value(format!("invalid literal for int() with base 10: {}", py_repr(uid_v))))?,
        _ => {
            return Err(OdooError::type_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                py_type(uid_v)
            )))
        }
    };
    let db = db.as_str().unwrap_or("");
    if db != sim.cfg.db {
        return Err(OdooError::unknown_db(db));
    }
    if uid != UID as i64 || !password_ok(sim, password, expired_key) {
        return Err(OdooError::access_denied());
    }
    let (model, meth, pos, kw): (&Value, &Value, Vec<Value>, Map<String, Value>) = match method {
        "execute_kw" => {
            let model = arg(args, 3).map_err(|_| missing_arg("execute_kw", &["obj", "method", "args"]))?;
            let meth = arg(args, 4).map_err(|_| missing_arg("execute_kw", &["method", "args"]))?;
            let pos = match arg(args, 5).map_err(|_| missing_arg("execute_kw", &["args"]))? {
                Value::Array(a) => a.clone(),
                Value::Null => Vec::new(),
                other => {
                    return Err(OdooError::type_error(format!(
                        "Value after * must be an iterable, not {}",
                        py_type(other)
                    )))
                }
            };
            let kw = match args.get(6) {
                Some(Value::Object(o)) => o.clone(),
                None | Some(Value::Null) => Map::new(),
                Some(other) => {
                    return Err(OdooError::type_error(format!(
                        "argument after ** must be a mapping, not {}",
                        py_type(other)
                    )))
                }
            };
            (model, meth, pos, kw)
        }
        "execute" => {
            let model = arg(args, 3)?;
            let meth = arg(args, 4)?;
            (model, meth, args[5..].to_vec(), Map::new())
        }
        other => return Err(OdooError::new("builtins.NameError", format!("Method not available {other}"), 500)),
    };
    let model = model.as_str().unwrap_or("");
    let meth = meth.as_str().unwrap_or("");
    let (mi, m) = orm::resolve(&sim.schema, model, meth)?;
    let mut kw = kw;
    let context = kw.remove("context").unwrap_or(Value::Null);
    let (ids, rest) = if m.records {
        let first = pos.first().ok_or_else(|| OdooError::new("builtins.IndexError", "list index out of range", 500))?;
        (crate::args::parse_ids(first)?, &pos[1..])
    } else {
        (Vec::new(), &pos[..])
    };
    let params = orm::bind(m, rest, &kw, false)?;
    let call = Call { model: mi, method: m, ids, params, context: &context, uid: UID, json2: false };
    orm::run(sim, &call, out)
}

fn missing_arg(func: &str, names: &[&str]) -> OdooError {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    OdooError::type_error(format!(
        "{}() missing {} required positional argument{}: {}",
        func,
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        join_and(&quoted)
    ))
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
