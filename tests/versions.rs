//! Every Odoo our users run: the core sync against each version profile of the simulator,
//! over both transports on 19, with API keys, and with the company restriction.

use odoo_sync_tests::*;
use serde_json::json;

fn full_then_incremental(sim: &Sim, db: &Db) {
    for r in sync_all(db, "") {
        assert_eq!(r.status, "success", "{r:?}");
        // A model this Odoo lacks (product.brand without OCA product_brand) has nothing to sync.
        let in_odoo = if sim.has_model(&r.model) { sim.count(&r.model) } else { 0 };
        assert_eq!(r.fetched, in_odoo, "{r:?}");
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

/// What the simulator's Odoo says, counted: records of `model` matching `domain`.
fn odoo_count(sim: &Sim, model: &str, domain: serde_json::Value) -> i64 {
    sim.execute(model, "search_count", json!([domain]), json!({"context": {"active_test": false}})).as_i64().unwrap()
}

/// The fields the last run of a model synced without (sync_logs.missing_fields).
fn missing_fields(db: &Db, model: &str) -> Vec<String> {
    db.connect()
        .query_one("SELECT coalesce(missing_fields, '{}') FROM scout.sync_logs WHERE model = $1 AND status = 'success' ORDER BY id DESC LIMIT 1", &[&model])
        .unwrap()
        .get(0)
}

/// The field differences between versions (the simulator's VERSION DIFFERENCES, from Odoo's
/// source) never fail a run: what a version lacks is logged as missing and reads NULL in silver;
/// what a version names differently reads the same in silver.
fn assert_version_fields(sim: &Sim, db: &Db, version: u32) {
    let mut c = db.connect();
    let one = |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let product_missing = missing_fields(db, "product.product");
    // Odoo 16/17: storable goods are type "product" (and detailed_type); 18+: "consu" + is_storable.
    let storable_in_odoo = if version <= 17 {
        assert!(
            product_missing.contains(&"is_storable".into()) && !product_missing.contains(&"detailed_type".into()),
            "{version}: {product_missing:?}"
        );
        odoo_count(sim, "product.product", json!([["type", "=", "product"]]))
    } else {
        assert!(
            product_missing.contains(&"detailed_type".into()) && !product_missing.contains(&"is_storable".into()),
            "{version}: {product_missing:?}"
        );
        odoo_count(sim, "product.product", json!([["is_storable", "=", true]]))
    };
    assert!(storable_in_odoo > 100, "{version}: the simulator has storable products");
    assert_eq!(
        one(&mut c, "SELECT count(*) FROM scout.products WHERE is_storable"),
        storable_in_odoo,
        "{version}: storable products"
    );
    assert_eq!(one(&mut c, "SELECT count(*) FROM scout.products WHERE is_storable IS NULL"), 0, "{version}");
    assert_eq!(
        one(&mut c, "SELECT count(*) FROM scout.products WHERE product_type NOT IN ('consu', 'service')"),
        0,
        "{version}: product types read alike"
    );
    let services = odoo_count(sim, "product.product", json!([["type", "=", "service"]]));
    assert_eq!(
        one(&mut c, "SELECT count(*) FROM scout.products WHERE product_type = 'service'"),
        services,
        "{version}"
    );
    // The OCA brand field is not installed on this simulator: missing, and 'Unknown' in silver.
    assert!(product_missing.contains(&"product_brand_id".into()), "{product_missing:?}");
    assert_eq!(one(&mut c, "SELECT count(*) FROM scout.products WHERE brand_name <> 'Unknown'"), 0);
    // res.partner mobile: gone in 19.
    let partner_missing = missing_fields(db, "res.partner");
    let mobiles = one(&mut c, "SELECT count(*) FROM scout.customers WHERE mobile IS NOT NULL");
    if version <= 18 {
        assert!(!partner_missing.contains(&"mobile".into()), "{version}: {partner_missing:?}");
        let in_odoo = odoo_count(sim, "res.partner", json!([["mobile", "!=", false]]));
        assert!(in_odoo > 0);
        assert_eq!(mobiles, in_odoo, "{version}: mobiles");
    } else {
        assert!(partner_missing.contains(&"mobile".into()), "{version}: {partner_missing:?}");
        assert_eq!(mobiles, 0);
    }
    // pos.order: "invoiced" exists up to 18 and is a completed sale in silver; 19 has no such state.
    let invoiced = one(&mut c, "SELECT count(*) FROM scout.transactions WHERE odoo_state = 'invoiced'");
    let completed_invoiced =
        one(&mut c, "SELECT count(*) FROM scout.transactions WHERE odoo_state = 'invoiced' AND status = 'completed'");
    assert_eq!(completed_invoiced, invoiced);
    if version <= 18 {
        let quarantined = one(&mut c, "SELECT count(DISTINCT b.id) FROM scout.bronze_pos_order b JOIN scout.silver_rejects r \
                                       ON r.model = 'pos.order' AND r.source_id = b.id WHERE b.payload ->> 'state' = 'invoiced'");
        assert_eq!(
            invoiced + quarantined,
            odoo_count(sim, "pos.order", json!([["state", "=", "invoiced"]])),
            "{version}: invoiced orders"
        );
        assert!(invoiced > 0, "{version}: invoiced orders");
    } else {
        assert_eq!(invoiced, 0);
    }
    // None of this is a failure, and only a missing core field would be worth a message (or a
    // model this Odoo lacks: product.brand without OCA product_brand, which says so).
    assert_eq!(one(&mut c, "SELECT count(*) FROM scout.sync_logs WHERE status <> 'success' OR error_message IS NOT NULL \
                            OR (message IS NOT NULL AND NOT (model = 'product.brand' AND message LIKE '%not installed%'))"), 0, "{version}");
}

#[test]
fn the_core_sync_works_on_every_version_profile() {
    for version in [16, 17, 18, 19] {
        let sim = Sim::start(&["--orders", "150", "--seed", "31", "--version", &version.to_string()]);
        let db = Cluster::shared().create_db(&format!("v{version}"));
        db.configure(&sim, &[]);
        full_then_incremental(&sim, &db);
        let logged: String =
            db.connect().query_one("SELECT max(odoo_version) FROM scout.sync_logs", &[]).unwrap().get(0);
        assert!(logged.starts_with(&version.to_string()), "version detected: {logged}");
        assert_eq!(transport_used(&db), ["jsonrpc"]);
        assert_version_fields(&sim, &db, version);
    }
}

#[test]
fn a_core_field_this_odoo_lacks_is_synced_without_and_noted_once_per_run() {
    // As if a future Odoo dropped a field of our spec: the run succeeds without it, says so in
    // its message and missing_fields, and silver reads NULL.
    let sim = Sim::start(&["--orders", "40", "--seed", "3", "--version", "17"]);
    let db = Cluster::shared().create_db("core_field_gone");
    db.configure(&sim, &[("odoo_sync.batch_size", "10")]);
    let mut c = db.connect();
    c.batch_execute(
        "UPDATE scout.sync_models SET fields = array_append(fields, 'x_dropped_in_future') WHERE model = 'pos.config'",
    )
    .unwrap();
    let r = sync(&db, "pos.config", "");
    assert_eq!(r.status, "success");
    assert_eq!(r.fetched, sim.count("pos.config"));
    let row = c
        .query_one("SELECT message, missing_fields FROM scout.sync_logs WHERE id = $1", &[&r.run_id.unwrap()])
        .unwrap();
    let (message, missing): (Option<String>, Vec<String>) = (row.get(0), row.get(1));
    let message = message.unwrap_or_default();
    assert_eq!(message.matches("x_dropped_in_future").count(), 1, "named once: {message}");
    assert!(message.contains("pos.config"), "{message}");
    assert_eq!(missing, ["x_dropped_in_future"]);
    assert_bronze_matches(
        &db,
        &sim,
        "pos.config",
        "bronze_pos_config",
        &requested_fields(&sim, "pos.config", &model_fields_of(&db, "pos.config").2, &[]),
    );
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
    let orders = sim.execute(
        "pos.order",
        "search_read",
        json!([[]]),
        json!({"fields": ["company_id"], "context": {"active_test": false}}),
    );
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
        .query_one(
            "SELECT count(*) FROM scout.bronze_pos_order WHERE (payload->'company_id'->>0)::bigint <> $1",
            &[&first],
        )
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
