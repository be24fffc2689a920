//! Odoo's server-side exceptions and the shapes they take on the wire.
//!
//! `/jsonrpc` wraps them in an HTTP 200 envelope (`error.data = {name, message, arguments,
//! context, debug}`); JSON-2 sends the bare data object with a real HTTP status.

use crate::json::{py_repr_str, write_str, write_value};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct OdooError {
    /// Qualified Python class name, e.g. `odoo.exceptions.AccessDenied`.
    pub name: String,
    pub message: String,
    pub arguments: Vec<Value>,
    /// HTTP status on JSON-2.
    pub status: u16,
    /// JSON-RPC `error.code` override (100 = session expired); None = the profile's default.
    pub code: Option<i64>,
    /// JSON-RPC `error.message` override; None = "Odoo Server Error".
    pub rpc_message: Option<String>,
    /// Replaces the default traceback (AccessDenied carries no traceback in Odoo).
    pub debug: Option<String>,
    /// Extra response headers on JSON-2 (WWW-Authenticate for 401).
    pub headers: Vec<(String, String)>,
}

impl OdooError {
    pub fn new(name: &str, message: impl Into<String>, status: u16) -> OdooError {
        let message = message.into();
        OdooError {
            name: name.to_string(),
            arguments: vec![Value::String(message.clone())],
            message,
            status,
            code: None,
            rpc_message: None,
            debug: None,
            headers: Vec::new(),
        }
    }

    pub fn access_denied() -> OdooError {
        let mut e = OdooError::new("odoo.exceptions.AccessDenied", "Access Denied", 403);
        e.debug = Some("odoo.exceptions.AccessDenied: Access Denied\n".into());
        e
    }
    pub fn user_error(msg: impl Into<String>) -> OdooError {
        OdooError::new("odoo.exceptions.UserError", msg, 422)
    }
    pub fn validation(msg: impl Into<String>) -> OdooError {
        OdooError::new("odoo.exceptions.ValidationError", msg, 422)
    }
    pub fn access_error(msg: impl Into<String>) -> OdooError {
        OdooError::new("odoo.exceptions.AccessError", msg, 403)
    }
    pub fn missing(msg: impl Into<String>) -> OdooError {
        OdooError::new("odoo.exceptions.MissingError", msg, 404)
    }
    pub fn value(msg: impl Into<String>) -> OdooError {
        OdooError::new("builtins.ValueError", msg, 500)
    }
    pub fn type_error(msg: impl Into<String>) -> OdooError {
        OdooError::new("builtins.TypeError", msg, 500)
    }
    pub fn key_error(key: &str) -> OdooError {
        OdooError::new("builtins.KeyError", key, 500)
    }
    pub fn attribute(msg: impl Into<String>) -> OdooError {
        OdooError::new("builtins.AttributeError", msg, 500)
    }
    pub fn unknown_db(db: &str) -> OdooError {
        OdooError::new(
            "psycopg2.OperationalError",
            format!(
                "connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  database \"{}\" does not exist\n",
                db
            ),
            500,
        )
    }
    pub fn session_expired() -> OdooError {
        let mut e = OdooError::new("odoo.http.SessionExpiredException", "Session expired", 403);
        e.code = Some(100);
        e.rpc_message = Some("Odoo Session Expired".into());
        e
    }
    /// werkzeug HTTP exceptions on JSON-2: message = description, arguments = [description, code].
    pub fn http(status: u16, description: impl Into<String>) -> OdooError {
        let description = description.into();
        let name = match status {
            400 => "werkzeug.exceptions.BadRequest",
            401 => "werkzeug.exceptions.Unauthorized",
            403 => "werkzeug.exceptions.Forbidden",
            404 => "werkzeug.exceptions.NotFound",
            405 => "werkzeug.exceptions.MethodNotAllowed",
            422 => "werkzeug.exceptions.UnprocessableEntity",
            _ => "werkzeug.exceptions.InternalServerError",
        };
        let mut e = OdooError::new(name, description.clone(), status);
        e.arguments = vec![Value::String(description), Value::from(status)];
        e
    }
    pub fn invalid_apikey() -> OdooError {
        let mut e = OdooError::http(401, "Invalid apikey");
        e.headers.push(("WWW-Authenticate".into(), "Bearer".into()));
        e
    }

    /// What Python's `traceback.format_exception` would end with; builtins drop their module.
    fn last_line(&self) -> String {
        let short = self.name.strip_prefix("builtins.").unwrap_or(&self.name);
        // str(KeyError('x')) is "'x'"
        let text = if self.name == "builtins.KeyError" { py_repr_str(&self.message) } else { self.message.clone() };
        format!("{short}: {text}\n")
    }

    pub fn debug_text(&self) -> String {
        if let Some(d) = &self.debug {
            return d.clone();
        }
        format!(
            "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/http.py\", line 2160, in _serve_db\n    return service_model.retrying(serve_func, env=self.env)\n  File \"/usr/lib/python3/dist-packages/odoo/service/model.py\", line 183, in retrying\n    result = func()\n  File \"/usr/lib/python3/dist-packages/odoo/http.py\", line 2187, in _serve_ir_http\n    response = self.dispatcher.dispatch(rule.endpoint, args)\n{}",
            self.last_line()
        )
    }

    /// The `{name, message, arguments, context, debug}` object.
    pub fn write_data(&self, out: &mut String) {
        out.push_str("{\"name\": ");
        write_str(out, &self.name);
        out.push_str(", \"message\": ");
        write_str(out, &self.message);
        out.push_str(", \"arguments\": ");
        write_value(out, &Value::Array(self.arguments.clone()));
        out.push_str(", \"context\": {}, \"debug\": ");
        write_str(out, &self.debug_text());
        out.push('}');
    }

    /// The JSON-RPC error response. `code` is 0 on Odoo 19 and 200 before.
    pub fn rpc_envelope(&self, id: &Value, default_code: i64) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"jsonrpc\": \"2.0\", \"id\": ");
        write_value(&mut out, id);
        out.push_str(", \"error\": {\"code\": ");
        crate::json::write_int(&mut out, self.code.unwrap_or(default_code));
        out.push_str(", \"message\": ");
        write_str(&mut out, self.rpc_message.as_deref().unwrap_or("Odoo Server Error"));
        out.push_str(", \"data\": ");
        self.write_data(&mut out);
        out.push_str("}}");
        out
    }

    pub fn json2_body(&self) -> String {
        let mut out = String::with_capacity(512);
        self.write_data(&mut out);
        out
    }
}

pub type OResult<T> = Result<T, OdooError>;
