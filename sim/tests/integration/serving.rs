//! `--serve-cost real` and `--workers N`: calls take what a real Odoo 19 takes for them, and no
//! more than N are served at once. Lower bounds only: the waits are sleeps, so a call never takes
//! less; how much more depends on the machine.

use crate::support::*;
use odoo_sim::serving::ServeCost;
use odoo_sim::Config;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn lines_page(addr: SocketAddr, fields: &[&str]) -> usize {
    sr(addr, "pos.order.line", json!([]), json!({"fields": fields, "limit": 500, "order": "id asc"})).len()
}

#[test]
fn a_page_of_500_lines_with_11_fields_takes_what_odoo_takes() {
    let cost = start(Config { serve_cost: ServeCost::Real, ..config(400) });
    let fields = [
        "id",
        "order_id",
        "product_id",
        "full_product_name",
        "qty",
        "price_unit",
        "discount",
        "price_subtotal",
        "price_subtotal_incl",
        "company_id",
        "write_date",
    ];
    let t = Instant::now();
    assert_eq!(lines_page(cost.addr, &fields), 500);
    let took = t.elapsed();
    assert!(took >= ServeCost::Real.of(500 * 11), "{took:?}");
    // Fewer fields cost less, and a search renders one value per id.
    let t = Instant::now();
    lines_page(cost.addr, &["id", "write_date"]);
    assert!(t.elapsed() >= ServeCost::Real.of(500 * 2));
    assert!(ServeCost::Real.of(500 * 2) < ServeCost::Real.of(500 * 11));
}

#[test]
fn without_the_flag_nothing_waits() {
    assert_eq!(config(400).serve_cost, ServeCost::None);
    assert_eq!(ServeCost::None.of(500 * 11), Duration::ZERO);
}

#[test]
fn at_most_n_calls_are_served_at_once() {
    let one = start(Config { serve_cost: ServeCost::Real, workers: Some(1), ..config(400) });
    let addr = one.addr;
    let t = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || ok(addr, "res.company", "search_count", json!([[]]), json!({}))))
        .collect();
    for c in calls {
        c.join().unwrap();
    }
    // Four 14 ms calls on one worker: one after the other.
    let took = t.elapsed();
    assert!(took >= 4 * ServeCost::Real.of(0), "{took:?}");
}
