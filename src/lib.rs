//! odoo_sync: keeps the `scout` analytics schema in sync with an Odoo point-of-sale database,
//! from inside PostgreSQL. This crate is one home of the engine (crates/engine): the SQL
//! functions (`api`), the background worker (`worker`), the engine's store over SPI (`store`)
//! and its host (`host`: interrupts, notices), the settings, the secret, and the webhook
//! listener's receiver. docs/DESIGN.md is the map; the schema lives in `sql/`.

use pgrx::prelude::*;

mod activity;
mod api;
mod errors;
mod host;
mod interrupts;
mod models;
mod secret;
mod settings;
mod store;
mod wake;
mod webhooks;
mod worker;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/01_core.sql", name = "core", bootstrap);
// Silver, one file per entity after the rules, helpers and quarantine; "silver" is the last.
extension_sql_file!("../sql/20_silver.sql", name = "silver_base", requires = ["core"]);
extension_sql_file!("../sql/21_silver_catalog.sql", name = "silver_catalog", requires = ["silver_base"]);
extension_sql_file!("../sql/22_silver_customers.sql", name = "silver_customers", requires = ["silver_catalog"]);
extension_sql_file!("../sql/23_silver_stores.sql", name = "silver_stores", requires = ["silver_customers"]);
extension_sql_file!("../sql/24_silver_sales.sql", name = "silver_sales", requires = ["silver_stores"]);
extension_sql_file!("../sql/29_silver_apply.sql", name = "silver", requires = ["silver_sales"]);
extension_sql_file!("../sql/30_gold.sql", name = "gold", requires = ["silver", business_timezone]);
extension_sql_file!("../sql/40_writeback.sql", name = "writeback", requires = ["silver"]);
extension_sql_file!("../sql/50_hints.sql", name = "hints", requires = ["core"]);
extension_sql_file!("../sql/60_realtime.sql", name = "realtime", requires = ["silver"]);
extension_sql_file!(
    "../sql/80_run.sql",
    name = "run",
    requires = [odoo_sync_step, odoo_sync_record_failure, odoo_reconcile_step]
);
extension_sql_file!("../sql/85_status.sql", name = "status", requires = [odoo_sync_next_run]);
extension_sql_file!("../sql/90_grants.sql", name = "grants", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pgrx_tests;

/// Required by `cargo pgrx test` (src/pgrx_tests/): nothing to set up.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    // SAFETY: a plain flag of the postmaster's, read on the main thread.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        worker::register();
    }
}
