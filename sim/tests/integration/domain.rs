//! Domains: prefix operators, every comparison operator, relations, active_test, ordering and
//! the version rule for datetime comparisons.

use crate::support::*;
use odoo_sim::Config;

use serde_json::{json, Value};
use std::collections::BTreeSet;

fn id_set(addr: std::net::SocketAddr, model: &str, domain: Value) -> BTreeSet<u64> {
    ids(&sr(addr, model, domain, json!({"fields": ["id"], "context": {"active_test": false}}))).into_iter().collect()
}

#[test]
fn logic_operators_combine_like_sets() {
    let s = start(config(3000));
    let all = id_set(s.addr, "pos.order", json!([]));
    let draft = id_set(s.addr, "pos.order", json!([["state", "=", "draft"]]));
    let low = id_set(s.addr, "pos.order", json!([["amount_total", "<", 500]]));
    assert!(!draft.is_empty() && !low.is_empty());
    let and: BTreeSet<u64> = draft.intersection(&low).copied().collect();
    let or: BTreeSet<u64> = draft.union(&low).copied().collect();
    let not: BTreeSet<u64> = all.difference(&draft).copied().collect();
    assert_eq!(id_set(s.addr, "pos.order", json!([["state", "=", "draft"], ["amount_total", "<", 500]])), and);
    assert_eq!(id_set(s.addr, "pos.order", json!(["&", ["state", "=", "draft"], ["amount_total", "<", 500]])), and);
    assert_eq!(id_set(s.addr, "pos.order", json!(["|", ["state", "=", "draft"], ["amount_total", "<", 500]])), or);
    assert_eq!(id_set(s.addr, "pos.order", json!(["!", ["state", "=", "draft"]])), not);
    assert_eq!(id_set(s.addr, "pos.order", json!([["state", "!=", "draft"]])), not);
    // Nested: | a & b c == a or (b and c)
    let paid = id_set(s.addr, "pos.order", json!([["state", "=", "paid"]]));
    let nested: BTreeSet<u64> = paid.union(&and).copied().collect();
    assert_eq!(
        id_set(
            s.addr,
            "pos.order",
            json!(["|", ["state", "=", "paid"], "&", ["state", "=", "draft"], ["amount_total", "<", 500]])
        ),
        nested
    );
    assert_eq!(id_set(s.addr, "pos.order", json!([[1, "=", 1]])), all);
    assert!(id_set(s.addr, "pos.order", json!([[0, "=", 1]])).is_empty());
}

#[test]
fn comparison_and_set_operators() {
    let s = sim();
    let all: Vec<Value> =
        sr(s.addr, "pos.order", json!([]), json!({"fields": ["amount_total", "partner_id", "state", "name"]}));
    let pick = |f: &dyn Fn(&Value) -> bool| -> BTreeSet<u64> {
        all.iter().filter(|r| f(r)).map(|r| r["id"].as_u64().unwrap()).collect()
    };
    let amt = |r: &Value| r["amount_total"].as_f64().unwrap();
    assert_eq!(id_set(s.addr, "pos.order", json!([["amount_total", ">", 1000]])), pick(&|r| amt(r) > 1000.0));
    assert_eq!(id_set(s.addr, "pos.order", json!([["amount_total", ">=", 1000.5]])), pick(&|r| amt(r) >= 1000.5));
    assert_eq!(id_set(s.addr, "pos.order", json!([["amount_total", "<=", 0]])), pick(&|r| amt(r) <= 0.0));
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["state", "in", ["draft", "cancel"]]])),
        pick(&|r| r["state"] == "draft" || r["state"] == "cancel")
    );
    assert_eq!(id_set(s.addr, "pos.order", json!([["state", "not in", ["done"]]])), pick(&|r| r["state"] != "done"));
    assert_eq!(id_set(s.addr, "pos.order", json!([["id", "in", [3, 1, 999999]]])), [1, 3].into_iter().collect());
    assert!(id_set(s.addr, "pos.order", json!([["id", "in", []]])).is_empty());
    // many2one: ids, false for emptiness, `in` with false, names by ilike.
    let with_partner = pick(&|r| r["partner_id"] != json!(false));
    assert!(!with_partner.is_empty());
    assert_eq!(id_set(s.addr, "pos.order", json!([["partner_id", "!=", false]])), with_partner);
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["partner_id", "=", false]])),
        pick(&|r| r["partner_id"] == json!(false))
    );
    let some = all.iter().find(|r| r["partner_id"] != json!(false)).unwrap();
    let pid = some["partner_id"][0].as_u64().unwrap();
    let pname = some["partner_id"][1].as_str().unwrap().to_string();
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["partner_id", "=", pid]])),
        pick(&|r| r["partner_id"][0].as_u64() == Some(pid))
    );
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["partner_id", "!=", pid]])),
        pick(&|r| r["partner_id"][0].as_u64() != Some(pid))
    );
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["partner_id", "in", [pid, false]]])),
        pick(&|r| r["partner_id"][0].as_u64() == Some(pid) || r["partner_id"] == json!(false))
    );
    let by_name = id_set(s.addr, "pos.order", json!([["partner_id", "ilike", pname.to_uppercase()]]));
    assert!(by_name.is_superset(&pick(&|r| r["partner_id"][0].as_u64() == Some(pid))));
    let dotted = id_set(s.addr, "pos.order", json!([["partner_id.name", "=", pname]]));
    assert!(dotted.contains(&some["id"].as_u64().unwrap()));
    // like family on char fields.
    let store = "SM Megamall Store";
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["name", "like", "Megamall"]])),
        pick(&|r| r["name"].as_str().unwrap().contains("Megamall"))
    );
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["name", "ilike", "megamall"]])),
        pick(&|r| r["name"].as_str().unwrap().contains("Megamall"))
    );
    assert!(id_set(s.addr, "pos.order", json!([["name", "like", "megamall"]])).is_empty());
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["name", "=like", format!("{store} - 00000_")]])),
        pick(&|r| r["name"].as_str().unwrap().starts_with(&format!("{store} - 00000"))
            && r["name"].as_str().unwrap().len() == store.len() + 9)
    );
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["name", "=ilike", "sm megamall%"]])),
        pick(&|r| r["name"].as_str().unwrap().starts_with(store))
    );
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["name", "not ilike", "megamall"]])),
        pick(&|r| !r["name"].as_str().unwrap().contains("Megamall"))
    );
    // x2many: contains.
    let line = sr(s.addr, "pos.order.line", json!([]), json!({"limit": 1}));
    let oid = line[0]["order_id"][0].as_u64().unwrap();
    assert_eq!(
        id_set(s.addr, "pos.order", json!([["lines", "in", [line[0]["id"].clone()]]])),
        [oid].into_iter().collect()
    );
    // Hierarchies.
    let under_bev = id_set(s.addr, "product.category", json!([["id", "child_of", 2]]));
    assert!(under_bev.contains(&2) && under_bev.len() > 2);
    let prods = id_set(s.addr, "product.product", json!([["categ_id", "child_of", 2]]));
    let direct = id_set(s.addr, "product.product", json!([["categ_id.complete_name", "=like", "All / Beverages%"]]));
    assert_eq!(prods, direct);
}

#[test]
fn active_test_hides_archived_records() {
    let s = sim();
    let active = count(s.addr, "product.product", json!([]));
    let archived = count(s.addr, "product.product", json!([["active", "=", false]]));
    let everything =
        ok(s.addr, "product.product", "search_count", json!([[]]), json!({"context": {"active_test": false}}));
    assert!(archived > 0);
    assert_eq!(active + archived, 2000);
    assert_eq!(everything, json!(2000));
    let both = count(s.addr, "product.product", json!([["active", "in", [true, false]]]));
    assert_eq!(both, 2000);
    let archived_partners = count(s.addr, "res.partner", json!([["active", "=", false]]));
    assert!(archived_partners > 0);
    // read() is not filtered.
    let one = ok(s.addr, "product.product", "search", json!([[["active", "=", false]]]), json!({"limit": 1}));
    let r = ok(s.addr, "product.product", "read", json!([one, ["active"]]), json!({}));
    assert_eq!(r[0]["active"], json!(false));
}

#[test]
fn order_limit_offset() {
    let s = sim();
    let all = sr(s.addr, "pos.order.line", json!([]), json!({"fields": ["write_date"]}));
    let mut expect: Vec<(String, u64)> =
        all.iter().map(|r| (r["write_date"].as_str().unwrap().to_string(), r["id"].as_u64().unwrap())).collect();
    expect.sort_by(|a, b| b.cmp(a));
    let got = sr(
        s.addr,
        "pos.order.line",
        json!([]),
        json!({"fields": ["write_date"], "order": "write_date desc, id desc", "offset": 10, "limit": 25}),
    );
    assert_eq!(ids(&got), expect[10..35].iter().map(|x| x.1).collect::<Vec<_>>());
    // Keyset paging on id reads everything exactly once.
    let mut last = 0;
    let mut seen = Vec::new();
    loop {
        let page = sr(
            s.addr,
            "pos.order.line",
            json!([["id", ">", last]]),
            json!({"fields": ["id"], "limit": 97, "order": "id asc"}),
        );
        if page.is_empty() {
            break;
        }
        last = page.last().unwrap()["id"].as_u64().unwrap();
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ids(&all));
    // Default pos.order order: date_order desc.
    let dflt = sr(s.addr, "pos.order", json!([]), json!({"fields": ["date_order"], "limit": 50}));
    let dates: Vec<&str> = dflt.iter().map(|r| r["date_order"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);
    // NULLs last ascending, first descending.
    let asc = sr(s.addr, "pos.order", json!([]), json!({"fields": ["partner_id"], "order": "partner_id asc"}));
    assert_eq!(asc.last().unwrap()["partner_id"], json!(false));
    let desc = sr(s.addr, "pos.order", json!([]), json!({"fields": ["partner_id"], "order": "partner_id desc"}));
    assert_eq!(desc[0]["partner_id"], json!(false));
}

/// Stamps `n` orders with one write_date in a known second; returns (ids, stored value).
fn stamp_orders(addr: std::net::SocketAddr, n: usize) -> (Vec<u64>, String) {
    control(addr, "/sim/clock/set", json!({"now": "2026-11-25 13:35:06.329846"}));
    let r = control(addr, "/sim/bulk_write", json!({"model": "pos.order", "count": n}));
    let wd = r["write_date"].as_str().unwrap().to_string();
    assert!(wd.starts_with("2026-11-25 13:35:06.3"), "{wd}");
    (r["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect(), wd)
}

#[test]
fn datetime_comparisons_are_whole_seconds_on_19() {
    let s = sim();
    let (stamped, _) = stamp_orders(s.addr, 30);
    let set: BTreeSet<u64> = stamped.into_iter().collect();
    assert_eq!(set.len(), 30);
    let q = |op: &str, v: &str| id_set(s.addr, "pos.order", json!([["write_date", op, v]]));
    assert_eq!(q("=", "2026-11-25 13:35:06"), set);
    assert_eq!(q("=", "2026-11-25T13:35:06"), set);
    assert!(q(">", "2026-11-25 13:35:06").is_empty());
    assert_eq!(q(">=", "2026-11-25 13:35:06"), set);
    assert_eq!(q("<=", "2026-11-25 13:35:06").intersection(&set).count(), 30);
    assert_eq!(q("<", "2026-11-25 13:35:06").intersection(&set).count(), 0);
    assert_eq!(q(">", "2026-11-25 13:35:05"), set);
    // The rendered value is truncated to the second.
    let r = sr(
        s.addr,
        "pos.order",
        json!([["id", "in", set.iter().collect::<Vec<_>>()]]),
        json!({"fields": ["write_date"]}),
    );
    assert!(r.iter().all(|x| x["write_date"] == json!("2026-11-25 13:35:06")));
}

#[test]
fn datetime_comparisons_keep_microseconds_before_19() {
    let s = start(Config { version: 17, ..config(400) });
    let (stamped, wd) = stamp_orders(s.addr, 30);
    let set: BTreeSet<u64> = stamped.into_iter().collect();
    let q = |op: &str, v: &str| id_set(s.addr, "pos.order", json!([["write_date", op, v]]));
    // '= second' misses rows stored at second.3xxxxx, '> second' re-reads them.
    assert!(q("=", "2026-11-25 13:35:06").is_empty());
    assert_eq!(q(">", "2026-11-25 13:35:06"), set);
    assert_eq!(q(">", "2026-11-25T13:35:06"), set);
    assert_eq!(q(">=", "2026-11-25 13:35:06"), set);
    assert_eq!(q("<=", "2026-11-25 13:35:06").intersection(&set).count(), 0);
    // The exact stored value (with microseconds) matches.
    assert_eq!(q("=", &wd), set);
    assert!(q(">", &wd).is_empty());
}
