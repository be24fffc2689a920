//! Where the Odoo password or API key comes from: the owner-only table scout.sync_secret
//! (written by scout.odoo_set_secret), else the server's environment (ODOO_API_KEY,
//! ODOO_PASSWORD) as in the reference design. Never a GUC: those are readable by too many roles.

use crate::errors::{remember_secret, spi, SyncResult};
use engine::Credentials;
use odoo_client::Secret;
use pgrx::prelude::*;

pub fn load() -> SyncResult<Option<Credentials>> {
    let (password, api_key) = Spi::connect(|client| -> Result<(Option<String>, Option<String>), pgrx::spi::Error> {
        let rows = client.select("SELECT password, api_key FROM scout.sync_secret WHERE id = 1", None, &[])?;
        match rows.into_iter().next() {
            Some(row) => Ok((row.get(1)?, row.get(2)?)),
            None => Ok((None, None)),
        }
    })
    .map_err(spi)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let found = match (api_key.filter(|v| !v.is_empty()), password.filter(|v| !v.is_empty())) {
        (Some(k), _) => Some((k, true)),
        (None, Some(p)) => Some((p, false)),
        (None, None) => env("ODOO_API_KEY").map(|k| (k, true)).or_else(|| env("ODOO_PASSWORD").map(|p| (p, false))),
    };
    Ok(found.map(|(s, is_api_key)| {
        remember_secret(&s);
        Credentials { secret: Secret(s), is_api_key }
    }))
}

/// The SMTP password of email alerts (scout.odoo_set_secret(smtp_password => ...)), else the
/// server's environment (ODOO_SYNC_SMTP_PASSWORD). Registered as a secret: no message shows it.
pub fn smtp_password() -> SyncResult<Option<Secret>> {
    let stored = Spi::get_one::<String>("SELECT smtp_password FROM scout.sync_secret WHERE id = 1").map_err(spi)?;
    let found = stored
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("ODOO_SYNC_SMTP_PASSWORD").ok().filter(|v| !v.is_empty()));
    Ok(found.map(|p| {
        remember_secret(&p);
        Secret(p)
    }))
}
