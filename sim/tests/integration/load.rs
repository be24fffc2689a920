//! `load` as Odoo's import: an upsert by external id, relation columns, validation messages that
//! roll the whole call back, and many2many commands on partners' tags.

use crate::support::*;
use serde_json::json;

fn load(
    addr: std::net::SocketAddr,
    model: &str,
    fields: serde_json::Value,
    data: serde_json::Value,
) -> serde_json::Value {
    ok(addr, model, "load", json!([fields, data]), json!({}))
}

#[test]
fn load_upserts_by_external_id_and_registers_it() {
    let s = sim();
    let r = load(
        s.addr,
        "res.partner.category",
        json!(["id", "name", "color"]),
        json!([["odoo_sync.tag_vip", "VIP", "3"]]),
    );
    assert_eq!(r["messages"], json!([]), "{r}");
    let id = r["ids"][0].as_u64().unwrap();
    let again = load(s.addr, "res.partner.category", json!(["id", "name"]), json!([["odoo_sync.tag_vip", "VIP Gold"]]));
    assert_eq!(again["ids"], json!([id]), "the same external id is the same record");
    let before = count(s.addr, "res.partner.category", json!([])); // the generated tags, and ours
    let tags = sr(s.addr, "res.partner.category", json!([["id", "=", id]]), json!({"fields": ["name", "color"]}));
    assert_eq!(before, 5, "4 generated tags and one of ours");
    assert_eq!(tags[0]["name"], "VIP Gold");
    assert_eq!(tags[0]["color"], 3, "a column not sent is left alone");
    let imd = sr(
        s.addr,
        "ir.model.data",
        json!([["module", "=", "odoo_sync"]]),
        json!({"fields": ["name", "model", "res_id"]}),
    );
    assert_eq!(imd.len(), 1);
    assert_eq!(
        (imd[0]["name"].as_str(), imd[0]["model"].as_str(), imd[0]["res_id"].as_u64()),
        (Some("tag_vip"), Some("res.partner.category"), Some(id))
    );
    // A relation by external id, and a child created in the same call as its parent.
    let r = load(
        s.addr,
        "res.partner.category",
        json!(["id", "name", "parent_id/id"]),
        json!([["odoo_sync.tag_a", "A", ""], ["odoo_sync.tag_b", "B", "odoo_sync.tag_a"]]),
    );
    let ab = r["ids"].as_array().unwrap().clone();
    let b = sr(s.addr, "res.partner.category", json!([["id", "=", ab[1]]]), json!({"fields": ["parent_id"]}));
    assert_eq!(b[0]["parent_id"][0], ab[0]);
}

#[test]
fn a_row_that_fails_rolls_the_whole_call_back_with_odoos_message() {
    let s = sim();
    let r = load(
        s.addr,
        "res.partner.category",
        json!(["id", "name"]),
        json!([["odoo_sync.good", "Good"], ["odoo_sync.bad", ""]]),
    );
    assert_eq!(r["ids"], json!(false), "{r}");
    let m = &r["messages"][0];
    assert_eq!((m["type"].as_str(), m["field"].as_str(), m["record"].as_u64()), (Some("error"), Some("name"), Some(1)));
    assert!(m["message"].as_str().unwrap().starts_with("Missing required value for the field 'Name' (name)"), "{m}");
    assert_eq!(count(s.addr, "res.partner.category", json!([])), 4, "the good row was rolled back too");
    assert_eq!(count(s.addr, "ir.model.data", json!([["module", "=", "odoo_sync"]])), 0);
    let r =
        load(s.addr, "res.partner.category", json!(["id", "parent_id/id", "name"]), json!([["x.c", "x.nope", "C"]]));
    assert_eq!(r["ids"], json!(false));
    assert!(
        r["messages"][0]["message"].as_str().unwrap().contains("No matching record found for external id 'x.nope'"),
        "{r}"
    );
    // An unknown column raises.
    let v = ek(s.addr, "res.partner.category", "load", json!([["id", "nope_field"], [["x.y", "1"]]]), json!({}));
    assert_eq!(err_data(&v)["message"], "Invalid field name 'nope_field'");
}

#[test]
fn many2many_commands_link_and_unlink_one_tag_and_load_replaces_the_set() {
    let s = sim();
    // Some generated partners have a tag; these tests take partners without one.
    let tagged = ids(&sr(s.addr, "res.partner", json!([["category_id", "!=", false]]), json!({"fields": ["id"]})));
    assert!(!tagged.is_empty(), "some generated partners have a tag");
    let r = load(
        s.addr,
        "res.partner.category",
        json!(["id", "name"]),
        json!([["odoo_sync.t1", "T1"], ["odoo_sync.t2", "T2"]]),
    );
    let (t1, t2) = (r["ids"][0].as_u64().unwrap(), r["ids"][1].as_u64().unwrap());
    let partners =
        ids(&sr(s.addr, "res.partner", json!([["category_id", "=", false]]), json!({"fields": ["id"], "limit": 3})));
    assert!(partners.iter().all(|p| !tagged.contains(p)));
    ok(s.addr, "res.partner", "write", json!([partners.clone(), {"category_id": [[4, t1]]}]), json!({}));
    ok(s.addr, "res.partner", "write", json!([[partners[0]], {"category_id": [[4, t2]]}]), json!({}));
    ok(s.addr, "res.partner", "write", json!([[partners[0]], {"category_id": [[4, t2]]}]), json!({}));
    let got = sr(
        s.addr,
        "res.partner",
        json!([["id", "in", partners.clone()]]),
        json!({"fields": ["category_id", "write_date"]}),
    );
    let tags = |id: u64| got.iter().find(|p| p["id"] == id).unwrap()["category_id"].clone();
    assert_eq!(tags(partners[0]), json!([t1, t2]), "linking again is a no-op");
    assert_eq!(tags(partners[1]), json!([t1]));
    ok(s.addr, "res.partner", "write", json!([[partners[0]], {"category_id": [[3, t1]]}]), json!({}));
    let p0 = sr(s.addr, "res.partner", json!([["id", "=", partners[0]]]), json!({"fields": ["category_id"]}));
    assert_eq!(p0[0]["category_id"], json!([t2]), "unlinking one tag leaves the other");
    let v = ek(s.addr, "res.partner", "write", json!([[partners[1]], {"category_id": [[4, 99999]]}]), json!({}));
    assert_eq!(err_data(&v)["name"], "odoo.exceptions.MissingError", "{v}");
    // load on the many2many column replaces the whole set (seen on a real Odoo 19).
    load(s.addr, "res.partner", json!([".id", "category_id/id"]), json!([[partners[0].to_string(), "odoo_sync.t1"]]));
    let p0 = sr(s.addr, "res.partner", json!([["id", "=", partners[0]]]), json!({"fields": ["category_id"]}));
    assert_eq!(p0[0]["category_id"], json!([t1]));
}
