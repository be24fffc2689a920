//! Write-back: outbox rows reach Odoo exactly once. Each test compares Odoo's records, read
//! through the simulator's API, with what was asked, and the outbox's states with what Odoo has.

use odoo_sync_tests::outbox::*;
use odoo_sync_tests::*;
use postgres::Client;
use serde_json::json;
use std::collections::BTreeSet;

fn states(db: &Db) -> Vec<(String, i64)> {
    db.connect()
        .query("SELECT state, count(*) FROM scout.odoo_outbox GROUP BY state ORDER BY state", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn setup(name: &str, extra: &[(&str, &str)]) -> (Sim, Db<'static>) {
    let sim = Sim::start(&["--orders", "200", "--seed", "61"]);
    let db = Cluster::shared().create_db(name);
    db.configure(&sim, extra);
    (sim, db)
}

#[test]
fn tags_reach_odoo_a_second_push_changes_nothing_and_the_next_sync_brings_them_into_silver() {
    let (sim, db) = setup("wb_tags", &[]);
    sync_all(&db, "");
    let partners = partner_ids(&sim, 40);
    let (vip, others) = partners.split_at(25);
    // A tag the partner already has in Odoo, which we did not set, must stay.
    let theirs = sim.execute("res.partner.category", "create", json!([{"name": "Set in Odoo"}]), json!({}));
    let theirs = theirs.as_i64().unwrap();
    sim.execute("res.partner", "write", json!([[vip[0]], {"category_id": [[4, theirs]]}]), json!({}));
    let tags_of = |p: i64| -> Vec<i64> {
        let r = sim.execute("res.partner", "read", json!([[p], ["category_id"]]), json!({}));
        r[0]["category_id"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect()
    };
    let before = tags_of(vip[0]);
    assert!(before.contains(&theirs));

    let queued = db.session(|c| tag_customers(c, "VIP Customers", vip, false));
    assert_eq!(queued, 26, "the tag's row and one per customer");
    assert_eq!(push(&db), (26, 0, 0));
    let tags = odoo_tags(&sim, "VIP Customers");
    assert_eq!(tags.len(), 1, "one tag");
    let tag = tags[0];
    assert_eq!(members(&sim, tag), vip.iter().copied().collect(), "exactly the customers asked");
    let with_ours: Vec<i64> = before.iter().copied().chain([tag]).collect();
    assert_eq!(tags_of(vip[0]), with_ours, "the tags set in Odoo are untouched");
    let imd = sim.execute(
        "ir.model.data",
        "search_read",
        json!([[["module", "=", "odoo_sync"]]]),
        json!({"fields": ["name", "model", "res_id"]}),
    );
    let key: String = db.connect().query_one("SELECT scout.tag_key('VIP Customers')", &[]).unwrap().get(0);
    assert_eq!(key, "vip_customers_c8558efc1953", "a readable part and the name's md5");
    assert_eq!(
        imd,
        json!([{"id": imd[0]["id"], "name": format!("res_partner_category__{key}"), "model": "res.partner.category", "res_id": tag}])
    );
    let outbox_ids: Vec<Option<i64>> = db.column("SELECT odoo_id FROM scout.odoo_outbox ORDER BY id");
    assert_eq!(outbox_ids[0], Some(tag), "the tag's row knows its Odoo id");

    // A second push sends nothing; the same request again converges to the same Odoo.
    let (loads, writes) = (calls(&sim, "res.partner.category/load"), calls(&sim, "res.partner/write"));
    assert_eq!(push(&db), (0, 0, 0));
    assert_eq!((calls(&sim, "res.partner.category/load"), calls(&sim, "res.partner/write")), (loads, writes));
    db.session(|c| tag_customers(c, "VIP Customers", vip, false));
    assert_eq!(push(&db), (26, 0, 0));
    assert_eq!(odoo_tags(&sim, "VIP Customers"), vec![tag]);
    assert_eq!(members(&sim, tag), vip.iter().copied().collect());

    // The next incremental sync brings the change into bronze and silver; nothing is queued back.
    sim.advance_clock(2.0);
    let s = sync(&db, "res.partner", "");
    assert_eq!(s.status, "success");
    assert!(s.updated >= 25, "the tagged partners were written in Odoo: {s:?}");
    assert_partners_match(&db, &sim);
    let tagged: Vec<i64> =
        db.column(&format!("SELECT id FROM scout.customers WHERE {tag} = ANY (tag_ids) ORDER BY id"));
    assert_eq!(tagged, vip.to_vec());
    assert_eq!(db.count("scout.odoo_outbox"), 52, "syncing queued nothing (no ping-pong)");
    assert_eq!(push(&db), (0, 0, 0));

    // replace: the tag's members become exactly these (some old, some new).
    let wanted: Vec<i64> = vip[..5].iter().chain(&others[..5]).copied().collect();
    let queued = db.session(|c| tag_customers(c, "VIP Customers", &wanted, true));
    assert_eq!(queued, 1 + 10 + 20, "the tag, 10 adds, 20 removals");
    assert_eq!(push(&db), (31, 0, 0));
    assert_eq!(members(&sim, tag), wanted.iter().copied().collect());
    assert_eq!(tags_of(vip[0]), with_ours);
    let status =
        db.connect().query_one("SELECT pending, failed, sent, oldest_pending FROM scout.outbox_status", &[]).unwrap();
    assert_eq!((status.get::<_, i64>(0), status.get::<_, i64>(1), status.get::<_, i64>(2)), (0, 0, 83));
}

#[test]
fn a_dropped_answer_after_odoo_committed_is_resent_and_leaves_one_tag_and_one_membership() {
    // No client retries: the lost answer leaves the rows pending, and the next push sends them again.
    let (sim, db) = setup("wb_dropped", &[("odoo_sync.max_retries", "0")]);
    let partners = partner_ids(&sim, 3);
    db.session(|c| tag_customers(c, "Lapsed", &partners, false));
    sim.set_faults(json!([{"kind": "reset", "match": {"method": "load"}, "times": 1}]));
    let (sent, failed, pending) = push(&db);
    assert_eq!((sent, failed, pending), (0, 0, 4), "nothing is marked sent without Odoo's answer");
    let tags = odoo_tags(&sim, "Lapsed");
    assert_eq!(tags.len(), 1, "Odoo committed the tag before the connection dropped");
    let err: String =
        db.connect().query_one("SELECT last_error FROM scout.odoo_outbox ORDER BY id LIMIT 1", &[]).unwrap().get(0);
    assert!(err.contains("res.partner.category") || err.to_lowercase().contains("connection"), "{err}");
    assert!(!err.contains(&sim.password), "no secret in last_error");

    // The members' write: Odoo commits, the answer is lost.
    sim.set_faults(json!([{"kind": "reset", "match": {"method": "write", "model": "res.partner"}, "times": 1}]));
    assert_eq!(push(&db), (1, 0, 3), "the tag is sent (found again by external id), the members pending");
    assert_eq!(members(&sim, tags[0]), partners.iter().copied().collect(), "Odoo has them already");
    sim.set_faults(json!([]));
    assert_eq!(push(&db), (3, 0, 0));
    assert_eq!(odoo_tags(&sim, "Lapsed"), tags, "still one tag");
    for p in &partners {
        let r = sim.execute("res.partner", "read", json!([[p], ["category_id"]]), json!({}));
        assert_eq!(r[0]["category_id"], json!([tags[0]]), "one membership of partner {p}");
    }
    let attempts: Vec<i32> = db.column("SELECT attempts FROM scout.odoo_outbox ORDER BY id");
    assert_eq!(attempts, vec![2, 3, 3, 3]);
}

#[test]
fn a_validation_error_fails_the_row_with_odoos_message_writes_nothing_partial_and_a_change_retries_it() {
    let (sim, db) = setup("wb_invalid", &[]);
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO scout.odoo_outbox (model, external_key, \"values\") VALUES
           ('res.partner.category', 'good', '{\"name\": \"Good\", \"color\": 2}'),
           ('res.partner.category', 'bad',  '{\"name\": \"\"}'),
           ('res.partner.category', 'child', '{\"name\": \"Child\", \"parent_id\": \"good\"}')",
    )
    .unwrap();
    let generated = sim.count("res.partner.category");
    assert_eq!(push(&db), (2, 1, 0));
    let bad = c
        .query_one("SELECT state, last_error, attempts FROM scout.odoo_outbox WHERE external_key = 'bad'", &[])
        .unwrap();
    assert_eq!(bad.get::<_, String>(0), "failed");
    let err: String = bad.get(1);
    assert!(err.contains("Missing required value for the field 'Name' (name)"), "{err}");
    let all = sim.execute(
        "res.partner.category",
        "search_read",
        json!([[["id", ">", generated]]]),
        json!({"fields": ["name", "color", "parent_id"]}),
    );
    let names: BTreeSet<&str> = all.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["Good", "Child"]), "nothing of the bad row reached Odoo");
    let good = all.as_array().unwrap().iter().find(|t| t["name"] == "Good").unwrap();
    assert_eq!(good["color"], 2);
    let child = all.as_array().unwrap().iter().find(|t| t["name"] == "Child").unwrap();
    assert_eq!(child["parent_id"][0], good["id"], "a parent by our key");
    let imd = sim.execute("ir.model.data", "search_count", json!([[["name", "like", "bad"]]]), json!({}));
    assert_eq!(imd, json!(0));

    // Not retried until the row is changed.
    assert_eq!(push(&db), (0, 0, 0));
    c.batch_execute("UPDATE scout.odoo_outbox SET \"values\" = '{\"name\": \"Fixed\"}' WHERE external_key = 'bad'")
        .unwrap();
    let r = c.query_one("SELECT state, last_error FROM scout.odoo_outbox WHERE external_key = 'bad'", &[]).unwrap();
    assert_eq!((r.get::<_, String>(0), r.get::<_, Option<String>>(1)), ("pending".into(), None));
    assert_eq!(push(&db), (1, 0, 0));
    assert_eq!(odoo_tags(&sim, "Fixed").len(), 1);
}

#[test]
fn a_rolled_back_transaction_sends_nothing() {
    let (sim, db) = setup("wb_rollback", &[]);
    let partners = partner_ids(&sim, 5);
    let mut c = db.connect();
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT scout.tag_customers('Never', $1)", &[&partners]).unwrap();
    tx.rollback().unwrap();
    assert_eq!(push(&db), (0, 0, 0));
    assert_eq!(odoo_tags(&sim, "Never"), Vec::<i64>::new());
    assert_eq!(calls(&sim, "res.partner.category/load") + calls(&sim, "res.partner/write"), 0);
}

#[test]
fn the_allow_list_refuses_on_insert_and_again_when_sending() {
    let (sim, db) = setup("wb_allow", &[]);
    let mut c = db.connect();
    let refuse = |c: &mut Client, sql: &str| DbErr::of(&c.batch_execute(sql).expect_err(sql));
    let e = refuse(
        &mut c,
        "INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.users', 2, '{\"login\": \"x\"}')",
    );
    assert_eq!(e.code, "42501", "{}", e.all_text());
    assert!(e.message.contains("writing res.users.login back to Odoo is not allowed"), "{}", e.all_text());
    assert!(e.detail.contains("res.partner (category_id)"), "{}", e.all_text());
    assert!(
        e.hint.contains("INSERT INTO scout.writeback_fields (model, field) VALUES ('res.users', 'login')"),
        "{}",
        e.all_text()
    );
    let e = refuse(
        &mut c,
        "INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.partner', 7, '{\"list_price\": 1}')",
    );
    assert_eq!(e.code, "42501");
    let e = refuse(&mut c, "INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.partner', 7, '{\"category_id\": [1, 2]}')");
    assert_eq!(e.code, "22023", "a whole set is refused: {}", e.all_text());
    let e = refuse(&mut c, "INSERT INTO scout.odoo_outbox (model, odoo_id, op) VALUES ('res.partner', 7, 'archive')");
    assert!(e.message.contains("res.partner.active"), "archiving writes active: {}", e.all_text());
    let e = refuse(&mut c, "INSERT INTO scout.odoo_outbox (model, external_key, odoo_id, \"values\") VALUES ('res.partner.category', 'k', 3, '{}')");
    assert_eq!(e.code, "22023");

    // A row that got past the trigger (a superuser with triggers off) is refused when sent.
    c.batch_execute(
        "SET session_replication_role = replica;
         INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.users', 2, '{\"login\": \"owned\"}');
         RESET session_replication_role;",
    )
    .unwrap();
    assert_eq!(push(&db), (0, 1, 0));
    let err: String = c.query_one("SELECT last_error FROM scout.odoo_outbox", &[]).unwrap().get(0);
    assert!(err.contains("res.users.login is not on scout.writeback_fields"), "{err}");
    assert_eq!(calls(&sim, "res.users/write") + calls(&sim, "res.users/load"), 0);
    let users = sim.execute("res.users", "search_read", json!([[["login", "=", "owned"]]]), json!({"fields": ["id"]}));
    assert_eq!(users, json!([]));

    // A role granted as the README says writes tags, and nothing else.
    c.batch_execute(
        "CREATE ROLE wb_analyst LOGIN;
         GRANT USAGE ON SCHEMA scout TO wb_analyst;
         GRANT SELECT, INSERT (model, external_key, odoo_id, op, \"values\"), UPDATE (\"values\", op) ON scout.odoo_outbox TO wb_analyst;
         GRANT USAGE ON SEQUENCE scout.odoo_outbox_id_seq TO wb_analyst;
         GRANT SELECT ON scout.customers, scout.outbox_status TO wb_analyst;
         GRANT EXECUTE ON FUNCTION scout.tag_customers(text, bigint[], boolean), scout.odoo_push(), scout.odoo_push_soon() TO wb_analyst;",
    )
    .unwrap();
    let mut a = db.cluster.connect_as(&db.name, "wb_analyst");
    let ids = partner_ids(&sim, 2);
    assert_eq!(tag_customers(&mut a, "Promo", &ids, false), 3);
    let e = refuse(&mut a, "INSERT INTO scout.writeback_fields VALUES ('res.users', 'login')");
    assert_eq!(e.code, "42501", "only a superuser changes the list");
    let e = refuse(&mut a, "UPDATE scout.odoo_outbox SET state = 'sent'");
    assert_eq!(e.code, "42501", "the role cannot mark rows sent");
    let r = a.query_one("SELECT sent, failed, pending FROM scout.odoo_push()", &[]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)), (3, 0, 0));
    assert_eq!(members(&sim, odoo_tags(&sim, "Promo")[0]), ids.into_iter().collect());
}

#[test]
fn ten_thousand_customers_tagged_in_one_call_all_reach_odoo_in_a_few_calls() {
    let (sim, db) = setup("wb_many", &[]);
    let partners = partner_ids(&sim, 10_000);
    assert_eq!(partners.len(), 10_000);
    assert_eq!(db.session(|c| tag_customers(c, "Everyone", &partners, false)), 10_001);
    assert_eq!(push(&db), (10_001, 0, 0));
    let tag = odoo_tags(&sim, "Everyone")[0];
    assert_eq!(members(&sim, tag), partners.iter().copied().collect());
    // Grouped by identical change, 1,000 partners a call, in batches of 5,000 rows (the first
    // holds the tag): 5 + 6 calls.
    assert_eq!(calls(&sim, "res.partner/write"), 11);
}

#[test]
fn a_push_killed_mid_batch_is_rolled_back_and_the_next_push_converges() {
    let sim = Sim::start(&["--orders", "200", "--seed", "63"]);
    let cluster = Cluster::start(&[]); // its own: a SIGKILLed backend restarts every backend
    let db = cluster.create_db("wb_kill");
    db.configure(&sim, &[]);
    let partners = partner_ids(&sim, 1200);
    db.session(|c| tag_customers(c, "Killed", &partners, false));
    // The second write of members hangs long enough to be killed in.
    sim.set_faults(
        json!([{"kind": "latency", "ms": 3000, "match": {"method": "write", "model": "res.partner"}, "skip": 1}]),
    );
    let mut c = db.connect();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let pusher = std::thread::spawn(move || c.query_one("SELECT * FROM scout.odoo_push()", &[]).is_ok());
    wait_for(30, "Odoo to have the first 1,000 members", || (calls(&sim, "res.partner/write") >= 2).then_some(()));
    // SAFETY: kill(2) on the backend's pid; no memory is involved.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(!pusher.join().unwrap(), "the killed push did not finish");
    db.wait_for_crash_recovery();
    assert_eq!(states(&db), vec![("pending".to_string(), 1201)], "our side rolled back whole");
    let tag = odoo_tags(&sim, "Killed");
    assert_eq!(tag.len(), 1, "Odoo kept the tag");
    assert!(members(&sim, tag[0]).len() >= 1000, "and the members it had committed");
    sim.set_faults(json!([]));
    let r = db.connect().query_one("SELECT sent, failed, pending FROM scout.odoo_push()", &[]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)), (1201, 0, 0));
    assert_eq!(odoo_tags(&sim, "Killed"), tag, "one tag after the re-send");
    assert_eq!(members(&sim, tag[0]), partners.iter().copied().collect());
}
