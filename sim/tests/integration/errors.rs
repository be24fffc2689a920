//! Every error of odoo-facts' table, in Odoo's exact envelope.

use crate::support::*;
use odoo_sim::Config;
use serde_json::json;

#[test]
fn access_denied_envelope_is_exact() {
    let s = sim();
    let v = rpc(s.addr, "object", "execute_kw", json!(["odoo", 2, "wrong", "pos.order", "search_read", [[]], {}]));
    assert_eq!(
        v,
        json!({"jsonrpc": "2.0", "id": 7, "error": {"code": 0, "message": "Odoo Server Error", "data": {
            "name": "odoo.exceptions.AccessDenied", "message": "Access Denied", "arguments": ["Access Denied"],
            "context": {}, "debug": "odoo.exceptions.AccessDenied: Access Denied\n"}}})
    );
    // Wrong uid too; and the API key is accepted as the password.
    let v = rpc(s.addr, "object", "execute_kw", json!(["odoo", 5, "admin", "pos.order", "search_count", [[]], {}]));
    assert_eq!(err_data(&v)["name"], "odoo.exceptions.AccessDenied");
    let v = rpc(s.addr, "object", "execute_kw", json!(["odoo", 2, KEY, "pos.order", "search_count", [[]], {}]));
    assert_eq!(v["result"], json!(400));
}

fn check(v: &serde_json::Value, name: &str, message: &str) {
    let d = err_data(v);
    assert_eq!(d["name"], json!(name), "{v}");
    assert_eq!(d["message"], json!(message), "{v}");
    assert_eq!(d["arguments"], json!([message]), "{v}");
    assert_eq!(d["context"], json!({}));
    assert!(d["debug"].as_str().unwrap().starts_with("Traceback (most recent call last):\n"), "{v}");
    assert!(d["debug"].as_str().unwrap().ends_with('\n'));
    assert_eq!(v["error"]["code"], json!(0));
    assert_eq!(v["error"]["message"], json!("Odoo Server Error"));
    assert!(v.get("result").is_none());
}

#[test]
fn table_of_errors() {
    let s = sim();
    check(
        &ek(s.addr, "pos.nope", "search_read", json!([[]]), json!({})),
        "odoo.exceptions.UserError",
        "Object pos.nope doesn't exist",
    );
    check(
        &ek(s.addr, "pos.order", "search_read", json!([[]]), json!({"fields": ["name", "no_such_field"]})),
        "builtins.ValueError",
        "Invalid field 'no_such_field' on 'pos.order'",
    );
    check(
        &ek(s.addr, "pos.order", "search_read", json!([[["no_such_field", "=", 1]]]), json!({})),
        "builtins.ValueError",
        "Invalid field pos.order.no_such_field in condition ('no_such_field', '=', 1)",
    );
    check(
        &ek(s.addr, "pos.order", "search_read", json!([[["id", "~~", 1]]]), json!({})),
        "builtins.ValueError",
        "Invalid operator in condition ('id', '~~', 1)",
    );
    check(
        &ek(s.addr, "pos.order", "no_such_method", json!([]), json!({})),
        "builtins.AttributeError",
        "The method 'pos.order.no_such_method' does not exist",
    );
    check(
        &ek(s.addr, "pos.order", "_process_order", json!([]), json!({})),
        "odoo.exceptions.AccessError",
        "Private methods (such as 'pos.order._process_order') cannot be called remotely.",
    );
    let v = ek(s.addr, "ir.config_parameter", "search_read", json!([[]]), json!({}));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.AccessError"));
    assert!(err_data(&v)["message"]
        .as_str()
        .unwrap()
        .starts_with("You are not allowed to access 'System Parameter' (ir.config_parameter) records."));
    let v = rpc(s.addr, "nosuch", "x", json!([]));
    let d = err_data(&v);
    assert_eq!(
        (d["name"].clone(), d["message"].clone(), d["arguments"].clone()),
        (json!("builtins.KeyError"), json!("nosuch"), json!(["nosuch"]))
    );
    assert!(d["debug"].as_str().unwrap().ends_with("KeyError: 'nosuch'\n"));
    // Unknown database, on authenticate and on execute_kw.
    for v in [
        rpc(s.addr, "common", "authenticate", json!(["nope", "admin", "admin", {}])),
        rpc(s.addr, "object", "execute_kw", json!(["nope", 2, "admin", "pos.order", "search_count", [[]]])),
    ] {
        let d = err_data(&v);
        assert_eq!(d["name"], json!("psycopg2.OperationalError"));
        let m = d["message"].as_str().unwrap();
        assert!(m.starts_with("connection to server") && m.contains("database \"nope\" does not exist"), "{m}");
    }
    // Python's own TypeError for a bad keyword argument.
    let v = ek(s.addr, "pos.order", "search_read", json!([[]]), json!({"nope": 1}));
    assert_eq!(err_data(&v)["name"], json!("builtins.TypeError"));
    assert_eq!(err_data(&v)["message"], json!("BaseModel.search_read() got an unexpected keyword argument 'nope'"));
    // Bad order spec and a bad field in the order.
    let v = ek(s.addr, "pos.order", "search_read", json!([[]]), json!({"order": "nope desc"}));
    assert_eq!(err_data(&v)["message"], json!("Invalid field 'nope' on model 'pos.order'"));
    let v = ek(s.addr, "pos.order", "search", json!([[["write_date", ">", "yesterday"]]]), json!({}));
    assert_eq!(err_data(&v)["name"], json!("builtins.ValueError"));
}

#[test]
fn invalid_json_is_http_400_text() {
    let s = sim();
    let r = http(s.addr, "POST", "/jsonrpc", &[("Content-Type", "application/json")], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Invalid JSON data");
    let r = http(s.addr, "POST", "/jsonrpc", &[("Content-Type", "application/json")], b"[1, 2]");
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Invalid JSON-RPC data");
}

#[test]
fn code_is_200_before_19() {
    let s = start(Config { version: 17, ..config(50) });
    let v = rpc(s.addr, "object", "execute_kw", json!(["odoo", 2, "wrong", "pos.order", "search_read", [[]], {}]));
    assert_eq!(v["error"]["code"], json!(200));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.AccessDenied"));
    assert_eq!(rpc(s.addr, "common", "version", json!([]))["result"]["server_version"], json!("17.0"));
    let web = http(s.addr, "GET", "/web/version", &[], b"");
    assert_eq!(web.json()["version_info"], json!([17, 0, 0, "final", 0, ""]));
}

#[test]
fn garbage_requests_do_not_crash_the_server() {
    let s = sim();
    let bodies = [
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": []}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", "x", "admin"]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order"]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "read", []]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "read", ["x"]]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "search_read", [["&"]]]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "search_read", [[["id", "in", "x"]]]]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "search_read", [], {"limit": "x"}]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "write", [[1], 5]]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "object", "method": "execute_kw", "args": ["odoo", 2, "admin", "pos.order", "create", [7]]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": {"service": "common", "method": "authenticate", "args": ["odoo"]}, "id": 1}),
        json!({"jsonrpc": "2.0", "params": 5, "id": 1}),
        json!({"jsonrpc": "2.0", "id": 1}),
    ];
    for b in &bodies {
        let r = post_json(s.addr, "/jsonrpc", b);
        assert_eq!(r.status, 200);
        assert!(r.json().get("error").is_some(), "{b} -> {}", r.text());
    }
    assert_eq!(rpc(s.addr, "common", "version", json!([]))["result"]["server_serie"], json!("19.0"));
}
