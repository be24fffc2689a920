//! Write-back helpers shared by tests/writeback.rs and tests/writeback_worker.rs: pushing, tagging,
//! and reading Odoo's tags and members through the simulator's API.

use crate::{assert_bronze_matches, model_fields_of, requested_fields, Db, Sim};
use postgres::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// How many calls of `model/method` the simulator has served.
pub fn calls(sim: &Sim, call: &str) -> i64 {
    sim.stats()["requests"]["by_call"][call].as_i64().unwrap_or(0)
}

/// (sent, failed, pending) from scout.odoo_push() in this thread's session.
pub fn push(db: &Db) -> (i64, i64, i64) {
    let r = db.session(|c| c.query_one("SELECT sent, failed, pending FROM scout.odoo_push()", &[])).unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// scout.tag_customers(tag, ids, replace) on this connection: the number of rows queued.
pub fn tag_customers(c: &mut Client, tag: &str, ids: &[i64], replace: bool) -> i64 {
    c.query_one("SELECT scout.tag_customers($1, $2, $3)", &[&tag, &ids, &replace]).unwrap().get(0)
}

/// The ids of Odoo's tags with this name.
pub fn odoo_tags(sim: &Sim, name: &str) -> Vec<i64> {
    let v =
        sim.execute("res.partner.category", "search_read", json!([[["name", "=", name]]]), json!({"fields": ["id"]}));
    v.as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

/// The partners that have tag `tag` in Odoo.
pub fn members(sim: &Sim, tag: i64) -> BTreeSet<i64> {
    let v = sim.execute(
        "res.partner",
        "search_read",
        json!([[["active", "in", [true, false]]]]),
        json!({"fields": ["category_id"]}),
    );
    v.as_array()
        .unwrap()
        .iter()
        .filter(|p| p["category_id"].as_array().unwrap().iter().any(|t| t.as_i64() == Some(tag)))
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

/// The first `n` active partners' ids; more are created in Odoo when it has fewer.
pub fn partner_ids(sim: &Sim, n: usize) -> Vec<i64> {
    let list = || {
        let v = sim.execute("res.partner", "search", json!([[]]), json!({"limit": n, "order": "id"}));
        v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect::<Vec<i64>>()
    };
    let have = list();
    if have.len() < n {
        let new: Vec<Value> = (have.len()..n).map(|i| json!({"name": format!("Customer {i}")})).collect();
        sim.execute("res.partner", "create", json!([new]), json!({}));
    }
    list()
}

/// bronze_res_partner equals Odoo's partners, with the fields the sync asks this Odoo for.
pub fn assert_partners_match(db: &Db, sim: &Sim) {
    let (_, _, fields, optional) = model_fields_of(db, "res.partner");
    assert_bronze_matches(
        db,
        sim,
        "res.partner",
        "bronze_res_partner",
        &requested_fields(sim, "res.partner", &fields, &optional),
    );
}
