//! The engine's store inside PostgreSQL: everything a sync writes or reads, through SPI, in the
//! caller's transaction. Knows nothing of HTTP: it takes pages of raw JSON text and checkpoint
//! values, and gives back counts. The free functions hold the SQL; `SpiStore` is the engine's
//! `Store` over them.
//!
//! Times cross this boundary as Unix seconds (Odoo's clock has whole-second resolution).

use crate::errors::{SyncError, SyncResult};
use crate::interrupts;
use crate::models::ModelSpec;
use engine::store::{
    Checkpoint, Drift, FailureRecord, FailureStreak, ListedRow, LockWait, LogUpdate, PageCounts, RunMode, Window,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use store_sql as sql;

/// The store's failures: SPI's (a bug or a damaged schema) and the engine's own (a busy lock),
/// so that `?` works on both inside; mapped to SyncError at the Store boundary.
struct Fail(SyncError);

impl From<pgrx::spi::Error> for Fail {
    fn from(e: pgrx::spi::Error) -> Self {
        Fail(crate::errors::spi(e))
    }
}

impl From<SyncError> for Fail {
    fn from(e: SyncError) -> Self {
        Fail(e)
    }
}

type R<T> = Result<T, Fail>;

/// Takes the model's transaction-level advisory lock without waiting. False when another
/// session (the worker, pg_cron, a manual call) is syncing the same model right now.
fn try_lock(checkpoint_id: &str) -> R<bool> {
    Ok(Spi::get_one_with_args::<bool>(&sql::try_lock_model(), &[checkpoint_id.into()])?.unwrap_or(false))
}

/// Whether a run's log row is still running (a step may continue it).
fn is_running(run_id: i64, checkpoint_id: &str) -> R<bool> {
    Ok(Spi::get_one_with_args::<bool>(sql::IS_RUNNING, &[run_id.into(), checkpoint_id.into()])?.unwrap_or(false))
}

/// The pid holding a model's lock, for the message of a skipped run.
fn lock_holder(checkpoint_id: &str) -> R<Option<i32>> {
    Ok(Spi::get_one_with_args::<i32>(sql::LOCK_HOLDER, &[checkpoint_id.into()]).unwrap_or(None))
}

fn read_checkpoint(checkpoint_id: &str) -> R<Checkpoint> {
    Spi::connect(|client| {
        let rows = client.select(sql::READ_CHECKPOINT, None, &[checkpoint_id.into()])?;
        let mut cp = Checkpoint { high_water: None, open_window: None, selection: None };
        if let Some(row) = rows.into_iter().next() {
            cp.high_water = row.get::<i64>(1)?;
            cp.selection = row.get::<String>(6)?;
            if let Some(end) = row.get::<i64>(3)? {
                cp.open_window = Some(Window {
                    start: row.get::<i64>(2)?,
                    end,
                    mark: row.get::<i64>(7)?.unwrap_or(end),
                    full: row.get::<bool>(4)?.unwrap_or(false),
                    last_id: row.get::<i64>(5)?.unwrap_or(0),
                });
            }
        }
        Ok(cp)
    })
}

/// Records the checkpoint: an open window with its last id, or (window None) a finished run
/// whose high-water mark is `high_water`. Called in the same transaction as the page's rows.
/// Returns the status the checkpoint had before, so that a recovery can be noticed.
/// A 'failed' status stays until a window completes: half a window is not a recovery.
fn save_checkpoint(
    cp_id: &str,
    model: &str,
    high_water: Option<i64>,
    window: Option<&Window>,
    records: i64,
    selection: Option<&str>,
) -> R<Option<String>> {
    let as_f64 = |v: Option<i64>| v.map(|x| x as f64);
    Ok(Spi::get_one_with_args::<String>(
        sql::SAVE_CHECKPOINT,
        &[
            cp_id.into(),
            model.into(),
            as_f64(high_water).into(),
            window.map(|w| w.last_id).into(),
            as_f64(window.and_then(|w| w.start)).into(),
            as_f64(window.map(|w| w.end)).into(),
            window.map(|w| w.full).into(),
            records.into(),
            selection.into(),
            as_f64(window.filter(|w| w.mark != w.end).map(|w| w.mark)).into(),
        ],
    )?)
}

/// Bronze's `(id, write_date as Odoo rendered it, soft-deleted)` with `after < id <= upto`, in
/// id order: the bronze side of a reconciliation's merge.
fn bronze_write_dates(spec: &ModelSpec, after: i64, upto: i64) -> R<Vec<(i64, Option<String>, bool)>> {
    let sql = sql::bronze_write_dates(&spec.bronze_table);
    Spi::connect(|client| {
        client
            .select(&sql, None, &[after.into(), upto.into()])?
            .map(|row| {
                Ok((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?,
                    row.get::<bool>(3)?.unwrap_or(false),
                ))
            })
            .collect()
    })
}

/// Soft-deletes these live bronze rows (gone from Odoo); returns the ids it marked.
fn soft_delete(spec: &ModelSpec, ids: &[i64], run_id: i64) -> R<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sql::soft_delete(&spec.bronze_table);
    Ok(Spi::get_one_with_args::<Vec<i64>>(&sql, &[ids.to_vec().into(), run_id.into()])?.unwrap_or_default())
}

/// The open reconciliation of a checkpoint (its log row, and the last id it compared), left by a
/// committing run that has more to do or was cut off.
fn open_reconciliation(cp_id: &str) -> R<Option<(i64, i64)>> {
    Spi::connect(|client| {
        let rows = client.select(sql::OPEN_RECONCILIATION, None, &[cp_id.into()])?;
        match rows.into_iter().next() {
            Some(row) => Ok(row.get::<i64>(1)?.zip(row.get::<i64>(2)?)),
            None => Ok(None),
        }
    })
}

/// Moves (or, with None, clears) a reconciliation's cursor, in the transaction of its page.
fn save_reconcile_cursor(cp_id: &str, model: &str, cursor: Option<(i64, i64)>) -> R<()> {
    Spi::run_with_args(
        sql::SAVE_RECONCILE_CURSOR,
        &[cp_id.into(), model.into(), cursor.map(|c| c.0).into(), cursor.map(|c| c.1).into()],
    )?;
    Ok(())
}

/// Adds one page's findings to a reconciliation's log row.
fn add_reconcile_counts(run_id: i64, d: &Drift) -> R<()> {
    Spi::run_with_args(
        sql::ADD_RECONCILE_COUNTS,
        &[
            run_id.into(),
            d.refetched.into(),
            d.missing.into(),
            d.stale.into(),
            d.deleted.into(),
            d.restored.into(),
            d.odoo_count.into(),
        ],
    )?;
    Ok(())
}

/// Closes (or, for a step with more to do, keeps running) a reconciliation's log row, and returns
/// the whole run's findings.
fn finish_reconcile_log(run_id: i64, done: bool, http_calls: i64, message: Option<&str>) -> R<Drift> {
    Spi::connect_mut(|client| {
        let rows = client.update(
            sql::FINISH_RECONCILE_LOG,
            None,
            &[run_id.into(), done.into(), http_calls.into(), message.into()],
        )?;
        let row = rows.first();
        Ok(Drift {
            odoo_count: row.get::<i64>(1)?.unwrap_or(0),
            bronze_count: 0,
            missing: row.get::<i64>(2)?.unwrap_or(0),
            stale: row.get::<i64>(3)?.unwrap_or(0),
            deleted: row.get::<i64>(4)?.unwrap_or(0),
            restored: row.get::<i64>(5)?.unwrap_or(0),
            refetched: row.get::<i64>(6)?.unwrap_or(0),
        })
    })
}

/// Upserts a page (a JSON array of Odoo records, as raw text) into the model's bronze table in
/// one statement. Records whose payload is unchanged are not rewritten and count as neither.
fn upsert_bronze(spec: &ModelSpec, page_json: &str, run_id: i64) -> R<PageCounts> {
    let sql = sql::upsert_bronze(&spec.bronze_table);
    let (ins, upd, changed) = Spi::get_three_with_args::<i64, i64, Vec<i64>>(&sql, &[page_json.into(), run_id.into()])?;
    Ok(PageCounts { inserted: ins.unwrap_or(0), updated: upd.unwrap_or(0), changed: changed.unwrap_or_default() })
}

/// The live bronze ids, ascending.
fn live_ids(spec: &ModelSpec) -> R<Vec<i64>> {
    let sql = sql::live_ids(&spec.bronze_table);
    Ok(Spi::get_one::<Vec<i64>>(&sql)?.unwrap_or_default())
}

/// Up to `limit` bronze ids above `after`, ascending.
fn bronze_ids_after(spec: &ModelSpec, after: i64, limit: i64) -> R<Vec<i64>> {
    let sql = sql::bronze_ids_after(&spec.bronze_table);
    Ok(Spi::get_one_with_args::<Vec<i64>>(&sql, &[after.into(), limit.into()])?.unwrap_or_default())
}

/// The live bronze rows of `spec`'s model that name any of `ids` in one of `fields` (a
/// many2one's `[id, "name"]` or an x2many's list of ids), ascending.
fn bronze_naming(spec: &ModelSpec, fields: &[String], ids: &[i64]) -> R<Vec<i64>> {
    if fields.is_empty() || ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sql::bronze_naming(&spec.bronze_table);
    Ok(Spi::get_one_with_args::<Vec<i64>>(&sql, &[fields.to_vec().into(), ids.to_vec().into()])?.unwrap_or_default())
}

/// Silver rows depend on several models (an order's totals on its lines and payments), so two
/// sessions syncing different models would update the same silver rows in different orders
/// and deadlock. One transaction-level lock serialises silver writes instead: a session waits
/// (cancellably) for another's transaction to end, and never holds half of what it needs.
fn lock_silver(model: &str, wait: LockWait) -> R<()> {
    let LockWait::AtMost(limit) = wait else {
        Spi::run(sql::LOCK_SILVER)?;
        return Ok(());
    };
    // Unattended: try, and wait between tries on the latch (SIGTERM sets it), so that a session
    // idle in its transaction cannot hold the worker, and a shutdown is never stuck behind it.
    let deadline = std::time::Instant::now() + limit;
    loop {
        if Spi::get_one::<bool>(sql::TRY_LOCK_SILVER)?.unwrap_or(false) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline || interrupts::stop_requested() {
            let holder = Spi::get_one::<String>(sql::SILVER_LOCK_HOLDER)?
                .unwrap_or_else(|| "a session that has since ended".into());
            return Err(Fail(SyncError::Busy {
                model: model.to_owned(),
                detail: format!("The silver lock is held by {holder}; waited {} s.", limit.as_secs()),
            }));
        }
        pgrx::check_for_interrupts!();
        interrupts::wait_on_latch(std::time::Duration::from_millis(100));
    }
}

/// Tells silver which records Odoo deleted (sql/29_silver_apply.sql).
fn silver_mark_deleted(model: &str, ids: &[i64], wait: LockWait) -> R<()> {
    if !ids.is_empty() {
        lock_silver(model, wait)?;
        Spi::run_with_args(sql::SILVER_MARK_DELETED, &[model.into(), ids.to_vec().into()])?;
    }
    Ok(())
}

/// Derives silver from the bronze rows just changed, in the same transaction (sql/29_silver_apply.sql).
/// Returns how many rows the data-quality rules quarantined.
fn apply_silver(model: &str, ids: &[i64], run_id: i64, wait: LockWait) -> R<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    lock_silver(model, wait)?;
    Ok(Spi::get_one_with_args::<i64>(sql::SILVER_APPLY, &[model.into(), ids.to_vec().into(), run_id.into()])?
        .unwrap_or(0))
}

/// Refreshes the planner's statistics of the tables a long load of this model grows (bronze
/// and its silver table), which no autovacuum can do inside the load's transaction.
fn analyze_for_load(model: &str) -> R<()> {
    Spi::run_with_args(sql::ANALYZE_FOR_LOAD, &[model.into()])?;
    Ok(())
}

/// What `upsert_bronze` would do, without writing anything (dry runs).
fn preview_bronze(spec: &ModelSpec, page_json: &str) -> R<PageCounts> {
    let sql = sql::preview_bronze(&spec.bronze_table);
    let (ins, upd) = Spi::get_two_with_args::<i64, i64>(&sql, &[page_json.into()])?;
    Ok(PageCounts { inserted: ins.unwrap_or(0), updated: upd.unwrap_or(0), changed: Vec::new() })
}

/// Opens a log row that also records Odoo's count of the window, for progress reporting.
fn start_log(cp_id: &str, model: &str, full: bool, run_mode: RunMode, estimate: Option<i64>) -> R<i64> {
    // A 'running' row whose backend is gone belongs to a run that was cut off (crash, kill,
    // shutdown) and could not record its end: say so instead of leaving it running forever.
    Spi::run_with_args(sql::CLOSE_INTERRUPTED_RUNS, &[cp_id.into()])?;
    Spi::get_one_with_args::<i64>(
        sql::START_LOG,
        &[cp_id.into(), model.into(), full.into(), run_mode.as_sql().into(), estimate.into()],
    )?
    .ok_or_else(|| Fail(SyncError::Internal("sync_logs insert returned no id".into())))
}

fn update_log(run_id: i64, u: &LogUpdate) -> R<()> {
    let c = u.counts;
    Spi::run_with_args(
        sql::UPDATE_LOG,
        &[
            run_id.into(),
            u.status.into(),
            c.inserted.into(),
            c.updated.into(),
            c.fetched.into(),
            c.rejected.into(),
            u.window.and_then(|w| w.start).map(|v| v as f64).into(),
            u.window.map(|w| w.end as f64).into(),
            u.odoo_version.into(),
            u.transport.into(),
            u.http_calls.into(),
            u.http_retries.into(),
            u.message.into(),
            c.deleted.into(),
            u.missing_fields.map(<[String]>::to_vec).into(),
        ],
    )?;
    Ok(())
}

/// Records a failed run in its own transaction (the run's data was rolled back): the log row
/// (created if the run failed before it had one) and the checkpoint's status. Returns the
/// checkpoint's previous status, so that callers can alert on a change.
fn record_failure(f: &FailureRecord) -> R<FailureStreak> {
    let (cp_id, model, message) = (f.checkpoint_id, f.model, f.message);
    // A run that failed in its first step has no log row (it was rolled back): make one that
    // starts when that step started.
    let (run_id, new_row) = match f.run_id {
        Some(id) => (id, false),
        None => (start_log(cp_id, model, false, f.mode, None)?, true),
    };
    Spi::run_with_args(
        sql::MARK_RUN_FAILED,
        &[run_id.into(), message.into(), f.error_code.into(), new_row.into(), f.started_at_unix.into()],
    )?;
    // A scalar subquery: one row (NULL status) even when the model has no checkpoint yet.
    let previous = Spi::get_one_with_args::<String>(sql::CHECKPOINT_STATUS, &[cp_id.into()])?;
    Spi::run_with_args(sql::MARK_CHECKPOINT_FAILED, &[cp_id.into(), model.into(), message.into()])?;
    // The streak this failure belongs to, for the alert: the failed runs since the last success
    // (this one included), when the first of them ended, and that success.
    let (last_success, failed_runs, failing_since) =
        Spi::get_three_with_args::<i64, i64, i64>(sql::FAILURE_STREAK, &[cp_id.into()])?;
    Ok(FailureStreak {
        previous_status: previous,
        failing_since: failing_since.unwrap_or(0),
        failed_runs: failed_runs.unwrap_or(1),
        last_success,
    })
}

// ------------------------------------------------------------------------------------------
// The outbox (sql/40_writeback.sql)
// ------------------------------------------------------------------------------------------

fn outbox_lock(wait: bool) -> R<bool> {
    if wait {
        Spi::run(sql::OUTBOX_LOCK)?;
        return Ok(true);
    }
    Ok(Spi::get_one::<bool>(sql::OUTBOX_TRY_LOCK)?.unwrap_or(false))
}

/// A REPEATABLE READ or SERIALIZABLE transaction reads the outbox as it was when it began: it
/// could send a row's older values after a newer push already sent the newer ones.
fn outbox_check_isolation() -> R<()> {
    // SAFETY: a plain int of this backend's transaction state, read on the main thread.
    let level = unsafe { pg_sys::XactIsoLevel };
    if level >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return Err(Fail(SyncError::Prerequisite {
            message: "scout.odoo_push() needs a READ COMMITTED transaction".into(),
            hint: "This transaction is REPEATABLE READ or SERIALIZABLE: it would read the outbox as it was when it \
                   began and could send older values after newer ones. Call it in its own READ COMMITTED \
                   transaction (the default), or leave sending to the worker (scout.odoo_push_soon())."
                .into(),
        }));
    }
    Ok(())
}

fn outbox_list_pending(after: i64, limit: i64) -> R<Vec<ListedRow>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(sql::OUTBOX_LIST_PENDING, None, &[after.into(), limit.into()])? {
            out.push(ListedRow {
                id: r.get::<i64>(1)?.unwrap_or(0),
                record: (r.get::<String>(2)?.unwrap_or_default(), r.get(3)?, r.get(4)?),
            });
        }
        Ok(out)
    })
}

/// Locks the rows of `ids` still pending, skipping those another session holds; each with
/// whether the calling transaction wrote it (its xmin is ours: not committed yet).
fn outbox_lock_rows(ids: &[i64]) -> R<BTreeMap<i64, (writeback::Row, bool)>> {
    Spi::connect_mut(|client| {
        let mut rows = BTreeMap::new();
        for r in client.update(sql::OUTBOX_LOCK_ROWS, None, &[ids.to_vec().into()])? {
            let id = r.get::<i64>(1)?.unwrap_or(0);
            let target = match (r.get::<String>(3)?, r.get::<i64>(4)?) {
                (Some(key), _) => writeback::Target::Key(key),
                (None, Some(odoo_id)) => writeback::Target::Id(odoo_id),
                (None, None) => continue, // the table's CHECK rules it out
            };
            let values: Map<String, Value> = serde_json::from_str(&r.get::<String>(6)?.unwrap_or_default())
                .map_err(|e| Fail(SyncError::Internal(format!("outbox row {id}: values: {e}"))))?;
            let xmin: u32 = r.get::<String>(7)?.and_then(|x| x.parse().ok()).unwrap_or(0);
            // SAFETY: a plain lookup in this backend's transaction state, on the main thread.
            let own = unsafe { pg_sys::TransactionIdIsCurrentTransactionId(xmin.into()) };
            let row = writeback::Row {
                id,
                model: r.get::<String>(2)?.unwrap_or_default(),
                target,
                archive: r.get::<String>(5)?.as_deref() == Some("archive"),
                values,
            };
            rows.insert(id, (row, own));
        }
        Ok(rows)
    })
}

fn outbox_allow_list() -> R<writeback::AllowList> {
    Spi::connect(|client| {
        let mut set = BTreeSet::new();
        for row in client.select(sql::OUTBOX_ALLOW_LIST, None, &[])? {
            if let (Some(m), Some(f)) = (row.get::<String>(1)?, row.get::<String>(2)?) {
                set.insert((m, f));
            }
        }
        Ok(writeback::AllowList(set))
    })
}

/// The Odoo id of a record of ours, from its last sent row.
fn outbox_known_id(model: &str, key: &str) -> Option<i64> {
    Spi::get_one_with_args::<i64>(sql::OUTBOX_KNOWN_ID, &[model.into(), key.into()]).ok().flatten()
}

/// Records the outcomes in one statement.
fn outbox_record(outcomes: &[(i64, &'static str, Option<i64>, Option<String>)]) -> R<()> {
    let ids: Vec<i64> = outcomes.iter().map(|o| o.0).collect();
    let states: Vec<String> = outcomes.iter().map(|o| o.1.to_owned()).collect();
    let odoo_ids: Vec<Option<i64>> = outcomes.iter().map(|o| o.2).collect();
    let errors: Vec<Option<String>> = outcomes.iter().map(|o| o.3.clone()).collect();
    Spi::run_with_args(sql::OUTBOX_RECORD, &[ids.into(), states.into(), odoo_ids.into(), errors.into()])?;
    Ok(())
}

/// Rows still pending in the outbox.
pub fn outbox_pending_count() -> SyncResult<i64> {
    let n = Spi::get_one::<i64>(sql::OUTBOX_PENDING_COUNT).map_err(crate::errors::spi)?;
    Ok(n.unwrap_or(0))
}

// ------------------------------------------------------------------------------------------
// The engine's Store
// ------------------------------------------------------------------------------------------

/// The engine's store over SPI, in the caller's transaction. Stateless: one per call is free.
pub struct SpiStore;

fn done<T>(r: R<T>) -> SyncResult<T> {
    r.map_err(|f| f.0)
}

impl engine::Store for SpiStore {
    fn enabled_models(&mut self) -> SyncResult<Vec<ModelSpec>> {
        crate::models::enabled()
    }

    fn try_lock_model(&mut self, checkpoint_id: &str) -> SyncResult<bool> {
        done(try_lock(checkpoint_id))
    }

    fn lock_holder(&mut self, checkpoint_id: &str) -> SyncResult<Option<i32>> {
        done(lock_holder(checkpoint_id))
    }

    fn read_checkpoint(&mut self, checkpoint_id: &str) -> SyncResult<Checkpoint> {
        done(read_checkpoint(checkpoint_id))
    }

    fn save_checkpoint(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        high_water: Option<i64>,
        window: Option<&Window>,
        records: i64,
        selection: Option<&str>,
    ) -> SyncResult<Option<String>> {
        done(save_checkpoint(checkpoint_id, model, high_water, window, records, selection))
    }

    fn upsert_bronze(&mut self, spec: &ModelSpec, page_json: &str, run_id: i64) -> SyncResult<PageCounts> {
        done(upsert_bronze(spec, page_json, run_id))
    }

    fn preview_bronze(&mut self, spec: &ModelSpec, page_json: &str) -> SyncResult<PageCounts> {
        done(preview_bronze(spec, page_json))
    }

    fn live_ids(&mut self, spec: &ModelSpec) -> SyncResult<Vec<i64>> {
        done(live_ids(spec))
    }

    fn bronze_ids_after(&mut self, spec: &ModelSpec, after: i64, limit: i64) -> SyncResult<Vec<i64>> {
        done(bronze_ids_after(spec, after, limit))
    }

    fn soft_delete(&mut self, spec: &ModelSpec, ids: &[i64], run_id: i64) -> SyncResult<Vec<i64>> {
        done(soft_delete(spec, ids, run_id))
    }

    fn bronze_naming(&mut self, spec: &ModelSpec, fields: &[String], ids: &[i64]) -> SyncResult<Vec<i64>> {
        done(bronze_naming(spec, fields, ids))
    }

    fn bronze_write_dates(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        upto: i64,
    ) -> SyncResult<Vec<(i64, Option<String>, bool)>> {
        done(bronze_write_dates(spec, after, upto))
    }

    fn analyze_for_load(&mut self, model: &str) -> SyncResult<()> {
        done(analyze_for_load(model))
    }

    fn apply_silver(&mut self, model: &str, ids: &[i64], run_id: i64, wait: LockWait) -> SyncResult<i64> {
        done(apply_silver(model, ids, run_id, wait))
    }

    fn silver_mark_deleted(&mut self, model: &str, ids: &[i64], wait: LockWait) -> SyncResult<()> {
        done(silver_mark_deleted(model, ids, wait))
    }

    /// A memory context reset after `f`: a page's SQL arguments (a megabyte of JSON text) are
    /// palloc'ed in the current context, which lives as long as the SQL call; without this a
    /// million-row sync would keep every page until it returns.
    fn page_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        // A child of the call's context, deleted when dropped here.
        let mut page_cx = pgrx::PgMemoryContexts::new("odoo_sync page");
        // SAFETY: nothing allocated in the page context outlives `f` (results are Rust-owned).
        unsafe { page_cx.switch_to(|_| f(&mut SpiStore)) }
    }

    fn start_log(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        full: bool,
        mode: RunMode,
        estimate: Option<i64>,
    ) -> SyncResult<i64> {
        done(start_log(checkpoint_id, model, full, mode, estimate))
    }

    fn update_log(&mut self, run_id: i64, u: &LogUpdate) -> SyncResult<()> {
        done(update_log(run_id, u))
    }

    fn is_running(&mut self, run_id: i64, checkpoint_id: &str) -> SyncResult<bool> {
        done(is_running(run_id, checkpoint_id))
    }

    fn record_failure(&mut self, f: &FailureRecord) -> SyncResult<FailureStreak> {
        done(record_failure(f))
    }

    fn open_reconciliation(&mut self, checkpoint_id: &str) -> SyncResult<Option<(i64, i64)>> {
        done(open_reconciliation(checkpoint_id))
    }

    fn save_reconcile_cursor(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        cursor: Option<(i64, i64)>,
    ) -> SyncResult<()> {
        done(save_reconcile_cursor(checkpoint_id, model, cursor))
    }

    fn add_reconcile_counts(&mut self, run_id: i64, d: &Drift) -> SyncResult<()> {
        done(add_reconcile_counts(run_id, d))
    }

    fn finish_reconcile_log(
        &mut self,
        run_id: i64,
        done_: bool,
        http_calls: i64,
        message: Option<&str>,
    ) -> SyncResult<Drift> {
        done(finish_reconcile_log(run_id, done_, http_calls, message))
    }

    /// A transaction callback: runs after the commit, making no PostgreSQL call but the WARNING.
    /// An action may start a background send (an alert email): the backend then waits for it
    /// on its way out (wait_for_alerts_at_exit), since a client that synced and disconnected at
    /// once would otherwise end the thread with the process.
    fn after_commit(&mut self, action: Box<dyn FnOnce() -> Result<(), String>>) {
        wait_for_alerts_at_exit();
        // The action makes no PostgreSQL call: nothing of it can be left half-done by an unwind.
        let action = std::panic::AssertUnwindSafe(action);
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
            let action = action;
            if let Err(e) = (action.0)() {
                pgrx::warning!("odoo_sync: {e}");
            }
        });
    }

    fn database_name(&mut self) -> String {
        Spi::get_one::<String>("SELECT current_database()::text").ok().flatten().unwrap_or_default()
    }

    fn outbox_lock(&mut self, wait: bool) -> SyncResult<bool> {
        done(outbox_lock(wait))
    }

    fn outbox_check_isolation(&mut self) -> SyncResult<()> {
        done(outbox_check_isolation())
    }

    fn outbox_list_pending(&mut self, after: i64, limit: i64) -> SyncResult<Vec<ListedRow>> {
        done(outbox_list_pending(after, limit))
    }

    fn outbox_lock_rows(&mut self, ids: &[i64]) -> SyncResult<BTreeMap<i64, (writeback::Row, bool)>> {
        done(outbox_lock_rows(ids))
    }

    fn outbox_allow_list(&mut self) -> SyncResult<writeback::AllowList> {
        done(outbox_allow_list())
    }

    fn outbox_known_id(&mut self, model: &str, key: &str) -> Option<i64> {
        outbox_known_id(model, key)
    }

    fn outbox_record(&mut self, outcomes: &[(i64, &'static str, Option<i64>, Option<String>)]) -> SyncResult<()> {
        done(outbox_record(outcomes))
    }

    fn outbox_pending_count(&mut self) -> SyncResult<i64> {
        outbox_pending_count()
    }
}

/// How long a backend on its way out waits for alert emails still being sent: their whole-send
/// bound and a margin, so that a slow server's failure is still logged. Only a client that has
/// already disconnected waits (it holds a connection slot meanwhile); a backend told to stop
/// (pg_terminate_backend, a fast shutdown) waits a second at most.
const ALERTS_AT_EXIT: std::time::Duration =
    engine::email::SEND_TIMEOUT.saturating_add(std::time::Duration::from_secs(5));
const ALERTS_AT_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// Registers, once per backend, an exit callback that waits for the alert emails this backend
/// started in the background (engine::email::wait_for_pending).
fn wait_for_alerts_at_exit() {
    thread_local! {
        static REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    #[pg_guard]
    unsafe extern "C-unwind" fn wait(_code: i32, _arg: pg_sys::Datum) {
        let max = if interrupts::stop_or_cancel_pending() { ALERTS_AT_SHUTDOWN } else { ALERTS_AT_EXIT };
        engine::email::wait_for_pending(max);
    }
    if !REGISTERED.with(|r| r.replace(true)) {
        // SAFETY: on_proc_exit keeps the function pointer for the life of this process; the
        // callback only reads signal flags and waits on a mutex (no PostgreSQL call).
        unsafe { pg_sys::on_proc_exit(Some(wait), pg_sys::Datum::from(0)) };
    }
}
