//! The control interface under `/sim/...` (JSON in, JSON out, no auth): mutations, long
//! transactions, the clock, faults and stats. Never subject to fault injection.

use crate::clock::{fmt_dt_micro, parse_dt, MICROS};
use crate::hooks::Bench;
use crate::http::{Request, Response};
use crate::http_client::parse_url;
use crate::mutate::{self, Action};
use crate::rng::Rng;
use crate::sim::{Sim, Tx};
use crate::webhook;
use crate::writer::Op;
use serde_json::{json, Value};

fn ok(v: Value) -> Response {
    Response::json(200, v.to_string())
}

fn bad(status: u16, msg: impl Into<String>) -> Response {
    Response::json(status, json!({"error": msg.into()}).to_string())
}

pub fn handle(sim: &Sim, req: &Request) -> Response {
    let body: Value = if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(400, format!("invalid JSON body: {e}")),
        }
    };
    let r = match (req.method.as_str(), req.path.trim_end_matches('/')) {
        ("GET", "/sim") | ("GET", "/sim/info") => Ok(info(sim)),
        ("POST", "/sim/mutate") => mutate_now(sim, &body, None),
        ("POST", "/sim/bulk_write") => mutate_now(sim, &body, Some(Action::Update)),
        ("POST", "/sim/tx/begin") => Ok(tx_begin(sim)),
        ("POST", "/sim/tx/mutate") => tx_mutate(sim, &body),
        ("POST", "/sim/tx/commit") => tx_end(sim, &body, true),
        ("POST", "/sim/tx/rollback") => tx_end(sim, &body, false),
        ("GET", "/sim/clock") => Ok(json!({"now": fmt_dt_micro(sim.clock.now())})),
        ("POST", "/sim/clock/advance") => match body.get("seconds").and_then(|v| v.as_f64()) {
            Some(s) => Ok(json!({"now": fmt_dt_micro(sim.clock.advance((s * MICROS as f64).round() as i64))})),
            None => Err((400, "expected {\"seconds\": number}".to_string())),
        },
        ("POST", "/sim/clock/set") => match body.get("now").and_then(|v| v.as_str()).and_then(parse_dt) {
            Some(t) => {
                sim.clock.set(t);
                Ok(json!({"now": fmt_dt_micro(sim.clock.now())}))
            }
            None => Err((400, "expected {\"now\": \"YYYY-MM-DD HH:MM:SS[.ffffff]\"}".to_string())),
        },
        ("GET", "/sim/faults") => Ok(sim.faults.stats()),
        ("POST", "/sim/faults") | ("PUT", "/sim/faults") => match crate::faults::parse(&body) {
            Ok(rules) => {
                let n = rules.len();
                sim.faults.set(rules);
                Ok(json!({"faults": n}))
            }
            Err(e) => Err((400, e)),
        },
        ("DELETE", "/sim/faults") => {
            sim.faults.set(Vec::new());
            Ok(json!({"faults": 0}))
        }
        ("GET", "/sim/stats") => Ok(json!({
            "requests": sim.stats.json(),
            "faults": sim.faults.stats(),
            "webhooks": webhook::stats(sim),
        })),
        ("GET", "/sim/webhooks") => Ok(webhook::stats(sim)),
        ("POST", "/sim/webhooks") | ("PUT", "/sim/webhooks") => set_webhooks(sim, &body),
        ("DELETE", "/sim/webhooks") => {
            sim.webhooks.set_bench(None);
            Ok(webhook::stats(sim))
        }
        ("POST", "/sim/stats/reset") => {
            sim.stats.reset();
            sim.faults.reset_counters();
            sim.webhooks.reset_counters();
            Ok(json!({"reset": true}))
        }
        _ => Err((404, format!("no control endpoint {} {}", req.method, req.path))),
    };
    match r {
        Ok(v) => ok(v),
        Err((status, msg)) => bad(status, msg),
    }
}

fn info(sim: &Sim) -> Value {
    let store = sim.store.read().unwrap_or_else(|e| e.into_inner());
    let models: serde_json::Map<String, Value> =
        sim.schema.models.iter().zip(&store.tables).map(|(m, t)| (m.name.to_string(), json!(t.len()))).collect();
    json!({
        "version": sim.cfg.version,
        "db": sim.cfg.db,
        "seed": sim.cfg.seed,
        "now": fmt_dt_micro(sim.clock.now()),
        "models": models,
    })
}

type CResult = Result<Value, (u16, String)>;

/// `{"url": "http://...", "models": ["pos.order", ...]}` sets the benchmark webhook rule
/// (models absent or null: every model but ir.* and base.automation); `{"url": null}` clears it.
fn set_webhooks(sim: &Sim, body: &Value) -> CResult {
    let url = match body.get("url") {
        None | Some(Value::Null) => {
            sim.webhooks.set_bench(None);
            return Ok(webhook::stats(sim));
        }
        Some(Value::String(u)) => u.clone(),
        Some(_) => return Err((400, "expected {\"url\": \"http://host:port/path\" | null, \"models\": [...]}".into())),
    };
    parse_url(&url).map_err(|e| (400, e))?;
    let models = match body.get("models") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut ms = Vec::new();
            for m in a {
                let name = m.as_str().ok_or((400, "\"models\" must be a list of model names".to_string()))?;
                ms.push(sim.schema.model(name).ok_or((400, format!("unknown model {name:?}")))?);
            }
            Some(ms)
        }
        Some(_) => return Err((400, "\"models\" must be a list of model names".into())),
    };
    sim.webhooks.set_bench(Some(Bench { url, models }));
    Ok(webhook::stats(sim))
}

/// (model index, action, count, explicit seed)
type MutArgs = (usize, Action, usize, Option<u64>);

fn args(sim: &Sim, body: &Value, forced: Option<Action>) -> Result<MutArgs, (u16, String)> {
    let model = body.get("model").and_then(|v| v.as_str()).ok_or((400, "missing \"model\"".to_string()))?;
    let mi = sim.schema.model(model).ok_or((400, format!("unknown model {model:?}")))?;
    let action = match forced {
        Some(a) => a,
        None => {
            let a = body.get("action").and_then(|v| v.as_str()).unwrap_or("update");
            Action::parse(a).ok_or((400, format!("unknown action {a:?} (update, create, delete)")))?
        }
    };
    let count = body.get("count").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
    Ok((mi, action, count, body.get("seed").and_then(|v| v.as_u64())))
}

fn with_rng<T>(sim: &Sim, seed: Option<u64>, f: impl FnOnce(&mut Rng) -> T) -> T {
    match seed {
        Some(s) => f(&mut Rng::new(s)),
        None => f(&mut sim.rng.lock().unwrap_or_else(|e| e.into_inner())),
    }
}

/// One mutation applied at once, as one transaction stamped with the current clock time.
fn mutate_now(sim: &Sim, body: &Value, forced: Option<Action>) -> CResult {
    let (mi, action, count, seed) = args(sim, body, forced)?;
    let _gate = sim.webhooks.gate.lock().unwrap_or_else(|e| e.into_inner());
    let ts = sim.clock.now();
    let mut store = sim.store.write().unwrap_or_else(|e| e.into_inner());
    let plan = with_rng(sim, seed, |rng| mutate::plan(&sim.schema, &mut store, mi, action, count, rng, ts))
        .map_err(|e| (400, e))?;
    // Webhooks: sent before the change is visible on 16-18, after on 19 (webhook.rs).
    webhook::apply_ops(sim, store, plan.ops, true);
    Ok(json!({"ids": plan.ids, "write_date": fmt_dt_micro(ts)}))
}

fn tx_begin(sim: &Sim) -> Value {
    let ts = sim.clock.now();
    let mut txs = sim.txs.lock().unwrap_or_else(|e| e.into_inner());
    txs.next += 1;
    let id = txs.next;
    txs.open.insert(id, Tx { ts, ops: Vec::new(), ids: Vec::new() });
    json!({"tx": id, "write_date": fmt_dt_micro(ts)})
}

fn tx_mutate(sim: &Sim, body: &Value) -> CResult {
    let tx = body.get("tx").and_then(|v| v.as_u64()).ok_or((400, "missing \"tx\"".to_string()))?;
    let (mi, action, count, seed) = args(sim, body, None)?;
    let _gate = sim.webhooks.gate.lock().unwrap_or_else(|e| e.into_inner());
    let mut txs = sim.txs.lock().unwrap_or_else(|e| e.into_inner());
    let t = txs.open.get_mut(&tx).ok_or((404, format!("no open transaction {tx}")))?;
    // Plan against the visible data, stamped with the transaction's start; apply at commit.
    let mut store = sim.store.write().unwrap_or_else(|e| e.into_inner());
    let plan = with_rng(sim, seed, |rng| mutate::plan(&sim.schema, &mut store, mi, action, count, rng, t.ts))
        .map_err(|e| (400, e))?;
    let ts = t.ts;
    t.ids.extend(plan.ids.iter().map(|&id| (mi, id)));
    // Odoo 16-18 send the webhooks now, inside the transaction (a rollback leaves phantoms).
    let early = (!sim.v19()).then(|| plan.ops.clone());
    t.ops.extend(plan.ops);
    drop(txs);
    match early {
        Some(ops) => webhook::probe_ops(sim, store, &ops),
        None => drop(store),
    }
    Ok(json!({"tx": tx, "ids": plan.ids, "write_date": fmt_dt_micro(ts)}))
}

fn tx_end(sim: &Sim, body: &Value, commit: bool) -> CResult {
    let tx = body.get("tx").and_then(|v| v.as_u64()).ok_or((400, "missing \"tx\"".to_string()))?;
    let _gate = sim.webhooks.gate.lock().unwrap_or_else(|e| e.into_inner());
    let t = {
        let mut txs = sim.txs.lock().unwrap_or_else(|e| e.into_inner());
        txs.open.remove(&tx).ok_or((404, format!("no open transaction {tx}")))?
    };
    let n = t.ops.len();
    if commit {
        let store = sim.store.write().unwrap_or_else(|e| e.into_inner());
        // A record deleted meanwhile is not resurrected by a pending update.
        let ops: Vec<Op> = t
            .ops
            .into_iter()
            .filter(|op| match op {
                Op::Update { model, id, .. } => store.tables[*model].row_of(*id).is_some(),
                _ => true,
            })
            .collect();
        // Odoo 19 sends the webhooks after the commit (16-18 sent them at mutate time).
        webhook::apply_ops(sim, store, ops, sim.v19());
    }
    Ok(json!({"tx": tx, "committed": commit, "ops": n, "write_date": fmt_dt_micro(t.ts)}))
}
