//! The `odoo_sync.*` settings (GUCs), their validation, and how a run's settings are resolved:
//! GUC first, then the reference design's environment variables (ODOO_BASE_URL, ...).
//!
//! Connection settings are PGC_SUSET: a role that could point base_url elsewhere could make the
//! database send the Odoo password to any host. Secrets are never GUCs (see secret.rs).

use engine::EmailSettings;
pub use engine::Settings;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::{c_char, c_void, CStr, CString};

pub static BASE_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static DB: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static USERNAME: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
// Each default is written once: the setting's own, and what an unset (empty) value falls back
// to, read from the same constant.
const DEFAULT_TRANSPORT: &CStr = c"auto";
const DEFAULT_CHECKPOINT_KEY: &CStr = c"odoo_sync_checkpoint";
const DEFAULT_BATCH_SIZE: i32 = 500;
const DEFAULT_WORKER_DATABASE: &CStr = c"postgres";
const DEFAULT_SCHEDULE: &CStr = c"*/15 * * * *";
const DEFAULT_GOLD_SCHEDULE: &CStr = c"0 * * * *";
const DEFAULT_RECONCILE_SCHEDULE: &CStr = c"30 3 * * *";

/// A default as the text the settings compare against.
fn text(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

pub static TRANSPORT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_TRANSPORT));
pub static CA_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static CHECKPOINT_KEY: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(DEFAULT_CHECKPOINT_KEY));
pub static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(DEFAULT_BATCH_SIZE);
pub static HTTP_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(30);
pub static MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static LOOKBACK: GucSetting<i32> = GucSetting::<i32>::new(600);
pub static SAFETY_LAG: GucSetting<i32> = GucSetting::<i32>::new(5);
pub static MAX_RESPONSE_MB: GucSetting<i32> = GucSetting::<i32>::new(256);
pub static PREFETCH: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static FETCH_STREAMS: GucSetting<i32> = GucSetting::<i32>::new(4);

pub static WORKER_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static WORKER_STEP_PAGES: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static WORKER_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(DEFAULT_WORKER_DATABASE));
pub static SCHEDULE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_SCHEDULE));
pub static GOLD_SCHEDULE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_GOLD_SCHEDULE));
pub static RECONCILE_SCHEDULE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(DEFAULT_RECONCILE_SCHEDULE));
pub static WEBHOOK_LISTEN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_PUBLIC_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static DRIFT_ALERT_THRESHOLD: GucSetting<i32> = GucSetting::<i32>::new(0);
pub static ALERT_WEBHOOK_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ALERT_EMAIL_TO: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ALERT_EMAIL_FROM: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ALERT_SMTP_SERVER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static ALERT_SMTP_TLS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"starttls"));
pub static ALERT_SMTP_USER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static COMPANY_IDS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static TIMEZONE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub const MAX_BATCH_SIZE: i32 = 10_000;

pub fn register() {
    // SAFETY: the hooks are #[pg_guard]ed and only read the proposed value.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_webhook_url",
            c"Slack-compatible webhook that gets one alert when a model starts failing and one when it recovers.",
            c"Superuser only, like the other connection settings.",
            &ALERT_WEBHOOK_URL,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_base_url),
            None,
            None,
        );
        // Email alerts, beside the webhook's: the same alerts, sent after their transaction
        // commits. The SMTP password is a secret (scout.odoo_set_secret(smtp_password => ...)),
        // never a setting.
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_email_to",
            c"Comma-separated addresses that get alert emails (failure, recovery, drift); empty: no email.",
            c"Superuser only. Needs odoo_sync.alert_email_from and odoo_sync.alert_smtp_server.",
            &ALERT_EMAIL_TO,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_email_to),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_email_from",
            c"The sender address of alert emails (shown as \"odoo_sync\" <address>).",
            c"Superuser only.",
            &ALERT_EMAIL_FROM,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_email_from),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_smtp_server",
            c"The SMTP server of alert emails, host:port (the port defaults to 587, 465 or 25 by odoo_sync.alert_smtp_tls).",
            c"Superuser only.",
            &ALERT_SMTP_SERVER,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_smtp_server),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_smtp_tls",
            c"starttls (the default, port 587), tls (implicit TLS, port 465) or none (a relay you name, no password).",
            c"The server's certificate is verified against the system's roots and odoo_sync.ca_file.",
            &ALERT_SMTP_TLS,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_smtp_tls),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.alert_smtp_user",
            c"The SMTP user of alert emails (its password: scout.odoo_set_secret(smtp_password => ...)).",
            c"Superuser only.",
            &ALERT_SMTP_USER,
            GucContext::Suset,
            GucFlags::default(),
            None,
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.schedule",
            c"When the background worker syncs every enabled model (cron syntax, UTC; env: SYNC_SCHEDULE).",
            c"Five fields like pg_cron, or six with seconds first. Reloaded on SIGHUP.",
            &SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.gold_refresh_schedule",
            c"When the background worker refreshes the gold materialized views (cron syntax, UTC).",
            c"",
            &GOLD_SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.reconcile_schedule",
            c"When the background worker reconciles every enabled model with Odoo (cron syntax, UTC; empty: never).",
            c"Between sync rounds, one model at a time. Reloaded on SIGHUP.",
            &RECONCILE_SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_optional_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.webhook_listen",
            c"Where the background worker receives Odoo's webhooks (host:port; empty: no listener).",
            c"POST /odoo/webhook/<token>; scout.odoo_webhook_url() gives the URL. Reloaded on SIGHUP.",
            &WEBHOOK_LISTEN,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_listen_address),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.webhook_public_url",
            c"The webhook listener's address as Odoo reaches it (http[s]://host[:port], a proxy in front, say); empty: http://<odoo_sync.webhook_listen>.",
            c"Used by scout.odoo_webhook_url() and scout.odoo_install_webhooks().",
            &WEBHOOK_PUBLIC_URL,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_base_url),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.company_ids",
            c"Sync only these Odoo companies (comma-separated ids) and shared records; empty: all.",
            c"",
            &COMPANY_IDS,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_company_ids),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.timezone",
            c"Time zone of the stores' business days in gold, when Odoo does not say (default UTC).",
            c"",
            &TIMEZONE,
            // Superuser only: gold is shared, and refresh_gold() reads the refreshing session's value.
            GucContext::Suset,
            GucFlags::default(),
            Some(check_timezone),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.base_url",
            c"Root URL of the Odoo server, e.g. https://odoo.example.com (env: ODOO_BASE_URL).",
            c"Superuser only: the Odoo password is sent there.",
            &BASE_URL,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_base_url),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"odoo_sync.transport",
            c"How to call Odoo: auto, jsonrpc or json2.",
            c"auto uses JSON-2 on Odoo 19+ when an API key is set, else /jsonrpc.",
            &TRANSPORT,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_transport),
            None,
            None,
        );
    }
    GucRegistry::define_bool_guc(
        c"odoo_sync.worker_enabled",
        c"Whether the background worker (shared_preload_libraries) syncs on odoo_sync.schedule.",
        c"",
        &WORKER_ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.worker_step_pages",
        c"Pages the background worker loads in one transaction (it also commits after about a second).",
        c"1 (the default) commits every page; more commits less often and makes longer transactions.",
        &WORKER_STEP_PAGES,
        1,
        10_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // Postmaster context is only allowed while preloading (else FATAL, per guc.c).
    // SAFETY: a plain flag of the postmaster's, read on the main thread.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        GucRegistry::define_string_guc(
            c"odoo_sync.database",
            c"The database the background worker connects to (the one with CREATE EXTENSION odoo_sync).",
            c"",
            &WORKER_DATABASE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
    GucRegistry::define_string_guc(
        c"odoo_sync.db",
        c"Odoo database name (env: ODOO_DB).",
        c"",
        &DB,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"odoo_sync.username",
        c"Odoo login of the API user (env: ODOO_USERNAME).",
        c"",
        &USERNAME,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"odoo_sync.ca_file",
        c"Extra CA certificate (PEM file) to trust for https Odoo URLs, for private CAs.",
        c"",
        &CA_FILE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"odoo_sync.checkpoint_key",
        c"Prefix of checkpoint ids in scout.sync_checkpoints (env: SYNC_CHECKPOINT_KEY).",
        c"",
        &CHECKPOINT_KEY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.drift_alert_threshold",
        c"A reconciliation that repairs more records than this sends one alert (odoo_sync.alert_webhook_url).",
        c"0 (the default): any drift alerts.",
        &DRIFT_ALERT_THRESHOLD,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.batch_size",
        c"Records per search_read page, each page committed with its checkpoint (env: SYNC_BATCH_SIZE).",
        c"",
        &BATCH_SIZE,
        1,
        MAX_BATCH_SIZE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.http_timeout",
        c"Seconds one Odoo call may take before it is abandoned (and retried).",
        c"",
        &HTTP_TIMEOUT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.max_retries",
        c"Retries of a failed Odoo call (connect errors, timeouts, 429, 502-504).",
        c"",
        &MAX_RETRIES,
        0,
        20,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.lookback",
        c"Seconds before the high-water mark re-read by every incremental run, for Odoo transactions that commit late.",
        c"",
        &LOOKBACK,
        0,
        7 * 86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.safety_lag",
        c"Seconds behind Odoo's clock at which a run's window ends.",
        c"",
        &SAFETY_LAG,
        0,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.max_response_mb",
        c"Largest Odoo response accepted, in MiB.",
        c"",
        &MAX_RESPONSE_MB,
        1,
        4096,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"odoo_sync.prefetch",
        c"Fetch the next page from Odoo (on a second thread) while the current page is loaded.",
        c"Off: fetch and load one after the other (slower; for comparison and diagnosis).",
        &PREFETCH,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"odoo_sync.fetch_streams",
        c"HTTP streams a full sync or first load fetches with at once (each with its own connection to Odoo).",
        c"The window's ids are listed, cut into pages and fetched in parallel, then loaded in id order. 1: one page after the other. Odoo serves as many at once as it has workers.",
        &FETCH_STREAMS,
        1,
        16,
        GucContext::Userset,
        GucFlags::default(),
    );
    // Every odoo_sync.* name is ours: a misspelt one in postgresql.conf or a SET is reported
    // (a WARNING at load, an ERROR at SET) instead of silently ignored.
    // SAFETY: called from _PG_init on the main thread, after our settings are defined.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"odoo_sync".as_ptr()) };
}

/// The body of every check hook: runs a pure validator on the proposed string value, and on
/// refusal hands PostgreSQL the SQLSTATE and the detail. The one place that touches the hook's
/// raw arguments.
///
/// # Safety
/// Only call from a GUC check hook, with the `newval` PostgreSQL passed to it.
unsafe fn check_string(newval: *mut *mut c_char, validate: fn(&str) -> Result<(), String>) -> bool {
    // SAFETY: PostgreSQL passes a pointer to the proposed value, itself NULL when unset; the
    // string lives for the duration of the hook.
    let value = unsafe {
        if newval.is_null() || (*newval).is_null() {
            ""
        } else {
            CStr::from_ptr(*newval).to_str().unwrap_or("\u{fffd}")
        }
    };
    let Err(detail) = validate(value) else { return true };
    let c = CString::new(detail.replace('\0', " ")).unwrap_or_default();
    // SAFETY: inside a check hook GUC_check_errcode and GUC_check_errdetail_string are the
    // documented way to report why (guc.h); pstrdup copies into the current memory context.
    unsafe {
        pg_sys::GUC_check_errcode(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as i32);
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(c.as_ptr());
    }
    false
}

/// A GUC check hook named `$name` that accepts what `$validate` (a pure `fn(&str) ->
/// Result<(), String>`) accepts.
macro_rules! check_hook {
    ($name:ident, $validate:expr) => {
        #[pg_guard]
        unsafe extern "C-unwind" fn $name(
            newval: *mut *mut c_char,
            _extra: *mut *mut c_void,
            _source: pg_sys::GucSource::Type,
        ) -> bool {
            // SAFETY: PostgreSQL calls this as a check hook, with its own arguments.
            unsafe { check_string(newval, $validate) }
        }
    };
}

check_hook!(check_base_url, |v| if v.is_empty() { Ok(()) } else { engine::settings::validate_base_url(v) });
check_hook!(check_schedule, |v| schedule::Schedule::parse(v).map(|_| ()).map_err(|e| e.0));
check_hook!(check_optional_schedule, |v| if v.is_empty() {
    Ok(())
} else {
    schedule::Schedule::parse(v).map(|_| ()).map_err(|e| e.0)
});
check_hook!(check_listen_address, |v| if v.is_empty() { Ok(()) } else { parse_listen_address(v).map(|_| ()) });
check_hook!(check_company_ids, |v| parse_company_ids(v).map(|_| ()));
check_hook!(check_timezone, |v| if v.is_empty() { Ok(()) } else { known_timezone(v).map(|_| ()) });
// Each email part is checked alone when set, with stand-ins for the others (engine::settings).
const SOME_ADDRESS: Option<&str> = Some("alerts@example.com");
check_hook!(check_email_to, |v| EmailSettings::from_parts(
    Some(v),
    SOME_ADDRESS,
    Some("smtp.example.com"),
    None,
    None,
    None,
    None
)
.map(|_| ()));
check_hook!(check_email_from, |v| if v.is_empty() {
    Ok(())
} else {
    EmailSettings::from_parts(SOME_ADDRESS, Some(v), Some("smtp.example.com"), None, None, None, None).map(|_| ())
});
check_hook!(check_smtp_server, |v| if v.is_empty() {
    Ok(())
} else {
    EmailSettings::from_parts(SOME_ADDRESS, SOME_ADDRESS, Some(v), None, None, None, None).map(|_| ())
});
check_hook!(check_smtp_tls, |v| engine::SmtpTls::parse(v).map(|_| ()));
check_hook!(check_transport, |v| match v {
    "" | "auto" | "jsonrpc" | "json2" => Ok(()),
    other => Err(format!("\"{other}\" is not one of auto, jsonrpc, json2.")),
});

/// "host:port" for the webhook listener: an IP address (v6 in brackets) or a host name, and a
/// port from 1 to 65535.
pub fn parse_listen_address(v: &str) -> Result<(String, u16), String> {
    let bad = || format!("\"{v}\" is not host:port (examples: 0.0.0.0:8071, 127.0.0.1:8071, [::]:8071)");
    let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b)) {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The webhook listener's address, None when off.
pub fn webhook_listen() -> Option<String> {
    guc_string(&WEBHOOK_LISTEN)
}

/// "1, 3" -> [1, 3]; empty -> [].
pub fn parse_company_ids(v: &str) -> Result<Vec<i64>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("\"{x}\" is not a company id; use positive integers separated by commas, e.g. 1,3.")
            })
        })
        .collect()
}

/// The zone if PostgreSQL knows it (pg_tzset loads PostgreSQL's own zone data: the names SET
/// TIME ZONE accepts).
fn known_timezone(tz: &str) -> Result<&str, String> {
    let name = CString::new(tz).map_err(|_| "the time zone contains a NUL character".to_string())?;
    // SAFETY: pg_tzset only reads the NUL-terminated name; it returns NULL for an unknown zone.
    if unsafe { pg_sys::pg_tzset(name.as_ptr()) }.is_null() {
        return Err(format!("\"{tz}\" is not a time zone PostgreSQL knows (see pg_timezone_names), e.g. Asia/Manila."));
    }
    Ok(tz)
}

/// odoo_sync.timezone, or UTC when unset; an error when PostgreSQL does not know the zone (it
/// is validated when set; checked again because a wrong zone would silently move revenue
/// between days: a wrong figure is worse than an error).
pub fn business_timezone() -> Result<String, String> {
    match guc_string(&TIMEZONE).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        None => Ok("UTC".into()),
        Some(tz) => known_timezone(&tz).map(str::to_owned),
    }
}

pub fn alert_webhook_url() -> Option<String> {
    guc_string(&ALERT_WEBHOOK_URL)
}

pub fn worker_database() -> String {
    guc_string(&WORKER_DATABASE).unwrap_or_else(|| text(DEFAULT_WORKER_DATABASE))
}

/// The sync schedule: the GUC when changed from its default, else SYNC_SCHEDULE, else default.
pub fn sync_schedule() -> String {
    let guc = guc_string(&SCHEDULE).unwrap_or_else(|| text(DEFAULT_SCHEDULE));
    if guc == text(DEFAULT_SCHEDULE) {
        if let Some(env) = env("SYNC_SCHEDULE").filter(|e| schedule::Schedule::parse(e).is_ok()) {
            return env;
        }
    }
    guc
}

/// The reconciliation schedule; None when empty (disabled).
pub fn reconcile_schedule() -> Option<String> {
    guc_string(&RECONCILE_SCHEDULE)
}

pub fn gold_schedule() -> String {
    guc_string(&GOLD_SCHEDULE).unwrap_or_else(|| text(DEFAULT_GOLD_SCHEDULE))
}

fn guc_string(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get().and_then(|c| c.into_string().ok()).filter(|v| !v.is_empty())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Everything a run needs to know, resolved once at its start from the settings (and their
/// environment fallbacks).
pub fn current() -> Settings {
    let batch_size = match env("SYNC_BATCH_SIZE").and_then(|v| v.parse::<i32>().ok()) {
        // The GUC wins when it was changed from its default; the env var is a fallback.
        Some(v) if BATCH_SIZE.get() == DEFAULT_BATCH_SIZE && (1..=MAX_BATCH_SIZE).contains(&v) => v,
        _ => BATCH_SIZE.get(),
    };
    Settings {
        base_url: guc_string(&BASE_URL).or_else(|| env("ODOO_BASE_URL")),
        db: guc_string(&DB).or_else(|| env("ODOO_DB")),
        username: guc_string(&USERNAME).or_else(|| env("ODOO_USERNAME")),
        transport: guc_string(&TRANSPORT).unwrap_or_else(|| text(DEFAULT_TRANSPORT)),
        ca_file: guc_string(&CA_FILE),
        checkpoint_key: guc_string(&CHECKPOINT_KEY)
            .filter(|v| *v != text(DEFAULT_CHECKPOINT_KEY))
            .or_else(|| env("SYNC_CHECKPOINT_KEY"))
            .unwrap_or_else(|| text(DEFAULT_CHECKPOINT_KEY)),
        batch_size,
        http_timeout: HTTP_TIMEOUT.get(),
        max_retries: MAX_RETRIES.get(),
        lookback: LOOKBACK.get() as i64,
        safety_lag: SAFETY_LAG.get() as i64,
        max_response_bytes: (MAX_RESPONSE_MB.get() as u64) << 20,
        company_ids: guc_string(&COMPANY_IDS).and_then(|v| parse_company_ids(&v).ok()).unwrap_or_default(),
        prefetch: PREFETCH.get(),
        fetch_streams: FETCH_STREAMS.get().clamp(1, 16) as usize,
        drift_alert_threshold: DRIFT_ALERT_THRESHOLD.get() as i64,
        alert_webhook_url: alert_webhook_url(),
        alert_email: alert_email(),
    }
}

/// Email alerts as the settings say, with the SMTP password from the secret store; None when
/// there is no recipient, or (with one WARNING per distinct problem) when the settings do not
/// fit together: a wrong alert setting never stops a sync.
fn alert_email() -> Option<EmailSettings> {
    let to = guc_string(&ALERT_EMAIL_TO)?;
    let password = match crate::secret::smtp_password() {
        Ok(p) => p,
        Err(e) => return warn_once(format!("cannot read the SMTP password: {e}")),
    };
    let built = EmailSettings::from_parts(
        Some(&to),
        guc_string(&ALERT_EMAIL_FROM).as_deref(),
        guc_string(&ALERT_SMTP_SERVER).as_deref(),
        guc_string(&ALERT_SMTP_TLS).as_deref(),
        guc_string(&ALERT_SMTP_USER).as_deref(),
        password,
        guc_string(&CA_FILE).as_deref(),
    );
    match built {
        Ok(email) => email,
        Err(e) => warn_once(format!("alert emails are off: {e} (odoo_sync.alert_email_* settings)")),
    }
}

/// A WARNING once per backend and text; returns None.
fn warn_once<T>(text: String) -> Option<T> {
    thread_local! {
        static WARNED: std::cell::RefCell<std::collections::HashSet<String>> = Default::default();
    }
    if WARNED.with(|w| w.borrow_mut().insert(text.clone())) {
        pgrx::warning!("odoo_sync: {text}");
    }
    None
}
