//! The SQL surface. Each function resolves settings, calls the engine, and maps a failure to
//! one ERROR (errors.rs). Nothing here knows how syncing works.

use crate::errors::{described, Report, SyncError, SyncResult};
use crate::host::{push_outbox, with_engine, PgHost};
use crate::models;
use crate::settings;
use crate::store::SpiStore;
use crate::{wake, webhooks};
use engine::outbox::Wait;
use engine::reconcile::{ReconcileOptions, ReconcileSummary};
use engine::runs::model_checkpoint;
use engine::store::{LockWait, RunMode, Store};
use engine::{Failure, RunOptions, RunSummary};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::time::SystemTime;

/// The composite type scout.sync_result (sql/01_core.sql): one row per model per run.
const RESULT_TYPE: &str = "scout.sync_result";

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET: i64 = 946_684_800;

/// A Unix time (seconds) as a timestamptz.
pub(crate) fn timestamptz(unix: i64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from((unix - PG_EPOCH_OFFSET) * 1_000_000).ok()
}

fn to_row(s: RunSummary) -> SyncResult<pgrx::composite_type!('static, "scout.sync_result")> {
    let checkpoint = s.checkpoint.and_then(timestamptz);
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
    row.set_by_name("status", s.status.as_sql()).map_err(set_err)?;
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

/// A step's max_pages: 1 or more.
fn page_count(max_pages: Option<i32>) -> SyncResult<u32> {
    match required(max_pages, "max_pages")? {
        n if n >= 1 => Ok(n as u32),
        n => Err(SyncError::InvalidArgument {
            message: format!("max_pages must be at least 1, not {n}"),
            hint: "Pass 1 or more.".into(),
        }),
    }
}

fn options(full: bool, dry_run: bool, mode: RunMode) -> RunOptions {
    RunOptions {
        full,
        dry_run,
        mode,
        max_pages: None,
        max_time: None,
        stop_requested: None,
        run_id: None,
        lock_wait: LockWait::Unbounded,
        eager: false,
    }
}

fn sync_one(model: Option<&str>, full: Option<bool>, dry_run: Option<bool>) -> SyncResult<RunSummary> {
    let model = required(model, "model")?;
    let full = required(full, "full")?;
    let dry_run = required(dry_run, "dry_run")?;
    let spec = models::find(model)?;
    let settings = settings::current();
    with_engine(&settings, |store, odoo| {
        engine::run_and_alert(store, &PgHost, &spec, options(full, dry_run, RunMode::Function), &settings, odoo)
    })
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
    let settings = settings::current();
    let specs = models::enabled()?;
    with_engine(&settings, |store, odoo| {
        specs
            .iter()
            .map(|spec| {
                engine::run_and_alert(store, &PgHost, spec, options(full, false, RunMode::Function), &settings, odoo)
            })
            .collect()
    })
}

/// Syncs every enabled model in dependency order, in the caller's transaction.
#[pg_extern(name = "odoo_sync_all", volatile, parallel_unsafe)]
fn odoo_sync_all(
    full: default!(Option<bool>, false),
) -> SetOfIterator<'static, pgrx::composite_type!('static, "scout.sync_result")> {
    let rows = or_report(sync_all(full).and_then(|all| all.into_iter().map(to_row).collect::<SyncResult<Vec<_>>>()));
    SetOfIterator::new(rows)
}

fn step(model: &str, full: Option<bool>, run_id: Option<i64>, max_pages: Option<i32>) -> SyncResult<RunSummary> {
    let full = required(full, "full")?;
    let max_pages = page_count(max_pages)?;
    let spec = models::find(model)?;
    let settings = settings::current();
    if let Some(id) = run_id {
        // Only a run that is still going on can be continued: a caller must not rewrite the log
        // row of another, finished run.
        if !SpiStore.is_running(id, &model_checkpoint(&settings, &spec.model))? {
            return Err(SyncError::InvalidArgument {
                message: format!("run {id} is not a running run of {}", spec.model),
                hint: "Pass the run_id that the previous step of this run returned, or NULL to start a run.".into(),
            });
        }
    }
    let opts = RunOptions {
        full,
        dry_run: false,
        mode: RunMode::Procedure,
        max_pages: Some(max_pages),
        max_time: None,
        stop_requested: None,
        run_id,
        lock_wait: LockWait::Unbounded,
        eager: false,
    };
    with_engine(&settings, |store, odoo| engine::run_and_alert(store, &PgHost, &spec, opts, &settings, odoo))
}

thread_local! {
    /// The last step of this backend that failed, kept for scout.odoo_sync_record_failure().
    static FAILED_STEP: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// One committed step of a long run: up to `max_pages` pages, then returns with status
/// in_progress (call again with the returned run_id after COMMIT) or success.
/// The building block of scout.odoo_sync_run(). A step that fails (an Odoo error, or any
/// PostgreSQL ERROR in its SQL) raises it unchanged, and is remembered in this backend so that
/// the caller can record it with scout.odoo_sync_record_failure() after rolling back.
#[pg_extern(name = "odoo_sync_step", volatile, parallel_unsafe)]
fn odoo_sync_step(
    model: Option<&str>,
    full: default!(Option<bool>, false),
    run_id: default!(Option<i64>, "NULL"),
    max_pages: default!(Option<i32>, 1),
) -> pgrx::composite_type!('static, "scout.sync_result") {
    let model = or_report(required(model, "model"));
    committing_step(model, run_id, RunMode::Procedure, || step(model, full, run_id, max_pages).and_then(to_row))
}

/// Runs one step of a committing run (a sync or a reconciliation). A step that fails (an Odoo
/// error, or any PostgreSQL ERROR in its SQL) raises it unchanged, and is remembered in this
/// backend so that the caller can record it with scout.odoo_sync_record_failure() after rolling
/// back. A PostgreSQL ERROR unwinds through here: it is remembered (pure Rust, no SQL after the
/// error), then goes on.
fn committing_step<T>(model: &str, run_id: Option<i64>, mode: RunMode, step: impl FnOnce() -> SyncResult<T>) -> T {
    FAILED_STEP.with(|f| f.borrow_mut().take());
    let started = SystemTime::now();
    let remember = |e: &SyncError| {
        FAILED_STEP.with(|f| *f.borrow_mut() = Some(Failure::new(model, run_id, mode, started, e)));
    };
    let result = PgTryBuilder::new(AssertUnwindSafe(step))
        .catch_others(|caught| {
            remember(&described(&caught));
            caught.rethrow()
        })
        .execute();
    result.unwrap_or_else(|e| {
        remember(&e);
        e.report()
    })
}

fn record_failure() -> SyncResult<()> {
    let failure = FAILED_STEP.with(|f| f.borrow_mut().take()).ok_or_else(|| SyncError::InvalidArgument {
        message: "no failed step of scout.odoo_sync_step() in this session to record".into(),
        hint: "scout.odoo_sync_run() calls this after a step failed and was rolled back; there is nothing to call it for otherwise.".into(),
    })?;
    let spec = models::find(&failure.model)?;
    let failure = Failure { model: spec.model.clone(), ..failure };
    engine::record_failure(&mut SpiStore, &settings::current(), &failure)
}

/// Records the failure of this session's last failed step (scout.odoo_sync_step), in the
/// caller's new transaction: the log row, the checkpoint's status and error, and an alert when
/// the model just started failing. What is recorded is what really failed here: the caller
/// chooses neither the model, the run, nor the text.
#[pg_extern(name = "odoo_sync_record_failure", volatile, parallel_unsafe)]
fn odoo_sync_record_failure() {
    or_report(record_failure())
}

/// The time zone of business days when Odoo gives none for a store (sql/30_gold.sql):
/// odoo_sync.timezone, or UTC. A C function on purpose: calling it loads the library, which turns
/// the setting from a placeholder (which any role may SET in a session where the library was not
/// loaded yet) into the superuser-only setting, discarding such a value: a role allowed to
/// refresh gold cannot move everyone's business days.
#[pg_extern(name = "business_timezone", stable, parallel_safe)]
fn business_timezone() -> String {
    or_report(
        settings::business_timezone()
            .map_err(|detail| SyncError::InvalidSetting { setting: "odoo_sync.timezone", detail }),
    )
}

fn reconcile_row(r: ReconcileSummary) -> SyncResult<pgrx::composite_type!('static, "scout.reconcile_result")> {
    const TYPE: &str = "scout.reconcile_result";
    let mut row =
        PgHeapTuple::new_composite_type(TYPE).map_err(|e| SyncError::Internal(format!("type {TYPE}: {e}")))?;
    let set_err = |e: pgrx::datum::TryFromDatumError| SyncError::Internal(format!("{TYPE}: {e}"));
    let d = &r.drift;
    row.set_by_name("model", r.model.clone()).map_err(set_err)?;
    row.set_by_name("odoo_count", d.odoo_count).map_err(set_err)?;
    row.set_by_name("bronze_count", d.bronze_count).map_err(set_err)?;
    row.set_by_name("missing", d.missing).map_err(set_err)?;
    row.set_by_name("stale", d.stale).map_err(set_err)?;
    row.set_by_name("deleted", d.deleted).map_err(set_err)?;
    row.set_by_name("restored", d.restored).map_err(set_err)?;
    row.set_by_name("refetched", d.refetched).map_err(set_err)?;
    row.set_by_name("duration", Interval::from_micros(r.duration.as_micros() as i64)).map_err(set_err)?;
    row.set_by_name("status", r.status.as_sql()).map_err(set_err)?;
    row.set_by_name("run_id", r.run_id).map_err(set_err)?;
    Ok(row)
}

fn reconcile(model: Option<&str>, dry_run: Option<bool>) -> SyncResult<Vec<ReconcileSummary>> {
    let dry_run = required(dry_run, "dry_run")?;
    let specs = match model {
        Some(m) => vec![models::find(m)?],
        None => models::enabled()?,
    };
    let settings = settings::current();
    let opts = ReconcileOptions { dry_run, max_pages: None, stop_requested: None, lock_wait: LockWait::Unbounded };
    with_engine(&settings, |store, odoo| {
        specs
            .iter()
            .map(|spec| engine::reconcile::reconcile_and_alert(store, &PgHost, spec, opts, &settings, odoo))
            .collect()
    })
}

/// Compares every record's (id, write_date) in Odoo with bronze and repairs the drift: what is
/// missing or stale is re-fetched, what Odoo no longer has is soft-deleted, what came back is
/// restored. NULL: every enabled model, in dependency order. In the caller's transaction.
#[pg_extern(name = "odoo_reconcile", volatile, parallel_unsafe)]
fn odoo_reconcile(
    model: default!(Option<&str>, "NULL"),
    dry_run: default!(Option<bool>, false),
) -> SetOfIterator<'static, pgrx::composite_type!('static, "scout.reconcile_result")> {
    let rows = or_report(
        reconcile(model, dry_run).and_then(|all| all.into_iter().map(reconcile_row).collect::<SyncResult<Vec<_>>>()),
    );
    SetOfIterator::new(rows)
}

fn reconcile_step(model: &str, max_pages: Option<i32>) -> SyncResult<ReconcileSummary> {
    let max_pages = page_count(max_pages)?;
    let spec = models::find(model)?;
    let settings = settings::current();
    let opts = ReconcileOptions {
        dry_run: false,
        max_pages: Some(max_pages),
        stop_requested: None,
        lock_wait: LockWait::Unbounded,
    };
    with_engine(&settings, |store, odoo| {
        engine::reconcile::reconcile_and_alert(store, &PgHost, &spec, opts, &settings, odoo)
    })
}

/// One committed step of a long reconciliation: up to `max_pages` listing pages of 5,000
/// records, then returns with status in_progress (COMMIT, call again: it resumes at its cursor)
/// or success. The building block of scout.odoo_reconcile_run(). A failed step is remembered
/// for scout.odoo_sync_record_failure(), like a sync step's.
#[pg_extern(name = "odoo_reconcile_step", volatile, parallel_unsafe)]
fn odoo_reconcile_step(
    model: Option<&str>,
    max_pages: default!(Option<i32>, 1),
) -> pgrx::composite_type!('static, "scout.reconcile_result") {
    let model = or_report(required(model, "model"));
    committing_step(model, None, RunMode::Reconcile, || reconcile_step(model, max_pages).and_then(reconcile_row))
}

/// Sends the pending write-back rows (scout.odoo_outbox) now, in this session, and returns how
/// many were sent and failed, and how many are still pending. Waits while another session
/// (the worker) is sending. Odoo unreachable: the rows stay pending, with a WARNING saying why.
/// Rows the calling transaction wrote are not sent (nothing reaches Odoo uncommitted), and a
/// REPEATABLE READ or SERIALIZABLE caller is refused (engine::outbox).
#[pg_extern(name = "odoo_push", volatile, parallel_unsafe)]
fn odoo_push() -> TableIterator<'static, (name!(sent, i64), name!(failed, i64), name!(pending, i64))> {
    let settings = settings::current();
    let pushed = or_report(push_outbox(&settings, Wait::Yes, usize::MAX));
    if let Some(e) = &pushed.transient {
        pgrx::warning!("odoo_sync: {} outbox rows stay pending: {e}", pushed.left);
    }
    if pushed.held > 0 {
        pgrx::notice!(
            "odoo_sync: {} outbox rows were not sent now: this transaction wrote them and has not committed, or \
             another session is changing them; they are sent once that transaction commits",
            pushed.held
        );
    }
    let pending = or_report(crate::store::outbox_pending_count());
    TableIterator::once((pushed.sent, pushed.failed, pending))
}

/// Asks the worker to send the outbox as soon as the current transaction commits (returns at
/// once). Rows inserted into scout.odoo_outbox ask for themselves; this is for callers that
/// want to say so (an Edge Function, pg_cron).
#[pg_extern(name = "odoo_push_soon", volatile, parallel_unsafe)]
fn odoo_push_soon() {
    or_report(wake::wake_worker_after_commit())
}

/// Creates in Odoo (17 or later, module base_automation) the Automation Rules that post a
/// webhook to `receiver_url` (default: scout.odoo_webhook_url(), this server's listener) when
/// a record of a synced model is created, updated or deleted; found again by external id on a
/// second call, so calling it twice leaves one set. Returns the rules. Superuser only.
#[pg_extern(name = "odoo_install_webhooks", volatile, parallel_unsafe)]
fn odoo_install_webhooks(
    receiver_url: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(model, String), name!(trigger, String), name!(rule_id, i64), name!(action_id, i64))>
{
    let rows = or_report(webhooks::install(receiver_url));
    TableIterator::new(rows.into_iter().map(|r| (r.model, r.trigger, r.rule_id, r.action_id)))
}

/// Deletes the rules scout.odoo_install_webhooks() created in Odoo; returns how many.
#[pg_extern(name = "odoo_remove_webhooks", volatile, parallel_unsafe)]
fn odoo_remove_webhooks() -> i64 {
    or_report(webhooks::remove())
}
