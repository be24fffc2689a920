//! The fault matrix: every fault kind of the simulator × every phase of a run (authentication,
//! first page, a middle page, the last page) × every way of running (the all-or-nothing
//! function, the committing procedure, the background worker, and the runner `odoo-sync`
//! beside a database without the extension). Each scenario either
//! succeeds with exact data after retries, or fails with the expected SQLSTATE and nothing
//! half-committed; then a clean rerun converges to the simulator's data exactly.

use odoo_sync_tests::runner::{plain_db, Runner};
use odoo_sync_tests::*;
use serde_json::{json, Value};

/// How a scenario runs the sync.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    /// SELECT scout.odoo_sync(): one transaction, all or nothing.
    Function,
    /// CALL scout.odoo_sync_run(): a commit per page.
    Procedure,
    /// `odoo-sync sync`: committed steps, like the procedure.
    Runner,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Function => "function",
            Way::Procedure => "procedure",
            Way::Runner => "runner",
        }
    }
}

const ORDERS: &str = "60";
const BATCH: i64 = 20; // 60 orders: pages of 20, 20, 20, then an empty one (4 search_read calls)

/// A fault kind and what the run must do when it fires once.
struct Kind {
    name: &'static str,
    fault: Value,
    /// None: retried and succeeds. Some(sqlstate): fails with it.
    fails_with: Option<&'static str>,
}

fn kinds() -> Vec<Kind> {
    let k = |name, fault: Value, fails_with| Kind { name, fault, fails_with };
    vec![
        k("latency beyond the timeout", json!({"kind": "latency", "ms": 2500}), None),
        k("HTTP 500", json!({"kind": "http_status", "status": 500}), Some("08006")),
        k("HTTP 502", json!({"kind": "http_status", "status": 502}), None),
        k("HTTP 503", json!({"kind": "http_status", "status": 503}), None),
        k("HTTP 504", json!({"kind": "http_status", "status": 504}), None),
        k("429 with Retry-After", json!({"kind": "http_status", "status": 429, "retry_after": 1}), None),
        k("connection reset mid-body", json!({"kind": "reset"}), None),
        k("truncated JSON (connection cut)", json!({"kind": "truncated_json"}), None),
        k("truncated JSON (well framed)", json!({"kind": "truncated_json_framed"}), Some("08P01")),
        k("invalid JSON", json!({"kind": "invalid_json"}), Some("08P01")),
        k(
            "Odoo fault envelope",
            json!({"kind": "odoo_fault", "name": "odoo.exceptions.ValidationError", "message": "broken rule"}),
            Some("38000"),
        ),
        k("session expired", json!({"kind": "session_expired"}), Some("38000")),
        k("AccessDenied", json!({"kind": "access_denied"}), Some("28000")),
        k("expired API key", json!({"kind": "api_key_expired"}), Some("28000")),
        k("response over the size cap", json!({"kind": "oversize", "bytes": 3 << 20}), Some("54000")),
    ]
}

/// Phase: which request the fault hits.
fn phases() -> Vec<(&'static str, Value, i64)> {
    vec![
        ("authentication", json!({"method": "authenticate"}), 0),
        ("first page", json!({"method": "search_read", "model": "pos.order"}), 0),
        ("middle page", json!({"method": "search_read", "model": "pos.order"}), 1),
        ("last page", json!({"method": "search_read", "model": "pos.order"}), 3),
    ]
}

struct Outcome {
    label: String,
    problem: Option<String>,
}

/// Runs the sync the scenario's way: Err(SQLSTATE, message) when it fails.
fn run_sync(way: Way, db: &Db, runner: Option<&Runner>) -> Result<(), (String, String)> {
    let sql = match way {
        Way::Function => "SELECT * FROM scout.odoo_sync('pos.order')",
        Way::Procedure => "CALL scout.odoo_sync_run('pos.order')",
        Way::Runner => {
            let ran = runner.expect("a runner").run(&["sync", "pos.order"]);
            if ran.code == 0 {
                return Ok(());
            }
            // The runner's error line: "ERROR: ... (SQLSTATE xxxxx)".
            let code = ran.stderr.split("(SQLSTATE ").nth(1).map(|r| r[..5].to_owned()).unwrap_or_default();
            return Err((code, ran.all()));
        }
    };
    db.connect().batch_execute(sql).map_err(|e| {
        let d = DbErr::of(&e);
        (d.code.clone(), d.all_text())
    })
}

fn scenario(kind: &Kind, phase: &(&str, Value, i64), way: Way, n: usize) -> Outcome {
    let label = format!("{} × {} × {}", kind.name, phase.0, way.name());
    let check = || -> Result<(), String> {
        let sim = Sim::start(&["--orders", ORDERS, "--seed", "17"]);
        let cluster = Cluster::shared();
        let (db, runner) = if way == Way::Runner {
            let db = plain_db(cluster, &format!("fm{n}"), "postgres");
            let url = format!("postgresql://postgres@127.0.0.1:{}/{}?sslmode=disable", cluster.port, db.name);
            let runner = Runner::new(&url, &sim)
                .with("SYNC_BATCH_SIZE", &BATCH.to_string())
                .with("ODOO_SYNC_MAX_RETRIES", "2")
                .with("ODOO_SYNC_HTTP_TIMEOUT", "2")
                .with("ODOO_SYNC_MAX_RESPONSE_MB", "1");
            let installed = runner.run(&["install"]);
            if installed.code != 0 {
                return Err(format!("install failed: {}", installed.all()));
            }
            (db, Some(runner))
        } else {
            let db = cluster.create_db(&format!("fm{n}"));
            db.configure(
                &sim,
                &[
                    ("odoo_sync.batch_size", &BATCH.to_string()),
                    ("odoo_sync.max_retries", "2"),
                    ("odoo_sync.http_timeout", "2"),
                    ("odoo_sync.max_response_mb", "1"),
                ],
            );
            (db, None)
        };
        let committing = way != Way::Function;
        let mut fault = kind.fault.clone();
        fault["match"] = phase.1.clone();
        fault["skip"] = json!(phase.2);
        fault["times"] = json!(1);
        sim.set_faults(json!([fault]));
        let mut c = db.connect();
        let result = run_sync(way, &db, runner.as_ref());
        let fields = requested_fields(&sim, "pos.order", &model_fields_of(&db, "pos.order").2, &[]);
        match (result, kind.fails_with) {
            (Ok(()), None) => {}
            (Ok(()), Some(code)) => return Err(format!("succeeded, expected {code}")),
            (Err((_, text)), None) => return Err(format!("failed, expected success after retries: {text}")),
            (Err((got, text)), Some(code)) => {
                if got != code {
                    return Err(format!("failed with {got} ({text}), expected {code}"));
                }
                if text.contains("admin\"") && text.contains("password") {
                    return Err("the error names the password".into());
                }
                // Nothing half-committed: rows and checkpoint agree.
                let r = c
                    .query_one(
                        "SELECT (SELECT count(*) FROM scout.bronze_pos_order), (SELECT coalesce(max(id), 0) FROM scout.bronze_pos_order), \
                                (SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order'), \
                                (SELECT count(*) FROM scout.sync_checkpoints WHERE model = 'pos.order' AND window_end IS NULL AND isfinite(last_sync_at))",
                        &[],
                    )
                    .map_err(|e| describe(&e))?;
                let (rows, max_id, last_id, finished): (i64, i64, Option<i64>, i64) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                let consistent = if committing {
                    finished == 0 && (rows == 0 || last_id == Some(max_id)) && rows % BATCH == 0
                } else {
                    rows == 0 && last_id.is_none()
                };
                if !consistent {
                    return Err(format!("half-committed: {rows} rows, max id {max_id}, checkpoint last id {last_id:?}, finished windows {finished}"));
                }
                // A committing run's failure is logged (in a transaction of its own) with the SQLSTATE it raised.
                if committing {
                    let logged: Option<String> = c
                        .query_one("SELECT (SELECT error_code FROM scout.sync_logs WHERE status = 'failed' ORDER BY id DESC LIMIT 1)", &[])
                        .map_err(|e| describe(&e))?
                        .get(0);
                    if logged.as_deref() != Some(code) {
                        return Err(format!("sync_logs.error_code is {logged:?}, expected {code}"));
                    }
                }
            }
        }
        // A clean rerun converges to exactly Odoo's data.
        sim.set_faults(json!([]));
        run_sync(way, &db, runner.as_ref()).map_err(|(_, text)| format!("clean rerun failed: {text}"))?;
        let compare = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &fields)
        }));
        compare.map(|_| ()).map_err(|_| "bronze differs from Odoo after the rerun".to_string())
    };
    Outcome { label, problem: check().err() }
}

#[test]
fn every_fault_in_every_phase_either_recovers_or_fails_cleanly() {
    let (kinds, phases) = (kinds(), phases());
    let ways = [Way::Function, Way::Procedure, Way::Runner];
    let cases: Vec<(&Kind, &(&str, Value, i64), Way)> =
        kinds.iter().flat_map(|k| phases.iter().flat_map(move |p| ways.map(|way| (k, p, way)))).collect();
    let outcomes = spread(4, &cases, || (), |_, &(kind, phase, way), n| scenario(kind, phase, way, n));
    report("fault matrix", &outcomes, cases.len());
}

/// Runs every case, spread over `workers` threads: thread t makes its own `setup()` (a cluster,
/// say) and takes cases t, t + workers, ...; `run` gets the case's index too.
fn spread<C: Sync, S>(
    workers: usize,
    cases: &[C],
    setup: impl Fn() -> S + Sync,
    run: impl Fn(&S, &C, usize) -> Outcome + Sync,
) -> Vec<Outcome> {
    let (setup, run) = (&setup, &run);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|t| {
                s.spawn(move || {
                    let state = setup();
                    cases
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(workers)
                        .map(|(n, case)| run(&state, case, n))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Prints the counts (and each failed scenario), then fails the test if any scenario failed.
fn report(name: &str, outcomes: &[Outcome], total: usize) {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.problem.is_some()).collect();
    println!(
        "{name}: {} scenarios run, {} passed, {} failed",
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len()
    );
    for f in &failed {
        println!("  FAILED {}: {}", f.label, f.problem.as_deref().unwrap_or(""));
    }
    assert_eq!(outcomes.len(), total);
    assert!(failed.is_empty(), "{name}: {} of {total} scenarios failed", failed.len());
}

// ---------------------------------------------------------------------------------------------
// The same matrix through the background worker. A worker serves one database, so each worker
// cluster runs its scenarios one after the other: a fresh simulator (the fault set before the
// worker may reach it), emptied tables, then the worker's own rounds (every second).
// ---------------------------------------------------------------------------------------------

const WORKER_DB: &str = "wfm";

/// The state at the moment the worker recorded a failure, captured in the same transaction by
/// a trigger on scout.sync_logs: what was committed when the run gave up.
const SNAPSHOT_SQL: &str = "
CREATE TABLE public.failure_snapshots (model text, error_code text, error_message text, rows bigint, max_id bigint, last_id bigint, finished bigint);
CREATE FUNCTION public.snapshot_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.failure_snapshots
  SELECT NEW.model, NEW.error_code, NEW.error_message,
         (SELECT count(*) FROM scout.bronze_pos_order), (SELECT coalesce(max(id), 0) FROM scout.bronze_pos_order),
         (SELECT last_record_id FROM scout.sync_checkpoints WHERE model = 'pos.order'),
         (SELECT count(*) FROM scout.sync_checkpoints WHERE model = 'pos.order' AND window_end IS NULL AND isfinite(last_sync_at));
  RETURN NULL;
END $$;
CREATE TRIGGER snapshot_failure AFTER UPDATE ON scout.sync_logs FOR EACH ROW
  WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed') EXECUTE FUNCTION public.snapshot_failure();
";

/// A cluster whose worker syncs pos.order of database wfm every second, with the matrix's
/// settings; idle (no odoo_sync.base_url) between scenarios.
fn worker_slot() -> Cluster {
    let cluster = Cluster::start(&[
        "shared_preload_libraries = 'odoo_sync'",
        &format!("odoo_sync.database = '{WORKER_DB}'"),
        "odoo_sync.schedule = '* * * * * *'",
        "odoo_sync.gold_refresh_schedule = '0 0 1 1 *'",
        // A transaction per page, so that a failure lands between committed pages.
        "odoo_sync.worker_step_pages = 1",
    ]);
    let db = cluster.create_db_named(WORKER_DB);
    let mut c = db.connect();
    // The same model as the function and procedure scenarios.
    c.batch_execute("UPDATE scout.sync_models SET enabled = (model = 'pos.order')").unwrap();
    c.batch_execute(SNAPSHOT_SQL).unwrap();
    for (k, v) in [
        ("odoo_sync.db", "odoo"),
        ("odoo_sync.username", "admin"),
        ("odoo_sync.safety_lag", "0"),
        ("odoo_sync.batch_size", &BATCH.to_string()),
        ("odoo_sync.max_retries", "2"),
        ("odoo_sync.http_timeout", "2"),
        ("odoo_sync.max_response_mb", "1"),
    ] {
        c.batch_execute(&format!("ALTER DATABASE {WORKER_DB} SET {k} = '{v}'")).unwrap();
    }
    c.execute("SELECT scout.odoo_set_secret(password => 'admin')", &[]).unwrap();
    drop(c);
    cluster
}

/// Stops the worker from syncing (its next transaction finds no base_url and does nothing), and
/// waits until no transaction it began before that is still open.
fn idle_worker(db: &Db) {
    let mut c = db.connect();
    c.batch_execute(&format!("ALTER DATABASE {WORKER_DB} RESET odoo_sync.base_url")).unwrap();
    c.batch_execute("CREATE TEMP TABLE reset_mark AS SELECT clock_timestamp() AS t").unwrap();
    wait_for(60, "the worker's open transaction to end", || {
        let open: i64 = c
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker' AND xact_start < (SELECT t FROM reset_mark)", &[])
            .unwrap()
            .get(0);
        (open == 0).then_some(())
    });
}

fn worker_scenario(cluster: &Cluster, kind: &Kind, phase: &(&str, Value, i64)) -> Outcome {
    let label = format!("{} × {} × worker", kind.name, phase.0);
    let db = cluster.existing_db(WORKER_DB);
    let check = || -> Result<(), String> {
        let mut c = db.connect();
        let tables: String = c
            .query_one("SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables \
                        WHERE (schemaname = 'scout' AND tablename NOT IN ('sync_models', 'sync_secret')) OR tablename = 'failure_snapshots'", &[])
            .unwrap()
            .get(0);
        c.batch_execute(&format!("TRUNCATE {tables}")).unwrap();
        let sim = Sim::start(&["--orders", ORDERS, "--seed", "17"]);
        let mut fault = kind.fault.clone();
        fault["match"] = phase.1.clone();
        fault["skip"] = json!(phase.2);
        fault["times"] = json!(1);
        sim.set_faults(json!([fault]));
        c.batch_execute(&format!("ALTER DATABASE {WORKER_DB} SET odoo_sync.base_url = '{}'", sim.url)).unwrap();

        // The worker's first round against the fault: a failure it recorded, or a success.
        let failed = wait_for(60, "the worker's first round", || {
            let r = c
                .query_one("SELECT (SELECT count(*) FROM public.failure_snapshots), \
                                   (SELECT count(*) FROM scout.sync_logs WHERE model = 'pos.order' AND status = 'success')", &[])
                .unwrap();
            let (failures, successes): (i64, i64) = (r.get(0), r.get(1));
            if failures > 0 {
                Some(true)
            } else if successes > 0 {
                Some(false)
            } else {
                None
            }
        });
        match (failed, kind.fails_with) {
            (false, None) => {}
            (false, Some(code)) => return Err(format!("succeeded, expected {code}")),
            (true, expected) => {
                let r = c.query_one("SELECT model, error_code, error_message, rows, max_id, last_id, finished FROM public.failure_snapshots LIMIT 1", &[]).unwrap();
                let (model, error_code, message): (String, Option<String>, String) = (r.get(0), r.get(1), r.get(2));
                let Some(code) = expected else {
                    return Err(format!("failed, expected success after retries: [{error_code:?}] {message}"));
                };
                if model != "pos.order" || error_code.as_deref() != Some(code) {
                    return Err(format!("{model} failed with {error_code:?} ({message}), expected {code}"));
                }
                if message.contains("admin\"") && message.contains("password") {
                    return Err("the error names the password".into());
                }
                // Nothing half-committed: the pages committed before the failure and their checkpoint agree.
                let (rows, max_id, last_id, finished): (i64, i64, Option<i64>, i64) =
                    (r.get(3), r.get(4), r.get(5), r.get(6));
                if !(finished == 0 && (rows == 0 || last_id == Some(max_id)) && rows % BATCH == 0) {
                    return Err(format!("half-committed: {rows} rows, max id {max_id}, checkpoint last id {last_id:?}, finished windows {finished}"));
                }
                // With a transaction per page (worker_step_pages = 1), exactly the pages before
                // the failing call stay committed.
                let before = (phase.2 * BATCH).min(ORDERS.parse::<i64>().unwrap());
                if rows != before {
                    return Err(format!(
                        "{rows} rows committed when the fault hit, expected the {before} of the pages before it"
                    ));
                }
                // sync_status names the failure's SQLSTATE while the model is failing (a later
                // round may already have recovered it).
                let shown: Option<String> = c
                    .query_one("SELECT current_error_code FROM scout.sync_status WHERE model = 'pos.order'", &[])
                    .unwrap()
                    .get(0);
                if shown.as_deref().is_some_and(|s| s != code) {
                    return Err(format!("sync_status shows error code {shown:?}, expected {code}"));
                }
            }
        }
        // Later rounds, with Odoo well again, converge to exactly Odoo's data.
        sim.set_faults(json!([]));
        wait_for(60, "the worker to converge", || {
            let r = c
                .query_one("SELECT count(*) FROM scout.sync_checkpoints WHERE model = 'pos.order' AND status = 'success' AND window_end IS NULL AND isfinite(last_sync_at)", &[])
                .unwrap();
            (r.get::<_, i64>(0) == 1).then_some(())
        });
        let fields = requested_fields(&sim, "pos.order", &model_fields_all(&db, "pos.order"), &[]);
        let compare = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &fields)
        }));
        idle_worker(&db); // before the simulator goes away with this scope
        compare.map(|_| ()).map_err(|_| "bronze differs from Odoo after the worker's later rounds".to_string())
    };
    Outcome { label, problem: check().err() }
}

/// The fields the sync asks for on a model (enabled or not).
fn model_fields_all(db: &Db, model: &str) -> Vec<String> {
    db.connect().query_one("SELECT fields FROM scout.sync_models WHERE model = $1", &[&model]).unwrap().get(0)
}

#[test]
fn every_fault_in_every_phase_through_the_worker() {
    let (kinds, phases) = (kinds(), phases());
    let cases: Vec<(&Kind, &(&str, Value, i64))> =
        kinds.iter().flat_map(|k| phases.iter().map(move |p| (k, p))).collect();
    let outcomes = spread(3, &cases, worker_slot, |cluster, &(kind, phase), _| worker_scenario(cluster, kind, phase));
    report("fault matrix (worker)", &outcomes, cases.len());
}
