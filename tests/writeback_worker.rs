//! Write-back through the background worker: woken by the insert, beside a manual push, and its
//! next round bringing the tags into silver. Like the other worker suites it runs once, on the
//! default Odoo profile (the per-profile runs of scripts/test.sh cover load and write in
//! tests/writeback.rs).

use odoo_sync_tests::outbox::*;
use odoo_sync_tests::*;
use serde_json::json;

#[test]
fn the_worker_sends_at_once_a_manual_push_beside_it_sends_nothing_twice_and_its_next_round_brings_tags_into_silver() {
    let sim = Sim::start(&["--orders", "200", "--seed", "62"]);
    // A slow schedule: what the worker sends here, it sends because the insert woke it.
    let cluster = worker_cluster_with("wb_worker", "0 0 1 1 *", &[]);
    let db = cluster.create_db_named("wb_worker");
    db.configure(&sim, &[]);
    sync_all(&db, "");
    let partners = partner_ids(&sim, 1500);
    // Each write of 1,000 members takes 1.5 s: the manual push below arrives while the worker sends.
    sim.set_faults(json!([{"kind": "latency", "ms": 1500, "match": {"method": "write", "model": "res.partner"}}]));
    let started = std::time::Instant::now();
    db.session(|c| tag_customers(c, "Woken", &partners, false));
    wait_for(10, "the worker to start sending", || (calls(&sim, "res.partner.category/load") > 0).then_some(()));
    let (sent_by_me, _, pending) = push(&db);
    assert_eq!(pending, 0);
    let tag = odoo_tags(&sim, "Woken");
    assert_eq!(tag.len(), 1);
    assert_eq!(members(&sim, tag[0]), partners.iter().copied().collect());
    assert!(started.elapsed().as_secs() < 30, "sent well before any scheduled round");
    // Each row was sent once, by one of the two: one load, two writes (1,000 + 500), one attempt each.
    assert_eq!(calls(&sim, "res.partner.category/load"), 1);
    assert_eq!(calls(&sim, "res.partner/write"), 2);
    let attempts: Vec<(i32, i64)> = db
        .connect()
        .query("SELECT attempts, count(*) FROM scout.odoo_outbox WHERE state = 'sent' GROUP BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(attempts, vec![(1, 1501)]);
    assert!(sent_by_me < 1501, "the worker sent (the manual push waited for it): {sent_by_me}");
    sim.set_faults(json!([]));

    // Its next round (every 2 s from now) brings the tagged partners into silver.
    sim.advance_clock(2.0);
    let mut c = db.connect();
    c.batch_execute("ALTER SYSTEM SET odoo_sync.schedule = '*/2 * * * * *'").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for(60, "silver customers with the tag", || {
        let n: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM scout.customers WHERE $1 = ANY (tag_ids)", &[&tag[0]])
            .unwrap()
            .get(0);
        (n == 1500).then_some(())
    });
    stop_worker_syncing(&db);
    assert_partners_match(&db, &sim);
    assert_eq!(db.count("scout.odoo_outbox"), 1501, "nothing was queued back");
}
