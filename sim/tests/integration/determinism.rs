//! The generator is deterministic: same seed and flags, byte-identical data.

use crate::support::*;
use odoo_sim::Config;
use serde_json::json;

fn dump(addr: std::net::SocketAddr, model: &str) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "object", "method": "execute_kw",
        "args": ["odoo", 2, "admin", model, "search_read", [[]], {"order": "id asc", "context": {"active_test": false}}]}});
    post_json(addr, "/jsonrpc", &body).body
}

#[test]
fn same_seed_same_bytes_different_seed_differs() {
    let cfg = || Config { with_brand: true, with_region_code: true, ..config(1500) };
    let a = start(cfg());
    let b = start(cfg());
    let c = start(Config { seed: 43, ..cfg() });
    // Models without generated records (base.automation, ir.actions.server) are left out.
    let store = a.sim.store.read().unwrap();
    let models: Vec<&str> = a
        .sim
        .schema
        .models
        .iter()
        .zip(&store.tables)
        .filter(|(m, t)| m.accessible && !t.is_empty())
        .map(|(m, _)| m.name)
        .collect();
    drop(store);
    assert!(models.len() >= 15);
    let mut differing = 0;
    for m in &models {
        let (x, y, z) = (dump(a.addr, m), dump(b.addr, m), dump(c.addr, m));
        assert!(x.len() > 60, "{m} has data");
        assert_eq!(x, y, "{m} is byte-identical for the same seed");
        if x != z {
            differing += 1;
        }
    }
    for m in ["pos.order", "pos.order.line", "pos.payment", "res.partner", "product.product"] {
        assert_ne!(dump(a.addr, m), dump(c.addr, m), "{m} differs for another seed");
    }
    assert!(differing >= 5);
}

#[test]
fn orders_flag_scales_everything() {
    let s = start(config(3000));
    assert_eq!(count(s.addr, "pos.order", json!([])), 3000);
    let lines = count(s.addr, "pos.order.line", json!([]));
    assert!((3000 * 4..3000 * 5).contains(&lines), "about 4.5 lines per order: {lines}");
    let info = control_get(s.addr, "/sim/info");
    assert_eq!(info["models"]["pos.order"], json!(3000));
    // Sessions: one per store per day, all but the last day's closed; done orders share the
    // session's close write_date.
    let sessions = sr(s.addr, "pos.session", json!([["state", "=", "closed"]]), json!({"limit": 5, "order": "id asc"}));
    for sess in sessions {
        let done = sr(
            s.addr,
            "pos.order",
            json!([["session_id", "=", sess["id"]], ["state", "=", "done"]]),
            json!({"fields": ["write_date"]}),
        );
        assert!(done.iter().all(|o| o["write_date"] == sess["write_date"]));
    }
    // History ends at --end-date.
    let last = sr(s.addr, "pos.order", json!([]), json!({"fields": ["date_order"], "limit": 1}));
    assert!(last[0]["date_order"].as_str().unwrap() < "2026-11-01 00:00:00");
    let first =
        sr(s.addr, "pos.order", json!([]), json!({"fields": ["date_order"], "limit": 1, "order": "date_order asc"}));
    assert!(first[0]["date_order"].as_str().unwrap() >= "2026-08-03 00:00:00");
}
