//! The simulator: configuration, schema, data, clock, faults and the request router.

use crate::clock::Clock;
use crate::config::Config;
use crate::faults::{Faults, Stats};
use crate::generator;
use crate::hooks::{Bench, Hooks};
use crate::rng::Rng;
use crate::schema::{self, Features, Schema};
use crate::store::Store;
use crate::writer::Op;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, RwLock};

/// A long transaction: its ops become visible at commit, stamped with the begin time.
pub struct Tx {
    pub ts: i64,
    pub ops: Vec<Op>,
    pub ids: Vec<(usize, u32)>,
}

#[derive(Default)]
pub struct Txs {
    pub next: u64,
    pub open: BTreeMap<u64, Tx>,
}

pub struct Sim {
    pub cfg: Config,
    pub schema: Schema,
    pub store: RwLock<Store>,
    pub clock: Clock,
    pub faults: Faults,
    pub stats: Stats,
    pub txs: Mutex<Txs>,
    /// Draws for control mutations without an explicit seed.
    pub rng: Mutex<Rng>,
    /// Odoo's workers: how many API calls are served at once (`--workers`).
    pub workers: crate::serving::Workers,
    /// Outgoing webhooks (hooks.rs, webhook.rs): the benchmark rule, counters, the writers' gate.
    pub webhooks: Hooks,
}

impl Sim {
    pub fn new(cfg: Config) -> Result<Sim, String> {
        let schema = schema::build(Features {
            brand: cfg.with_brand,
            region_code: cfg.with_region_code,
            version: cfg.version,
            base_automation: cfg.base_automation && cfg.version >= 17,
        });
        let store = generator::generate(&cfg, &schema);
        let faults = Faults::new(cfg.seed);
        if let Some(spec) = &cfg.faults {
            let v: Value = serde_json::from_str(spec).map_err(|e| format!("--faults: {e}"))?;
            faults.set(crate::faults::parse(&v).map_err(|e| format!("--faults: {e}"))?);
        }
        let bench = cfg.webhook_url.clone().map(|url| Bench { url, models: None });
        Ok(Sim {
            webhooks: Hooks::new(bench),
            workers: crate::serving::Workers::new(cfg.workers),
            clock: Clock::new(cfg.clock),
            rng: Mutex::new(Rng::new(cfg.seed ^ 0x4D55_5441)),
            cfg,
            schema,
            store: RwLock::new(store),
            faults,
            stats: Stats::default(),
            txs: Mutex::new(Txs::default()),
        })
    }

    pub fn v19(&self) -> bool {
        self.cfg.version >= 19
    }

    /// JSON-RPC `error.code`: 0 on Odoo 19, 200 before.
    pub fn rpc_code(&self) -> i64 {
        if self.v19() {
            0
        } else {
            200
        }
    }

    pub(crate) fn version_result(&self) -> Value {
        let v = self.cfg.version;
        serde_json::json!({"version": format!("{v}.0"), "version_info": [v, 0, 0, "final", 0, ""]})
    }
}
