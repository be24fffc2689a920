//! The SQL surface. Each function resolves settings, calls the engine, and maps a failure to
//! one ERROR (errors.rs). Nothing here knows how syncing works.

use crate::alerts;
use crate::errors::{SyncError, SyncResult};
use crate::models;
use crate::settings::Settings;
use crate::sync::{self, session::with_session, RunOptions, RunSummary};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;

/// The composite type scout.sync_result (sql/01_core.sql): one row per model per run.
const RESULT_TYPE: &str = "scout.sync_result";

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET: i64 = 946_684_800;

fn to_row(s: RunSummary) -> SyncResult<pgrx::composite_type!('static, "scout.sync_result")> {
    let checkpoint = s.checkpoint.and_then(|t| TimestampWithTimeZone::try_from((t - PG_EPOCH_OFFSET) * 1_000_000).ok());
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
    row.set_by_name("deleted", s.counts.deleted).map_err(set_err)?;
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

fn options(full: bool, dry_run: bool, mode: &'static str) -> RunOptions {
    RunOptions { full, dry_run, mode, max_pages: None, max_time: None, stop_requested: None, run_id: None }
}

fn sync_one(model: Option<&str>, full: Option<bool>, dry_run: Option<bool>) -> SyncResult<RunSummary> {
    let model = required(model, "model")?;
    let full = required(full, "full")?;
    let dry_run = required(dry_run, "dry_run")?;
    let spec = models::find(model)?;
    let settings = Settings::current();
    let summary =
        with_session(&settings, |odoo| sync::run_model(&spec, options(full, dry_run, "function"), &settings, odoo))?;
    alerts::on_success(&summary);
    Ok(summary)
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
    let all: Vec<RunSummary> = with_session(&settings, |odoo| {
        specs.iter().map(|spec| sync::run_model(spec, options(full, false, "function"), &settings, odoo)).collect()
    })?;
    all.iter().for_each(alerts::on_success);
    Ok(all)
}

/// Syncs every enabled model in dependency order, in the caller's transaction.
#[pg_extern(name = "odoo_sync_all", volatile, parallel_unsafe)]
fn odoo_sync_all(
    full: default!(Option<bool>, false),
) -> SetOfIterator<'static, pgrx::composite_type!('static, "scout.sync_result")> {
    let rows = or_report(sync_all(full).and_then(|all| all.into_iter().map(to_row).collect::<SyncResult<Vec<_>>>()));
    SetOfIterator::new(rows)
}

fn step(
    model: Option<&str>,
    full: Option<bool>,
    run_id: Option<i64>,
    max_pages: Option<i32>,
    mode: Option<&str>,
) -> SyncResult<RunSummary> {
    let model = required(model, "model")?;
    let full = required(full, "full")?;
    let max_pages = required(max_pages, "max_pages")?;
    if max_pages < 1 {
        return Err(SyncError::InvalidArgument {
            message: format!("max_pages must be at least 1, not {max_pages}"),
            hint: "Pass 1 or more.".into(),
        });
    }
    let mode = match required(mode, "mode")? {
        "procedure" => "procedure",
        "worker" => "worker",
        other => {
            return Err(SyncError::InvalidArgument {
                message: format!(
                    "mode must be procedure or worker, not \"{}\"",
                    other.chars().take(40).collect::<String>()
                ),
                hint: "This function is the building block of scout.odoo_sync_run().".into(),
            })
        }
    };
    let spec = models::find(model)?;
    let settings = Settings::current();
    let opts = RunOptions {
        full,
        dry_run: false,
        mode,
        max_pages: Some(max_pages as u32),
        max_time: None,
        stop_requested: None,
        run_id,
    };
    let summary = with_session(&settings, |odoo| sync::run_model(&spec, opts, &settings, odoo))?;
    alerts::on_success(&summary);
    Ok(summary)
}

/// One committed step of a long run: up to `max_pages` pages, then returns with status
/// in_progress (call again with the returned run_id after COMMIT) or success.
/// The building block of scout.odoo_sync_run() and of the background worker.
#[pg_extern(name = "odoo_sync_step", volatile, parallel_unsafe)]
fn odoo_sync_step(
    model: Option<&str>,
    full: default!(Option<bool>, false),
    run_id: default!(Option<i64>, "NULL"),
    max_pages: default!(Option<i32>, 1),
    mode: default!(Option<&str>, "'procedure'"),
) -> pgrx::composite_type!('static, "scout.sync_result") {
    or_report(step(model, full, run_id, max_pages, mode).and_then(to_row))
}

fn record_failure(
    model: Option<&str>,
    run_id: Option<i64>,
    message: Option<&str>,
    mode: Option<&str>,
    error_code: Option<&str>,
) -> SyncResult<()> {
    let model = required(model, "model")?;
    let spec = models::find(model)?;
    let mode = if mode == Some("worker") { "worker" } else { "procedure" };
    // A SQLSTATE is five digits or upper-case letters; anything else is not recorded as one.
    let error_code =
        error_code.filter(|c| c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    sync::record_failure(
        &Settings::current(),
        &spec.model,
        run_id,
        mode,
        error_code,
        message.unwrap_or("unknown error"),
    )
}

/// Records that a committing run failed, in the caller's (new) transaction: the log row, the
/// checkpoint's status and error, and an alert when the model just started failing.
#[pg_extern(name = "odoo_sync_record_failure", volatile, parallel_unsafe)]
fn odoo_sync_record_failure(
    model: Option<&str>,
    run_id: Option<i64>,
    message: Option<&str>,
    mode: default!(Option<&str>, "'procedure'"),
    error_code: default!(Option<&str>, "NULL"),
) {
    or_report(record_failure(model, run_id, message, mode, error_code))
}
