//! Every failure explains itself: a clear ERROR with a SQLSTATE that names what to fix, never a
//! crash, never the password.

use odoo_sync_tests::*;
use serde_json::json;

fn sync_error(db: &Db, sql: &str) -> DbErr {
    let mut c = db.connect();
    let e = c.query(sql, &[]).expect_err(&format!("{sql} should fail"));
    // The backend survived: the same connection still answers.
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    DbErr::of(&e)
}

#[test]
fn unknown_and_malicious_model_names_are_rejected() {
    let sim = Sim::start(&["--orders", "20"]);
    let db = Cluster::shared().create_db("bad_model");
    db.configure(&sim, &[]);
    let long = "x".repeat(10_000);
    for name in
        ["pos.nope", "pos.order'; DROP TABLE scout.sync_logs; --", "pos.order\"", "ürün.ürün", long.as_str(), ""]
    {
        let mut c = db.connect();
        let e = c.query("SELECT * FROM scout.odoo_sync($1)", &[&name]).expect_err(name);
        let e = DbErr::of(&e);
        assert_eq!(e.code, "22023", "{}", e.all_text());
        assert!(e.message.contains("unknown model"), "{}", e.all_text());
        assert!(e.detail.contains("pos.order.line"), "lists the known models: {}", e.all_text());
        assert!(e.message.len() < 300, "message stays readable");
    }
    assert_eq!(db.count("scout.sync_logs"), 0, "sync_logs survived");
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync(NULL)");
    assert_eq!(e.code, "22023");
    assert!(e.message.contains("\"model\" must not be NULL"), "{}", e.all_text());
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order', dry_run => NULL)");
    assert!(e.message.contains("dry_run"), "{}", e.all_text());
}

#[test]
fn bad_credentials_say_so_without_the_password() {
    let sim = Sim::start(&["--orders", "20"]);
    let db = Cluster::shared().create_db("bad_password");
    db.configure(&sim, &[]);
    let secret = "S3cr3t-Pa55w0rd!";
    db.connect().execute("SELECT scout.odoo_set_secret(password => $1)", &[&secret]).unwrap();
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order')");
    assert_eq!(e.code, "28000", "{}", e.all_text());
    assert!(e.message.contains("rejected the login \"admin\""), "{}", e.all_text());
    assert!(e.hint.contains("odoo_set_secret"), "{}", e.all_text());
    assert!(!e.all_text().contains(secret));
    let log = std::fs::read_to_string(Cluster::shared().log_path()).unwrap();
    assert!(!log.contains(secret), "the server log holds the password");
}

#[test]
fn missing_settings_name_the_setting() {
    let db = Cluster::shared().create_db("unconfigured");
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order')");
    assert_eq!(e.code, "55000");
    assert!(e.message.contains("odoo_sync.base_url is not set"), "{}", e.all_text());
    assert!(e.message.contains("ODOO_BASE_URL"), "{}", e.all_text());
}

#[test]
fn invalid_base_urls_are_refused_when_set() {
    let db = Cluster::shared().create_db("bad_url");
    let mut c = db.connect();
    // Settings are checked by the library's hooks once it is loaded in the session (any
    // odoo_sync call, or shared_preload_libraries); before that PostgreSQL keeps a placeholder,
    // and the sync validates the value again when it runs.
    c.batch_execute("LOAD 'odoo_sync'").unwrap();
    for bad in ["odoo.example.com", "ftp://odoo.example.com", "http://", "http://user:pw@odoo.example.com"] {
        let e = c.batch_execute(&format!("SET odoo_sync.base_url = '{bad}'")).expect_err(bad);
        let e = DbErr::of(&e);
        assert_eq!(e.code, "22023", "{bad}: {}", e.all_text());
        assert!(e.message.contains("odoo_sync.base_url"), "{}", e.all_text());
    }
    c.batch_execute("SET odoo_sync.base_url = 'https://odoo.example.com'").unwrap();
    let e = c.batch_execute("SET odoo_sync.batch_size = -5").expect_err("negative batch size");
    assert_eq!(DbErr::of(&e).code, "22023");
    let e = c.batch_execute("SET odoo_sync.timezone = 'Mars/Olympus_Mons'").expect_err("unknown time zone");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "22023");
    assert!(e.detail.contains("is not a time zone"), "{}", e.all_text());
    c.batch_execute("SET odoo_sync.timezone = 'Asia/Manila'").unwrap();
    let e = c.batch_execute("SET odoo_sync.schedule = 'every five minutes'").expect_err("bad schedule");
    assert!(["22023", "55P02"].contains(&DbErr::of(&e).code.as_str()), "{}", DbErr::of(&e).all_text());
}

#[test]
fn an_unreachable_odoo_is_a_connection_error() {
    let db = Cluster::shared().create_db("unreachable");
    let port = free_port(); // nothing listens there
    db.connect()
        .batch_execute(&format!(
            "ALTER DATABASE {0} SET odoo_sync.base_url = 'http://127.0.0.1:{port}'; ALTER DATABASE {0} SET odoo_sync.db = 'odoo'; \
             ALTER DATABASE {0} SET odoo_sync.username = 'admin'; ALTER DATABASE {0} SET odoo_sync.max_retries = 1; \
             SELECT scout.odoo_set_secret(password => 'admin')",
            db.name
        ))
        .unwrap();
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order')");
    assert_eq!(e.code, "08001", "{}", e.all_text());
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{}", e.all_text());
    assert!(e.hint.contains("odoo_sync.base_url"), "{}", e.all_text());
}

#[test]
fn an_odoo_that_answers_garbage_is_a_protocol_error() {
    let sim = Sim::start(&["--orders", "20"]);
    let db = Cluster::shared().create_db("garbage");
    db.configure(&sim, &[]);
    sim.set_faults(json!([{"kind": "invalid_json", "match": {"method": "search_read"}}]));
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order')");
    assert_eq!(e.code, "08P01", "{}", e.all_text());
    assert!(e.message.contains("syncing pos.order failed"), "{}", e.all_text());
    assert_eq!(db.count("scout.bronze_pos_order"), 0);
    assert_eq!(db.count("scout.sync_checkpoints"), 0);
}

#[test]
fn an_odoo_fault_names_the_odoo_exception() {
    let sim = Sim::start(&["--orders", "20"]);
    let db = Cluster::shared().create_db("fault");
    db.configure(&sim, &[]);
    sim.set_faults(json!([{"kind": "odoo_fault", "name": "odoo.exceptions.ValidationError", "message": "Broken record rule", "match": {"method": "search_read"}}]));
    let e = sync_error(&db, "SELECT * FROM scout.odoo_sync('pos.order')");
    assert_eq!(e.code, "38000", "{}", e.all_text());
    assert!(e.message.contains("odoo.exceptions.ValidationError: Broken record rule"), "{}", e.all_text());
}

#[test]
fn an_error_while_the_next_page_is_being_fetched_leaves_nothing_behind() {
    // The engine fetches page n+1 on a second thread while page n's SQL runs. Here the SQL of
    // the first page fails (a trigger refuses a row) while the second page is still on its way.
    let sim = Sim::start(&["--orders", "100", "--seed", "4"]);
    let db = Cluster::shared().create_db("prefetch_error");
    db.configure(&sim, &[("odoo_sync.batch_size", "20"), ("odoo_sync.http_timeout", "5")]);
    let mut c = db.connect();
    c.batch_execute(
        "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.id = 5 THEN RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = 'P0001'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON scout.bronze_pos_order FOR EACH ROW EXECUTE FUNCTION public.refuse();",
    )
    .unwrap();
    sim.set_faults(json!([{"kind": "latency", "ms": 1500, "match": {"method": "search_read", "model": "pos.order"}, "skip": 1, "times": 1}]));
    let started = std::time::Instant::now();
    let e = c.query("SELECT * FROM scout.odoo_sync('pos.order')", &[]).expect_err("the trigger refuses a row");
    let e = DbErr::of(&e);
    assert_eq!(e.code, "P0001", "{}", e.all_text());
    assert!(e.message.contains("refused by the test trigger"), "{}", e.all_text());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "waited {:?} for the page being fetched",
        started.elapsed()
    );
    assert_eq!(
        c.query_one("SELECT count(*) FROM scout.bronze_pos_order", &[]).unwrap().get::<_, i64>(0),
        0,
        "nothing committed"
    );
    // The same session syncs normally afterwards (the fetching thread's hook was not kept).
    c.batch_execute("DROP TRIGGER refuse ON scout.bronze_pos_order").unwrap();
    sim.set_faults(json!([{"kind": "latency", "ms": 300, "match": {"method": "search_read", "model": "pos.order"}, "skip": 1, "times": 2}]));
    let r = c.query_one("SELECT status, fetched FROM scout.odoo_sync('pos.order')", &[]).unwrap();
    assert_eq!((r.get::<_, String>(0), r.get::<_, i64>(1)), ("success".to_string(), sim.count("pos.order")));
    let fields = requested_fields(&sim, "pos.order", &model_fields_of(&db, "pos.order").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &fields);
}
