//! Fault injection rules: which requests they match, how often they fire, and what they do.
//!
//! Rules are checked in order for every API request (never for `/sim/...`). A `latency` rule
//! that fires delays the request and lets later rules apply too; the first other rule that
//! fires decides the response. `skip` lets the first n matching requests through, `times`
//! caps how often a rule fires, and `probability` draws from a PRNG seeded from `--seed`.

use crate::rng::Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Latency {
        ms: u64,
    },
    HttpStatus {
        status: u16,
        retry_after: Option<String>,
    },
    Reset,
    TruncatedJson,
    TruncatedJsonFramed,
    InvalidJson,
    OdooFault {
        name: String,
        message: String,
        code: Option<i64>,
        status: Option<u16>,
    },
    AccessDenied,
    SessionExpired,
    Drip {
        bytes_per_sec: f64,
    },
    Oversize {
        bytes: usize,
    },
    ApiKeyExpired,
    /// The answer's list of ids (a `search`) comes back reversed, or cut to its first `keep`
    /// ids: a listing a proxy or a broken module mangled, which must never be believed.
    TamperIds {
        reverse: bool,
        keep: Option<usize>,
    },
}

impl Kind {
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Latency { .. } => "latency",
            Kind::HttpStatus { .. } => "http_status",
            Kind::Reset => "reset",
            Kind::TruncatedJson => "truncated_json",
            Kind::TruncatedJsonFramed => "truncated_json_framed",
            Kind::InvalidJson => "invalid_json",
            Kind::OdooFault { .. } => "odoo_fault",
            Kind::AccessDenied => "access_denied",
            Kind::SessionExpired => "session_expired",
            Kind::Drip { .. } => "drip",
            Kind::Oversize { .. } => "oversize",
            Kind::ApiKeyExpired => "api_key_expired",
            Kind::TamperIds { .. } => "tamper_ids",
        }
    }
}

/// What a request is, for matching.
#[derive(Clone, Debug, Default)]
pub struct ReqInfo {
    pub path: String,
    pub service: Option<String>,
    pub method: Option<String>,
    pub model: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Match {
    path: Option<String>,
    service: Option<String>,
    method: Option<String>,
    model: Option<String>,
}

impl Match {
    fn hits(&self, r: &ReqInfo) -> bool {
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| got.as_deref() == Some(w.as_str()))
        };
        // A path matches itself and everything below it ("/json/2" covers every JSON-2 call).
        let path_ok = self.path.as_ref().is_none_or(|p| {
            let p = p.trim_end_matches('/');
            r.path == p || r.path.starts_with(&format!("{p}/")) || p.is_empty()
        });
        path_ok && eq(&self.service, &r.service) && eq(&self.method, &r.method) && eq(&self.model, &r.model)
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub kind: Kind,
    pub m: Match,
    pub skip: u64,
    pub times: Option<u64>,
    pub probability: f64,
    pub matched: u64,
    pub fired: u64,
    pub spec: Value,
}

struct State {
    rules: Vec<Rule>,
    rng: Rng,
    fired_by_kind: BTreeMap<String, u64>,
    fired_total: u64,
}

pub struct Faults {
    state: Mutex<State>,
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(|s| s.to_string())
}

/// Parses `{"faults": [...]}` or a bare array of fault objects.
pub fn parse(v: &Value) -> Result<Vec<Rule>, String> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("faults") {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => return Ok(Vec::new()),
            _ => return Err("\"faults\" must be a list".into()),
        },
        _ => return Err("expected {\"faults\": [...]}".into()),
    };
    list.iter().enumerate().map(|(i, f)| parse_one(f).map_err(|e| format!("fault #{i}: {e}"))).collect()
}

fn parse_one(f: &Value) -> Result<Rule, String> {
    let kind_s = text(f, "kind").ok_or("missing \"kind\"")?;
    let kind = match kind_s.as_str() {
        "latency" => Kind::Latency { ms: num(f, "ms").ok_or("latency needs \"ms\"")? as u64 },
        "http_status" => {
            let status = num(f, "status").unwrap_or(503.0) as u16;
            if !(100..=599).contains(&status) {
                return Err(format!("bad status {status}"));
            }
            let retry_after = f.get("retry_after").and_then(|v| match v {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(s.clone()),
                _ => None,
            });
            Kind::HttpStatus { status, retry_after }
        }
        "reset" => Kind::Reset,
        "truncated_json" => Kind::TruncatedJson,
        "truncated_json_framed" => Kind::TruncatedJsonFramed,
        "invalid_json" => Kind::InvalidJson,
        "odoo_fault" => Kind::OdooFault {
            name: text(f, "name").unwrap_or_else(|| "odoo.exceptions.UserError".into()),
            message: text(f, "message").unwrap_or_else(|| "Simulated fault".into()),
            code: f.get("code").and_then(|c| c.as_i64()),
            status: num(f, "status").map(|s| s as u16),
        },
        "access_denied" => Kind::AccessDenied,
        "session_expired" => Kind::SessionExpired,
        "drip" => Kind::Drip { bytes_per_sec: num(f, "bytes_per_sec").unwrap_or(10.0).max(0.01) },
        "oversize" => Kind::Oversize { bytes: num(f, "bytes").ok_or("oversize needs \"bytes\"")? as usize },
        "api_key_expired" => Kind::ApiKeyExpired,
        "tamper_ids" => Kind::TamperIds {
            reverse: f.get("reverse").and_then(|v| v.as_bool()).unwrap_or(false),
            keep: num(f, "keep").map(|k| k as usize),
        },
        other => return Err(format!("unknown kind {other:?}")),
    };
    let m = f.get("match").cloned().unwrap_or(Value::Null);
    let probability = num(f, "probability").unwrap_or(1.0);
    if !(0.0..=1.0).contains(&probability) {
        return Err("probability must be within 0..1".into());
    }
    Ok(Rule {
        kind,
        m: Match {
            path: text(&m, "path"),
            service: text(&m, "service"),
            method: text(&m, "method"),
            model: text(&m, "model"),
        },
        skip: num(f, "skip").unwrap_or(0.0) as u64,
        times: num(f, "times").map(|t| t as u64),
        probability,
        matched: 0,
        fired: 0,
        spec: f.clone(),
    })
}

impl Faults {
    pub fn new(seed: u64) -> Faults {
        Faults {
            state: Mutex::new(State {
                rules: Vec::new(),
                rng: Rng::new(seed ^ 0xFA17),
                fired_by_kind: BTreeMap::new(),
                fired_total: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, rules: Vec<Rule>) {
        self.lock().rules = rules;
    }

    /// The faults that fire for this request: latencies first (all of them), then at most one
    /// other kind.
    pub fn check(&self, r: &ReqInfo) -> (u64, Option<Kind>) {
        let mut st = self.lock();
        let st = &mut *st;
        let mut delay = 0;
        let mut out = None;
        for rule in st.rules.iter_mut() {
            if out.is_some() && !matches!(rule.kind, Kind::Latency { .. }) {
                continue;
            }
            if !rule.m.hits(r) {
                continue;
            }
            rule.matched += 1;
            if rule.matched <= rule.skip || rule.times.is_some_and(|t| rule.fired >= t) {
                continue;
            }
            if rule.probability < 1.0 && st.rng.unit() >= rule.probability {
                continue;
            }
            rule.fired += 1;
            st.fired_total += 1;
            *st.fired_by_kind.entry(rule.kind.label().to_string()).or_default() += 1;
            match &rule.kind {
                Kind::Latency { ms } => delay += ms,
                k => out = Some(k.clone()),
            }
        }
        (delay, out)
    }

    pub fn stats(&self) -> Value {
        let st = self.lock();
        serde_json::json!({
            "fired": st.fired_total,
            "by_kind": st.fired_by_kind,
            "rules": st.rules.iter().map(|r| serde_json::json!({"spec": r.spec, "matched": r.matched, "fired": r.fired})).collect::<Vec<_>>(),
        })
    }

    pub fn reset_counters(&self) {
        let mut st = self.lock();
        st.fired_by_kind.clear();
        st.fired_total = 0;
    }
}

/// Request counters for `/sim/stats`.
#[derive(Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

#[derive(Default)]
struct StatsInner {
    total: u64,
    by_endpoint: BTreeMap<String, u64>,
    by_call: BTreeMap<String, u64>,
}

impl Stats {
    pub fn count(&self, endpoint: &str, call: Option<String>) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.total += 1;
        *s.by_endpoint.entry(endpoint.to_string()).or_default() += 1;
        if let Some(c) = call {
            *s.by_call.entry(c).or_default() += 1;
        }
    }
    pub fn json(&self) -> Value {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({"total": s.total, "by_endpoint": s.by_endpoint, "by_call": s.by_call})
    }
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = StatsInner::default();
    }
}
