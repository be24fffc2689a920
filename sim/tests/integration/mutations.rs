//! Mutations through the API and the control interface, long transactions and the clock.

use crate::support::*;
use odoo_sim::Config;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn as_ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

#[test]
fn update_shares_one_write_date_to_the_microsecond() {
    // On the 17 profile equality compares microseconds: the exact stored value finds them all.
    let s = start(Config { version: 17, ..config(300) });
    for model in ["product.product", "res.partner", "pos.order", "pos.order.line"] {
        let before = sr(s.addr, model, json!([]), json!({"fields": ["write_date"], "context": {"active_test": false}}));
        let r = control(s.addr, "/sim/mutate", json!({"model": model, "action": "update", "count": 25}));
        let changed: BTreeSet<u64> = as_ids(&r["ids"]).into_iter().collect();
        assert_eq!(changed.len(), 25);
        let wd = r["write_date"].as_str().unwrap();
        assert_eq!(wd.len(), 26, "{wd}");
        let found: BTreeSet<u64> = ids(&sr(
            s.addr,
            model,
            json!([["write_date", "=", wd]]),
            json!({"fields": ["id"], "context": {"active_test": false}}),
        ))
        .into_iter()
        .collect();
        assert_eq!(found, changed, "{model}");
        let after = sr(
            s.addr,
            model,
            json!([["id", "in", changed.iter().collect::<Vec<_>>()]]),
            json!({"fields": ["write_date"], "context": {"active_test": false}}),
        );
        assert!(after.iter().all(|x| x["write_date"] == json!(&wd[..19])));
        assert_eq!(
            before.len(),
            sr(s.addr, model, json!([]), json!({"fields": ["id"], "context": {"active_test": false}})).len()
        );
    }
    // Updates are realistic: a price moves.
    let r = control(s.addr, "/sim/bulk_write", json!({"model": "pos.order", "count": 400}));
    assert_eq!(as_ids(&r["ids"]).len(), 300, "count is capped at the number of records");
    assert_eq!(count(s.addr, "pos.order", json!([["state", "=", "paid"]])), 0, "paid orders were posted");
}

#[test]
fn create_and_delete_keep_orders_consistent() {
    let s = sim();
    let r = control(s.addr, "/sim/mutate", json!({"model": "pos.order", "action": "create", "count": 3}));
    let new = as_ids(&r["ids"]);
    assert_eq!(new.len(), 3);
    let wd = &r["write_date"].as_str().unwrap()[..19];
    for o in sr(s.addr, "pos.order", json!([["id", "in", new]]), json!({})) {
        assert_eq!(o["state"], json!("paid"));
        assert_eq!(o["create_date"], json!(wd));
        assert_eq!(o["write_date"], json!(wd));
        let lines = sr(s.addr, "pos.order.line", json!([["order_id", "=", o["id"]]]), json!({}));
        assert_eq!(ids(&lines), as_ids(&o["lines"]));
        assert!(lines.iter().all(|l| l["write_date"] == json!(wd)));
        let pays = sr(s.addr, "pos.payment", json!([["pos_order_id", "=", o["id"]]]), json!({}));
        assert_eq!(ids(&pays), as_ids(&o["payment_ids"]));
        let paid: f64 = pays.iter().map(|p| p["amount"].as_f64().unwrap()).sum();
        assert!((paid - o["amount_total"].as_f64().unwrap()).abs() < 0.005);
    }
    // Deleting orders only touches drafts and cancelled ones, and takes their lines along.
    let deletable = count(s.addr, "pos.order", json!([["state", "in", ["draft", "cancel"]]]));
    assert!(deletable > 0);
    let r = control(s.addr, "/sim/mutate", json!({"model": "pos.order", "action": "delete", "count": 1000}));
    let gone = as_ids(&r["ids"]);
    assert_eq!(gone.len() as u64, deletable);
    assert_eq!(ok(s.addr, "pos.order", "read", json!([gone.clone()]), json!({})), json!([]));
    assert_eq!(count(s.addr, "pos.order.line", json!([["order_id", "in", gone]])), 0);
    assert_eq!(count(s.addr, "pos.order", json!([["state", "in", ["draft", "cancel"]]])), 0);
    // Partners can go too.
    let r = control(s.addr, "/sim/mutate", json!({"model": "res.partner", "action": "delete", "count": 2}));
    assert_eq!(ok(s.addr, "res.partner", "read", json!([r["ids"].clone()]), json!({})), json!([]));
}

#[test]
fn api_create_write_unlink() {
    let s = sim();
    control(s.addr, "/sim/clock/set", json!({"now": "2026-12-01 08:00:00"}));
    let pid = ok(s.addr, "res.partner", "create", json!([{"name": "Juan Tamad", "city": "Manila"}]), json!({}))
        .as_u64()
        .unwrap();
    let list = ok(s.addr, "res.partner", "create", json!([[{"name": "A"}, {"name": "B"}]]), json!({}));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let p = &ok(s.addr, "res.partner", "read", json!([[pid]]), json!({}))[0];
    assert_eq!(p["name"], json!("Juan Tamad"));
    assert_eq!(p["active"], json!(true));
    assert!(p["create_date"].as_str().unwrap().starts_with("2026-12-01 08:00:0"));
    control(s.addr, "/sim/clock/advance", json!({"seconds": 3600}));
    assert_eq!(ok(s.addr, "res.partner", "write", json!([[pid], {"city": "Davao City"}]), json!({})), json!(true));
    let p = &ok(s.addr, "res.partner", "read", json!([[pid], ["city", "write_date", "create_date"]]), json!({}))[0];
    assert_eq!(p["city"], json!("Davao City"));
    assert!(p["write_date"].as_str().unwrap().starts_with("2026-12-01 09:00:0"));
    assert_eq!(ok(s.addr, "res.partner", "unlink", json!([[pid]]), json!({})), json!(true));
    assert_eq!(ok(s.addr, "res.partner", "read", json!([[pid]]), json!({})), json!([]));
    // Errors: unknown field, missing record, deleting a posted order.
    let v = ek(s.addr, "res.partner", "create", json!([{"nope": 1}]), json!({}));
    assert_eq!(err_data(&v)["message"], json!("Invalid field 'nope' on model 'res.partner'"));
    let v = ek(s.addr, "res.partner", "write", json!([[999_999], {"name": "x"}]), json!({}));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.MissingError"));
    let done = ok(s.addr, "pos.order", "search", json!([[["state", "=", "done"]]]), json!({"limit": 1}));
    let v = ek(s.addr, "pos.order", "unlink", json!([done]), json!({}));
    assert_eq!(err_data(&v)["name"], json!("odoo.exceptions.UserError"));
    assert_eq!(err_data(&v)["message"], json!("In order to delete a sale, it must be new or cancelled."));
    // An order with lines created through one2many commands.
    let session = ok(s.addr, "pos.session", "search", json!([[]]), json!({"limit": 1}))[0].clone();
    let oid = ok(
        s.addr,
        "pos.order",
        "create",
        json!([{"session_id": session, "amount_tax": 0, "amount_total": 0, "amount_paid": 0, "amount_return": 0,
                "lines": [[0, 0, {"product_id": 5, "qty": 2, "price_unit": 10.0}], [0, 0, {"product_id": 6, "qty": 1, "price_unit": 3.5, "discount": 10}]]}]),
        json!({}),
    )
    .as_u64()
    .unwrap();
    let o = &ok(s.addr, "pos.order", "read", json!([[oid]]), json!({}))[0];
    let lines = sr(s.addr, "pos.order.line", json!([["order_id", "=", oid]]), json!({}));
    assert_eq!(ids(&lines), as_ids(&o["lines"]));
    assert_eq!(lines[0]["price_subtotal"], json!(20.0));
    assert_eq!(lines[1]["price_subtotal"], json!(3.15));
    assert_eq!(o["state"], json!("draft"));
    assert!(o["name"].as_str().unwrap().contains(" - "));
    assert_eq!(ok(s.addr, "pos.order", "unlink", json!([[oid]]), json!({})), json!(true));
    assert_eq!(count(s.addr, "pos.order.line", json!([["order_id", "=", oid]])), 0);
}

#[test]
fn long_transaction_commits_late_with_its_begin_time() {
    let s = start(Config { version: 17, ..config(300) });
    control(s.addr, "/sim/clock/set", json!({"now": "2026-11-25 10:00:00"}));
    let tx = control(s.addr, "/sim/tx/begin", json!({}));
    let t = tx["tx"].clone();
    let begin_wd = tx["write_date"].as_str().unwrap().to_string();
    let upd =
        control(s.addr, "/sim/tx/mutate", json!({"tx": t, "model": "pos.order", "action": "update", "count": 10}));
    let cre = control(s.addr, "/sim/tx/mutate", json!({"tx": t, "model": "pos.order", "action": "create", "count": 2}));
    let updated = as_ids(&upd["ids"]);
    let created = as_ids(&cre["ids"]);
    // Invisible before commit: old versions for updates, nothing for creates.
    assert_eq!(count(s.addr, "pos.order", json!([["write_date", "=", begin_wd.as_str()]])), 0);
    assert_eq!(ok(s.addr, "pos.order", "read", json!([created.clone()]), json!({})), json!([]));
    // Meanwhile another transaction commits later.
    control(s.addr, "/sim/clock/advance", json!({"seconds": 120}));
    let other = control(s.addr, "/sim/mutate", json!({"model": "pos.order", "action": "update", "count": 3}));
    let later = other["write_date"].as_str().unwrap().to_string();
    assert!(later > begin_wd);
    let c = control(s.addr, "/sim/tx/commit", json!({"tx": t}));
    assert_eq!(c["committed"], json!(true));
    // Now visible, carrying the begin time: older than rows that were already visible.
    let mut expect: BTreeSet<u64> = updated.iter().copied().collect();
    expect.extend(created.iter().copied());
    let stamped: BTreeSet<u64> =
        ids(&sr(s.addr, "pos.order", json!([["write_date", "=", begin_wd.as_str()]]), json!({"fields": ["id"]})))
            .into_iter()
            .collect();
    // (A row written by both carries the commit's value: the late commit applies last.)
    assert_eq!(stamped, expect);
    assert_eq!(
        ok(s.addr, "pos.order", "read", json!([created, ["write_date"]]), json!({}))[0]["write_date"],
        json!(&begin_wd[..19])
    );
    let r = post_json(s.addr, "/sim/tx/commit", &json!({"tx": t}));
    assert_eq!(r.status, 404, "a transaction commits once");
}

#[test]
fn clock_drives_the_date_header() {
    let s = sim();
    control(s.addr, "/sim/clock/set", json!({"now": "2026-11-25 13:35:06"}));
    let r = http(s.addr, "GET", "/web/version", &[], b"");
    let d1 = r.header("Date").unwrap().to_string();
    assert!(d1 == "Wed, 25 Nov 2026 13:35:06 GMT" || d1 == "Wed, 25 Nov 2026 13:35:07 GMT", "{d1}");
    let a = control(s.addr, "/sim/clock/advance", json!({"seconds": 3600.5}));
    assert!(a["now"].as_str().unwrap().starts_with("2026-11-25 14:35:0"));
    let r = http(
        s.addr,
        "POST",
        "/jsonrpc",
        &[],
        b"{\"jsonrpc\":\"2.0\",\"params\":{\"service\":\"common\",\"method\":\"version\",\"args\":[]},\"id\":1}",
    );
    let d2 = r.header("Date").unwrap();
    assert!(d2.starts_with("Wed, 25 Nov 2026 14:35:0"), "{d2}");
    let now = control_get(s.addr, "/sim/clock");
    assert!(now["now"].as_str().unwrap().starts_with("2026-11-25 14:35:0"));
    // --clock starts the clock at a fixed time.
    let fixed = start(Config { clock: odoo_sim::clock::parse_dt("2027-01-02 03:04:05"), ..config(20) });
    let r = http(fixed.addr, "GET", "/web/version", &[], b"");
    assert!(r.header("Date").unwrap().starts_with("Sat, 02 Jan 2027 03:04:0"));
}
