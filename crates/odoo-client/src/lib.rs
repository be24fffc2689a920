//! A small blocking client for Odoo's external API, as used by odoo_sync.
//!
//! It knows nothing of PostgreSQL: it authenticates, reads pages of records as raw JSON text,
//! reads Odoo's clock from the HTTP `Date` header, and turns every way a call can fail into one
//! typed [`OdooError`], retrying only what is worth retrying.

mod client;
mod error;
mod http;
pub mod nonjson;
pub mod shape;
pub mod time;
mod transport;

pub use client::{
    CallStats, Client, ClientConfig, FieldInfo, LoadAnswer, LoadMessage, Secret, ServerVersion, TransportChoice,
    WaitHook,
};
pub use error::OdooError;
pub use http::{agent as signal_safe_agent, with_signals_blocked};
