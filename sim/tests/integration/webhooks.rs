//! Outgoing webhooks as base_automation sends them: the payload, the headers, when they are sent
//! (before the commit on 17/18, after on 19), rules installed by `load`, timeouts, versions
//! without the module, and the benchmark rule (`--webhook-url`, `/sim/webhooks`).

use crate::support::*;
use odoo_sim::Config;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got, and what `look` saw in the simulator at that moment.
#[derive(Clone, Debug)]
struct Got {
    method: String,
    path: String,
    headers: Headers,
    raw_body: String,
    body: Value,
    seen: Option<Value>,
}

type Look = Arc<dyn Fn(&Value) -> Option<Value> + Send + Sync>;

struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

type Headers = Vec<(String, String)>;
/// (method, path, headers with lowercase names, body)
type RawRequest = (String, String, Headers, Vec<u8>);
/// (record id, write_date)
type Dates = Vec<(u64, Value)>;

fn read_request(s: &mut TcpStream) -> Option<RawRequest> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let first: Vec<String> = lines.next()?.split(' ').map(String::from).collect();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((first.first()?.clone(), first.get(1)?.clone(), headers, body))
}

/// A tiny HTTP receiver: records each request (after calling `look` on its body), then answers
/// 200, or never answers when `answer` is false.
fn receiver(look: Option<Look>, answer: bool) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let (g, look) = (g.clone(), look.clone());
            std::thread::spawn(move || {
                let Some((method, path, headers, body)) = read_request(&mut s) else { return };
                let raw_body = String::from_utf8_lossy(&body).into_owned();
                let body: Value = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
                let seen = look.and_then(|f| f(&body));
                g.lock().unwrap().push(Got { method, path, headers, raw_body, body, seen });
                if answer {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                } else {
                    std::thread::sleep(Duration::from_secs(5));
                }
            });
        }
    });
    Receiver { addr, got }
}

const NOW: &str = "2026-11-05 10:00:00";

fn cfg(version: u32) -> Config {
    Config { version, clock: odoo_sim::clock::parse_dt(NOW), ..config(300) }
}

/// A look that reads the record's write_date and state in the simulator, as the receiver sees it.
fn look_at(sim: SocketAddr) -> Look {
    Arc::new(move |body: &Value| {
        let (model, id) = (body["_model"].as_str()?.to_string(), body["_id"].as_u64()?);
        let recs = sr(sim, &model, json!([["id", "=", id]]), json!({"fields": ["write_date"]}));
        Some(recs.first().map(|r| r["write_date"].clone()).unwrap_or(Value::Null))
    })
}

fn model_id(sim: SocketAddr, model: &str) -> u64 {
    ids(&sr(sim, "ir.model", json!([["model", "=", model]]), json!({"fields": ["id"]})))[0]
}

fn field_ids(sim: SocketAddr, model: &str, names: &[&str]) -> Vec<u64> {
    let recs =
        sr(sim, "ir.model.fields", json!([["model", "=", model], ["name", "in", names]]), json!({"fields": ["name"]}));
    assert_eq!(recs.len(), names.len(), "{recs:?}");
    ids(&recs)
}

/// A stored rule on pos.order through `create`: returns the server action's id.
fn create_rule(sim: SocketAddr, trigger: &str, url: &str, fields: &[&str]) -> u64 {
    let mid = model_id(sim, "pos.order");
    let rule = ok(
        sim,
        "base.automation",
        "create",
        json!([{"name": "Sync orders", "model_id": mid, "trigger": trigger}]),
        json!({}),
    );
    let fids = field_ids(sim, "pos.order", fields);
    let action = ok(
        sim,
        "ir.actions.server",
        "create",
        json!([{"name": "Notify", "model_id": mid, "state": "webhook", "usage": "base_automation",
                 "webhook_url": url, "webhook_field_ids": [[6, 0, fids]], "base_automation_id": rule}]),
        json!({}),
    );
    action.as_u64().expect("an id")
}

fn pos_write_dates(sim: SocketAddr, ids: &[u64]) -> Vec<(u64, Value)> {
    let mut v: Vec<(u64, Value)> = sr(sim, "pos.order", json!([["id", "in", ids]]), json!({"fields": ["write_date"]}))
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["write_date"].clone()))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

fn id_list(v: &Value) -> Vec<u64> {
    let mut out: Vec<u64> = v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    out.sort_unstable();
    out
}

const STANDARD: &[&str] = &["host", "content-length", "connection", "user-agent", "accept", "accept-encoding"];

/// A control mutate of 3 orders: 3 POSTs, Odoo's body and headers; returns them with
/// what the receiver saw of each record when it got the POST, and the mutation's write_date.
fn mutate_three(version: u32) -> (Vec<Got>, Vec<u64>, String, Dates) {
    let s = start(cfg(version));
    let rx = receiver(Some(look_at(s.addr)), true);
    let aid =
        create_rule(s.addr, "on_create_or_write", &rx.url("/hook/orders"), &["write_date", "state", "partner_id"]);
    let all = ids(&sr(s.addr, "pos.order", json!([]), json!({"fields": ["id"]})));
    let before = pos_write_dates(s.addr, &all);
    assert!(rx.got().is_empty(), "creating the rule fires nothing");
    let r = control(s.addr, "/sim/mutate", json!({"model": "pos.order", "action": "update", "count": 3, "seed": 5}));
    let changed = id_list(&r["ids"]);
    let wd = r["write_date"].as_str().unwrap()[..19].to_string();
    let got = rx.got();
    assert_eq!(got.len(), 3, "one POST per record: {got:?}");
    for g in &got {
        assert_eq!((g.method.as_str(), g.path.as_str()), ("POST", "/hook/orders"));
        let extra: Vec<&(String, String)> = g.headers.iter().filter(|(k, _)| !STANDARD.contains(&k.as_str())).collect();
        assert_eq!(extra, vec![&("content-type".to_string(), "application/json".to_string())], "{:?}", g.headers);
        let b = &g.body;
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["_action", "_id", "_model", "id", "partner_id", "state", "write_date"], "{b}");
        assert!(g.raw_body.starts_with(&format!("{{\"_action\": \"Notify(#{aid})\", \"_id\": ")), "{}", g.raw_body);
        assert_eq!(b["_model"], "pos.order");
        assert_eq!(b["_id"], b["id"]);
        assert!(b["partner_id"].is_u64() || b["partner_id"] == json!(false), "many2one as a bare id: {b}");
        assert_eq!(b["write_date"], json!(wd), "the record as written: {b}");
    }
    let mut sent: Vec<u64> = got.iter().map(|g| g.body["_id"].as_u64().unwrap()).collect();
    sent.sort_unstable();
    assert_eq!(sent, changed);
    let st = control_get(s.addr, "/sim/webhooks");
    assert_eq!((st["sent"].as_u64(), st["failed"].as_u64(), st["rules"].as_u64()), (Some(3), Some(0), Some(1)), "{st}");
    let old: Vec<(u64, Value)> = before.into_iter().filter(|(id, _)| changed.contains(id)).collect();
    (got, changed, wd, old)
}

#[test]
fn on_19_a_mutation_posts_after_the_change_is_visible() {
    let (got, _, wd, old) = mutate_three(19);
    for g in &got {
        assert_eq!(g.seen, Some(json!(wd)), "19 sends after the commit: the receiver sees the new write_date");
    }
    assert!(old.iter().all(|(_, w)| *w != json!(wd)));
}

#[test]
fn on_17_a_mutation_posts_before_the_change_is_visible() {
    let (got, _, wd, old) = mutate_three(17);
    for g in &got {
        let id = g.body["_id"].as_u64().unwrap();
        let was = &old.iter().find(|(i, _)| *i == id).unwrap().1;
        assert_eq!(g.seen.as_ref(), Some(was), "17 sends inside the transaction: the receiver sees the old data");
        assert_ne!(g.seen, Some(json!(wd)));
    }
}

#[test]
fn on_17_a_rolled_back_transaction_leaves_phantom_events_and_on_19_none() {
    for version in [17, 19] {
        let s = start(cfg(version));
        let rx = receiver(Some(look_at(s.addr)), true);
        create_rule(s.addr, "on_write", &rx.url("/h"), &["write_date"]);
        let all = ids(&sr(s.addr, "pos.order", json!([]), json!({"fields": ["id"]})));
        let before = pos_write_dates(s.addr, &all);
        let tx = control(s.addr, "/sim/tx/begin", json!({}))["tx"].clone();
        let r = control(s.addr, "/sim/tx/mutate", json!({"tx": tx, "model": "pos.order", "count": 2, "seed": 3}));
        let changed = id_list(&r["ids"]);
        let wd = r["write_date"].as_str().unwrap()[..19].to_string();
        let got = rx.got();
        if version == 17 {
            assert_eq!(got.len(), 2, "17 sends at write time, inside the transaction: {got:?}");
            for g in &got {
                assert_eq!(g.body["write_date"], json!(wd), "the event carries the uncommitted change");
                let id = g.body["_id"].as_u64().unwrap();
                assert!(changed.contains(&id));
                assert_eq!(g.seen.as_ref(), Some(&before.iter().find(|(i, _)| *i == id).unwrap().1));
            }
        } else {
            assert!(got.is_empty(), "19 waits for the commit: {got:?}");
        }
        control(s.addr, "/sim/tx/rollback", json!({"tx": tx}));
        assert_eq!(pos_write_dates(s.addr, &all), before, "rolled back: nothing changed");
        assert_eq!(rx.got().len(), got.len(), "a rollback sends nothing");
        // A committed transaction: 19 sends at commit, 17 already sent at mutate time.
        let tx = control(s.addr, "/sim/tx/begin", json!({}))["tx"].clone();
        control(s.addr, "/sim/tx/mutate", json!({"tx": tx, "model": "pos.order", "count": 2, "seed": 4}));
        let at_mutate = rx.got().len();
        control(s.addr, "/sim/tx/commit", json!({"tx": tx}));
        let after = rx.got();
        if version == 17 {
            assert_eq!((at_mutate, after.len()), (got.len() + 2, got.len() + 2));
        } else {
            assert_eq!((at_mutate, after.len()), (0, 2));
            assert!(after.iter().all(|g| g.seen == Some(g.body["write_date"].clone())), "{after:?}");
        }
    }
}

#[test]
fn a_rule_installed_by_load_twice_is_one_rule_that_fires_until_unlinked() {
    let s = start(cfg(18));
    let rx = receiver(None, true);
    let mid = model_id(s.addr, "pos.order").to_string();
    let fids: Vec<String> =
        field_ids(s.addr, "pos.order", &["id", "write_date"]).iter().map(|i| i.to_string()).collect();
    let url = rx.url("/odoo_sync/pos.order");
    for _ in 0..2 {
        let r = ok(
            s.addr,
            "base.automation",
            "load",
            json!([
                ["id", "name", "model_id/.id", "trigger", "active"],
                [["odoo_sync.rule_pos_order", "odoo_sync: pos.order", mid, "on_create_or_write", "1"]]
            ]),
            json!({}),
        );
        assert_eq!(r["messages"], json!([]), "{r}");
        let r = ok(
            s.addr,
            "ir.actions.server",
            "load",
            json!([
                [
                    "id",
                    "name",
                    "model_id/.id",
                    "state",
                    "usage",
                    "webhook_url",
                    "webhook_field_ids/.id",
                    "base_automation_id/id"
                ],
                [[
                    "odoo_sync.action_pos_order",
                    "odoo_sync webhook",
                    mid,
                    "webhook",
                    "base_automation",
                    url,
                    fids.join(","),
                    "odoo_sync.rule_pos_order"
                ]]
            ]),
            json!({}),
        );
        assert_eq!(r["messages"], json!([]), "{r}");
    }
    assert_eq!(count(s.addr, "base.automation", json!([])), 1);
    assert_eq!(count(s.addr, "ir.actions.server", json!([])), 1);
    assert_eq!(count(s.addr, "ir.model.data", json!([["module", "=", "odoo_sync"]])), 2);
    let rule =
        sr(s.addr, "base.automation", json!([]), json!({"fields": ["action_server_ids", "model_id", "trigger"]}));
    let action = sr(
        s.addr,
        "ir.actions.server",
        json!([]),
        json!({"fields": ["webhook_field_ids", "base_automation_id", "state"]}),
    );
    assert_eq!(rule[0]["action_server_ids"], json!([action[0]["id"]]));
    assert_eq!(rule[0]["trigger"], "on_create_or_write");
    assert_eq!(action[0]["state"], "webhook");
    assert_eq!(action[0]["base_automation_id"][0], rule[0]["id"]);
    assert_eq!(action[0]["webhook_field_ids"].as_array().unwrap().len(), 2);
    assert!(rx.got().is_empty());

    // An API write fires it.
    let order = ids(&sr(s.addr, "pos.order", json!([]), json!({"fields": ["id"], "limit": 1})))[0];
    let partner = ids(&sr(s.addr, "res.partner", json!([]), json!({"fields": ["id"], "limit": 1})))[0];
    ok(s.addr, "pos.order", "write", json!([[order], {"partner_id": partner}]), json!({}));
    let got = rx.got();
    assert_eq!(got.len(), 1, "{got:?}");
    let wd = sr(s.addr, "pos.order", json!([["id", "=", order]]), json!({"fields": ["write_date"]}))[0]["write_date"]
        .clone();
    let aid = action[0]["id"].as_u64().unwrap();
    assert_eq!(
        got[0].body,
        json!({"_action": format!("odoo_sync webhook(#{aid})"), "_id": order, "_model": "pos.order", "id": order, "write_date": wd})
    );
    // And a control mutation too.
    control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 2}));
    assert_eq!(rx.got().len(), 3);

    // Unlinking the rule removes its action (ondelete cascade); nothing fires any more.
    let rid = rule[0]["id"].as_u64().unwrap();
    ok(s.addr, "base.automation", "unlink", json!([[rid]]), json!({}));
    assert_eq!(count(s.addr, "base.automation", json!([])), 0);
    assert_eq!(count(s.addr, "ir.actions.server", json!([])), 0);
    control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 2}));
    ok(s.addr, "pos.order", "write", json!([[order], {"partner_id": false}]), json!({}));
    assert_eq!(rx.got().len(), 3, "nothing fires after the unlink");
    assert_eq!(control_get(s.addr, "/sim/webhooks")["rules"], 0);
}

#[test]
fn a_receiver_that_never_answers_costs_at_most_about_a_second_per_record() {
    let s = start(cfg(19));
    let rx = receiver(None, false);
    create_rule(s.addr, "on_write", &rx.url("/slow"), &["write_date"]);
    let t0 = Instant::now();
    control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 2}));
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1900), "each POST waits for its 1 s timeout: {took:?}");
    assert!(took < Duration::from_millis(3000), "and no longer, no retry: {took:?}");
    assert_eq!(rx.got().len(), 2, "no retry");
    let st = control_get(s.addr, "/sim/webhooks");
    assert_eq!((st["sent"].as_u64(), st["failed"].as_u64()), (Some(0), Some(2)), "{st}");
    assert!(st["last_error"].as_str().unwrap().contains("timed out"), "{st}");
    // A refused connection and an https URL fail fast, counted.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    create_rule(s.addr, "on_write", &format!("http://{dead}/x"), &[]);
    create_rule(s.addr, "on_write", "https://example.invalid/x", &[]);
    let t0 = Instant::now();
    control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 1}));
    assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());
    let st = control_get(s.addr, "/sim/webhooks");
    assert_eq!(st["failed"].as_u64(), Some(5), "{st}");
    assert_eq!(control_get(s.addr, "/sim/stats")["webhooks"]["failed"].as_u64(), Some(5));
}

#[test]
fn without_base_automation_the_models_do_not_exist() {
    let v16 = start(cfg(16));
    let no_module = start(Config { base_automation: false, ..cfg(17) });
    for s in [&v16, &no_module] {
        for model in ["base.automation", "ir.actions.server", "ir.model.fields"] {
            let v = ek(s.addr, model, "search_read", json!([[]]), json!({}));
            assert_eq!(err_data(&v)["message"], format!("Object {model} doesn't exist"), "{v}");
        }
    }
    let v17 = start(cfg(17));
    assert_eq!(count(v17.addr, "base.automation", json!([])), 0);
    let fields = sr(
        v17.addr,
        "ir.model.fields",
        json!([["model", "=", "pos.order"], ["name", "in", ["id", "write_date"]]]),
        json!({"fields": ["name", "ttype", "model_id"]}),
    );
    assert_eq!(fields.len(), 2);
    let wd = fields.iter().find(|f| f["name"] == "write_date").unwrap();
    assert_eq!(wd["ttype"], "datetime");
    assert_eq!(wd["model_id"][0].as_u64(), Some(model_id(v17.addr, "pos.order")));
    let fg = ok(v17.addr, "ir.actions.server", "fields_get", json!([]), json!({"attributes": ["type", "selection"]}));
    assert!(fg["state"]["selection"].as_array().unwrap().iter().any(|s| s[0] == "webhook"), "{fg}");
}

#[test]
fn the_benchmark_rule_from_the_flag_and_the_control_endpoint() {
    let rx = receiver(None, true);
    let s = start(Config { webhook_url: Some(rx.url("/bench")), ..cfg(18) });
    assert_eq!(control_get(s.addr, "/sim/webhooks")["rules"], 1);
    let r = control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 2}));
    let got = rx.got();
    assert_eq!(got.len(), 2, "{got:?}");
    let wd = r["write_date"].as_str().unwrap()[..19].to_string();
    for g in &got {
        let id = g.body["_id"].as_u64().unwrap();
        assert_eq!(
            g.body,
            json!({"_action": "odoo_sync bench(#0)", "_id": id, "_model": "pos.order", "id": id, "write_date": wd})
        );
        assert_eq!(g.path, "/bench");
    }
    // Only partners now, deletions included (the record as it was).
    let rx2 = receiver(None, true);
    let st = control(s.addr, "/sim/webhooks", json!({"url": rx2.url("/p"), "models": ["res.partner"]}));
    assert_eq!(st["rules"], 1);
    control(s.addr, "/sim/mutate", json!({"model": "pos.order", "count": 2}));
    assert_eq!(rx2.got().len(), 0);
    let r = control(s.addr, "/sim/mutate", json!({"model": "res.partner", "action": "delete", "count": 1}));
    let got = rx2.got();
    assert_eq!(got.len(), 1);
    assert_eq!(json!([got[0].body["_id"]]), r["ids"]);
    assert!(got[0].body["write_date"].is_string());
    let partner = ids(&sr(s.addr, "res.partner", json!([]), json!({"fields": ["id"], "limit": 1})))[0];
    ok(s.addr, "res.partner", "write", json!([[partner], {"city": "Davao"}]), json!({}));
    assert_eq!(rx2.got().len(), 2, "API writes fire it too");
    // Bad requests, then off.
    assert_eq!(post_json(s.addr, "/sim/webhooks", &json!({"url": "https://x/y"})).status, 400);
    assert_eq!(post_json(s.addr, "/sim/webhooks", &json!({"url": rx2.url("/p"), "models": ["nope"]})).status, 400);
    let r = http(s.addr, "DELETE", "/sim/webhooks", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["rules"], 0);
    control(s.addr, "/sim/mutate", json!({"model": "res.partner", "count": 2}));
    assert_eq!(rx2.got().len(), 2);
    control(s.addr, "/sim/webhooks", json!({"url": rx.url("/again")}));
    control(s.addr, "/sim/webhooks", json!({"url": null}));
    assert_eq!(control_get(s.addr, "/sim/webhooks")["rules"], 0);
    let st = control_get(s.addr, "/sim/webhooks");
    assert_eq!((st["sent"].as_u64(), st["failed"].as_u64()), (Some(4), Some(0)), "{st}");
    assert!(odoo_sim::Config::parse(["--webhook-url".to_string(), "ftp://x".to_string()]).is_err());
}
