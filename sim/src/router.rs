//! The request router: which endpoint serves a request (control API, /jsonrpc, JSON-2, version),
//! and how an armed fault replaces the normal answer. It uses the simulator's state (sim.rs)
//! and the protocol modules; none of them uses it.

use crate::clock::http_date;
use crate::errors::OdooError;
use crate::faults::{Kind, ReqInfo};
use crate::http::{Delivery, Handler, Request, Response};
use crate::json::write_value;
use crate::sim::Sim;
use crate::{control, json2, jsonrpc};
use serde_json::Value;
use std::time::Duration;

/// The protocol of an API request, for shaping faults.
enum Api<'a> {
    Rpc { id: &'a Value, service: Option<&'a str>, method: Option<&'a str> },
    Json2,
    Plain,
}

fn proxy_page(status: u16) -> String {
    let title = format!(
        "{} {}",
        status,
        crate::http::reason(status)
            .split(' ')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    format!("<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

/// A JSON answer whose list of ids (the whole body, or JSON-RPC's `result`) is reversed or cut;
/// any other answer is left as it is.
fn tamper_ids(body: &[u8], reverse: bool, keep: Option<usize>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else { return body.to_vec() };
    let list = match v.get_mut("result") {
        Some(r) => r,
        None => &mut v,
    };
    if let Value::Array(ids) = list {
        if reverse {
            ids.reverse();
        }
        if let Some(k) = keep {
            ids.truncate(k);
        }
    }
    serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec())
}

impl Sim {
    fn fault_response(&self, kind: Kind, api: &Api, normal: &dyn Fn() -> Response) -> Response {
        let odoo_error = |e: OdooError| -> Response {
            match api {
                Api::Rpc { id, .. } => jsonrpc::error_response(self, id, &e),
                Api::Json2 => json2::error(&e),
                Api::Plain => Response::json(200, e.rpc_envelope(&Value::Null, self.rpc_code())),
            }
        };
        match kind {
            Kind::Latency { .. } => normal(),
            Kind::HttpStatus { status, retry_after } => {
                let mut r = Response::html(status, proxy_page(status));
                if let Some(ra) = retry_after {
                    r.headers.push(("Retry-After".into(), ra));
                }
                r
            }
            Kind::Reset => Response { delivery: Delivery::Reset, ..normal() },
            Kind::TruncatedJson => Response { delivery: Delivery::Truncated, ..normal() },
            Kind::TruncatedJsonFramed => Response { delivery: Delivery::TruncatedFramed, ..normal() },
            Kind::Drip { bytes_per_sec } => Response { delivery: Delivery::Drip(bytes_per_sec), ..normal() },
            Kind::InvalidJson => Response::html(200, proxy_page(502)),
            Kind::TamperIds { reverse, keep } => {
                let mut r = normal();
                r.body = tamper_ids(&r.body, reverse, keep);
                r
            }
            Kind::OdooFault { name, message, code, status } => {
                let guess = if name.contains("AccessError") || name.contains("AccessDenied") {
                    403
                } else if name.contains("UserError") || name.contains("ValidationError") {
                    422
                } else if name.contains("MissingError") {
                    404
                } else {
                    500
                };
                let mut e = OdooError::new(&name, message, status.unwrap_or(guess));
                e.code = code;
                odoo_error(e)
            }
            Kind::AccessDenied => odoo_error(OdooError::access_denied()),
            Kind::SessionExpired => odoo_error(OdooError::session_expired()),
            Kind::ApiKeyExpired => match api {
                Api::Json2 => json2::error(&OdooError::invalid_apikey()),
                // An expired key no longer authenticates: authenticate/login answer false.
                Api::Rpc { id, service: Some("common"), method: Some("authenticate" | "login") } => {
                    jsonrpc::result_json(id, &Value::Bool(false))
                }
                _ => odoo_error(OdooError::access_denied()),
            },
            Kind::Oversize { bytes } => {
                let (prefix, suffix) = match api {
                    Api::Rpc { id, .. } => {
                        let mut p = String::from("{\"jsonrpc\": \"2.0\", \"id\": ");
                        write_value(&mut p, id);
                        p.push_str(", \"result\": [");
                        (p, "]}")
                    }
                    _ => ("[".to_string(), "]"),
                };
                let room = bytes.saturating_sub(prefix.len() + suffix.len());
                let mut body = String::with_capacity(bytes.max(prefix.len() + suffix.len()));
                body.push_str(&prefix);
                if room > 0 {
                    // k elements "1" joined by ", " take 3k-2 bytes; pad the last one with zeros.
                    let k = room.div_ceil(3);
                    let pad = room - (3 * k - 2);
                    for i in 0..k {
                        if i > 0 {
                            body.push_str(", ");
                        }
                        body.push('1');
                    }
                    for _ in 0..pad {
                        body.push('0');
                    }
                }
                body.push_str(suffix);
                Response::json(200, body)
            }
        }
    }

    /// Counts the request, applies latency, then either a fault or the normal answer.
    fn api(&self, info: ReqInfo, endpoint: &str, api: Api, normal: &dyn Fn() -> Response) -> Response {
        let call = match (&info.model, &info.method, &info.service) {
            (Some(m), Some(f), _) => Some(format!("{m}/{f}")),
            (None, Some(f), Some(s)) => Some(format!("{s}/{f}")),
            _ => None,
        };
        self.stats.count(endpoint, call);
        let (delay, fault) = self.faults.check(&info);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        // Served by one of Odoo's workers, taking as long as a real Odoo would (serving.rs).
        self.workers.serve(self.cfg.serve_cost, || match fault {
            Some(k) => self.fault_response(k, &api, normal),
            None => normal(),
        })
    }
}

impl Handler for Sim {
    fn handle(&self, req: &Request) -> Response {
        let path = req.path.as_str();
        if path == "/sim" || path.starts_with("/sim/") {
            return control::handle(self, req);
        }
        if path == "/jsonrpc" {
            let info_path = "/jsonrpc";
            if req.method != "POST" {
                return Response::html(405, "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n");
            }
            return match jsonrpc::parse(&req.body) {
                Ok(rpc) => {
                    let info = rpc.info(info_path);
                    let api = Api::Rpc { id: &rpc.id, service: rpc.service(), method: rpc.method() };
                    self.api(info, "/jsonrpc", api, &|| jsonrpc::respond(self, &rpc))
                }
                Err(resp) => {
                    let info = ReqInfo { path: info_path.into(), ..Default::default() };
                    self.api(info, "/jsonrpc", Api::Plain, &|| resp.clone())
                }
            };
        }
        if path == "/web/version" {
            let info = ReqInfo { path: path.into(), ..Default::default() };
            let body = req.body.clone();
            return self.api(info, "/web/version", Api::Plain, &|| {
                // GET gives the bare object; a JSON-RPC POST gets it in an envelope.
                let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("id").cloned());
                match id {
                    Some(id) => jsonrpc::result_json(&id, &self.version_result()),
                    None => Response::json(200, crate::json::to_py_json(&self.version_result())),
                }
            });
        }
        if path.starts_with("/json/2/") || path == "/json/2" {
            if !self.v19() {
                self.stats.count("/json/2", None);
                return json2::not_found();
            }
            let info = json2::info(path);
            return self.api(info, "/json/2", Api::Json2, &|| json2::respond(self, req));
        }
        self.stats.count("other", None);
        json2::not_found()
    }

    fn date(&self) -> String {
        http_date(self.clock.now())
    }
}
