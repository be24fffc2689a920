//! "Bronze equals Odoo" where it used to break: company filters, a filter that changes, Odoo's
//! clock going back or having been ahead, field names that are not field names, renamed
//! companies, brands, categories and products (silver and gold must show the new names). Each test
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

/// The one value of a query (text).
fn text(db: &Db, sql: &str) -> String {
    db.connect().query_one(sql, &[]).unwrap().get(0)
}

fn id_of(db: &Db, sql: &str) -> i64 {
    db.connect().query_one(sql, &[]).unwrap().get(0)
}

/// Renames a record through Odoo's API (its own write_date moves; those pointing at it keep theirs).
fn rename(sim: &Sim, model: &str, id: i64, name: &str) {
    sim.execute(model, "write", json!([[id], {"name": name}]), json!({}));
}

/// Renames a company, a brand, a category and a product in Odoo; one round of incremental runs
/// (`round`: in the session that synced before, or the worker's) must bring every new name into
/// silver and gold.
fn renames_reach_silver_and_gold(db: &Db, sim: &Sim, round: impl Fn()) {
    let brand = id_of(db, "SELECT brand_id FROM scout.transaction_items WHERE brand_id IS NOT NULL GROUP BY brand_id ORDER BY count(*) DESC, brand_id LIMIT 1");
    let category = id_of(db, "SELECT category_id FROM scout.transaction_items WHERE category_id IS NOT NULL GROUP BY category_id ORDER BY count(*) DESC, category_id LIMIT 1");
    let product = id_of(
        db,
        "SELECT product_id FROM scout.transaction_items GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1",
    );
    let company = id_of(db, "SELECT company_id FROM scout.stores WHERE company_id <> 1 LIMIT 1");
    let old_company = text(db, &format!("SELECT company_name FROM scout.stores WHERE company_id = {company} LIMIT 1"));
    let old_brand = text(db, &format!("SELECT brand_name FROM scout.products WHERE brand_id = {brand} LIMIT 1"));
    let old_category = text(db, &format!("SELECT name FROM scout.categories WHERE id = {category}"));
    let fulls_before = db.count("scout.sync_logs WHERE full_sync");
    rename(sim, "res.company", company, "Scout Retail Visayas and Mindanao");
    rename(sim, "product.brand", brand, "Renamed Brand");
    rename(sim, "product.category", category, "Renamed Category");
    rename(sim, "product.product", product, "Renamed Product");
    sim.advance_clock(5.0);
    round();
    assert_eq!(db.count("scout.sync_logs WHERE full_sync"), fulls_before, "incremental runs only");
    db.connect().batch_execute("SELECT scout.refresh_gold()").unwrap();

    // Bronze keeps each record as Odoo sent it: the POS still embeds the old company name.
    let embedded = text(db, &format!(
        "SELECT payload->'company_id'->>1 FROM scout.bronze_pos_config WHERE payload->'company_id'->>0 = '{company}' LIMIT 1"));
    assert_eq!(embedded, old_company, "a snapshot as of the POS's last write");
    // Silver and gold take the names from the named records' own rows.
    let stale = |sql: &str| db.count(sql);
    assert_eq!(stale(&format!("scout.stores WHERE company_id = {company} AND company_name IS DISTINCT FROM 'Scout Retail Visayas and Mindanao'")), 0);
    assert!(db.count(&format!("scout.stores WHERE company_id = {company}")) > 0);
    assert_eq!(stale(&format!("scout.gold_daily_sales WHERE company_id = {company} AND company_name <> 'Scout Retail Visayas and Mindanao'")), 0);
    assert!(db.count(&format!("scout.gold_company_daily_sales WHERE company_id = {company} AND company_name = 'Scout Retail Visayas and Mindanao'")) > 0);
    assert_eq!(stale(&format!("scout.products WHERE brand_id = {brand} AND brand_name <> 'Renamed Brand'")), 0);
    assert_eq!(
        stale(&format!("scout.transaction_items WHERE brand_id = {brand} AND brand_name <> 'Renamed Brand'")),
        0
    );
    assert!(db.count("scout.gold_brand_mix WHERE brand_name = 'Renamed Brand'") > 0);
    // The old names are gone from gold (bound: a brand may be called Jack 'n Jill).
    let with_name = |sql: &str, name: &str| -> i64 { db.connect().query_one(sql, &[&name]).unwrap().get(0) };
    assert_eq!(
        with_name("SELECT count(*) FROM scout.gold_brand_mix WHERE brand_name = $1", &old_brand),
        0,
        "{old_brand}"
    );
    assert_eq!(
        stale(&format!(
            "scout.transaction_items WHERE category_id = {category} AND product_category <> 'Renamed Category'"
        )),
        0
    );
    assert!(db.count("scout.gold_category_mix WHERE product_category = 'Renamed Category'") > 0);
    assert_eq!(
        db.count(&format!(
            "scout.gold_category_mix WHERE category_id = {category} AND product_category <> 'Renamed Category'"
        )),
        0,
        "no row of the category keeps {old_category}"
    );
    assert_eq!(text(db, &format!("SELECT name FROM scout.products WHERE id = {product}")), "Renamed Product");
    assert!(db.count(&format!("scout.gold_product_mix WHERE product_id = {product}")) > 0);
    assert_eq!(
        stale(&format!("scout.gold_product_mix WHERE product_id = {product} AND product_name <> 'Renamed Product'")),
        0
    );
    assert_all_bronze_matches_but_embedded_names(db, sim);
    assert_silver_matches_bronze(db);
}

#[test]
fn renamed_companies_brands_categories_and_products_reach_silver_and_gold_with_incremental_runs_only() {
    let sim = Sim::start(&["--orders", "400", "--seed", "45", "--with-brand"]);
    let db = Cluster::shared().create_db("renames");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    renames_reach_silver_and_gold(&db, &sim, || {
        for r in sync_all(&db, "") {
            assert_eq!(r.status, "success", "{r:?}");
        }
    });
}

#[test]
fn without_the_brand_module_product_brand_has_nothing_to_sync_and_says_why() {
    let sim = Sim::start(&["--orders", "100", "--seed", "46"]);
    let db = Cluster::shared().create_db("no_brand");
    db.configure(&sim, &[]);
    for _ in 0..2 {
        let r = sync(&db, "product.brand", "");
        assert_eq!((r.status.as_str(), r.fetched), ("success", 0), "{r:?}");
        let msg = r.message.clone().unwrap_or_default();
        assert!(msg.contains("no product.brand") && msg.contains("product_brand"), "{r:?}");
        sim.advance_clock(2.0);
    }
    assert_eq!(
        db.count("scout.sync_checkpoints WHERE model = 'product.brand'"),
        0,
        "no checkpoint: a first load once installed"
    );
    let healthy: bool = db
        .connect()
        .query_one("SELECT healthy FROM scout.sync_status WHERE model = 'product.brand'", &[])
        .unwrap()
        .get(0);
    assert!(healthy, "nothing to sync is not a failure");
    sync_all(&db, "");
    assert_eq!(db.count("scout.products WHERE brand_name <> 'Unknown'"), 0);
    let rec = db.connect().query_one("SELECT status, run_id FROM scout.odoo_reconcile('product.brand')", &[]).unwrap();
    let (status, run_id): (String, i64) = (rec.get(0), rec.get(1));
    let logged: String = db
        .connect()
        .query_one("SELECT status || ' ' || message FROM scout.sync_logs WHERE id = $1", &[&run_id])
        .unwrap()
        .get(0);
    assert_eq!(status, "success");
    assert!(logged.starts_with("success") && logged.contains("nothing to sync"), "{logged}");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn renames_reach_silver_and_gold_through_the_worker() {
    let sim = Sim::start(&["--orders", "300", "--seed", "47", "--with-brand"]);
    let cluster = worker_cluster_with("wk_renames", "*/2 * * * * *", &[]);
    let db = cluster.create_db_named("wk_renames");
    db.configure(&sim, &[]);
    wait_for_worker_round_since(&db, "-infinity");
    renames_reach_silver_and_gold(&db, &sim, || {
        let now: String = db.connect().query_one("SELECT now()::text", &[]).unwrap().get(0);
        wait_for_worker_round_since(&db, &now);
        stop_worker_syncing(&db);
    });
}

/// The time now, as the database says it (to wait for worker runs that start after it).
fn db_now(db: &Db) -> String {
    db.connect().query_one("SELECT now()::text", &[]).unwrap().get(0)
}

#[test]
fn through_the_worker_a_removed_company_filter_and_a_clock_set_back_lose_nothing() {
    let sim = Sim::start(&["--orders", "300", "--seed", "48"]);
    let cluster = worker_cluster_with("wk_select", "*/2 * * * * *", &[]);
    let db = cluster.create_db_named("wk_select");
    db.configure(&sim, &[("odoo_sync.company_ids", "1")]);
    wait_for_worker_round_since(&db, "-infinity");
    assert_eq!(db.count("scout.bronze_pos_order WHERE payload->'company_id'->>0 = '2'"), 0, "filtered out");
    // Company-2 orders change while filtered out; a round later Odoo's clock goes back 30
    // minutes (past the look-back) and more orders are written; a round later the filter goes.
    // The worker applies the database's settings itself, at its next transaction.
    edit_orders(&sim, &company_order_ids(&sim, 2, 5));
    sim.advance_clock(3600.0);
    let since = db_now(&db);
    wait_for_worker_round_since(&db, &since);
    shift_clock(&db, &sim, -1800);
    sim.mutate("pos.order", "update", 10);
    sim.advance_clock(1.0);
    let since = db_now(&db);
    wait_for_worker_round_since(&db, &since);
    db.connect().batch_execute(&format!("ALTER DATABASE {} RESET odoo_sync.company_ids", db.name)).unwrap();
    let since = db_now(&db);
    wait_for_worker_round_since(&db, &since);
    stop_worker_syncing(&db);
    let noted = |what: &str| -> i64 {
        db.connect()
            .query_one(
                "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND run_mode = 'worker' \
                 AND strpos(message, $1) > 0",
                &[&what],
            )
            .unwrap()
            .get(0)
    };
    assert!(noted("re-reads every record") > 0, "the selection change was noticed");
    assert!(noted("behind this model's high-water mark") > 0, "the clock going back was noticed");
    assert_eq!(db.count("scout.sync_logs WHERE status = 'failed'"), 0);
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn through_the_worker_a_reconciliation_under_a_company_filter_soft_deletes_nothing_odoo_still_has() {
    let sim = Sim::start(&["--orders", "300", "--seed", "49"]);
    let cluster =
        worker_cluster_with("wk_rec_filter", "*/2 * * * * *", &["odoo_sync.reconcile_schedule = '*/3 * * * * *'"]);
    let db = cluster.create_db_named("wk_rec_filter");
    db.configure(&sim, &[("odoo_sync.company_ids", "1")]);
    wait_for_worker_round_since(&db, "-infinity");
    let gone = sim.mutate("pos.order", "delete", 4);
    let n_gone = gone["ids"].as_array().unwrap().len() as i64;
    assert!(n_gone > 0);
    let since = db_now(&db);
    wait_for_every_model_since(&db, "reconcile", &since);
    stop_worker_syncing(&db);
    // Only what Odoo deleted is marked deleted; the company-2 records are not ours, not gone.
    let deleted = db.count("scout.bronze_pos_order WHERE deleted_at IS NOT NULL");
    let company1_gone = gone["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|id| db.count(&format!("scout.bronze_pos_order WHERE id = {id}")) > 0)
        .count() as i64;
    assert_eq!(deleted, company1_gone, "deleted_at means gone from Odoo");
    assert_eq!(db.count("scout.transactions WHERE deleted_at IS NOT NULL"), company1_gone);
    assert_eq!(db.count("scout.bronze_pos_order WHERE payload->'company_id'->>0 = '2'"), 0, "still filtered out");
    assert_eq!(db.count("scout.sync_logs WHERE status = 'failed'"), 0);
    assert_silver_matches_bronze(&db);
}

#[test]
fn through_the_worker_a_nul_in_a_name_blocks_only_its_model_with_a_clear_error_until_fixed_in_odoo() {
    let sim = Sim::start(&["--orders", "200", "--seed", "50"]);
    let cluster = worker_cluster_with("wk_poison", "*/2 * * * * *", &[]);
    let db = cluster.create_db_named("wk_poison");
    db.configure(&sim, &[]);
    wait_for_worker_round_since(&db, "-infinity");
    let product = sim.execute("product.product", "search", json!([[]]), json!({"limit": 1}))[0].as_i64().unwrap();
    rename(&sim, "product.product", product, "Bad\u{0}Name");
    sim.mutate("pos.order", "update", 5);
    sim.advance_clock(2.0);
    let failed = wait_for(60, "the product's failure recorded", || {
        db.connect()
            .query_opt(
                "SELECT error_code, error_message FROM scout.sync_logs WHERE model = 'product.product' AND status = 'failed' \
                 ORDER BY id DESC LIMIT 1",
                &[],
            )
            .unwrap()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
    });
    assert_eq!(failed.0, "22000", "{failed:?}");
    assert!(failed.1.contains(&format!("record {product}")) && failed.1.contains("NUL"), "{failed:?}");
    // The other models go on: the updated orders arrive although products are blocked.
    let since = db_now(&db);
    wait_for(60, "a pos.order run after the failure", || {
        (db.count(&format!(
            "scout.sync_logs WHERE model = 'pos.payment' AND status = 'success' AND started_at > '{since}'"
        )) > 0)
            .then_some(())
    });
    // Fixed in Odoo, the model recovers by itself (after the worker's backoff).
    rename(&sim, "product.product", product, "Good Name");
    sim.advance_clock(2.0);
    let since = db_now(&db);
    wait_for(90, "the product model to recover", || {
        (db.count(&format!(
            "scout.sync_logs WHERE model = 'product.product' AND status = 'success' AND started_at > '{since}'"
        )) > 0)
            .then_some(())
    });
    stop_worker_syncing(&db);
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}
