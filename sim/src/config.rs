//! Command-line configuration.

use crate::clock::{parse_dt, MICROS};

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub db: String,
    pub user: String,
    pub password: String,
    pub api_key: Option<String>,
    pub seed: u64,
    pub orders: usize,
    /// Odoo major version profile: 19 (default), 18, 17 or 16.
    pub version: u32,
    pub with_brand: bool,
    pub with_region_code: bool,
    /// End of the generated history (exclusive), microseconds; fixed so data ignores the wall clock.
    pub end_date: i64,
    pub days: u32,
    /// Simulator clock start (microseconds); None = the real current time.
    pub clock: Option<i64>,
    /// Fault rules at start, same JSON as `POST /sim/faults`.
    pub faults: Option<String>,
    /// How long API calls take (serving.rs): none (as fast as possible) or real (like Odoo 19).
    pub serve_cost: crate::serving::ServeCost,
    /// At most this many API calls served at once (Odoo's workers); None: no limit.
    pub workers: Option<usize>,
    /// Odoo 17+ with `base_automation` installed (false: `--no-base-automation`).
    pub base_automation: bool,
    /// The benchmark webhook rule at start (`--webhook-url`, same as `POST /sim/webhooks`).
    pub webhook_url: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8069".into(),
            db: "odoo".into(),
            user: "admin".into(),
            password: "admin".into(),
            api_key: None,
            seed: 42,
            orders: 1000,
            version: 19,
            with_brand: false,
            with_region_code: false,
            end_date: parse_dt("2026-11-01").unwrap_or(0),
            days: 90,
            clock: None,
            faults: None,
            serve_cost: crate::serving::ServeCost::None,
            workers: None,
            base_automation: true,
            webhook_url: None,
        }
    }
}

pub const USAGE: &str = "usage: odoo-sim [--listen ADDR] [--db NAME] [--user LOGIN] [--password PW] [--api-key KEY]
                [--seed N] [--orders N] [--version 19|18|17|16] [--with-brand] [--with-region-code]
                [--end-date YYYY-MM-DD] [--days N] [--clock \"YYYY-MM-DD HH:MM:SS\"] [--faults JSON]
                [--serve-cost none|real] [--workers N] [--no-base-automation] [--webhook-url URL]";

impl Config {
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut c = Config::default();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (a.clone(), None),
            };
            let mut val = |name: &str| -> Result<String, String> {
                inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--listen" => c.listen = val("--listen")?,
                "--db" => c.db = val("--db")?,
                "--user" => c.user = val("--user")?,
                "--password" => c.password = val("--password")?,
                "--api-key" => c.api_key = Some(val("--api-key")?),
                "--seed" => c.seed = val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
                "--orders" => c.orders = val("--orders")?.parse().map_err(|e| format!("--orders: {e}"))?,
                "--version" => {
                    let v = val("--version")?;
                    let major: u32 =
                        v.split('.').next().unwrap_or("").parse().map_err(|e| format!("--version: {e}"))?;
                    if !(16..=19).contains(&major) {
                        return Err(format!("--version: {major} is not one of 16, 17, 18, 19"));
                    }
                    c.version = major;
                }
                "--with-brand" => c.with_brand = true,
                "--with-region-code" => c.with_region_code = true,
                "--end-date" => {
                    let v = val("--end-date")?;
                    c.end_date = parse_dt(&v).ok_or_else(|| format!("--end-date: bad date {v:?}"))?;
                }
                "--days" => {
                    c.days = val("--days")?.parse().map_err(|e| format!("--days: {e}"))?;
                    if c.days == 0 {
                        return Err("--days must be at least 1".into());
                    }
                }
                "--clock" => {
                    let v = val("--clock")?;
                    c.clock = Some(parse_dt(&v).ok_or_else(|| format!("--clock: bad time {v:?}"))?);
                }
                "--faults" => c.faults = Some(val("--faults")?),
                "--serve-cost" => c.serve_cost = crate::serving::ServeCost::parse(&val("--serve-cost")?)?,
                "--workers" => {
                    let n: usize = val("--workers")?.parse().map_err(|e| format!("--workers: {e}"))?;
                    if n == 0 {
                        return Err("--workers must be at least 1".into());
                    }
                    c.workers = Some(n);
                }
                "--no-base-automation" => c.base_automation = false,
                "--webhook-url" => {
                    let u = val("--webhook-url")?;
                    crate::http_client::parse_url(&u).map_err(|e| format!("--webhook-url: {e}"))?;
                    c.webhook_url = Some(u);
                }
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(c)
    }

    pub fn history_start(&self) -> i64 {
        self.end_date - self.days as i64 * 86_400 * MICROS
    }
}
