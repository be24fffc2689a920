//! Parallel fetching (`odoo_sync.fetch_streams`): a full window or first load is listed, cut
//! into pages of ids and fetched on several connections at once, then loaded in id order. Each
//! test compares bronze with the simulator and silver with a fresh derivation afterwards.

use odoo_sync_tests::*;
use serde_json::json;

fn calls(sim: &Sim, call: &str) -> i64 {
    sim.stats()["requests"]["by_call"][call].as_i64().unwrap_or(0)
}

#[test]
fn a_first_load_on_four_streams_equals_odoo_and_one_stream_lists_nothing() {
    let sim = Sim::start(&["--orders", "600", "--seed", "61"]);
    let db = Cluster::shared().create_db("streams4");
    db.configure(&sim, &[("odoo_sync.batch_size", "100"), ("odoo_sync.fetch_streams", "4")]);
    sim.control("/sim/stats/reset", json!({}));
    for r in sync_all(&db, "") {
        assert_eq!(r.status, "success", "{r:?}");
    }
    let lines = db.count("scout.bronze_pos_order_line");
    assert!(lines > 2000, "{lines} lines: many slices of 100");
    // Listed in turns while the slices were fetched: 800 ids (two pages a stream), then 1,600,
    // then the rest (asked 3,200).
    assert!(calls(&sim, "pos.order.line/search") >= 3, "the ids were listed in turns, as the load went");
    assert!(calls(&sim, "pos.order.line/search_read") >= lines / 100, "one call per slice");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
    // A full sync of a loaded model goes the same way, and changes nothing.
    let r = sync(&db, "pos.order.line", ", \"full\" => true");
    assert_eq!((r.fetched, r.inserted, r.updated, r.deleted), (lines, 0, 0, 0), "{r:?}");

    let one = Cluster::shared().create_db("streams1");
    one.configure(&sim, &[("odoo_sync.batch_size", "100"), ("odoo_sync.fetch_streams", "1")]);
    sim.control("/sim/stats/reset", json!({}));
    sync_all(&one, "");
    assert_eq!(calls(&sim, "pos.order.line/search"), 0, "one stream pages in turn");
    assert_all_bronze_matches(&one, &sim);
}

#[test]
fn a_step_on_four_streams_commits_its_slices_and_resumes_right_after_them() {
    let sim = Sim::start(&["--orders", "400", "--seed", "62"]);
    let db = Cluster::shared().create_db("streams_step");
    db.configure(&sim, &[("odoo_sync.batch_size", "100"), ("odoo_sync.fetch_streams", "4")]);
    sync_all(&db, "");
    db.connect()
        .batch_execute(
            "TRUNCATE scout.bronze_pos_order_line; DELETE FROM scout.sync_checkpoints WHERE model = 'pos.order.line'",
        )
        .unwrap();
    // A step of 8 pages (streams serve steps of at least 2 x fetch_streams pages): its first page
    // in turn, then 7 slices of 100 on the streams. The 800th line id ends the last of them.
    let ids = sim.execute(
        "pos.order.line",
        "search",
        json!([[]]),
        json!({"order": "id asc", "limit": 800, "context": {"active_test": false}}),
    );
    let eight_hundredth = ids.as_array().unwrap().last().unwrap().as_i64().unwrap();
    sim.control("/sim/stats/reset", json!({}));
    let mut c = db.connect();
    let step =
        c.query_one("SELECT status, run_id FROM scout.odoo_sync_step('pos.order.line', true, NULL, 8)", &[]).unwrap();
    let (status, run_id): (String, i64) = (step.get(0), step.get(1));
    assert_eq!(status, "in_progress");
    let last: i64 = c
        .query_one("SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order.line'", &[])
        .unwrap()
        .get(0);
    assert_eq!(last, eight_hundredth, "the checkpoint is at the last loaded slice's last id");
    assert_eq!(db.count("scout.bronze_pos_order_line"), 800, "8 pages loaded; those fetched ahead were not");
    assert!(calls(&sim, "pos.order.line/search") >= 1, "the slices' ids were listed");
    loop {
        let s: String = c
            .query_one("SELECT status FROM scout.odoo_sync_step('pos.order.line', true, $1, 8)", &[&run_id])
            .unwrap()
            .get(0);
        if s != "in_progress" {
            assert_eq!(s, "success");
            break;
        }
    }
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}

#[test]
fn a_cancel_during_a_load_on_four_streams_leaves_nothing_half_done_and_a_rerun_converges() {
    // An Odoo that serves like a real one (85 ms a page of lines): the load takes seconds.
    let sim = Sim::start(&["--orders", "2000", "--seed", "63", "--serve-cost", "real", "--workers", "4"]);
    let db = Cluster::shared().create_db("streams_cancel");
    db.configure(&sim, &[("odoo_sync.fetch_streams", "4")]);
    for m in ["product.category", "product.product", "res.partner", "pos.config", "pos.session", "pos.payment.method"] {
        sync(&db, m, "");
    }
    let pid = db.session_pid();
    let canceller = {
        let db_name = db.name.clone();
        let c = db.connect();
        std::thread::spawn(move || {
            let mut c = c;
            // Cancel once the load is under way (its log row is open).
            for _ in 0..200 {
                let running: i64 = c
                    .query_one(
                        "SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order.line' AND status = 'running'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                let active: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND datname = $2",
                        &[&pid, &db_name],
                    )
                    .unwrap()
                    .get(0);
                if running == 0 && active == 1 {
                    std::thread::sleep(std::time::Duration::from_millis(700));
                    c.execute("SELECT pg_cancel_backend($1)", &[&pid]).unwrap();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let err = db.session(|c| c.query("SELECT * FROM scout.odoo_sync('pos.order.line')", &[])).expect_err("cancelled");
    canceller.join().unwrap();
    assert_eq!(DbErr::of(&err).code, "57014", "{}", describe(&err));
    assert_eq!(db.count("scout.bronze_pos_order_line"), 0, "the function's transaction was rolled back whole");
    let r = sync(&db, "pos.order.line", "");
    assert_eq!(r.status, "success", "{r:?}");
    sync_all(&db, "");
    assert_all_bronze_matches(&db, &sim);
    assert_silver_matches_bronze(&db);
}
