//! Value shapes, fields_get, the common service and /web/version.

use crate::support::*;
use serde_json::{json, Value};

fn is_dt(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 19 && odoo_sim::clock::parse_dt(s).is_some() && &s[10..11] == " "
}

#[test]
fn version_and_authenticate() {
    let s = sim();
    let v = rpc(s.addr, "common", "version", json!([]));
    assert_eq!(
        v["result"],
        json!({"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""], "server_serie": "19.0", "protocol_version": 1})
    );
    assert_eq!(rpc(s.addr, "common", "authenticate", json!(["odoo", "admin", "admin", {}]))["result"], json!(2));
    assert_eq!(rpc(s.addr, "common", "login", json!(["odoo", "admin", "admin"]))["result"], json!(2));
    // A bad password is a plain `false`, not an error; the API key works as a password.
    let bad = rpc(s.addr, "common", "authenticate", json!(["odoo", "admin", "nope", {}]));
    assert_eq!(bad, json!({"jsonrpc": "2.0", "id": 7, "result": false}));
    assert_eq!(rpc(s.addr, "common", "authenticate", json!(["odoo", "admin", KEY, {}]))["result"], json!(2));
    assert_eq!(rpc(s.addr, "common", "authenticate", json!(["odoo", "nobody", "admin", {}]))["result"], json!(false));
    let web = http(s.addr, "GET", "/web/version", &[], b"");
    assert_eq!(web.json(), json!({"version": "19.0", "version_info": [19, 0, 0, "final", 0, ""]}));
}

#[test]
fn envelope_echoes_id_and_uses_python_layout() {
    let s = sim();
    for id in [json!(1), json!("abc-1"), json!(null)] {
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "common", "method": "version", "args": []}, "id": id});
        let r = post_json(s.addr, "/jsonrpc", &body);
        assert_eq!(r.json()["id"], id);
        assert!(r.text().starts_with(&format!("{{\"jsonrpc\": \"2.0\", \"id\": {}, \"result\": ", id)), "{}", r.text());
        assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8"));
    }
}

#[test]
fn record_values_are_rendered_as_odoo_does() {
    let s = start(Config { with_brand: true, with_region_code: true, ..config(600) });
    let orders = sr(s.addr, "pos.order", json!([]), json!({"limit": 200, "order": "id asc"}));
    assert_eq!(orders.len(), 200);
    for o in &orders {
        let text = o.to_string();
        assert!(!text.contains("null"), "no null values: {text}");
        assert!(o["partner_id"] == json!(false) || (o["partner_id"][0].is_u64() && o["partner_id"][1].is_string()));
        assert!(o["session_id"][0].is_u64() && o["session_id"][1].as_str().unwrap().contains('/'));
        assert_eq!(o["currency_id"], json!([1, "PHP"]));
        assert!(is_dt(&o["date_order"]) && is_dt(&o["write_date"]) && is_dt(&o["create_date"]));
        assert!(o["lines"].as_array().unwrap().iter().all(|x| x.is_u64()));
        assert!(["draft", "paid", "done", "invoiced", "cancel"].contains(&o["state"].as_str().unwrap()));
        assert!(o["amount_total"].is_f64(), "floats stay floats: {}", o["amount_total"]);
    }
    // Floats print as Python's repr: integral amounts keep ".0".
    let raw = ek(s.addr, "pos.order", "search_read", json!([[]]), json!({"fields": ["amount_return"], "limit": 50}));
    let text = raw.to_string();
    assert!(text.contains("\"amount_return\":0.0"), "{text}");
    let r = post_json(
        s.addr,
        "/jsonrpc",
        &json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
            "args": ["odoo", 2, "admin", "pos.order", "search_read", [[["state", "=", "draft"]]], {"fields": ["amount_paid"], "limit": 1}]}}),
    );
    assert!(r.text().contains("\"amount_paid\": 0.0}"), "{}", r.text());

    // Explicit fields: id first, then the asked fields in the asked order; `id` always present.
    let r = post_json(
        s.addr,
        "/jsonrpc",
        &json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
            "args": ["odoo", 2, "admin", "pos.order.line", "search_read", [[["id", "=", 1]]], {"fields": ["qty", "order_id"]}]}}),
    );
    let text = r.text();
    assert!(text.starts_with("{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": [{\"id\": 1, \"qty\": "), "{text}");
    assert!(text.contains(", \"order_id\": ["), "{text}");
    assert_eq!(r.json()["result"][0].as_object().unwrap().len(), 3);

    // Products: "[CODE] Name" display names, barcodes or false, brands or false.
    let products = sr(s.addr, "product.product", json!([]), json!({"context": {"active_test": false}}));
    assert_eq!(products.len(), 2000);
    assert!(products.iter().any(|p| p["barcode"] == json!(false)) && products.iter().any(|p| p["barcode"].is_string()));
    assert!(
        products.iter().any(|p| p["product_brand_id"] == json!(false))
            && products.iter().any(|p| p["product_brand_id"][1].is_string())
    );
    for p in products.iter().take(50) {
        if let Some(code) = p["default_code"].as_str() {
            assert_eq!(p["display_name"].as_str().unwrap(), format!("[{}] {}", code, p["name"].as_str().unwrap()));
        }
        assert_eq!(p["lst_price"], p["list_price"]);
        assert!(p["taxes_id"].is_array());
    }
    let cats = sr(s.addr, "product.category", json!([["parent_id.parent_id", "!=", false]]), json!({}));
    assert!(cats.iter().all(|c| c["complete_name"].as_str().unwrap().starts_with("All / ")
        && c["complete_name"].as_str().unwrap().matches(" / ").count() == 2));
    let partners = sr(s.addr, "res.partner", json!([]), json!({"limit": 300}));
    assert!(partners.iter().all(|p| p["country_id"] == json!([1, "Philippines"]) && p["type"] == json!("contact")));
    assert!(partners.iter().any(|p| p["x_region_code"] == json!("NCR")));
}

#[test]
fn totals_are_consistent_to_the_cent() {
    let s = start(config(500));
    let orders = sr(s.addr, "pos.order", json!([]), json!({}));
    let lines = sr(s.addr, "pos.order.line", json!([]), json!({}));
    let pays = sr(s.addr, "pos.payment", json!([]), json!({}));
    assert_eq!(orders.len(), 500);
    let cents = |v: &Value| (v.as_f64().unwrap() * 100.0).round() as i64;
    let mut refunds = 0;
    for o in &orders {
        let oid = o["id"].as_u64().unwrap();
        let ls: Vec<&Value> = lines.iter().filter(|l| l["order_id"][0].as_u64() == Some(oid)).collect();
        let ps: Vec<&Value> = pays.iter().filter(|p| p["pos_order_id"][0].as_u64() == Some(oid)).collect();
        assert_eq!(o["lines"].as_array().unwrap().len(), ls.len());
        assert!((1..=8).contains(&ls.len()) || o["name"].as_str().unwrap().ends_with(" REFUND"));
        let incl: i64 = ls.iter().map(|l| cents(&l["price_subtotal_incl"])).sum();
        let excl: i64 = ls.iter().map(|l| cents(&l["price_subtotal"])).sum();
        assert_eq!(cents(&o["amount_total"]), incl);
        assert_eq!(cents(&o["amount_tax"]), incl - excl);
        let paid: i64 = ps.iter().map(|p| cents(&p["amount"])).sum();
        match o["state"].as_str().unwrap() {
            "draft" | "cancel" => {
                assert!(ps.is_empty());
                assert_eq!(cents(&o["amount_paid"]), 0);
            }
            _ => {
                assert_eq!(paid, incl, "payments sum to the total of {}", o["name"]);
                assert_eq!(cents(&o["amount_paid"]), incl);
            }
        }
        if o["name"].as_str().unwrap().ends_with(" REFUND") {
            refunds += 1;
            assert!(ls.iter().all(|l| l["qty"].as_f64().unwrap() < 0.0));
            assert!(cents(&o["amount_total"]) < 0);
        }
        for p in &ps {
            if p["is_change"] == json!(true) {
                assert!(cents(&p["amount"]) < 0);
                assert_eq!(-cents(&p["amount"]), cents(&o["amount_return"]));
            }
        }
    }
    assert!(refunds > 0, "some refunds exist");
    assert!(pays.iter().any(|p| p["is_change"] == json!(true)), "some cash change exists");
    for l in &lines {
        let sub = cents(&l["price_subtotal"]);
        let incl = cents(&l["price_subtotal_incl"]);
        let exempt = l["tax_ids"].as_array().unwrap().is_empty();
        let want = if exempt { sub } else { ((sub * 112) as f64 / 100.0).round() as i64 };
        assert!((incl - want).abs() <= 1, "line {} incl {incl} vs {want}", l["id"]);
    }
}

#[test]
fn fields_get_filters_attributes() {
    let s = start(Config { with_region_code: true, ..config(50) });
    let all = ok(
        s.addr,
        "pos.order",
        "fields_get",
        json!([]),
        json!({"attributes": ["type", "relation", "store", "readonly", "required", "string"]}),
    );
    assert_eq!(
        all["company_id"],
        json!({"readonly": true, "relation": "res.company", "required": true, "store": true, "string": "Company", "type": "many2one"})
    );
    assert_eq!(all["amount_total"]["type"], json!("monetary")); // a float field before Odoo 18
    assert_eq!(all["lines"]["type"], json!("one2many"));
    assert_eq!(
        all["write_date"],
        json!({"readonly": true, "required": false, "store": true, "string": "Last Updated on", "type": "datetime"})
    );
    let few =
        ok(s.addr, "res.partner", "fields_get", json!([["x_region_code", "name"]]), json!({"attributes": ["type"]}));
    assert_eq!(few, json!({"name": {"type": "char"}, "x_region_code": {"type": "selection"}}));
    let full = ok(s.addr, "pos.order", "fields_get", json!([]), json!({}));
    assert!(full["state"]["selection"].as_array().unwrap().contains(&json!(["done", "Posted"])));
    assert!(full["id"].is_object() && full["display_name"]["store"] == json!(false));
    // Without the flag the field does not exist.
    let plain = sim();
    let f = ok(plain.addr, "res.partner", "fields_get", json!([]), json!({"attributes": ["type"]}));
    assert!(f.get("x_region_code").is_none());
}

#[test]
fn read_search_and_none_results() {
    let s = sim();
    assert_eq!(ok(s.addr, "pos.order", "read", json!([[999_999]]), json!({})), json!([]));
    let r = ok(s.addr, "pos.order", "read", json!([[2, 1, 999_999], ["name"]]), json!({}));
    assert_eq!(ids(r.as_array().unwrap()), vec![2, 1]);
    assert_eq!(r[0].as_object().unwrap().len(), 2);
    let found = ok(s.addr, "pos.order.line", "search", json!([[["id", "<=", 5]]]), json!({"order": "id desc"}));
    assert_eq!(found, json!([5, 4, 3, 2, 1]));
    assert_eq!(count(s.addr, "pos.order.line", json!([["id", "<=", 5]])), 5);
    let ns = ok(s.addr, "pos.config", "name_search", json!(["Megamall"]), json!({}));
    assert_eq!(ns, json!([[1, "SM Megamall Store"]]));
    // A method returning None: no "result" key at all.
    let none = ek(s.addr, "pos.order", "flush_model", json!([]), json!({}));
    assert_eq!(none, json!({"jsonrpc": "2.0", "id": 7}));
    // load=None gives bare many2one ids.
    let bare = sr(s.addr, "pos.order", json!([]), json!({"fields": ["session_id"], "limit": 1, "load": null}));
    assert!(bare[0]["session_id"].is_array());
    let bare = ok(s.addr, "pos.order", "read", json!([[1], ["session_id"]]), json!({"load": ""}));
    assert!(bare[0]["session_id"].is_u64());
}

use odoo_sim::Config;

#[test]
fn each_version_profile_has_its_own_fields() {
    let has = |fields: &Value, name: &str| fields.get(name).is_some();
    for version in [16u32, 17, 18, 19] {
        let s = start(Config { version, ..config(300) });
        let product =
            ok(s.addr, "product.product", "fields_get", json!([]), json!({"attributes": ["type", "selection"]}));
        let partner = ok(s.addr, "res.partner", "fields_get", json!([]), json!({"attributes": ["type"]}));
        let order = ok(s.addr, "pos.order", "fields_get", json!([]), json!({"attributes": ["type", "selection"]}));
        assert_eq!(has(&product, "detailed_type"), version <= 17, "{version}: detailed_type");
        assert_eq!(has(&product, "is_storable"), version >= 18, "{version}: is_storable");
        assert_eq!(has(&partner, "mobile"), version <= 18, "{version}: mobile");
        assert_eq!(has(&order, "uuid"), version >= 18, "{version}: uuid");
        assert_eq!(order["amount_total"]["type"], json!(if version >= 18 { "monetary" } else { "float" }), "{version}");
        let states: Vec<&str> =
            order["state"]["selection"].as_array().unwrap().iter().map(|p| p[0].as_str().unwrap()).collect();
        assert_eq!(states.contains(&"invoiced"), version <= 18, "{version}: {states:?}");
        // The data follows: storable goods are type "product" before 18, is_storable after.
        let storable = if version <= 17 {
            count(s.addr, "product.product", json!([["type", "=", "product"]]))
        } else {
            count(s.addr, "product.product", json!([["is_storable", "=", true]]))
        };
        assert!(storable > 1000, "{version}: {storable} storable products");
        if version <= 18 {
            assert!(count(s.addr, "res.partner", json!([["mobile", "!=", false]])) > 100, "{version}: mobiles");
            assert!(count(s.addr, "pos.order", json!([["state", "=", "invoiced"]])) > 0, "{version}: invoiced orders");
        }
        // Asking a version for a field it lacks fails as in Odoo.
        let missing = if version <= 17 { "is_storable" } else { "detailed_type" };
        let e = ek(s.addr, "product.product", "search_read", json!([[]]), json!({"fields": [missing], "limit": 1}));
        assert_eq!(err_data(&e)["name"], json!("builtins.ValueError"), "{version}: {e}");
    }
}
