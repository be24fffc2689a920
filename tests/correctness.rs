//! "Bronze equals Odoo" where it used to break: company filters, a filter that changes, Odoo's
//! clock going back or having been ahead, field names that are not field names. Each test
//! compares bronze with what the simulator serves (every record, archived included, no company
//! filter) and silver with a fresh derivation of bronze afterwards.

use odoo_sync_tests::*;
use serde_json::json;

fn order_fields(db: &Db, sim: &Sim) -> Vec<String> {
    let m = model_fields(db).into_iter().find(|m| m.0 == "pos.order").unwrap();
    requested_fields(sim, "pos.order", &m.2, &m.3)
}

fn assert_orders_match(db: &Db, sim: &Sim) {
    assert_bronze_matches(db, sim, "pos.order", "bronze_pos_order", &order_fields(db, sim));
}

fn company_order_ids(sim: &Sim, company: i64, limit: usize) -> Vec<i64> {
    let ids = sim.execute(
        "pos.order",
        "search",
        json!([[["company_id", "=", company]]]),
        json!({"limit": limit, "order": "id asc", "context": {"active_test": false}}),
    );
    ids.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
}

/// Writes a (new) customer on these orders, through Odoo's API.
fn edit_orders(sim: &Sim, ids: &[i64]) {
    let partner = sim.execute("res.partner", "search", json!([[]]), json!({"limit": 1, "order": "id desc"}))[0].clone();
    sim.execute("pos.order", "write", json!([ids, {"partner_id": partner}]), json!({}));
}

/// Sets the simulator's clock `seconds` away from where it is now.
fn shift_clock(db: &Db, sim: &Sim, seconds: i64) {
    let now = sim.clock();
    let to: String = db
        .connect()
        .query_one(
            "SELECT to_char($1::text::timestamp + make_interval(secs => $2::float8), 'YYYY-MM-DD HH24:MI:SS')",
            &[&now, &(seconds as f64)],
        )
        .unwrap()
        .get(0);
    sim.control("/sim/clock/set", json!({"now": to}));
}

#[test]
fn a_full_sync_under_a_company_filter_soft_deletes_nothing_that_odoo_still_has() {
    let sim = Sim::start(&["--orders", "300", "--seed", "41"]);
    let db = Cluster::shared().create_db("company_full");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    assert!(!company_order_ids(&sim, 2, 1).is_empty(), "the simulator has company-2 orders");
    db.set("odoo_sync.company_ids", "1");
    let r = sync(&db, "pos.order", ", \"full\" => true");
    assert_eq!((r.status.as_str(), r.deleted), ("success", 0), "{r:?}");
    let deleted = db.count("scout.bronze_pos_order WHERE deleted_at IS NOT NULL");
    let silver_deleted = db.count("scout.transactions WHERE deleted_at IS NOT NULL");
    assert_eq!((deleted, silver_deleted), (0, 0), "deleted_at means gone from Odoo, nothing else");
    // A record that really is gone is still found, whatever its company.
    let gone = sim.mutate("pos.order", "delete", 4);
    let n = gone["ids"].as_array().unwrap().len() as i64;
    assert!(n > 0);
    let r = sync(&db, "pos.order", ", \"full\" => true");
    assert_eq!(r.deleted, n, "{r:?}");
    assert_orders_match(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn removing_a_company_filter_brings_the_records_it_had_left_out() {
    let sim = Sim::start(&["--orders", "300", "--seed", "42"]);
    let db = Cluster::shared().create_db("company_change");
    db.configure(&sim, &[("odoo_sync.company_ids", "1")]);
    sync_all(&db, "");
    let company2 = db.count("scout.bronze_pos_order WHERE payload->'company_id'->>0 = '2'");
    assert_eq!(company2, 0, "filtered out");
    // Company-2 orders change while they are filtered out, long before the filter goes.
    let edited = company_order_ids(&sim, 2, 5);
    edit_orders(&sim, &edited);
    sim.advance_clock(3600.0);
    sync(&db, "pos.order", "");
    db.connect().batch_execute(&format!("ALTER DATABASE {} RESET odoo_sync.company_ids", db.name)).unwrap();
    db.reconnect();
    // The next incremental run sees that the selection changed and re-reads every record.
    let r = sync(&db, "pos.order", "");
    assert_eq!(r.status, "success", "{r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("re-reads every record"), "{r:?}");
    assert_orders_match(&db, &sim);
    // Once: the run after is incremental again.
    sim.advance_clock(2.0);
    let r = sync(&db, "pos.order", "");
    assert!(r.fetched < sim.count("pos.order"), "{r:?}");
    // Every other model with a company re-reads once too.
    for r in sync_all(&db, "") {
        assert_eq!(r.status, "success", "{r:?}");
    }
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn odoo_s_clock_going_back_past_the_look_back_is_noticed_and_later_writes_are_read() {
    let sim = Sim::start(&["--orders", "200", "--seed", "43"]);
    let db = Cluster::shared().create_db("clock_back");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    // An NTP step or a restored VM: Odoo's clock goes back 30 minutes (past the 10-minute
    // look-back), then orders are written.
    shift_clock(&db, &sim, -1800);
    let changed = sim.mutate("pos.order", "update", 10);
    let n = changed["ids"].as_array().unwrap().len() as i64;
    sim.advance_clock(1.0);
    let r = sync(&db, "pos.order", "");
    assert_eq!(r.updated, n, "the writes since the clock went back: {r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("behind this model's high-water mark"), "{r:?}");
    let logged: Option<String> = db
        .connect()
        .query_one("SELECT message FROM scout.sync_logs WHERE id = $1", &[&r.run_id.unwrap()])
        .unwrap()
        .get(0);
    assert!(logged.unwrap_or_default().contains("behind"), "the run's log says so");
    // The high-water mark follows Odoo's clock again: later writes keep arriving.
    for _ in 0..2 {
        let changed = sim.mutate("pos.order", "update", 6);
        let n = changed["ids"].as_array().unwrap().len() as i64;
        sim.advance_clock(1.0);
        let r = sync(&db, "pos.order", "");
        assert_eq!(r.updated, n, "{r:?}");
    }
    assert_orders_match(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn a_full_sync_reads_records_written_while_odoo_s_clock_was_ahead() {
    let sim = Sim::start(&["--orders", "200", "--seed", "44"]);
    let db = Cluster::shared().create_db("clock_ahead");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    // Seven orders written while Odoo's clock was a day ahead, then the clock is fixed.
    shift_clock(&db, &sim, 86_400);
    let changed = sim.mutate("pos.order", "update", 7);
    let n = changed["ids"].as_array().unwrap().len() as i64;
    shift_clock(&db, &sim, -86_400);
    let r = sync(&db, "pos.order", ", \"full\" => true");
    assert_eq!((r.fetched, r.updated), (sim.count("pos.order"), n), "{r:?}");
    assert_orders_match(&db, &sim);
    // The checkpoint stays on Odoo's clock: the next incremental run reads what changes now.
    let changed = sim.mutate("pos.order", "update", 3);
    sim.advance_clock(1.0);
    let r = sync(&db, "pos.order", "");
    assert!(r.updated >= changed["ids"].as_array().unwrap().len() as i64, "{r:?}");
    assert_orders_match(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn field_names_that_are_not_identifiers_are_refused_when_set() {
    let db = Cluster::shared().create_db("field_names");
    let mut c = db.connect();
    for bad in ["{\"a,b\"}", "{\"name desc\"}", "{\"\"}"] {
        let e = c
            .batch_execute(&format!("UPDATE scout.sync_models SET extra_fields = '{bad}' WHERE model = 'res.partner'"))
            .expect_err(bad);
        let e = DbErr::of(&e);
        assert_eq!(e.code, "23514", "{}", e.all_text());
        assert!(e.message.contains("fields_are_odoo_field_names"), "{}", e.all_text());
    }
    c.batch_execute("UPDATE scout.sync_models SET extra_fields = '{x_loyalty_tier}' WHERE model = 'res.partner'")
        .unwrap();
}
