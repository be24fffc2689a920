//! Hints: scout.odoo_sync_soon(model) makes the worker sync that model, and the models Odoo
//! writes with it, soon after the hinting transaction commits, instead of at its next round.
//! Each test compares bronze with the simulator afterwards.

use odoo_sync_tests::*;

#[test]
fn a_hint_syncs_the_model_and_what_odoo_writes_with_it_within_seconds_and_a_burst_is_coalesced() {
    let sim = Sim::start(&["--orders", "300", "--seed", "71"]);
    // A yearly schedule: whatever the worker syncs here, it syncs because of a hint.
    let cluster = worker_cluster_with("hint_worker", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("hint_worker");
    db.configure(&sim, &[]);
    sync_all(&db, "");

    let e = DbErr::of(&db.connect().batch_execute("SELECT scout.odoo_sync_soon('pos.nope')").expect_err("unknown"));
    assert_eq!(e.code, "22023", "{}", e.all_text());
    assert!(e.hint.contains("pos.order.line"), "the hint lists the models: {}", e.all_text());

    // New orders in Odoo (with their lines and payments), then one hint for pos.order.
    let created = sim.mutate("pos.order", "create", 5);
    let ids: Vec<i64> = created["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let since = now(&db);
    db.connect().batch_execute("SELECT scout.odoo_sync_soon('pos.order')").unwrap();
    wait_for(30, "the hinted orders, lines and payments in bronze", || {
        let c = &mut db.connect();
        let orders: i64 =
            c.query_one("SELECT count(*) FROM scout.bronze_pos_order WHERE id = ANY ($1)", &[&ids]).unwrap().get(0);
        let lines: i64 = c
            .query_one("SELECT count(*) FROM scout.bronze_pos_order_line WHERE (payload -> 'order_id' ->> 0)::bigint = ANY ($1)", &[&ids])
            .unwrap()
            .get(0);
        let payments: i64 = c
            .query_one("SELECT count(*) FROM scout.bronze_pos_payment WHERE (payload -> 'pos_order_id' ->> 0)::bigint = ANY ($1)", &[&ids])
            .unwrap()
            .get(0);
        (orders == 5 && lines > 0 && payments > 0).then_some(())
    });
    for m in ["pos.order", "pos.order.line", "pos.payment"] {
        assert_eq!(worker_runs_since(&db, m, &since), 1, "{m}: one run for the hint");
    }
    assert_eq!(worker_runs_since(&db, "res.partner", &since), 0, "models not hinted wait for their round");
    let silver: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY ($1) AND complete", &[&ids])
        .unwrap()
        .get(0);
    assert_eq!(silver, 5, "and in silver, complete with their lines and payments");

    // A burst: 2,000 hints, one transaction each and 1,000 in one, make a handful of runs.
    sim.mutate("pos.order", "update", 10);
    let since = now(&db);
    let mut c = db.connect();
    for _ in 0..1000 {
        c.batch_execute("SELECT scout.odoo_sync_soon('pos.order')").unwrap();
    }
    c.batch_execute("SELECT scout.odoo_sync_soon('pos.order') FROM generate_series(1, 1000)").unwrap();
    wait_for(30, "the burst's runs", || (worker_runs_since(&db, "pos.order", &since) >= 1).then_some(()));
    std::thread::sleep(std::time::Duration::from_secs(3));
    let runs = worker_runs_since(&db, "pos.order", &since);
    assert!(runs <= 10, "2,000 hints were coalesced into a handful of runs, not {runs}");
    let left: i64 = db.connect().query_one("SELECT count(*) FROM scout.sync_hints", &[]).unwrap().get(0);
    assert_eq!(left, 0, "the worker took every hint");
    stop_worker_syncing(&db);
    let (_, _, fields, optional) = model_fields_of(&db, "pos.order");
    assert_bronze_matches(
        &db,
        &sim,
        "pos.order",
        "bronze_pos_order",
        &requested_fields(&sim, "pos.order", &fields, &optional),
    );
}
