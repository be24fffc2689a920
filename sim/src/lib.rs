//! odoo-sim: an Odoo JSON-RPC / JSON-2 server simulator with generated point-of-sale data,
//! realistic write_date behaviour, mutations and fault injection. See sim/README.md.

// OdooError is large, but errors are rare and built once per failed request.
#![allow(clippy::result_large_err)]

pub mod api_write;
pub mod args;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod control;
pub mod defaults;
pub mod domain;
pub mod errors;
pub mod faults;
pub mod generator;
pub mod hooks;
pub mod http;
pub mod http_client;
pub mod json;
pub mod json2;
pub mod jsonrpc;
pub mod load;
pub mod mutate;
pub mod orm;
pub mod query;
pub mod render;
pub mod rng;
pub mod router;
pub mod schema;
pub mod serving;
pub mod sim;
pub mod store;
pub mod webhook;
pub mod writer;

pub use config::Config;
pub use sim::Sim;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// A running simulator (the accept loop runs on its own thread until the process exits).
pub struct Server {
    pub addr: SocketAddr,
    pub sim: Arc<Sim>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Generates the data, binds `cfg.listen` and serves in the background.
pub fn start(cfg: Config) -> Result<Server, String> {
    let listener = TcpListener::bind(&cfg.listen).map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sim = Arc::new(Sim::new(cfg)?);
    let s = sim.clone();
    std::thread::Builder::new()
        .name("odoo-sim-accept".into())
        .spawn(move || http::serve(listener, s))
        .map_err(|e| e.to_string())?;
    Ok(Server { addr, sim })
}
