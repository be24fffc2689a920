//! Every Odoo our users run: the core sync against each version profile of the simulator,
//! over both transports on 19, with API keys, and with the company restriction.

use odoo_sync_tests::*;
use serde_json::json;

fn full_then_incremental(sim: &Sim, db: &Db) {
    for r in sync_all(db, "") {
        assert_eq!(r.status, "success", "{r:?}");
        assert_eq!(r.fetched, sim.count(&r.model), "{r:?}");
    }
    assert_all_bronze_matches(db, sim);
    sim.mutate("pos.order", "update", 5);
    sim.mutate("pos.order", "create", 2);
    sim.advance_clock(3.0);
    let r = sync(db, "pos.order", "");
    assert_eq!((r.inserted, r.updated), (2, 5), "{r:?}");
    for model in ["pos.order.line", "pos.payment"] {
        sync(db, model, "");
    }
    assert_all_bronze_matches(db, sim);
}

fn transport_used(db: &Db) -> Vec<String> {
    db.connect()
        .query("SELECT DISTINCT transport FROM scout.sync_logs WHERE transport IS NOT NULL", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn the_core_sync_works_on_every_version_profile() {
    for version in ["16", "17", "18", "19"] {
        let sim = Sim::start(&["--orders", "150", "--seed", "31", "--version", version]);
        let db = Cluster::shared().create_db(&format!("v{version}"));
        db.configure(&sim, &[]);
        full_then_incremental(&sim, &db);
        let logged: String = db.connect().query_one("SELECT max(odoo_version) FROM scout.sync_logs", &[]).unwrap().get(0);
        assert!(logged.starts_with(version), "version detected: {logged}");
        assert_eq!(transport_used(&db), ["jsonrpc"]);
    }
}

#[test]
fn with_an_api_key_odoo_19_is_synced_over_json2_with_the_same_results() {
    let key = "0123456789abcdef0123456789abcdef01234567";
    let sim = Sim::start(&["--orders", "150", "--seed", "31", "--api-key", key]);
    let db = Cluster::shared().create_db("json2");
    db.configure(&sim, &[]);
    db.connect().execute("SELECT scout.odoo_set_secret(api_key => $1)", &[&key]).unwrap();
    full_then_incremental(&sim, &db);
    assert_eq!(transport_used(&db), ["json2"]);
    // The same key over /jsonrpc (as a password) gives the same data.
    let db2 = Cluster::shared().create_db("json2_vs_rpc");
    db2.configure(&sim, &[("odoo_sync.transport", "jsonrpc")]);
    db2.connect().execute("SELECT scout.odoo_set_secret(api_key => $1)", &[&key]).unwrap();
    sync_all(&db2, "");
    assert_eq!(transport_used(&db2), ["jsonrpc"]);
    assert_all_bronze_matches(&db2, &sim);
}

#[test]
fn an_expired_api_key_says_so() {
    let key = "0123456789abcdef0123456789abcdef01234567";
    let sim = Sim::start(&["--orders", "20", "--api-key", key]);
    for transport in ["json2", "jsonrpc"] {
        let db = Cluster::shared().create_db("expired_key");
        db.configure(&sim, &[("odoo_sync.transport", transport)]);
        db.connect().execute("SELECT scout.odoo_set_secret(api_key => $1)", &[&key]).unwrap();
        sim.set_faults(json!([{"kind": "api_key_expired"}]));
        let e = db.connect().query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("expired");
        let e = DbErr::of(&e);
        assert_eq!(e.code, "28000", "{transport}: {}", e.all_text());
        assert!(e.hint.contains("expire"), "{transport}: {}", e.all_text());
        assert!(!e.all_text().contains(key));
        sim.set_faults(json!([]));
    }
}

#[test]
fn json2_on_an_older_odoo_is_a_clear_error() {
    let sim = Sim::start(&["--orders", "20", "--version", "17"]);
    let db = Cluster::shared().create_db("json2_v17");
    db.configure(&sim, &[("odoo_sync.transport", "json2")]);
    let e = db.connect().query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("no JSON-2 on 17");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.message.contains("JSON-2 API needs Odoo 19"), "{}", e.all_text());
}

#[test]
fn the_company_restriction_keeps_other_companies_out() {
    let sim = Sim::start(&["--orders", "300", "--seed", "12"]);
    let orders = sim.execute("pos.order", "search_read", json!([[]]), json!({"fields": ["company_id"], "context": {"active_test": false}}));
    let mut per_company = std::collections::BTreeMap::new();
    for o in orders.as_array().unwrap() {
        let id = o["company_id"][0].as_i64().unwrap_or(0);
        *per_company.entry(id).or_insert(0i64) += 1;
    }
    assert!(per_company.len() >= 2, "the simulator has two companies: {per_company:?}");
    let (&first, &count) = per_company.iter().next().unwrap();

    let all = Cluster::shared().create_db("companies_all");
    all.configure(&sim, &[]);
    sync(&all, "pos.order", "");
    assert_eq!(all.count("scout.bronze_pos_order"), per_company.values().sum::<i64>());

    let one = Cluster::shared().create_db("companies_one");
    one.configure(&sim, &[("odoo_sync.company_ids", &first.to_string())]);
    let r = sync(&one, "pos.order", "");
    assert_eq!(r.fetched, count, "{r:?}");
    let others: i64 = one
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_pos_order WHERE (payload->'company_id'->>0)::bigint <> $1", &[&first])
        .unwrap()
        .get(0);
    assert_eq!(others, 0);
    // Models without a company (categories) are unaffected.
    assert_eq!(sync(&one, "product.category", "").fetched, sim.count("product.category"));
    let mut c = one.connect();
    c.batch_execute("LOAD 'odoo_sync'").unwrap();
    let e = c.batch_execute("SET odoo_sync.company_ids = 'one, two'").expect_err("not ids");
    assert_eq!(DbErr::of(&e).code, "22023");
}
