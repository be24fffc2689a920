//! The store: everything the engine asks of the database, and nothing of HTTP. The extension
//! implements it over SPI in the caller's transaction; the runner over a client connection;
//! the engine's unit tests over memory (memstore.rs). A host runs each engine call inside one
//! transaction of its own choosing and commits or rolls back after it: the engine never
//! commits, so a page, its silver and its checkpoint are always written together.
//!
//! Times cross this boundary as Unix seconds (Odoo's clock has whole-second resolution).

use crate::error::SyncResult;
use crate::model::ModelSpec;
use std::collections::BTreeMap;
use std::time::Duration;
pub use sync_window::{Checkpoint, Window};

/// Outcome of loading one page into bronze.
#[derive(Clone, Debug, Default)]
pub struct PageCounts {
    pub inserted: i64,
    pub updated: i64,
    /// Ids of the records inserted or changed (what silver has to look at).
    pub changed: Vec<i64>,
}

/// How a run was started: `scout.sync_logs.run_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// scout.odoo_sync() / odoo_sync_all(): one transaction.
    Function,
    /// The runner's `odoo-sync sync`: a step per commit, like the procedure.
    Runner,
    /// CALL scout.odoo_sync_run(): a step per commit.
    Procedure,
    /// The background worker's syncs (or the runner's `run`).
    Worker,
    /// A reconciliation (function, procedure or worker).
    Reconcile,
}

impl RunMode {
    /// The text the log and the SQL surface use.
    pub fn as_sql(self) -> &'static str {
        match self {
            RunMode::Function => "function",
            RunMode::Procedure => "procedure",
            RunMode::Runner => "runner",
            RunMode::Worker => "worker",
            RunMode::Reconcile => "reconcile",
        }
    }
}

/// How a run or a step ended: `status` of scout.sync_result and scout.reconcile_result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    /// A step with more to do: commit and call again.
    InProgress,
    /// Another session holds the model; nothing was done.
    Skipped,
}

impl RunStatus {
    /// The text the SQL results use.
    pub fn as_sql(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::InProgress => "in_progress",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// What a run did, for its log row and its summary.
#[derive(Clone, Debug, Default)]
pub struct RunCounts {
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub rejected: i64,
    /// Records found deleted in Odoo by a full sync's id reconciliation.
    pub deleted: i64,
}

impl RunCounts {
    /// Re-read records identical to bronze. (Rejected records are among the inserted or
    /// updated ones: quarantine is about silver, not a fourth outcome in bronze.)
    pub fn unchanged(&self) -> i64 {
        self.fetched - self.inserted - self.updated
    }
}

/// A step's contribution to its run's log row. Counts are added, so a run made of several
/// committed steps (procedure, worker) ends with its totals.
pub struct LogUpdate<'a> {
    /// running (more steps to come), success, skipped or failed.
    pub status: &'a str,
    pub counts: &'a RunCounts,
    pub window: Option<&'a Window>,
    pub odoo_version: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub http_calls: i64,
    pub http_retries: i64,
    pub message: Option<&'a str>,
    /// Requested fields this Odoo does not have (None: leave as is).
    pub missing_fields: Option<&'a [String]>,
}

/// A failed run or step, as its log row and checkpoint record it.
pub struct FailureRecord<'a> {
    pub checkpoint_id: &'a str,
    pub model: &'a str,
    /// The run's log row when earlier steps committed one.
    pub run_id: Option<i64>,
    pub mode: RunMode,
    pub error_code: &'a str,
    pub message: &'a str,
    /// When the failed step started (Unix seconds, fractional).
    pub started_at_unix: f64,
}

/// A model's current run of failures, as the log reads once a failure is recorded: what the
/// failure alert tells (`Store::record_failure`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureStreak {
    /// The checkpoint's status before this failure (None: it had no checkpoint): the alert is
    /// sent only when it was not 'failed' already.
    pub previous_status: Option<String>,
    /// When the first failed run since the last success failed (its `completed_at`, Unix
    /// seconds); this failure's time when it is the first.
    pub failing_since: i64,
    /// Failed runs since the last success, this one included (at least 1).
    pub failed_runs: i64,
    /// When the last successful run completed (Unix seconds); None: never.
    pub last_success: Option<i64>,
}

/// What a reconciliation found (reconcile.rs), for its log row and its result.
#[derive(Clone, Debug, Default)]
pub struct Drift {
    pub odoo_count: i64,
    pub bronze_count: i64,
    pub missing: i64,
    pub stale: i64,
    pub deleted: i64,
    pub restored: i64,
    /// Records re-fetched and loaded (missing + stale + restored that Odoo still had).
    pub refetched: i64,
}

impl Drift {
    pub fn add(&mut self, o: &Drift) {
        self.odoo_count += o.odoo_count;
        self.bronze_count += o.bronze_count;
        self.missing += o.missing;
        self.stale += o.stale;
        self.deleted += o.deleted;
        self.restored += o.restored;
        self.refetched += o.refetched;
    }

    /// What the reconciliation found wrong: the figure the drift alert compares.
    pub fn total(&self) -> i64 {
        self.missing + self.stale + self.deleted + self.restored
    }
}

/// How long writing silver may wait for another session's silver work.
#[derive(Clone, Copy, Debug)]
pub enum LockWait {
    /// As long as it takes (cancellably): interactive callers see what they wait for.
    Unbounded,
    /// At most this long, then SyncError::Busy (unattended runs).
    AtMost(Duration),
}

/// A pending outbox row as first listed: its id and the record it names (model, our key, Odoo
/// id), read without a lock.
#[derive(Clone, Debug)]
pub struct ListedRow {
    pub id: i64,
    pub record: (String, Option<String>, Option<i64>),
}

/// Everything the engine asks of the database.
pub trait Store {
    // --- Model specs and locks ---------------------------------------------------------

    /// The enabled models, in sync order.
    fn enabled_models(&mut self) -> SyncResult<Vec<ModelSpec>>;
    /// Takes the model's lock for the rest of the transaction without waiting; false when
    /// another session holds it.
    fn try_lock_model(&mut self, checkpoint_id: &str) -> SyncResult<bool>;
    /// Who holds a model's lock (a process id), for the message of a skipped run.
    fn lock_holder(&mut self, checkpoint_id: &str) -> SyncResult<Option<i32>>;

    // --- Checkpoints -------------------------------------------------------------------

    fn read_checkpoint(&mut self, checkpoint_id: &str) -> SyncResult<Checkpoint>;
    /// Records the checkpoint: an open window with its last id, or (window None) a finished
    /// run whose high-water mark is `high_water`, in the transaction of the page's rows.
    /// Returns the status the checkpoint had before (a recovery is noticed from it). A
    /// 'failed' status stays until a window completes.
    fn save_checkpoint(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        high_water: Option<i64>,
        window: Option<&Window>,
        records: i64,
        selection: Option<&str>,
    ) -> SyncResult<Option<String>>;

    // --- Bronze ------------------------------------------------------------------------

    /// Upserts a page (a JSON array of Odoo records, as raw text) into the model's bronze
    /// table. Unchanged records are not rewritten and count as neither.
    fn upsert_bronze(&mut self, spec: &ModelSpec, page_json: &str, run_id: i64) -> SyncResult<PageCounts>;
    /// What `upsert_bronze` would do, writing nothing (dry runs).
    fn preview_bronze(&mut self, spec: &ModelSpec, page_json: &str) -> SyncResult<PageCounts>;
    /// The live bronze ids, ascending.
    fn live_ids(&mut self, spec: &ModelSpec) -> SyncResult<Vec<i64>>;
    /// Up to `limit` bronze ids above `after`, ascending (deleted ones too).
    fn bronze_ids_after(&mut self, spec: &ModelSpec, after: i64, limit: i64) -> SyncResult<Vec<i64>>;
    /// Soft-deletes these live rows; returns the ids it marked.
    fn soft_delete(&mut self, spec: &ModelSpec, ids: &[i64], run_id: i64) -> SyncResult<Vec<i64>>;
    /// The live rows that name any of `ids` in one of `fields` (a many2one's `[id, "name"]`,
    /// an x2many's list), ascending.
    fn bronze_naming(&mut self, spec: &ModelSpec, fields: &[String], ids: &[i64]) -> SyncResult<Vec<i64>>;
    /// `(id, write_date as Odoo rendered it, soft-deleted)` with `after < id <= upto`, in id
    /// order: the bronze side of a reconciliation's merge.
    fn bronze_write_dates(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        upto: i64,
    ) -> SyncResult<Vec<(i64, Option<String>, bool)>>;
    /// Refreshes the planner's statistics of the tables a long load grows.
    fn analyze_for_load(&mut self, model: &str) -> SyncResult<()>;

    // --- Silver ------------------------------------------------------------------------

    /// Derives silver from these bronze rows (and what depends on them), after taking the
    /// silver lock as `wait` says; returns how many of them are in quarantine after.
    fn apply_silver(&mut self, model: &str, ids: &[i64], run_id: i64, wait: LockWait) -> SyncResult<i64>;
    /// Tells silver that Odoo deleted these records.
    fn silver_mark_deleted(&mut self, model: &str, ids: &[i64], wait: LockWait) -> SyncResult<()>;

    /// Runs `f` in a scope whose allocations are released when it returns (a page's SQL
    /// arguments are a megabyte of text: a million-row load must not keep every page).
    fn page_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T
    where
        Self: Sized,
    {
        f(self)
    }

    // --- Logs --------------------------------------------------------------------------

    /// Opens a run's log row (closing as interrupted any 'running' row of the checkpoint whose
    /// process is gone) and returns its id; `estimate` is Odoo's count of the window.
    fn start_log(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        full: bool,
        mode: RunMode,
        estimate: Option<i64>,
    ) -> SyncResult<i64>;
    fn update_log(&mut self, run_id: i64, u: &LogUpdate) -> SyncResult<()>;
    /// Whether a run's log row is still running (a step may continue it).
    fn is_running(&mut self, run_id: i64, checkpoint_id: &str) -> SyncResult<bool>;
    /// Records a failed run in its own transaction (the run's data was rolled back): the log
    /// row (made if the run had none) and the checkpoint's status. Returns the checkpoint's
    /// previous status and, read after this failure is written, the model's streak of failures.
    fn record_failure(&mut self, f: &FailureRecord) -> SyncResult<FailureStreak>;

    // --- Reconciliation ----------------------------------------------------------------

    /// The open reconciliation of a checkpoint: its log row and the last id it compared.
    fn open_reconciliation(&mut self, checkpoint_id: &str) -> SyncResult<Option<(i64, i64)>>;
    /// Moves (or, with None, clears) a reconciliation's cursor.
    fn save_reconcile_cursor(&mut self, checkpoint_id: &str, model: &str, cursor: Option<(i64, i64)>)
        -> SyncResult<()>;
    /// Adds one page's findings to a reconciliation's log row.
    fn add_reconcile_counts(&mut self, run_id: i64, d: &Drift) -> SyncResult<()>;
    /// Closes (or keeps running) a reconciliation's log row; returns the whole run's findings.
    fn finish_reconcile_log(
        &mut self,
        run_id: i64,
        done: bool,
        http_calls: i64,
        message: Option<&str>,
    ) -> SyncResult<Drift>;

    // --- After the transaction -----------------------------------------------------------

    /// Runs `action` once the current transaction commits (dropped if it rolls back): alerts
    /// are sent only for what really happened. An Err it returns is logged as a warning.
    fn after_commit(&mut self, action: Box<dyn FnOnce() -> Result<(), String>>);
    /// The database's name, for alerts.
    fn database_name(&mut self) -> String;

    // --- The outbox (write-back) ---------------------------------------------------------

    /// Takes the one-sender lock for the rest of the transaction, waiting or not.
    fn outbox_lock(&mut self, wait: bool) -> SyncResult<bool>;
    /// Refuses a caller whose transaction reads one snapshot throughout (REPEATABLE READ,
    /// SERIALIZABLE): it could send an older value after a newer one.
    fn outbox_check_isolation(&mut self) -> SyncResult<()>;
    /// Pending rows above `after`, in id order, at most `limit`, unlocked.
    fn outbox_list_pending(&mut self, after: i64, limit: i64) -> SyncResult<Vec<ListedRow>>;
    /// Locks the rows of `ids` still pending until the transaction ends, skipping those another
    /// session holds; each with whether the calling transaction wrote it (not committed yet).
    fn outbox_lock_rows(&mut self, ids: &[i64]) -> SyncResult<BTreeMap<i64, (writeback::Row, bool)>>;
    /// The (model, field) pairs write-back may write.
    fn outbox_allow_list(&mut self) -> SyncResult<writeback::AllowList>;
    /// The Odoo id of a record of ours, from its last sent row.
    fn outbox_known_id(&mut self, model: &str, key: &str) -> Option<i64>;
    /// Records each row's outcome: (row id, state, Odoo id, error).
    fn outbox_record(&mut self, outcomes: &[(i64, &'static str, Option<i64>, Option<String>)]) -> SyncResult<()>;
    /// Rows still pending.
    fn outbox_pending_count(&mut self) -> SyncResult<i64>;
}
