//! What a run needs to know, resolved by its host before the run starts: the extension reads
//! its `odoo_sync.*` settings (and their environment fallbacks), the runner its environment and
//! flags. The engine only reads this struct.

use odoo_client::Secret;

/// Everything a run needs to know, resolved once at its start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: Option<String>,
    pub db: Option<String>,
    pub username: Option<String>,
    pub transport: String,
    pub ca_file: Option<String>,
    pub checkpoint_key: String,
    pub batch_size: i32,
    pub http_timeout: i32,
    pub max_retries: i32,
    pub lookback: i64,
    pub safety_lag: i64,
    pub max_response_bytes: u64,
    pub company_ids: Vec<i64>,
    pub prefetch: bool,
    /// Parallel HTTP streams of a full or first window (1: none).
    pub fetch_streams: usize,
    /// A reconciliation that repairs more records than this alerts.
    pub drift_alert_threshold: i64,
    /// Where failure, recovery and drift alerts go (a Slack-compatible webhook); None: nowhere.
    pub alert_webhook_url: Option<String>,
}

/// The Odoo password or API key, from wherever the host keeps it.
pub struct Credentials {
    pub secret: Secret,
    pub is_api_key: bool,
}

/// Why a base URL is not usable, or Ok. Shared by the extension's setting check and the runner.
pub fn validate_base_url(url: &str) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err(format!("\"{url}\" is not an http:// or https:// URL."));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("\"{url}\" has no host."));
    }
    if host.contains('@') {
        return Err("Credentials in the URL are not allowed; use scout.odoo_set_secret().".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("The URL contains white space or control characters.".into());
    }
    Ok(())
}
