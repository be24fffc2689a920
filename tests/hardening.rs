//! Defects a hostile tester found, each through the path users run: deletes only on proof,
//! references to deleted records dropped, write-back that never loses or leaks an update, and
//! tag names that stay apart. Each test compares bronze, silver or Odoo with the source after.

use odoo_sync_tests::outbox::*;
use odoo_sync_tests::*;
use serde_json::json;
use std::time::Duration;

/// Live rows of a table (deleted_at IS NULL).
fn live(db: &Db, table: &str) -> i64 {
    db.count(&format!("{table} WHERE deleted_at IS NULL"))
}

fn full_sync_error(db: &Db, model: &str) -> DbErr {
    let sql = format!("SELECT * FROM scout.odoo_sync('{model}', full => true)");
    DbErr::of(&db.session(|c| c.query(&sql, &[])).expect_err("the run must fail"))
}

#[test]
fn a_full_sync_believes_no_mangled_listing_and_deletes_only_what_odoo_confirms() {
    let sim = Sim::start(&["--orders", "300", "--seed", "71"]);
    let db = Cluster::shared().create_db("hard_listing");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let orders = live(&db, "scout.bronze_pos_order");
    let transactions = live(&db, "scout.transactions");
    assert_eq!(orders, sim.count("pos.order"));
    // Reversed (out of order), and cut short (every order above the cut missing): both fail the
    // run, and nothing is deleted anywhere.
    for tamper in [json!({"reverse": true}), json!({"keep": 10})] {
        let mut fault = json!({"kind": "tamper_ids", "match": {"model": "pos.order", "method": "search"}});
        fault.as_object_mut().unwrap().extend(tamper.as_object().unwrap().clone());
        sim.set_faults(json!([fault]));
        let e = full_sync_error(&db, "pos.order");
        assert_eq!(e.code, "22000", "{}", e.all_text());
        assert!(
            e.all_text().contains("Nothing was deleted") || e.all_text().contains("nothing was deleted"),
            "{}",
            e.all_text()
        );
        assert_eq!(live(&db, "scout.bronze_pos_order"), orders, "{tamper}: bronze kept every order");
        assert_eq!(live(&db, "scout.transactions"), transactions, "{tamper}: silver kept every order");
        assert_eq!(db.count("scout.bronze_pos_order WHERE deleted_at IS NOT NULL"), 0);
    }
    sim.set_faults(json!([]));
    // A real delete is still found, confirmed and applied.
    let gone = sim.mutate("pos.order", "delete", 2)["ids"].as_array().map(|a| a.len() as i64).unwrap_or(2);
    sim.advance_clock(2.0);
    let s = sync(&db, "pos.order", ", full => true");
    assert_eq!((s.status.as_str(), s.deleted), ("success", gone), "{s:?}");
    assert_eq!(live(&db, "scout.bronze_pos_order"), sim.count("pos.order"));
    // Their lines and payments went with them in Odoo: the other models' full syncs see it.
    sync_all(&db, "full => true");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn a_reconciliation_believes_no_short_listing() {
    let sim = Sim::start(&["--orders", "300", "--seed", "72"]);
    let db = Cluster::shared().create_db("hard_rec_listing");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let orders = live(&db, "scout.bronze_pos_order");
    // The first listing page comes back cut to 50 records: it looks like the last page.
    sim.set_faults(json!([{"kind": "tamper_ids", "keep": 50, "times": 1,
                                      "match": {"model": "pos.order", "method": "search_read"}}]));
    let e = DbErr::of(
        &db.session(|c| c.query("SELECT * FROM scout.odoo_reconcile('pos.order')", &[])).expect_err("must fail"),
    );
    assert_eq!(e.code, "22000", "{}", e.all_text());
    assert!(e.all_text().contains("left out"), "{}", e.all_text());
    assert_eq!(live(&db, "scout.bronze_pos_order"), orders);
    assert_eq!(db.count("scout.transactions WHERE deleted_at IS NOT NULL"), 0);
    sim.set_faults(json!([]));
    assert_all_bronze_matches(&db, &sim);
}

#[test]
fn records_that_named_a_deleted_partner_or_brand_drop_the_reference() {
    let sim = Sim::start(&["--orders", "200", "--seed", "73", "--with-brand"]);
    let db = Cluster::shared().create_db("hard_refs");
    db.configure(&sim, &[]);
    // A partner only orders name, and a brand only one product names.
    let partner = sim.execute("res.partner", "create", json!([{"name": "Leaving Customer"}]), json!({}));
    let partner = partner.as_i64().unwrap();
    let order: i64 =
        sim.execute("pos.order", "search", json!([[]]), json!({"limit": 1, "order": "id"}))[0].as_i64().unwrap();
    sim.execute("pos.order", "write", json!([[order], {"partner_id": partner}]), json!({}));
    let brand = sim.execute("product.brand", "create", json!([{"name": "Short-lived Brand"}]), json!({}));
    let brand = brand.as_i64().unwrap();
    let product: i64 =
        sim.execute("product.product", "search", json!([[]]), json!({"limit": 1, "order": "id"}))[0].as_i64().unwrap();
    sim.execute("product.product", "write", json!([[product], {"product_brand_id": brand}]), json!({}));
    sim.advance_clock(2.0);
    sync_all(&db, "");
    let customer_of = |db: &Db| -> Option<i64> {
        db.connect()
            .query_one("SELECT customer_id FROM scout.transactions WHERE source_id = $1", &[&order])
            .unwrap()
            .get(0)
    };
    assert_eq!(customer_of(&db), Some(partner));
    // Past the look-back, so that incremental runs no longer re-read these records.
    sim.advance_clock(7200.0);
    sync_all(&db, "");

    // Odoo sets the references to NULL without touching the referring records' write_date.
    sim.execute("res.partner", "unlink", json!([[partner]]), json!({}));
    sim.execute("product.brand", "unlink", json!([[brand]]), json!({}));
    sim.advance_clock(2.0);
    let incremental = sync_all(&db, "");
    assert!(incremental.iter().all(|s| s.status == "success"), "{incremental:?}");
    assert_eq!(customer_of(&db), Some(partner), "an incremental run cannot see it (why the re-read exists)");

    // The partner's delete, found by a full sync, re-reads the orders that named it.
    let s = sync(&db, "res.partner", ", full => true");
    assert_eq!(s.deleted, 1, "{s:?}");
    assert!(s.message.as_deref().unwrap_or_default().contains("pos.order"), "{s:?}");
    assert_eq!(customer_of(&db), None, "silver dropped the deleted customer");
    let bronze: String = db
        .connect()
        .query_one("SELECT (payload -> 'partner_id')::text FROM scout.bronze_pos_order WHERE id = $1", &[&order])
        .unwrap()
        .get(0);
    assert_eq!(bronze, "false");

    // The brand's delete, found by a reconciliation, re-reads the product that named it.
    let r = db.connect().query_one("SELECT deleted FROM scout.odoo_reconcile('product.brand')", &[]).unwrap();
    assert_eq!(r.get::<_, i64>(0), 1);
    let (brand_id, brand_name): (Option<i64>, String) = db
        .connect()
        .query_one("SELECT brand_id, brand_name FROM scout.products WHERE id = $1", &[&product])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((brand_id, brand_name.as_str()), (None, "Unknown"));
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

fn setup(name: &str) -> (Sim, Db<'static>) {
    let sim = Sim::start(&["--orders", "50", "--seed", "74"]);
    let db = Cluster::shared().create_db(name);
    db.configure(&sim, &[]);
    (sim, db)
}

fn tag_name(sim: &Sim, id: i64) -> String {
    let r = sim.execute("res.partner.category", "read", json!([[id], ["name"]]), json!({}));
    r[0]["name"].as_str().unwrap().to_owned()
}

#[test]
fn a_row_changed_while_it_is_being_sent_is_sent_again() {
    let (sim, db) = setup("hard_wb_race");
    db.connect()
        .batch_execute(
            "INSERT INTO scout.odoo_outbox (model, external_key, \"values\") \
             VALUES ('res.partner.category', 'race', '{\"name\": \"First\"}')",
        )
        .unwrap();
    // Odoo takes a second to answer the load: the row is changed meanwhile.
    sim.set_faults(json!([{"kind": "latency", "ms": 1500, "times": 1,
                                      "match": {"model": "res.partner.category", "method": "load"}}]));
    let pusher = {
        let dsn = format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name);
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
            let r = c.query_one("SELECT sent FROM scout.odoo_push()", &[]).unwrap();
            r.get::<_, i64>(0)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let mut c = db.connect();
    c.batch_execute("SET statement_timeout = '20s'").unwrap();
    c.batch_execute("UPDATE scout.odoo_outbox SET \"values\" = '{\"name\": \"Second\"}' WHERE external_key = 'race'")
        .unwrap();
    assert_eq!(pusher.join().unwrap(), 1);
    let (state, values): (String, String) = c
        .query_one("SELECT state, \"values\"::text FROM scout.odoo_outbox WHERE external_key = 'race'", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((state.as_str(), values.as_str()), ("pending", r#"{"name": "Second"}"#), "the change waits to be sent");
    sim.set_faults(json!([]));
    assert_eq!(push(&db).0, 1);
    let tag: i64 =
        c.query_one("SELECT odoo_id FROM scout.odoo_outbox WHERE external_key = 'race'", &[]).unwrap().get(0);
    assert_eq!(tag_name(&sim, tag), "Second", "Odoo has the last value");
}

#[test]
fn odoo_push_never_sends_what_its_own_transaction_has_not_committed() {
    let (sim, db) = setup("hard_wb_own");
    let partners = partner_ids(&sim, 3);
    let mut c = db.connect();
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT scout.tag_customers('Uncommitted', $1)", &[&partners]).unwrap();
    let r = tx.query_one("SELECT sent, failed, pending FROM scout.odoo_push()", &[]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (0, 0), "nothing sent");
    tx.rollback().unwrap();
    assert_eq!(odoo_tags(&sim, "Uncommitted"), Vec::<i64>::new());
    assert_eq!(calls(&sim, "res.partner.category/load") + calls(&sim, "res.partner/write"), 0);
    // Committed, the same rows go.
    db.session(|c| tag_customers(c, "Uncommitted", &partners, false));
    assert_eq!(push(&db), (4, 0, 0));
    let tags = odoo_tags(&sim, "Uncommitted");
    assert_eq!(tags.len(), 1);
    assert_eq!(members(&sim, tags[0]), partners.iter().copied().collect());
}

#[test]
fn odoo_push_refuses_a_repeatable_read_caller_saying_why() {
    let (_sim, db) = setup("hard_wb_rr");
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO scout.odoo_outbox (model, external_key, \"values\") \
         VALUES ('res.partner.category', 'rr', '{\"name\": \"RR\"}')",
    )
    .unwrap();
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        c.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}")).unwrap();
        let e = DbErr::of(&c.query("SELECT * FROM scout.odoo_push()", &[]).expect_err(level));
        c.batch_execute("ROLLBACK").unwrap();
        assert_eq!(e.code, "55000", "{}", e.all_text());
        assert!(e.message.contains("READ COMMITTED"), "{}", e.all_text());
    }
    assert_eq!(db.count("scout.odoo_outbox WHERE state = 'pending'"), 1, "still pending");
}

#[test]
fn tag_names_a_user_sees_as_different_are_different_tags_and_old_keys_are_kept() {
    let (sim, db) = setup("hard_wb_names");
    let partners = partner_ids(&sim, 5);
    // A tag queued before keys had a digest, under the old key.
    db.connect()
        .batch_execute(
            "INSERT INTO scout.odoo_outbox (model, external_key, \"values\") \
             VALUES ('res.partner.category', 'vip', '{\"name\": \"VIP\"}')",
        )
        .unwrap();
    assert_eq!(push(&db), (1, 0, 0));
    let names = ["Promo A", "promo-a", "PROMO_A!", "顧客", "VIP"];
    for (name, partner) in names.iter().zip(&partners) {
        db.session(|c| tag_customers(c, name, &[*partner], false));
    }
    assert_eq!(push(&db), (10, 0, 0));
    for (name, partner) in names.iter().zip(&partners) {
        let tags = odoo_tags(&sim, name);
        assert_eq!(tags.len(), 1, "{name}: one tag of its own");
        assert!(members(&sim, tags[0]).contains(partner), "{name}");
    }
    let keys: Vec<String> = db
        .column("SELECT DISTINCT external_key FROM scout.odoo_outbox WHERE model = 'res.partner.category' ORDER BY 1");
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(keys.contains(&"vip".to_string()), "the old key is kept: {keys:?}");
    let e = DbErr::of(&db.connect().query("SELECT scout.tag_customers('  ', '{1}')", &[]).expect_err("empty name"));
    assert_eq!(e.code, "22023", "{}", e.all_text());
}

#[test]
fn a_row_for_a_model_nothing_may_be_written_to_is_refused() {
    let (_sim, db) = setup("hard_wb_model");
    let e = DbErr::of(
        &db.connect()
            .batch_execute("INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.users', 2, '{}')")
            .expect_err("refused"),
    );
    assert_eq!(e.code, "42501", "{}", e.all_text());
    assert!(e.message.contains("res.users"), "{}", e.all_text());
}

#[test]
fn a_misspelt_odoo_sync_setting_is_an_error_not_a_silent_placeholder() {
    // A misspelt setting is an error, not silently a placeholder.
    let db = Cluster::shared().create_db("hard_guc");
    let mut c = db.connect();
    c.batch_execute("LOAD 'odoo_sync'").unwrap();
    let e = DbErr::of(&c.batch_execute("SET odoo_sync.batch_sise = 5").expect_err("a typo"));
    assert_eq!(e.code, "42602", "{}", e.all_text());
    c.batch_execute("SET odoo_sync.batch_size = 5").unwrap();
}
