//! Odoo 19's JSON-2 endpoint: bare results, real HTTP statuses.

use crate::support::*;
use odoo_sim::Config;
use serde_json::json;

#[test]
fn success_returns_bare_results() {
    let s = sim();
    let r = json2(
        s.addr,
        "pos.order",
        "search_read",
        &json!({"domain": [["id", "<=", 3]], "fields": ["name"], "order": "id"}),
        Some(KEY),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8"));
    let v = r.json();
    assert_eq!(ids(v.as_array().unwrap()), vec![1, 2, 3]);
    let r = json2(s.addr, "pos.order", "read", &json!({"ids": [2], "fields": ["name"]}), Some(KEY));
    assert_eq!(r.json()[0]["id"], json!(2));
    let r = json2(s.addr, "pos.order", "search_count", &json!({"domain": []}), Some(KEY));
    assert_eq!(r.json(), json!(400));
    let r = json2(s.addr, "pos.order", "fields_get", &json!({"attributes": ["type"]}), Some(KEY));
    assert_eq!(r.json()["name"], json!({"type": "char"}));
    // The scheme is case-insensitive and the database header is optional.
    let r = http(
        s.addr,
        "POST",
        "/json/2/pos.config/search",
        &[
            ("Authorization", &format!("BEARER {KEY}")),
            ("X-Odoo-Database", "odoo"),
            ("Content-Type", "application/json"),
        ],
        b"{\"domain\": []}",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([1, 2, 3, 4, 5, 6, 7, 8]));
    // create returns a list of ids, write and unlink true.
    let r = json2(s.addr, "res.partner", "create", &json!({"vals_list": [{"name": "JSON Two"}]}), Some(KEY));
    let new_id = r.json()[0].as_u64().unwrap();
    let r = json2(s.addr, "res.partner", "write", &json!({"ids": [new_id], "vals": {"city": "Cebu City"}}), Some(KEY));
    assert_eq!(r.json(), json!(true));
    let r = json2(s.addr, "res.partner", "read", &json!({"ids": [new_id], "fields": ["city"]}), Some(KEY));
    assert_eq!(r.json()[0]["city"], json!("Cebu City"));
    let r = json2(s.addr, "res.partner", "unlink", &json!({"ids": [new_id]}), Some(KEY));
    assert_eq!(r.json(), json!(true));
}

fn bare_error(r: &Resp, status: u16, name: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["name"], json!(name), "{v}");
    assert_eq!(v["message"], json!(message), "{v}");
    assert!(v["arguments"].is_array() && v["context"].is_object() && v["debug"].is_string(), "{v}");
    assert!(v.get("jsonrpc").is_none());
}

#[test]
fn error_statuses() {
    let s = sim();
    let body = json!({"domain": []});
    let r = json2(s.addr, "pos.order", "search_read", &body, None);
    bare_error(&r, 401, "werkzeug.exceptions.Unauthorized", "Invalid apikey");
    assert_eq!(r.json()["arguments"], json!(["Invalid apikey", 401]));
    assert!(r.header("WWW-Authenticate").is_some());
    bare_error(
        &json2(s.addr, "pos.order", "search_read", &body, Some("wrong")),
        401,
        "werkzeug.exceptions.Unauthorized",
        "Invalid apikey",
    );
    // The password is not an API key.
    bare_error(
        &json2(s.addr, "pos.order", "search_read", &body, Some("admin")),
        401,
        "werkzeug.exceptions.Unauthorized",
        "Invalid apikey",
    );
    bare_error(
        &json2(s.addr, "pos.nope", "search_read", &body, Some(KEY)),
        404,
        "werkzeug.exceptions.NotFound",
        "the model 'pos.nope' does not exist",
    );
    bare_error(
        &json2(s.addr, "pos.order", "nope", &body, Some(KEY)),
        404,
        "werkzeug.exceptions.NotFound",
        "The method 'pos.order.nope' does not exist",
    );
    bare_error(
        &json2(s.addr, "pos.order", "search_read", &json!({"domain": [], "nope": 1}), Some(KEY)),
        422,
        "werkzeug.exceptions.UnprocessableEntity",
        "got an unexpected keyword argument 'nope'",
    );
    bare_error(
        &json2(s.addr, "pos.order", "_process_order", &body, Some(KEY)),
        403,
        "odoo.exceptions.AccessError",
        "Private methods (such as 'pos.order._process_order') cannot be called remotely.",
    );
    let r = json2(s.addr, "ir.config_parameter", "search_read", &body, Some(KEY));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["name"], json!("odoo.exceptions.AccessError"));
    bare_error(
        &json2(s.addr, "pos.order", "search_read", &json!({"fields": ["no_such_field"]}), Some(KEY)),
        500,
        "builtins.ValueError",
        "Invalid field 'no_such_field' on 'pos.order'",
    );
    let r = http(s.addr, "POST", "/json/2/pos.order/search", &[("Authorization", &format!("bearer {KEY}"))], b"{oops");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["name"], json!("werkzeug.exceptions.BadRequest"));
}

#[test]
fn no_json2_before_19() {
    let s = start(Config { version: 18, ..config(50) });
    let r = json2(s.addr, "pos.order", "search_read", &json!({}), Some(KEY));
    assert_eq!(r.status, 404);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("Not Found"));
}
