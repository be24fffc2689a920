//! Starts the Odoo simulator (`odoo-sim`) on a free loopback port and talks to it over plain
//! JSON-RPC (its own tiny client, independent of the extension's), plus its /sim control API.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

pub struct Sim {
    child: Child,
    pub url: String,
    pub db: String,
    pub user: String,
    pub password: String,
    /// Set when the simulator accepts this API key (JSON-2 on Odoo 19); Db::configure then
    /// stores the key instead of the password.
    pub api_key: Option<String>,
    pub uid: i64,
    agent: ureq::Agent,
}

/// The Odoo every test runs against unless it names a version itself: ODOO_SYNC_TEST_ODOO=16,
/// 17, 18, 19 (the default) or 19-json2 (an API key, so the sync uses the JSON-2 transport).
/// scripts/test.sh runs the core suite once per profile.
fn profile_args(args: &[&str]) -> (Vec<String>, Option<String>) {
    let profile = std::env::var("ODOO_SYNC_TEST_ODOO").unwrap_or_default();
    let mut extra = Vec::new();
    let (version, json2) = match profile.as_str() {
        "" => (None, false),
        "19-json2" => (Some("19"), true),
        v @ ("16" | "17" | "18" | "19") => (Some(v), false),
        other => panic!("ODOO_SYNC_TEST_ODOO={other}: use 16, 17, 18, 19 or 19-json2"),
    };
    if let Some(v) = version.filter(|_| !args.contains(&"--version")) {
        extra.extend(["--version".to_string(), v.to_string()]);
    }
    let mut key = None;
    if json2 && !args.contains(&"--api-key") && !args.contains(&"--version") {
        let k = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9".to_string();
        extra.extend(["--api-key".to_string(), k.clone()]);
        key = Some(k);
    }
    (extra, key)
}

fn sim_binary() -> PathBuf {
    if let Ok(p) = std::env::var("ODOO_SIM_BIN") {
        return PathBuf::from(p);
    }
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap();
    let root = super::workspace_root();
    let release = root.join("target/release/odoo-sim");
    if !release.exists() {
        let status = Command::new("cargo")
            .args(["build", "--release", "-q", "-p", "odoo-sim"])
            .current_dir(&root)
            .status()
            .expect("cargo build odoo-sim");
        assert!(status.success(), "building odoo-sim failed");
    }
    release
}

impl Sim {
    /// Starts a simulator with `--db odoo --user admin --password admin` plus `args`.
    pub fn start(args: &[&str]) -> Sim {
        let mut cmd = Command::new(sim_binary());
        cmd.args(["--listen", "127.0.0.1:0", "--db", "odoo", "--user", "admin", "--password", "admin"]);
        cmd.args(args);
        let (profile, api_key) = profile_args(args);
        cmd.args(&profile);
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start odoo-sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("odoo-sim printed {line:?}")).to_owned();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut sim = Sim {
            child,
            url,
            db: "odoo".into(),
            user: "admin".into(),
            password: "admin".into(),
            api_key,
            uid: 0,
            agent,
        };
        let auth = sim.rpc("common", "authenticate", json!([sim.db, sim.user, sim.password, {}]));
        sim.uid = auth["result"].as_i64().unwrap_or_else(|| panic!("authenticate: {auth}"));
        sim
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let mut resp = self
            .agent
            .post(&format!("{}{path}", self.url))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap())
    }

    /// A raw JSON-RPC call; returns the whole response envelope.
    pub fn rpc(&self, service: &str, method: &str, args: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}, "id": 7});
        let (status, text) = self.post("/jsonrpc", &body);
        assert_eq!(status, 200, "jsonrpc HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `execute_kw` as admin; panics on an Odoo error. Returns the raw result text.
    pub fn execute_raw(&self, model: &str, method: &str, args: Value, kwargs: Value) -> String {
        let body = json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "object", "method": "execute_kw",
            "args": [self.db, self.uid, self.password, model, method, args, kwargs]}, "id": 8});
        let (status, text) = self.post("/jsonrpc", &body);
        assert_eq!(status, 200, "execute_kw HTTP {status}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("error").is_none(), "{model}.{method}: {text}");
        v.get("result").map(|r| r.to_string()).unwrap_or_default()
    }

    pub fn execute(&self, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
        serde_json::from_str(&self.execute_raw(model, method, args, kwargs)).unwrap()
    }

    /// All records of a model (archived included), in id order, as raw JSON array texts of at
    /// most `page` records each: exactly what Odoo sent, numbers untouched.
    pub fn search_read_pages(&self, model: &str, fields: &[String], page: usize) -> Vec<String> {
        let mut last = 0i64;
        let mut pages = Vec::new();
        loop {
            let raw = self.execute_raw(
                model,
                "search_read",
                json!([[["id", ">", last]]]),
                json!({"fields": fields, "order": "id asc", "limit": page, "context": {"active_test": false}}),
            );
            let ids: Vec<Value> = serde_json::from_str(&raw).unwrap();
            if ids.is_empty() {
                break;
            }
            last = ids.last().unwrap()["id"].as_i64().unwrap();
            let n = ids.len();
            pages.push(raw);
            if n < page {
                break;
            }
        }
        pages
    }

    pub fn count(&self, model: &str) -> i64 {
        self.execute(model, "search_count", json!([[]]), json!({"context": {"active_test": false}})).as_i64().unwrap()
    }

    /// Whether this Odoo has the model (product.brand only with `--with-brand`).
    pub fn has_model(&self, model: &str) -> bool {
        self.execute("ir.model", "search_count", json!([[["model", "=", model]]]), json!({})).as_i64().unwrap() > 0
    }

    pub fn field_names(&self, model: &str) -> Vec<String> {
        let v = self.execute(model, "fields_get", json!([]), json!({"attributes": ["type"]}));
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// The simulator's request counters (`GET /sim/stats`): `requests.by_call["model/method"]`.
    pub fn stats(&self) -> Value {
        let mut resp =
            self.agent.get(&format!("{}/sim/stats", self.url)).call().unwrap_or_else(|e| panic!("GET /sim/stats: {e}"));
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// A call to the simulator's control API (`/sim/...`).
    pub fn control(&self, path: &str, body: Value) -> Value {
        let (status, text) = self.post(path, &body);
        assert!(status == 200, "{path}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Odoo's clock now, as the simulator's `YYYY-MM-DD HH:MM:SS.ffffff` (UTC).
    pub fn clock(&self) -> String {
        let mut resp = self.agent.get(&format!("{}/sim/clock", self.url)).call().expect("GET /sim/clock");
        let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        v["now"].as_str().expect("now").to_owned()
    }

    pub fn advance_clock(&self, seconds: f64) {
        self.control("/sim/clock/advance", json!({"seconds": seconds}));
    }

    pub fn mutate(&self, model: &str, action: &str, count: usize) -> Value {
        self.control("/sim/mutate", json!({"model": model, "action": action, "count": count}))
    }

    pub fn set_faults(&self, faults: Value) {
        self.control("/sim/faults", json!({ "faults": faults }));
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
