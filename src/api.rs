//! The SQL surface. Each function resolves settings, calls the engine, and maps a failure to
//! one ERROR (errors.rs). Nothing here knows how syncing works.

use crate::errors::{SyncError, SyncResult};
use crate::models;
use crate::settings::Settings;
use crate::sync::{self, session::OdooSession, RunOptions, RunSummary};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::heap_tuple::PgHeapTuple;

/// The composite type scout.sync_result (sql/01_core.sql): one row per model per run.
const RESULT_TYPE: &str = "scout.sync_result";

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET: i64 = 946_684_800;

fn to_row(s: RunSummary) -> SyncResult<pgrx::composite_type!('static, "scout.sync_result")> {
    let checkpoint = s
        .checkpoint
        .and_then(|t| TimestampWithTimeZone::try_from((t - PG_EPOCH_OFFSET) * 1_000_000).ok());
    let mut row = PgHeapTuple::new_composite_type(RESULT_TYPE)
        .map_err(|e| SyncError::Internal(format!("type {RESULT_TYPE}: {e}")))?;
    let unchanged = s.counts.unchanged();
    let set_err = |e: pgrx::datum::TryFromDatumError| SyncError::Internal(format!("{RESULT_TYPE}: {e}"));
    row.set_by_name("run_id", s.run_id).map_err(set_err)?;
    row.set_by_name("model", s.model).map_err(set_err)?;
    row.set_by_name("fetched", s.counts.fetched).map_err(set_err)?;
    row.set_by_name("inserted", s.counts.inserted).map_err(set_err)?;
    row.set_by_name("updated", s.counts.updated).map_err(set_err)?;
    row.set_by_name("unchanged", unchanged).map_err(set_err)?;
    row.set_by_name("rejected", s.counts.rejected).map_err(set_err)?;
    row.set_by_name("checkpoint", checkpoint).map_err(set_err)?;
    row.set_by_name("duration", Interval::from_micros(s.duration.as_micros() as i64)).map_err(set_err)?;
    row.set_by_name("status", s.status).map_err(set_err)?;
    row.set_by_name("message", s.message).map_err(set_err)?;
    Ok(row)
}

fn or_report<T>(r: SyncResult<T>) -> T {
    r.unwrap_or_else(|e| e.report())
}

fn required<T>(v: Option<T>, name: &str) -> SyncResult<T> {
    v.ok_or_else(|| SyncError::InvalidArgument {
        message: format!("argument \"{name}\" must not be NULL"),
        hint: "Pass a value or leave the argument out to use its default.".into(),
    })
}

fn sync_one(model: Option<&str>, full: Option<bool>, dry_run: Option<bool>) -> SyncResult<RunSummary> {
    let model = required(model, "model")?;
    let full = required(full, "full")?;
    let dry_run = required(dry_run, "dry_run")?;
    let spec = models::find(model)?;
    let settings = Settings::current();
    let mut odoo = OdooSession::open(&settings)?;
    sync::run_model(&spec, RunOptions { full, dry_run, mode: "function" }, &settings, &mut odoo)
}

/// Syncs one Odoo model into its bronze table, in the caller's transaction (all or nothing).
#[pg_extern(name = "odoo_sync", volatile, parallel_unsafe)]
fn odoo_sync(
    model: Option<&str>,
    full: default!(Option<bool>, false),
    dry_run: default!(Option<bool>, false),
) -> pgrx::composite_type!('static, "scout.sync_result") {
    or_report(sync_one(model, full, dry_run).and_then(to_row))
}

fn sync_all(full: Option<bool>) -> SyncResult<Vec<RunSummary>> {
    let full = required(full, "full")?;
    let settings = Settings::current();
    let specs = models::enabled()?;
    let mut odoo = OdooSession::open(&settings)?;
    specs
        .iter()
        .map(|spec| sync::run_model(spec, RunOptions { full, dry_run: false, mode: "function" }, &settings, &mut odoo))
        .collect()
}

/// Syncs every enabled model in dependency order, in the caller's transaction.
#[pg_extern(name = "odoo_sync_all", volatile, parallel_unsafe)]
fn odoo_sync_all(
    full: default!(Option<bool>, false),
) -> SetOfIterator<'static, pgrx::composite_type!('static, "scout.sync_result")> {
    let rows = or_report(sync_all(full).and_then(|all| all.into_iter().map(to_row).collect::<SyncResult<Vec<_>>>()));
    SetOfIterator::new(rows)
}
