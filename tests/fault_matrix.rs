//! The fault matrix: every fault kind of the simulator × every phase of a run (authentication,
//! first page, a middle page, the last page) × both ways of running (the all-or-nothing
//! function and the committing procedure). Each scenario either succeeds with exact data after
//! retries, or fails with the expected SQLSTATE and nothing half-committed; then a clean rerun
//! converges to the simulator's data exactly.

use odoo_sync_tests::*;
use serde_json::{json, Value};

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
        k("Odoo fault envelope", json!({"kind": "odoo_fault", "name": "odoo.exceptions.ValidationError", "message": "broken rule"}), Some("38000")),
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

fn scenario(kind: &Kind, phase: &(&str, Value, i64), procedure: bool, n: usize) -> Outcome {
    let label = format!("{} × {} × {}", kind.name, phase.0, if procedure { "procedure" } else { "function" });
    let check = || -> Result<(), String> {
        let sim = Sim::start(&["--orders", ORDERS, "--seed", "17"]);
        let db = Cluster::shared().create_db(&format!("fm{n}"));
        db.configure(&sim, &[("odoo_sync.batch_size", &BATCH.to_string()), ("odoo_sync.max_retries", "2"), ("odoo_sync.http_timeout", "2"), ("odoo_sync.max_response_mb", "1")]);
        let mut fault = kind.fault.clone();
        fault["match"] = phase.1.clone();
        fault["skip"] = json!(phase.2);
        fault["times"] = json!(1);
        sim.set_faults(json!([fault]));
        let mut c = db.connect();
        let sql = if procedure { "CALL scout.odoo_sync_run('pos.order')" } else { "SELECT * FROM scout.odoo_sync('pos.order')" };
        let result = c.batch_execute(sql);
        let fields = requested_fields(&sim, "pos.order", &model_fields(&db)[6].2, &[]);
        match (result, kind.fails_with) {
            (Ok(()), None) => {}
            (Ok(()), Some(code)) => return Err(format!("succeeded, expected {code}")),
            (Err(e), None) => return Err(format!("failed, expected success after retries: {}", describe(&e))),
            (Err(e), Some(code)) => {
                let e = DbErr::of(&e);
                if e.code != code {
                    return Err(format!("failed with {} ({}), expected {code}", e.code, e.message));
                }
                if e.all_text().contains("admin\"") && e.all_text().contains("password") {
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
                let (rows, max_id, last_id, finished): (i64, i64, Option<i64>, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
                let consistent = if procedure {
                    finished == 0 && (rows == 0 || last_id == Some(max_id)) && rows % BATCH == 0
                } else {
                    rows == 0 && last_id.is_none()
                };
                if !consistent {
                    return Err(format!("half-committed: {rows} rows, max id {max_id}, checkpoint last id {last_id:?}, finished windows {finished}"));
                }
            }
        }
        // A clean rerun converges to exactly Odoo's data.
        sim.set_faults(json!([]));
        c.batch_execute(sql).map_err(|e| format!("clean rerun failed: {}", describe(&e)))?;
        let compare = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_bronze_matches(&db, &sim, "pos.order", "bronze_pos_order", &fields)));
        compare.map(|_| ()).map_err(|_| "bronze differs from Odoo after the rerun".to_string())
    };
    Outcome { label, problem: check().err() }
}

#[test]
fn every_fault_in_every_phase_either_recovers_or_fails_cleanly() {
    let mut cases = Vec::new();
    for kind in kinds() {
        for phase in phases() {
            for procedure in [false, true] {
                cases.push((kind.name, phase.0, procedure));
            }
        }
    }
    let total = cases.len();
    let threads = 4;
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let kinds = kinds();
                    let phases = phases();
                    let mut out = Vec::new();
                    let mut n = t;
                    for (ki, kind) in kinds.iter().enumerate() {
                        for (pi, phase) in phases.iter().enumerate() {
                            for (mi, procedure) in [false, true].into_iter().enumerate() {
                                let index = (ki * phases.len() + pi) * 2 + mi;
                                if index % threads == t {
                                    out.push(scenario(kind, phase, procedure, n));
                                    n += threads;
                                }
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.problem.is_some()).collect();
    println!("fault matrix: {} scenarios run, {} passed, {} failed", outcomes.len(), outcomes.len() - failed.len(), failed.len());
    for f in &failed {
        println!("  FAILED {}: {}", f.label, f.problem.as_deref().unwrap_or(""));
    }
    assert_eq!(outcomes.len(), total);
    assert!(failed.is_empty(), "{} of {total} scenarios failed", failed.len());
}
