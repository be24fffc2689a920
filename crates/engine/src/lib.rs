//! odoo_sync's engine, one for both homes: the extension (inside PostgreSQL, over SPI) and the
//! runner (beside any PostgreSQL, over a client connection). It joins the Odoo client
//! (crates/odoo-client) with a [`Store`] (the database) and a [`Host`] (the process), and knows
//! neither: no pgrx, no SQL text. docs/DESIGN.md is the map.
//!
//! - a model's run: windows on Odoo's clock, pages in id order, streams, prefetch (run.rs,
//!   streams.rs, prefetch.rs, page.rs), through the one page loader (loader.rs);
//! - deletes only on proof and the re-read of records that named deleted ones (listing.rs,
//!   referrers.rs); reconciliation (reconcile.rs);
//! - the Odoo session kept per thread (session.rs), alerts after commit (alerts.rs) to a webhook
//!   and by email (email.rs), write-back's sending (outbox.rs);
//! - the unattended loop's decisions as a pure plan (plan.rs).

pub mod alerts;
pub mod email;
pub mod error;
pub mod host;
pub mod listing;
pub mod loader;
pub mod model;
pub mod outbox;
mod page;
pub mod plan;
mod prefetch;
pub mod reconcile;
mod referrers;
mod run;
pub mod runs;
pub mod session;
pub mod settings;
pub mod store;
mod streams;
pub mod webhooks;

#[cfg(test)]
mod memstore;
#[cfg(test)]
mod smtp_fake;
#[cfg(test)]
mod tests;

pub use error::{redact, remember_secret, SyncError, SyncResult};
pub use host::Host;
pub use model::ModelSpec;
pub use run::run_and_alert;
pub use runs::{record_failure, Failure, RunOptions, RunSummary};
pub use settings::{Credentials, EmailSettings, Settings, SmtpTls};
pub use store::Store;
