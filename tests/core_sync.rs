//! The core promise, end to end: scout.odoo_sync() pulls what changed in Odoo (the simulator)
//! into bronze, never loses or duplicates a record, and moves the checkpoint with the rows.
//! Every comparison is against what the simulator serves over JSON-RPC.

use odoo_sync_tests::*;
use serde_json::json;

const SMALL: &[&str] = &["--orders", "300", "--seed", "7"];

fn checkpoint_of(db: &Db, model: &str) -> Option<(String, Option<i64>, Option<String>)> {
    db.connect()
        .query_opt(
            "SELECT last_sync_at::text, last_record_id, window_end::text FROM scout.sync_checkpoints WHERE model = $1",
            &[&model],
        )
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

#[test]
fn full_sync_of_every_model_equals_the_simulator() {
    let sim = Sim::start(&["--orders", "400", "--seed", "11", "--with-brand", "--with-region-code"]);
    let db = Cluster::shared().create_db("full_all");
    db.configure(&sim, &[]);
    let rows = sync_all(&db, "");
    let models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(
        models,
        [
            "res.company",
            "product.category",
            "product.brand",
            "product.product",
            "res.partner",
            "pos.config",
            "pos.session",
            "pos.payment.method",
            "pos.order",
            "pos.order.line",
            "pos.payment"
        ],
        "dependency order"
    );
    for r in &rows {
        assert_eq!(r.status, "success", "{r:?}");
        assert_eq!(r.inserted, r.fetched, "first sync inserts everything: {r:?}");
        assert_eq!(r.fetched, sim.count(&r.model), "{r:?} vs Odoo's count");
    }
    let compared = assert_all_bronze_matches(&db, &sim);
    assert!(compared > 2000, "compared only {compared} records");
    // The optional fields this simulator has were requested and landed in bronze.
    let with_brand: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_product_product WHERE payload ? 'product_brand_id'", &[])
        .unwrap()
        .get(0);
    assert_eq!(with_brand, db.count("scout.bronze_product_product"));
    let with_region: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_res_partner WHERE payload ? 'x_region_code'", &[])
        .unwrap()
        .get(0);
    assert_eq!(with_region, db.count("scout.bronze_res_partner"));
    // One log row per model, successful, with its counts.
    let logs: Vec<(String, String, i64)> = db
        .connect()
        .query("SELECT model, status, records_processed FROM scout.sync_logs ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(logs.len() as i64, enabled_model_count(&db));
    for (r, l) in rows.iter().zip(&logs) {
        assert_eq!((&r.model, l.1.as_str(), r.inserted), (&l.0, "success", l.2));
    }
    // A second full sync re-reads everything and changes nothing.
    for r in sync_all(&db, "\"full\" => true") {
        assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, r.fetched), "{r:?}");
    }
    assert_all_bronze_matches(&db, &sim);
}

/// Asserts the window invariant of one logged run: its window ends no earlier than Odoo's clock
/// at the run's start (`clock_before`, read just before it) less the safety lag and one second.
fn assert_window_invariant(db: &Db, run_id: i64, clock_before: &str, safety_lag: i64) {
    let (ok, end): (bool, String) = db
        .connect()
        .query_one(
            "SELECT window_end >= ($2::text::timestamp AT TIME ZONE 'UTC') - make_interval(secs => $3::float8 + 1), window_end::text \
             FROM scout.sync_logs WHERE id = $1",
            &[&run_id, &clock_before, &(safety_lag as f64)],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(
        ok,
        "run {run_id}: window_end {end} is more than safety_lag + 1 s behind Odoo's clock {clock_before} at its start"
    );
}

#[test]
fn syncs_in_one_session_see_what_changed_just_before_each_of_them() {
    // As a psql user does: one backend, sync, change in Odoo, wait past the safety lag, sync
    // again. Each round's changes arrive with that round's sync, not one round later (the
    // window must end at Odoo's clock as read by each run, not by the previous run's last call).
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("one_session");
    db.configure(&sim, &[("odoo_sync.safety_lag", "2")]);
    let pid = db.session_pid();
    sync_all(&db, "");
    for round in 0..5 {
        let changed = sim.mutate("pos.order", "update", 20);
        let n = changed["ids"].as_array().unwrap().len() as i64;
        sim.advance_clock(3.0);
        let clock = sim.clock();
        let r = sync(&db, "pos.order", "");
        // (The look-back re-reads earlier rounds' changes too: those are unchanged.)
        assert_eq!((r.updated, r.inserted), (n, 0), "round {round}: the changes made before this sync: {r:?}");
        assert_window_invariant(&db, r.run_id.unwrap(), &clock, 2);
        // Time passes with nothing changed: still nothing missed, nothing re-read twice over.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(db.session_pid(), pid, "all of it in one backend");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn the_procedure_in_one_session_sees_what_changed_just_before_each_call() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("one_session_proc");
    db.configure(&sim, &[("odoo_sync.safety_lag", "2")]);
    let call = |model: &str| db.session(|c| c.batch_execute(&format!("CALL scout.odoo_sync_run('{model}')")).unwrap());
    for model in ["pos.config", "pos.session", "pos.payment.method", "pos.order", "pos.order.line", "pos.payment"] {
        call(model);
    }
    for round in 0..4 {
        let changed = sim.mutate("pos.order", "update", 15);
        let n = changed["ids"].as_array().unwrap().len() as i64;
        sim.advance_clock(3.0);
        let clock = sim.clock();
        call("pos.order");
        let (run_id, updated): (i64, i64) = db
            .connect()
            .query_one(
                "SELECT id, updated FROM scout.sync_logs WHERE model = 'pos.order' ORDER BY id DESC LIMIT 1",
                &[],
            )
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
        assert_eq!(updated, n, "round {round}: the procedure's run has this round's changes");
        assert_window_invariant(&db, run_id, &clock, 2);
    }
    assert_bronze_matches(
        &db,
        &sim,
        "pos.order",
        "bronze_pos_order",
        &model_fields(&db)
            .into_iter()
            .find(|m| m.0 == "pos.order")
            .map(|m| requested_fields(&sim, &m.0, &m.2, &m.3))
            .unwrap(),
    );
    assert_silver_matches_bronze(&db);
}

#[test]
fn the_suite_runs_against_the_odoo_it_was_asked_for() {
    // scripts/test.sh runs this suite once per Odoo profile (ODOO_SYNC_TEST_ODOO): the runs
    // must really have used that version and transport.
    let profile = std::env::var("ODOO_SYNC_TEST_ODOO").unwrap_or_else(|_| "19".into());
    let (version, transport) = match profile.as_str() {
        "19-json2" => ("19", "json2"),
        v => (v, "jsonrpc"),
    };
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("profile");
    db.configure(&sim, &[]);
    let r = sync(&db, "pos.order", "");
    assert_eq!(r.fetched, sim.count("pos.order"));
    let row = db
        .connect()
        .query_one("SELECT odoo_version, transport FROM scout.sync_logs WHERE id = $1", &[&r.run_id.unwrap()])
        .unwrap();
    let (logged_version, logged_transport): (String, String) = (row.get(0), row.get(1));
    assert!(logged_version.starts_with(version), "{profile}: Odoo {logged_version}");
    assert_eq!(logged_transport, transport, "{profile}");
}

#[test]
fn without_optional_fields_the_sync_works_and_omits_them() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("no_optional");
    db.configure(&sim, &[]);
    for r in sync_all(&db, "") {
        assert_eq!(r.status, "success");
    }
    let with_brand: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_product_product WHERE payload ? 'product_brand_id'", &[])
        .unwrap()
        .get(0);
    assert_eq!(with_brand, 0);
    assert_all_bronze_matches(&db, &sim);
}

#[test]
fn incremental_sync_picks_up_exactly_the_changes_and_a_rerun_changes_nothing() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("incremental");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let before = db.count("scout.bronze_pos_order");

    let updated = sim.mutate("pos.order", "update", 7);
    let created = sim.mutate("pos.order", "create", 3);
    let product_updates = sim.mutate("product.product", "update", 4);
    sim.advance_clock(5.0);
    assert_eq!(updated["ids"].as_array().unwrap().len(), 7);

    let r = sync(&db, "pos.order", "");
    assert_eq!((r.fetched, r.inserted, r.updated, r.unchanged), (10, 3, 7, 0), "{r:?}");
    let r = sync(&db, "product.product", "");
    assert_eq!((r.inserted, r.updated), (0, product_updates["ids"].as_array().unwrap().len() as i64), "{r:?}");
    // The created orders' lines and payments arrive with their own models.
    let lines = sync(&db, "pos.order.line", "");
    assert!(lines.inserted >= 3, "{lines:?}");
    let payments = sync(&db, "pos.payment", "");
    assert!(payments.inserted >= 1, "{payments:?}");
    assert_eq!(db.count("scout.bronze_pos_order"), before + 3);
    assert_eq!(created["ids"].as_array().unwrap().len(), 3);
    assert_all_bronze_matches(&db, &sim);

    // Nothing changed in Odoo: the look-back re-reads the recent records but writes nothing.
    for model in ["pos.order", "product.product", "pos.order.line", "pos.payment"] {
        let r = sync(&db, model, "");
        assert_eq!((r.inserted, r.updated), (0, 0), "{r:?}");
        assert_eq!(r.unchanged, r.fetched, "{r:?}");
    }
    // Bronze rows of unchanged records were not rewritten (same run id as their first load).
    let rewritten: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_pos_order WHERE run_id > (SELECT max(id) FROM scout.sync_logs WHERE model = 'pos.order' AND inserted + updated > 0)", &[])
        .unwrap()
        .get(0);
    assert_eq!(rewritten, 0);
}

/// A POS session close stamps hundreds of records with one write_date (to the microsecond). A
/// cursor built from rendered timestamps would loop or stop early here; paging by id inside the
/// window must read all of them exactly once, on both comparison rules (19: whole seconds,
/// 17: microseconds).
fn bulk_write_in_one_transaction(version: &str) {
    let sim = Sim::start(&["--orders", "200", "--seed", "3", "--version", version]);
    let db = Cluster::shared().create_db(&format!("bulk_v{version}"));
    db.configure(&sim, &[("odoo_sync.batch_size", "50")]);
    sync(&db, "pos.order.line", "");
    let bulk = sim.control("/sim/bulk_write", json!({"model": "pos.order.line", "count": 150}));
    assert_eq!(bulk["ids"].as_array().unwrap().len(), 150);
    sim.advance_clock(3.0);

    let r = sync(&db, "pos.order.line", "");
    assert_eq!(r.status, "success");
    assert_eq!((r.fetched, r.updated, r.inserted), (150, 150, 0), "{r:?}");
    // 150 records at 50 a page: 4 pages (the last one empty), not an endless loop.
    let calls: i64 = db
        .connect()
        .query_one("SELECT http_calls FROM scout.sync_logs WHERE id = $1", &[&r.run_id.unwrap()])
        .unwrap()
        .get(0);
    assert!(calls <= 8, "{calls} calls for 3 pages");
    let (_, last_id, open_window) = checkpoint_of(&db, "pos.order.line").unwrap();
    assert_eq!((last_id, open_window), (None, None), "window closed");
    let again = sync(&db, "pos.order.line", "");
    assert_eq!((again.inserted, again.updated, again.fetched), (0, 0, 150), "look-back re-read only: {again:?}");
    let f = requested_fields(&sim, "pos.order.line", &model_fields_of(&db, "pos.order.line").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order.line", "bronze_pos_order_line", &f);
}

#[test]
fn bulk_write_sharing_one_write_date_syncs_completely_on_odoo_19() {
    bulk_write_in_one_transaction("19");
}

#[test]
fn bulk_write_sharing_one_write_date_syncs_completely_on_odoo_17() {
    bulk_write_in_one_transaction("17");
}

#[test]
fn a_late_commit_inside_the_lookback_is_picked_up() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("late_commit");
    db.configure(&sim, &[("odoo_sync.lookback", "600")]);
    sync(&db, "pos.order", "");

    // A long Odoo transaction starts (its write_date is fixed now), changes 5 orders, and
    // commits only after a sync has already moved the high-water mark past that write_date.
    let tx = sim.control("/sim/tx/begin", json!({}));
    let late =
        sim.control("/sim/tx/mutate", json!({"tx": tx["tx"], "model": "pos.order", "action": "update", "count": 5}));
    sim.advance_clock(30.0);
    sim.mutate("pos.order", "update", 2);
    sim.advance_clock(10.0);
    let r = sync(&db, "pos.order", "");
    assert_eq!(r.updated, 2, "only the committed changes are visible yet: {r:?}");
    sim.control("/sim/tx/commit", json!({"tx": tx["tx"]}));
    sim.advance_clock(1.0);

    let r = sync(&db, "pos.order", "");
    assert_eq!(r.updated, 5, "the late commit is found by the look-back: {r:?}");
    let late_ids: Vec<i64> = late["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let in_bronze: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.bronze_pos_order WHERE id = ANY($1) AND write_date < (SELECT last_sync_at FROM scout.sync_checkpoints WHERE model = 'pos.order') - interval '30 seconds'", &[&late_ids])
        .unwrap()
        .get(0);
    assert_eq!(in_bronze, 5, "the late records carry their old write_date");
    let f = requested_fields(&sim, "pos.order", &model_fields_of(&db, "pos.order").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &f);
}

#[test]
fn without_lookback_a_late_commit_is_missed_until_a_full_sync() {
    // The control experiment for the test above: it shows the look-back is what saves the
    // late commit, and that a full sync is the safety net.
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("late_no_lookback");
    db.configure(&sim, &[("odoo_sync.lookback", "0")]);
    sync(&db, "pos.order", "");
    let tx = sim.control("/sim/tx/begin", json!({}));
    sim.control("/sim/tx/mutate", json!({"tx": tx["tx"], "model": "pos.order", "action": "update", "count": 4}));
    sim.advance_clock(20.0);
    sync(&db, "pos.order", "");
    sim.control("/sim/tx/commit", json!({"tx": tx["tx"]}));
    sim.advance_clock(1.0);
    assert_eq!(sync(&db, "pos.order", "").updated, 0);
    assert_eq!(sync(&db, "pos.order", ", \"full\" => true").updated, 4);
}

#[test]
fn dry_run_writes_nothing() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("dry_run");
    db.configure(&sim, &[]);
    let snapshot = |db: &Db| -> String {
        db.connect()
            .query_one(
                "SELECT concat_ws('|', (SELECT count(*) FROM scout.bronze_pos_order), \
                   (SELECT coalesce(sum(hashtext(payload::text)), 0) FROM scout.bronze_pos_order), \
                   (SELECT string_agg(concat_ws(',', id, last_sync_at, last_record_id, window_end, records_synced), ';' ORDER BY id) FROM scout.sync_checkpoints), \
                   (SELECT count(*) FROM scout.sync_logs), (SELECT last_value FROM scout.sync_logs_id_seq))",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let empty = snapshot(&db);
    let r = sync(&db, "pos.order", ", dry_run => true");
    assert_eq!((r.run_id, r.fetched, r.inserted), (None, sim.count("pos.order"), sim.count("pos.order")), "{r:?}");
    assert_eq!(snapshot(&db), empty, "a dry run on an empty database wrote something");

    sync(&db, "pos.order", "");
    sim.mutate("pos.order", "update", 3);
    sim.advance_clock(2.0);
    let loaded = snapshot(&db);
    let r = sync(&db, "pos.order", ", dry_run => true");
    assert_eq!((r.updated, r.inserted), (3, 0), "a dry run reports what would change: {r:?}");
    assert_eq!(snapshot(&db), loaded, "a dry run after a load wrote something");
}

#[test]
fn a_rolled_back_sync_leaves_neither_rows_nor_checkpoint() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("rollback");
    db.configure(&sim, &[]);
    let mut c = db.connect();
    let mut tx = c.transaction().unwrap();
    let row = tx.query_one("SELECT fetched FROM scout.odoo_sync('pos.order')", &[]).unwrap();
    assert!(row.get::<_, i64>(0) > 0);
    tx.rollback().unwrap();
    assert_eq!(db.count("scout.bronze_pos_order"), 0);
    assert_eq!(db.count("scout.sync_checkpoints"), 0);
    assert_eq!(db.count("scout.sync_logs"), 0);
    // And committed, both are there together.
    sync(&db, "pos.order", "");
    assert_eq!(db.count("scout.bronze_pos_order"), sim.count("pos.order"));
    assert!(checkpoint_of(&db, "pos.order").is_some());
}

#[test]
fn a_second_session_skips_a_model_being_synced() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("lock");
    db.configure(&sim, &[]);
    let mut holder = db.connect();
    let mut tx = holder.transaction().unwrap();
    tx.query_one("SELECT status FROM scout.odoo_sync('pos.config')", &[]).unwrap();
    // The first session still holds pos.config's lock (until its transaction ends).
    let r = sync(&db, "pos.config", "");
    assert_eq!(r.status, "skipped", "{r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("being synced by another session"), "{r:?}");
    assert_eq!(r.fetched, 0);
    // Another model syncs meanwhile; its silver writes wait for the first transaction to end
    // (silver writes are serialised: see loader::lock_silver), then it completes.
    let conn = format!("host=127.0.0.1 port={} user=postgres dbname={}", db.cluster.port, db.name);
    let other = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
        c.query_one("SELECT status FROM scout.odoo_sync('pos.session')", &[]).unwrap().get::<_, String>(0)
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    tx.commit().unwrap();
    assert_eq!(other.join().unwrap(), "success");
    assert_eq!(sync(&db, "pos.config", "").status, "success");
}

#[test]
fn a_full_sync_soft_deletes_what_odoo_deleted() {
    let sim = Sim::start(SMALL);
    let db = Cluster::shared().create_db("deletes");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let gone = sim.mutate("res.partner", "delete", 3);
    let gone_ids: Vec<i64> = gone["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!(gone_ids.len(), 3);
    sim.advance_clock(2.0);
    // An incremental run cannot see a delete; a dry full run reports it; a full run applies it.
    assert_eq!(sync(&db, "res.partner", "").deleted, 0);
    assert_eq!(sync(&db, "res.partner", ", \"full\" => true, dry_run => true").deleted, 3);
    let r = sync(&db, "res.partner", ", \"full\" => true");
    // (A delete can also change other records without touching their write_date: Odoo's
    // foreign keys set a child's parent_id to NULL in SQL. Only a full sync sees those.)
    assert_eq!((r.deleted, r.inserted), (3, 0), "{r:?}");
    let marked: i64 = db
        .connect()
        .query_one(
            "SELECT count(*) FROM scout.bronze_res_partner WHERE id = ANY($1) AND deleted_at IS NOT NULL",
            &[&gone_ids],
        )
        .unwrap()
        .get(0);
    assert_eq!(marked, 3, "soft-deleted, kept for history");
    let f = requested_fields(
        &sim,
        "res.partner",
        &model_fields_of(&db, "res.partner").2,
        &model_fields_of(&db, "res.partner").3,
    );
    assert_bronze_matches(&db, &sim, "res.partner", "bronze_res_partner", &f);
    assert_eq!(sync(&db, "res.partner", ", \"full\" => true").deleted, 0, "counted once");
}

#[test]
fn a_custom_field_lands_in_bronze_and_a_missing_one_is_a_clear_error() {
    let sim = Sim::start(&["--orders", "30", "--with-region-code"]);
    let db = Cluster::shared().create_db("custom_fields");
    db.configure(&sim, &[]);
    let mut c = db.connect();
    // x_region_code exists on this Odoo: as a user extra field on pos.config's partner model.
    c.batch_execute("UPDATE scout.sync_models SET optional_fields = '{}', extra_fields = '{x_region_code}' WHERE model = 'res.partner'").unwrap();
    sync(&db, "res.partner", "");
    let with: i64 = c
        .query_one("SELECT count(*) FROM scout.bronze_res_partner WHERE payload ? 'x_region_code'", &[])
        .unwrap()
        .get(0);
    assert_eq!(with, sim.count("res.partner"));
    c.batch_execute("UPDATE scout.sync_models SET extra_fields = '{x_loyalty_tier}' WHERE model = 'pos.order'")
        .unwrap();
    let e = c.query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("missing custom field");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.detail.contains("pos.order has no field x_loyalty_tier"), "{}", e.all_text());
    assert!(e.message.contains("scout.sync_models.extra_fields"), "{}", e.all_text());
}
