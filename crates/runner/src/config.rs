//! The runner's configuration: the original design's environment (DATABASE_URL, ODOO_*,
//! SYNC_*) and the extension's settings under their own names, as `ODOO_SYNC_<NAME>` or
//! `--set <name>=<value>` (a flag wins over the environment). Secrets come from the
//! environment, a file (`…_FILE`) or Supabase Vault (`…_VAULT`: the secret's name), never from
//! argv. Every value is checked here, before anything connects: a wrong setting is exit 2.

use crate::error::{RunnerError, RunnerResult};
use engine::{remember_secret, Credentials, EmailSettings, Settings};
use odoo_client::Secret;
use std::collections::BTreeMap;

/// The defaults, as the extension's settings have them (src/settings.rs).
const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
const DEFAULT_GOLD_SCHEDULE: &str = "0 * * * *";
const DEFAULT_RECONCILE_SCHEDULE: &str = "30 3 * * *";
const DEFAULT_CHECKPOINT_KEY: &str = "odoo_sync_checkpoint";

/// Settings given as `--set name=value`, by the extension's name (without `odoo_sync.`).
pub type Overrides = BTreeMap<String, String>;

/// Where a secret comes from, resolved when the database is open (Vault needs it).
#[derive(Clone, Debug)]
pub enum SecretSource {
    Value(Secret),
    /// The name of a Supabase Vault secret (vault.decrypted_secrets).
    Vault(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub settings: Settings,
    /// The Odoo password or API key (an API key wins when both are set, as in the extension).
    pub odoo_secret: Option<(SecretSource, bool)>,
    pub smtp_password: Option<SecretSource>,
    pub sync_schedule: String,
    pub gold_schedule: String,
    pub reconcile_schedule: Option<String>,
    /// The time zone of business days (gold) when Odoo gives a store none.
    pub timezone: Option<String>,
    pub webhook_listen: Option<String>,
    pub webhook_public_url: Option<String>,
    /// Pages per transaction of a step (the extension's worker_step_pages); each step also
    /// ends after `step_seconds`.
    pub step_pages: Option<u32>,
    pub step_seconds: u64,
}

/// Reads one setting: `--set name=value`, else ODOO_SYNC_<NAME>, else `fallback_env`.
struct Source<'a> {
    overrides: &'a Overrides,
}

impl Source<'_> {
    /// The value as given, trimmed, even when empty (None: not given at all).
    fn raw(&self, name: &str, fallback_env: Option<&str>) -> Option<String> {
        let from_env = |n: &str| std::env::var(n).ok();
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| from_env(&format!("ODOO_SYNC_{}", name.to_ascii_uppercase())))
            .or_else(|| fallback_env.and_then(from_env))
            .map(|v| v.trim().to_owned())
    }

    /// The value, an empty one counting as not given.
    fn get(&self, name: &str, fallback_env: Option<&str>) -> Option<String> {
        self.raw(name, fallback_env).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        name: &str,
        fallback_env: Option<&str>,
        default: T,
        range: (T, T),
    ) -> RunnerResult<T> {
        let Some(text) = self.get(name, fallback_env) else { return Ok(default) };
        match text.parse::<T>() {
            Ok(v) if v >= range.0 && v <= range.1 => Ok(v),
            _ => Err(invalid(name, &format!("\"{text}\" is not a number from {} to {}", range.0, range.1))),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> RunnerResult<bool> {
        match self.get(name, None).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["on", "true", "yes", "1"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["off", "false", "no", "0"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(invalid(name, &format!("\"{v}\" is not a boolean (on/off, true/false)"))),
        }
    }

    fn schedule(&self, name: &str, fallback_env: Option<&str>, default: &str) -> RunnerResult<String> {
        let text = self.get(name, fallback_env).unwrap_or_else(|| default.to_owned());
        schedule::Schedule::parse(&text).map_err(|e| invalid(name, &e.to_string()))?;
        Ok(text)
    }
}

fn invalid(name: &str, why: &str) -> RunnerError {
    RunnerError::usage(
        format!("odoo-sync: invalid value for {name}: {why}"),
        format!("Set ODOO_SYNC_{} (or --set {name}=...) as docs/RUNNER.md describes.", name.to_ascii_uppercase()),
    )
}

/// A secret from `NAME`, `NAME_FILE` (a file's first line) or `NAME_VAULT` (a Vault secret).
fn secret(name: &str) -> RunnerResult<Option<SecretSource>> {
    let var = |suffix: &str| std::env::var(format!("{name}{suffix}")).ok().filter(|v| !v.trim().is_empty());
    let found = match (var(""), var("_FILE"), var("_VAULT")) {
        (Some(v), None, None) => Some(SecretSource::Value(Secret(v))),
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                RunnerError::usage(
                    format!("odoo-sync: cannot read {name}_FILE ({path}): {e}"),
                    "Point it at a file readable by the runner's user, holding the secret on its first line.",
                )
            })?;
            let line = text.lines().next().unwrap_or("").trim().to_owned();
            if line.is_empty() {
                return Err(RunnerError::usage(
                    format!("odoo-sync: {name}_FILE ({path}) is empty"),
                    "Put the secret on the file's first line.",
                ));
            }
            Some(SecretSource::Value(Secret(line)))
        }
        (None, None, Some(vault_name)) => Some(SecretSource::Vault(vault_name)),
        (None, None, None) => None,
        _ => {
            return Err(RunnerError::usage(
                format!("odoo-sync: {name} is given more than one way"),
                format!("Set one of {name}, {name}_FILE or {name}_VAULT."),
            ))
        }
    };
    if let Some(SecretSource::Value(s)) = &found {
        remember_secret(&s.0);
    }
    Ok(found)
}

impl Config {
    /// The configuration from the environment and the `--set` flags.
    pub fn load(overrides: &Overrides) -> RunnerResult<Config> {
        const KNOWN: &[&str] = &[
            "base_url",
            "db",
            "username",
            "transport",
            "ca_file",
            "checkpoint_key",
            "batch_size",
            "http_timeout",
            "max_retries",
            "lookback",
            "safety_lag",
            "max_response_mb",
            "company_ids",
            "prefetch",
            "fetch_streams",
            "schedule",
            "gold_schedule",
            "reconcile_schedule",
            "webhook_listen",
            "webhook_public_url",
            "drift_alert_threshold",
            "alert_webhook_url",
            "alert_email_to",
            "alert_email_from",
            "alert_smtp_server",
            "alert_smtp_tls",
            "alert_smtp_user",
            "timezone",
            "worker_step_pages",
            "step_seconds",
        ];
        if let Some(unknown) = overrides.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(RunnerError::usage(
                format!("odoo-sync: unknown setting \"{unknown}\""),
                format!("Known settings: {}.", KNOWN.join(", ")),
            ));
        }
        let src = Source { overrides };
        let database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            RunnerError::usage(
                "odoo-sync: DATABASE_URL is not set",
                "Set DATABASE_URL to a libpq connection URI, e.g. \
                 postgresql://postgres:PASSWORD@db.PROJECT.supabase.co:5432/postgres?sslmode=require",
            )
        })?;
        let base_url = src.get("base_url", Some("ODOO_BASE_URL"));
        if let Some(url) = &base_url {
            engine::settings::validate_base_url(url).map_err(|e| invalid("base_url", &e))?;
        }
        let company_ids = match src.get("company_ids", None) {
            None => Vec::new(),
            Some(text) => text
                .split(',')
                .map(|p| p.trim().parse::<i64>().ok().filter(|v| *v > 0))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| invalid("company_ids", &format!("\"{text}\" is not a comma-separated list of ids")))?,
        };
        let transport = src.get("transport", None).unwrap_or_else(|| "auto".into());
        if !["auto", "json2", "jsonrpc"].contains(&transport.as_str()) {
            return Err(invalid("transport", &format!("\"{transport}\" is not auto, json2 or jsonrpc")));
        }
        let ca_file = src.get("ca_file", None);
        let smtp_password = secret("ODOO_SYNC_SMTP_PASSWORD")?;
        let settings = Settings {
            base_url,
            db: src.get("db", Some("ODOO_DB")),
            username: src.get("username", Some("ODOO_USERNAME")),
            transport,
            ca_file: ca_file.clone(),
            checkpoint_key: src
                .get("checkpoint_key", Some("SYNC_CHECKPOINT_KEY"))
                .unwrap_or_else(|| DEFAULT_CHECKPOINT_KEY.into()),
            batch_size: src.number("batch_size", Some("SYNC_BATCH_SIZE"), 500, (1, 10_000))?,
            http_timeout: src.number("http_timeout", None, 30, (1, 3600))?,
            max_retries: src.number("max_retries", None, 3, (0, 10))?,
            lookback: src.number("lookback", None, 600, (0, 86_400))?,
            safety_lag: src.number("safety_lag", None, 5, (0, 3600))?,
            max_response_bytes: src.number::<u64>("max_response_mb", None, 256, (1, 4096))? << 20,
            company_ids,
            prefetch: src.boolean("prefetch", true)?,
            fetch_streams: src.number("fetch_streams", None, 4, (1, 16))?,
            drift_alert_threshold: src.number("drift_alert_threshold", None, 0, (0, i64::MAX))?,
            alert_webhook_url: src.get("alert_webhook_url", None),
            alert_email: None,
        };
        let mut config = Config {
            database_url,
            settings,
            odoo_secret: match (secret("ODOO_API_KEY")?, secret("ODOO_PASSWORD")?) {
                (Some(key), _) => Some((key, true)),
                (None, Some(password)) => Some((password, false)),
                (None, None) => None,
            },
            smtp_password,
            sync_schedule: src.schedule("schedule", Some("SYNC_SCHEDULE"), DEFAULT_SCHEDULE)?,
            gold_schedule: src.schedule("gold_schedule", None, DEFAULT_GOLD_SCHEDULE)?,
            reconcile_schedule: match src.raw("reconcile_schedule", None) {
                // Set but empty: no scheduled reconciliation, as in the extension.
                Some(v) if v.is_empty() => None,
                _ => Some(src.schedule("reconcile_schedule", None, DEFAULT_RECONCILE_SCHEDULE)?),
            },
            timezone: src.get("timezone", None),
            webhook_listen: src.get("webhook_listen", None),
            webhook_public_url: src.get("webhook_public_url", None),
            step_pages: match src.get("worker_step_pages", None) {
                None => None,
                Some(_) => Some(src.number("worker_step_pages", None, 1, (1, 100_000))?),
            },
            step_seconds: src.number("step_seconds", None, 2, (1, 3600))?,
        };
        config.email_settings(&src)?;
        Ok(config)
    }

    /// Email alerts, as the extension builds them (engine::EmailSettings::from_parts).
    fn email_settings(&mut self, src: &Source) -> RunnerResult<()> {
        let password = match &self.smtp_password {
            Some(SecretSource::Value(s)) => Some(s.clone()),
            Some(SecretSource::Vault(_)) => {
                return Err(RunnerError::usage(
                    "odoo-sync: the SMTP password cannot come from Vault",
                    "Set ODOO_SYNC_SMTP_PASSWORD or ODOO_SYNC_SMTP_PASSWORD_FILE.",
                ))
            }
            None => None,
        };
        self.settings.alert_email = EmailSettings::from_parts(
            src.get("alert_email_to", None).as_deref(),
            src.get("alert_email_from", None).as_deref(),
            src.get("alert_smtp_server", None).as_deref(),
            src.get("alert_smtp_tls", None).as_deref(),
            src.get("alert_smtp_user", None).as_deref(),
            password,
            self.settings.ca_file.as_deref(),
        )
        .map_err(|e| invalid("alert_email_to", &e))?;
        Ok(())
    }

    /// The Odoo credentials, reading Vault through `vault` when the secret lives there.
    pub fn credentials(
        &self,
        vault: &mut dyn FnMut(&str) -> RunnerResult<Secret>,
    ) -> RunnerResult<Option<Credentials>> {
        let Some((source, is_api_key)) = &self.odoo_secret else { return Ok(None) };
        let secret = match source {
            SecretSource::Value(s) => s.clone(),
            SecretSource::Vault(name) => vault(name)?,
        };
        remember_secret(&secret.0);
        Ok(Some(Credentials { secret, is_api_key: *is_api_key }))
    }
}

/// Parses `name=value` of a `--set` flag.
pub fn parse_override(text: &str) -> RunnerResult<(String, String)> {
    let (name, value) = text.split_once('=').ok_or_else(|| {
        RunnerError::usage(format!("odoo-sync: --set {text}: expected name=value"), "For example --set batch_size=200.")
    })?;
    let name = name.trim().trim_start_matches("odoo_sync.").to_owned();
    Ok((name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_flag_names_the_setting_as_the_extension_does() {
        assert_eq!(parse_override("odoo_sync.batch_size=200").unwrap(), ("batch_size".into(), "200".into()));
        assert_eq!(parse_override("company_ids=1,2").unwrap(), ("company_ids".into(), "1,2".into()));
        assert!(parse_override("batch_size").is_err());
    }
}
