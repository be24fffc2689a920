//! The engine's invariants over the in-memory store (memstore.rs) and an in-process Odoo
//! simulator: what bronze holds after a run equals what Odoo has, whatever fails where. These
//! run in a bare `cargo test`, in seconds; the SQL store and the hosts are tested end to end
//! under tests/.

use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use crate::memstore::MemStore;
use crate::model::ModelSpec;
use crate::reconcile::{reconcile_and_alert, ReconcileOptions};
use crate::session::with_session;
use crate::settings::{Credentials, EmailSettings, Settings, SmtpTls};
use crate::smtp_fake::{FakeSmtp, Mode};
use crate::store::{FailureRecord, FailureStreak, LockWait, RunMode, RunStatus, Store};
use crate::{record_failure, run_and_alert, Failure, RunOptions, RunSummary};
use odoo_client::Secret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

struct TestHost;

impl Host for TestHost {
    fn check_interrupts(&self) -> SyncResult<()> {
        Ok(())
    }
    fn stop_requested(&self) -> bool {
        false
    }
    fn stop_flag(&self) -> fn() -> bool {
        || false
    }
    fn odoo_wait_hook(&self) -> odoo_client::WaitHook {
        Box::new(|| true)
    }
    fn notice(&self, _text: &str) {}
    fn warning(&self, _text: &str) {}
}

/// An Odoo simulator in this process, on a free port.
struct Odoo {
    server: odoo_sim::Server,
}

impl Odoo {
    fn start(args: &[&str]) -> Odoo {
        let mut all = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
        all.extend(args.iter().map(|a| a.to_string()));
        let cfg = odoo_sim::Config::parse(all).expect("simulator arguments");
        Odoo { server: odoo_sim::start(cfg).expect("simulator") }
    }

    fn control(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.server.url());
        let mut resp = ureq::post(&url).send(body.to_string()).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null)
    }

    fn faults(&self, faults: Value) {
        self.control("/sim/faults", json!({ "faults": faults }));
    }

    fn advance(&self, seconds: f64) {
        self.control("/sim/clock/advance", json!({ "seconds": seconds }));
    }

    fn mutate(&self, model: &str, action: &str, count: usize) -> Value {
        self.control("/sim/mutate", json!({"model": model, "action": action, "count": count}))
    }

    fn settings(&self) -> Settings {
        Settings {
            base_url: Some(self.server.url()),
            db: Some("odoo".into()),
            username: Some("admin".into()),
            transport: "jsonrpc".into(),
            ca_file: None,
            checkpoint_key: "test".into(),
            batch_size: 50,
            http_timeout: 10,
            max_retries: 0,
            lookback: 300,
            safety_lag: 0,
            max_response_bytes: 64 << 20,
            company_ids: Vec::new(),
            prefetch: true,
            fetch_streams: 1,
            drift_alert_threshold: 0,
            alert_webhook_url: None,
            alert_email: None,
        }
    }

    /// Every record of `model` as Odoo has it: id -> write_date.
    fn write_dates(&self, model: &str) -> BTreeMap<i64, String> {
        let s = self.settings();
        with_session(&s, creds(), &TestHost, |odoo| {
            let c = odoo.client(model)?;
            let raw = c
                .search_read_raw(
                    model,
                    &json!([]),
                    &["id".to_owned(), "write_date".to_owned()],
                    "id asc",
                    1_000_000,
                    &json!({"active_test": false}),
                )
                .map_err(|e| SyncError::odoo(model, e))?;
            let rows: Vec<Value> = serde_json::from_str(&raw).unwrap();
            Ok(rows
                .iter()
                .map(|r| (r["id"].as_i64().unwrap(), r["write_date"].as_str().unwrap_or_default().to_owned()))
                .collect())
        })
        .unwrap()
    }
}

fn creds() -> Option<Credentials> {
    Some(Credentials { secret: Secret("admin".into()), is_api_key: false })
}

fn spec(model: &str, fields: &str) -> ModelSpec {
    ModelSpec {
        model: model.into(),
        bronze_table: format!("bronze_{}", model.replace('.', "_")),
        fields: fields.split(',').map(str::to_owned).collect(),
        optional_fields: Vec::new(),
        extra_fields: Vec::new(),
        odoo_module: None,
    }
}

fn orders() -> ModelSpec {
    spec("pos.order", "id,name,date_order,partner_id,amount_total,state,lines,write_date")
}

fn lines() -> ModelSpec {
    spec("pos.order.line", "id,order_id,product_id,qty,price_unit,price_subtotal,write_date")
}

fn options(full: bool, max_pages: Option<u32>, run_id: Option<i64>) -> RunOptions {
    RunOptions {
        full,
        dry_run: false,
        mode: if max_pages.is_some() { RunMode::Procedure } else { RunMode::Function },
        max_pages,
        max_time: None,
        stop_requested: None,
        run_id,
        lock_wait: LockWait::Unbounded,
        eager: false,
    }
}

/// One call of the engine in one transaction of the store.
fn step(store: &mut MemStore, s: &Settings, spec: &ModelSpec, opts: RunOptions) -> SyncResult<RunSummary> {
    store.transaction(|store| {
        with_session(s, creds(), &TestHost, |odoo| run_and_alert(store, &TestHost, spec, opts, s, odoo))
    })
}

/// Runs a model to the end of its window one page per transaction, as the procedure and the
/// worker do; a failed step is rolled back and the next one resumes. Returns the failures.
fn run_in_steps(store: &mut MemStore, s: &Settings, spec: &ModelSpec, full: bool) -> Vec<SyncError> {
    let (mut run_id, mut failures) = (None, Vec::new());
    for _ in 0..10_000 {
        match step(store, s, spec, options(full, Some(1), run_id)) {
            Ok(r) if r.status == RunStatus::InProgress => run_id = r.run_id,
            Ok(_) => return failures,
            Err(e) => {
                failures.push(e);
                run_id = None;
                assert!(failures.len() < 50, "does not converge: {failures:?}");
            }
        }
    }
    panic!("the window never ended");
}

/// Bronze's live rows: id -> write_date.
fn bronze(store: &MemStore, model: &str) -> BTreeMap<i64, String> {
    store.state().bronze.get(model).map_or_else(BTreeMap::new, |rows| {
        rows.iter()
            .filter(|(_, r)| !r.deleted)
            .map(|(id, r)| (*id, r.payload["write_date"].as_str().unwrap_or_default().to_owned()))
            .collect()
    })
}

#[test]
fn a_first_load_then_changes_leave_bronze_equal_to_odoo_and_silver_told_of_every_row() {
    let odoo = Odoo::start(&["--orders", "300", "--seed", "3"]);
    let s = odoo.settings();
    let mut store = MemStore::new(vec![orders()]);
    let first = step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    assert_eq!(first.status, RunStatus::Success);
    assert_eq!(bronze(&store, "pos.order"), odoo.write_dates("pos.order"));
    // A first load derives silver once, at its end, for every row.
    assert_eq!(store.state().silver["pos.order"].len(), bronze(&store, "pos.order").len());
    odoo.mutate("pos.order", "update", 7);
    odoo.mutate("pos.order", "create", 4);
    odoo.advance(2.0);
    let next = step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    assert_eq!((next.counts.updated, next.counts.inserted), (7, 4), "{next:?}");
    assert_eq!(bronze(&store, "pos.order"), odoo.write_dates("pos.order"));
    // A no-change run writes nothing.
    odoo.advance(2.0);
    let idle = step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    assert_eq!((idle.counts.inserted, idle.counts.updated), (0, 0), "{idle:?}");
}

#[test]
fn a_failure_at_any_page_is_rolled_back_and_the_next_step_resumes_with_nothing_lost_or_doubled() {
    let odoo = Odoo::start(&["--orders", "120", "--seed", "4"]);
    let s = odoo.settings();
    let pages = odoo.write_dates("pos.order").len().div_ceil(50);
    for fail_at in 1..=pages {
        let mut store = MemStore::new(vec![orders()]);
        store.fail_upsert_at = Some(fail_at);
        let failures = run_in_steps(&mut store, &s, &orders(), false);
        assert_eq!(failures.len(), 1, "page {fail_at}: one failed step");
        assert_eq!(bronze(&store, "pos.order"), odoo.write_dates("pos.order"), "page {fail_at}");
        let order = &store.state().page_order["pos.order"];
        assert!(order.windows(2).all(|p| p[0] < p[1]), "page {fail_at}: pages committed in id order: {order:?}");
        assert_eq!(order.len(), pages, "page {fail_at}: each page committed once");
    }
}

#[test]
fn streams_load_slices_in_id_order_with_the_same_result_as_one_stream() {
    let odoo = Odoo::start(&["--orders", "150", "--seed", "5"]);
    let one = {
        let mut store = MemStore::new(vec![lines()]);
        step(&mut store, &odoo.settings(), &lines(), options(false, None, None)).unwrap();
        bronze(&store, "pos.order.line")
    };
    let s = Settings { fetch_streams: 4, ..odoo.settings() };
    let mut store = MemStore::new(vec![lines()]);
    let r = step(&mut store, &s, &lines(), options(false, None, None)).unwrap();
    assert_eq!(r.status, RunStatus::Success);
    let order = &store.state().page_order["pos.order.line"];
    assert!(order.len() > 4, "several slices: {order:?}");
    assert!(order.windows(2).all(|p| p[0] < p[1]), "loaded in id order: {order:?}");
    assert_eq!(bronze(&store, "pos.order.line"), one);
    assert_eq!(one, odoo.write_dates("pos.order.line"));
}

#[test]
fn a_full_sync_deletes_what_odoo_confirms_gone_and_nothing_on_a_mangled_listing() {
    let odoo = Odoo::start(&["--orders", "200", "--seed", "6"]);
    let s = odoo.settings();
    let mut store = MemStore::new(vec![orders()]);
    step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    let before = bronze(&store, "pos.order");
    for tamper in [json!({"reverse": true}), json!({"keep": 20})] {
        let mut fault = json!({"kind": "tamper_ids", "match": {"model": "pos.order", "method": "search"}});
        fault.as_object_mut().unwrap().extend(tamper.as_object().unwrap().clone());
        odoo.faults(json!([fault]));
        let e = step(&mut store, &s, &orders(), options(true, None, None)).unwrap_err();
        assert_eq!(e.sqlstate(), "22000", "{tamper}: {e} {:?}", e.detail());
        assert_eq!(bronze(&store, "pos.order"), before, "{tamper}: nothing deleted");
    }
    odoo.faults(json!([]));
    let gone = odoo.mutate("pos.order", "delete", 3)["ids"].as_array().unwrap().len() as i64;
    odoo.advance(2.0);
    let r = step(&mut store, &s, &orders(), options(true, None, None)).unwrap();
    assert_eq!(r.counts.deleted, gone);
    assert_eq!(bronze(&store, "pos.order"), odoo.write_dates("pos.order"));
    assert_eq!(store.state().silver_deleted["pos.order"].len() as i64, gone, "silver told");
}

#[test]
fn a_reconciliation_repairs_missing_stale_and_deleted_records_and_is_then_clean() {
    let odoo = Odoo::start(&["--orders", "200", "--seed", "7"]);
    let s = odoo.settings();
    let mut store = MemStore::new(vec![orders()]);
    step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    // Drift an incremental run cannot see: deletes, and a row lost from bronze.
    let gone = odoo.mutate("pos.order", "delete", 2)["ids"].as_array().unwrap().len() as i64;
    let lost = *bronze(&store, "pos.order").keys().nth(10).unwrap();
    store
        .transaction(|st| {
            st.soft_delete(&orders(), &[lost], 0)?; // "restored" once Odoo still has it
            Ok(())
        })
        .unwrap();
    let opts =
        ReconcileOptions { dry_run: false, max_pages: None, stop_requested: None, lock_wait: LockWait::Unbounded };
    let reconcile = |store: &mut MemStore| {
        store
            .transaction(|st| {
                with_session(&s, creds(), &TestHost, |o| reconcile_and_alert(st, &TestHost, &orders(), opts, &s, o))
            })
            .unwrap()
    };
    let r = reconcile(&mut store);
    assert_eq!((r.drift.deleted, r.drift.restored), (gone, 1), "{r:?}");
    assert_eq!(bronze(&store, "pos.order"), odoo.write_dates("pos.order"));
    assert_eq!(reconcile(&mut store).drift.total(), 0, "nothing left to repair");
}

#[test]
fn the_failure_streak_counts_the_failed_runs_since_the_last_success() {
    let mut store = MemStore::new(vec![orders()]);
    let fail = |store: &mut MemStore| {
        store.transaction(|st| {
            st.record_failure(&FailureRecord {
                checkpoint_id: "test:pos.order",
                model: "pos.order",
                run_id: None,
                mode: RunMode::Worker,
                error_code: "08001",
                message: "down",
                started_at_unix: 0.0,
            })
        })
    };
    let first = fail(&mut store).unwrap();
    assert_eq!((first.previous_status, first.failed_runs, first.last_success), (None, 1, None));
    let second = fail(&mut store).unwrap();
    assert_eq!((second.previous_status.as_deref(), second.failed_runs), (Some("failed"), 2));
    assert_eq!(second.failing_since, first.failing_since, "since the first failure");
    // A success ends the streak: the next failure is the first of a new one.
    let ok = store.transaction(|st| st.start_log("test:pos.order", "pos.order", false, RunMode::Worker, None)).unwrap();
    store
        .transaction(|st| {
            let counts = Default::default();
            let u = crate::store::LogUpdate {
                status: "success",
                counts: &counts,
                window: None,
                odoo_version: None,
                transport: None,
                http_calls: 0,
                http_retries: 0,
                message: None,
                missing_fields: None,
            };
            st.update_log(ok, &u)
        })
        .unwrap();
    let third = fail(&mut store).unwrap();
    assert_eq!(third.failed_runs, 1);
    assert!(third.last_success.is_some());
    assert_ne!(third, FailureStreak::default());
}

#[test]
fn alert_emails_go_out_once_per_transition_after_the_commit() {
    let odoo = Odoo::start(&["--orders", "200", "--seed", "7"]); // has deletable orders
    let smtp = FakeSmtp::start(Mode::Plain, None);
    let email = EmailSettings {
        to: vec!["ops@example.com".into()],
        from: "odoo-sync@example.com".into(),
        server: smtp.server(),
        tls: SmtpTls::None,
        user: None,
        password: None,
        ca_file: None,
    };
    let s = Settings { alert_email: Some(email), ..odoo.settings() };
    let mut store = MemStore::new(vec![orders()]);
    step(&mut store, &s, &orders(), options(false, None, None)).unwrap(); // a first success: no alert

    // A failure whose transaction rolls back never happened: no alert.
    odoo.faults(json!([{"kind": "odoo_fault", "message": "Simulated fault", "match": {"model": "pos.order"}}]));
    let fail = |store: &mut MemStore| {
        odoo.advance(2.0);
        let started = SystemTime::now();
        let e = step(store, &s, &orders(), options(false, None, None)).unwrap_err();
        Failure::new("pos.order", None, RunMode::Function, started, &e)
    };
    let failure = fail(&mut store);
    let rolled_back: SyncResult<()> = store.transaction(|st| {
        record_failure(st, &s, &failure)?;
        Err(SyncError::Internal("rolled back".into()))
    });
    assert!(rolled_back.is_err());
    // Three failed runs, each recorded as the hosts record it: one alert.
    for _ in 0..3 {
        let failure = fail(&mut store);
        store.transaction(|st| record_failure(st, &s, &failure)).unwrap();
    }

    // Recovery: one alert; the next success none.
    odoo.faults(json!([]));
    for _ in 0..2 {
        odoo.advance(2.0);
        step(&mut store, &s, &orders(), options(false, None, None)).unwrap();
    }

    // Drift: one alert.
    let gone = odoo.mutate("pos.order", "delete", 2)["ids"].as_array().unwrap().len();
    let opts =
        ReconcileOptions { dry_run: false, max_pages: None, stop_requested: None, lock_wait: LockWait::Unbounded };
    let r = store
        .transaction(|st| {
            with_session(&s, creds(), &TestHost, |o| reconcile_and_alert(st, &TestHost, &orders(), opts, &s, o))
        })
        .unwrap();
    assert_eq!((gone > 0, r.drift.deleted), (true, gone as i64), "{r:?}");

    assert_eq!(crate::email::wait_for_pending(Duration::from_secs(40)), 0);
    let got = smtp.received();
    let subjects: Vec<String> = got.iter().map(|m| m.header("Subject").unwrap_or_default()).collect();
    assert_eq!(got.len(), 3, "{subjects:?}");
    let find = |prefix: &str| {
        let i =
            subjects.iter().position(|s| s.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {subjects:?}"));
        (subjects[i].clone(), got[i].body())
    };

    let (subject, body) = find("[odoo_sync] memory: pos.order failing since ");
    let hh_mm =
        subject.trim_start_matches("[odoo_sync] memory: pos.order failing since ").trim_end_matches(" UTC (1 run)");
    assert!(subject.ends_with(" UTC (1 run)") && hh_mm.len() == 5 && hh_mm.as_bytes()[2] == b':', "{subject}");
    for needle in ["Model:         pos.order", "Simulated fault", "SQLSTATE:      38000", "Hint:", "Last success:  20"]
    {
        assert!(body.contains(needle), "{needle:?} in\n{body}");
    }
    assert!(body.contains("SELECT * FROM scout.sync_status"), "{body}");

    let (_, body) = find("[odoo_sync] memory: pos.order recovered");
    assert!(body.contains("pos.order recovered; it syncs again."), "{body}");

    let (subject, body) = find("[odoo_sync] memory: pos.order drifted: ");
    assert_eq!(subject, format!("[odoo_sync] memory: pos.order drifted: {gone} records repaired"));
    assert!(body.contains(&format!("{gone} deleted in Odoo")), "{body}");
    assert!(got.iter().all(|m| m.to == ["ops@example.com"] && m.from == "odoo-sync@example.com"));
}
