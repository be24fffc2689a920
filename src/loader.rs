//! Everything the sync writes or reads in PostgreSQL, through SPI. Knows nothing of HTTP: it
//! takes pages of raw JSON text and checkpoint values, and gives back counts.
//!
//! Times cross this boundary as Unix seconds (Odoo's clock has whole-second resolution).

use crate::errors::{SyncError, SyncResult};
use crate::interrupts;
use crate::models::ModelSpec;
use pgrx::prelude::*;

/// The window and checkpoint types are the pure planning crate's (crates/window).
pub use sync_window::{Checkpoint, Window};

/// Both ints of a per-checkpoint advisory lock: a fixed class for odoo_sync, and the id's hash.
const LOCK_KEY_SQL: &str = "hashtext('odoo_sync'), hashtext($1)";

/// Takes the model's transaction-level advisory lock without waiting. False when another
/// session (the worker, pg_cron, a manual call) is syncing the same model right now.
pub fn try_lock(checkpoint_id: &str) -> SyncResult<bool> {
    let sql = format!("SELECT pg_try_advisory_xact_lock({LOCK_KEY_SQL})");
    Ok(Spi::get_one_with_args::<bool>(&sql, &[checkpoint_id.into()])?.unwrap_or(false))
}

/// Whether a run's log row is still running (a step may continue it).
pub fn is_running(run_id: i64, checkpoint_id: &str) -> SyncResult<bool> {
    let sql =
        "SELECT EXISTS (SELECT 1 FROM scout.sync_logs WHERE id = $1 AND checkpoint_id = $2 AND status = 'running')";
    Ok(Spi::get_one_with_args::<bool>(sql, &[run_id.into(), checkpoint_id.into()])?.unwrap_or(false))
}

/// The pid holding a model's lock, for the message of a skipped run.
pub fn lock_holder(checkpoint_id: &str) -> SyncResult<Option<i32>> {
    let sql = "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
               AND l.classid = hashtext('odoo_sync')::oid AND l.objid = hashtext($1)::oid LIMIT 1";
    Ok(Spi::get_one_with_args::<i32>(sql, &[checkpoint_id.into()]).unwrap_or(None))
}

pub fn read_checkpoint(checkpoint_id: &str) -> SyncResult<Checkpoint> {
    let sql = "SELECT CASE WHEN isfinite(last_sync_at) THEN extract(epoch FROM last_sync_at)::bigint END, \
                      extract(epoch FROM window_start)::bigint, \
                      extract(epoch FROM window_end)::bigint, \
                      window_full, last_record_id, selection, \
                      extract(epoch FROM coalesce(window_mark, window_end))::bigint \
               FROM scout.sync_checkpoints WHERE id = $1";
    Spi::connect(|client| {
        let rows = client.select(sql, None, &[checkpoint_id.into()])?;
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
pub fn save_checkpoint(
    cp_id: &str,
    model: &str,
    high_water: Option<i64>,
    window: Option<&Window>,
    records: i64,
    selection: Option<&str>,
) -> SyncResult<Option<String>> {
    let sql = "WITH old AS (SELECT status FROM scout.sync_checkpoints WHERE id = $1) \
               INSERT INTO scout.sync_checkpoints AS c \
                 (id, model, last_sync_at, last_record_id, window_start, window_end, window_full, \
                  records_synced, status, error_message, updated_at, selection, window_mark) \
               VALUES ($1, $2, COALESCE(to_timestamp($3), '-infinity'), $4, to_timestamp($5), to_timestamp($6), \
                       COALESCE($7, false), $8, CASE WHEN $6 IS NULL THEN 'success' ELSE 'in_progress' END, NULL, now(), $9, \
                       to_timestamp($10)) \
               ON CONFLICT (id) DO UPDATE SET \
                 last_sync_at = EXCLUDED.last_sync_at, last_record_id = EXCLUDED.last_record_id, \
                 window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, \
                 window_full = EXCLUDED.window_full, window_mark = EXCLUDED.window_mark, records_synced = c.records_synced + EXCLUDED.records_synced, \
                 status = CASE WHEN EXCLUDED.status = 'in_progress' AND c.status = 'failed' THEN 'failed' ELSE EXCLUDED.status END, \
                 error_message = CASE WHEN EXCLUDED.status = 'success' THEN NULL ELSE c.error_message END, \
                 updated_at = now(), selection = COALESCE(EXCLUDED.selection, c.selection) \
               RETURNING (SELECT status FROM old)";
    let as_f64 = |v: Option<i64>| v.map(|x| x as f64);
    Ok(Spi::get_one_with_args::<String>(
        sql,
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

#[derive(Clone, Debug, Default)]
/// What a reconciliation found (sync/reconcile.rs), for its log row and its result.
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

/// Bronze's `(id, write_date as Odoo rendered it, soft-deleted)` with `after < id <= upto`, in
/// id order: the bronze side of a reconciliation's merge.
pub fn bronze_write_dates(spec: &ModelSpec, after: i64, upto: i64) -> SyncResult<Vec<(i64, Option<String>, bool)>> {
    let sql = format!(
        "SELECT id, payload->>'write_date', deleted_at IS NOT NULL FROM scout.{} WHERE id > $1 AND id <= $2 ORDER BY id",
        spec.bronze_table
    );
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
pub fn soft_delete(spec: &ModelSpec, ids: &[i64], run_id: i64) -> SyncResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "WITH d AS (UPDATE scout.{} SET deleted_at = now(), run_id = $2 WHERE id = ANY($1) AND deleted_at IS NULL RETURNING id) \
         SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM d",
        spec.bronze_table
    );
    Ok(Spi::get_one_with_args::<Vec<i64>>(&sql, &[ids.to_vec().into(), run_id.into()])?.unwrap_or_default())
}

/// The open reconciliation of a checkpoint (its log row, and the last id it compared), left by a
/// committing run that has more to do or was cut off.
pub fn open_reconciliation(cp_id: &str) -> SyncResult<Option<(i64, i64)>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT c.reconcile_run_id, c.reconcile_last_id FROM scout.sync_checkpoints c \
             JOIN scout.sync_logs l ON l.id = c.reconcile_run_id WHERE c.id = $1",
            None,
            &[cp_id.into()],
        )?;
        match rows.into_iter().next() {
            Some(row) => Ok(row.get::<i64>(1)?.zip(row.get::<i64>(2)?)),
            None => Ok(None),
        }
    })
}

/// Moves (or, with None, clears) a reconciliation's cursor, in the transaction of its page.
pub fn save_reconcile_cursor(cp_id: &str, model: &str, cursor: Option<(i64, i64)>) -> SyncResult<()> {
    Spi::run_with_args(
        "INSERT INTO scout.sync_checkpoints AS c (id, model, last_sync_at, reconcile_run_id, reconcile_last_id) \
         VALUES ($1, $2, '-infinity', $3, $4) \
         ON CONFLICT (id) DO UPDATE SET reconcile_run_id = EXCLUDED.reconcile_run_id, \
           reconcile_last_id = EXCLUDED.reconcile_last_id, updated_at = now()",
        &[cp_id.into(), model.into(), cursor.map(|c| c.0).into(), cursor.map(|c| c.1).into()],
    )?;
    Ok(())
}

/// Adds one page's findings to a reconciliation's log row.
pub fn add_reconcile_counts(run_id: i64, d: &Drift) -> SyncResult<()> {
    Spi::run_with_args(
        "UPDATE scout.sync_logs SET fetched = fetched + $2, records_processed = records_processed + $2 + $5, \
           missing = missing + $3, stale = stale + $4, deleted = deleted + $5, restored = restored + $6, \
           odoo_count = coalesce(odoo_count, 0) + $7 WHERE id = $1",
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
pub fn finish_reconcile_log(run_id: i64, done: bool, http_calls: i64, message: Option<&str>) -> SyncResult<Drift> {
    Spi::connect_mut(|client| {
        let rows = client.update(
            "UPDATE scout.sync_logs SET status = CASE WHEN $2 THEN 'success' ELSE 'running' END, \
               completed_at = CASE WHEN $2 THEN clock_timestamp() END, \
               http_calls = http_calls + $3, message = coalesce($4, message) WHERE id = $1 \
             RETURNING coalesce(odoo_count, 0), missing, stale, deleted, restored, fetched",
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

/// Outcome of loading one page into bronze.
#[derive(Clone, Debug, Default)]
pub struct PageCounts {
    pub inserted: i64,
    pub updated: i64,
    /// Ids of the records inserted or changed (what silver has to look at).
    pub changed: Vec<i64>,
}

/// Upserts a page (a JSON array of Odoo records, as raw text) into the model's bronze table in
/// one statement. Records whose payload is unchanged are not rewritten and count as neither.
pub fn upsert_bronze(spec: &ModelSpec, page_json: &str, run_id: i64) -> SyncResult<PageCounts> {
    let sql = format!(
        "WITH page AS ( \
            SELECT (r->>'id')::bigint AS id, scout.odoo_datetime(r->'write_date') AS write_date, r AS payload \
            FROM jsonb_array_elements($1::jsonb) AS r), \
         up AS ( \
            INSERT INTO scout.{t} AS b (id, write_date, payload, run_id, synced_at, deleted_at) \
            SELECT id, write_date, payload, $2, now(), NULL FROM page \
            ON CONFLICT (id) DO UPDATE SET write_date = EXCLUDED.write_date, payload = EXCLUDED.payload, \
                run_id = EXCLUDED.run_id, synced_at = EXCLUDED.synced_at, deleted_at = NULL \
            WHERE b.payload IS DISTINCT FROM EXCLUDED.payload OR b.deleted_at IS NOT NULL \
            RETURNING b.id, (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), \
                coalesce(array_agg(id), '{{}}') FROM up",
        t = spec.bronze_table
    );
    let (ins, upd, changed) = Spi::get_three_with_args::<i64, i64, Vec<i64>>(&sql, &[page_json.into(), run_id.into()])?;
    Ok(PageCounts { inserted: ins.unwrap_or(0), updated: upd.unwrap_or(0), changed: changed.unwrap_or_default() })
}

/// The live bronze rows whose ids are not in `odoo_ids` (every id Odoo listed, archived
/// included, strictly ascending: sync/listing.rs checks it first). Candidates only: nothing is
/// deleted before Odoo confirms them gone. The difference is computed here by merging two
/// sorted lists: PostgreSQL cannot estimate an unnested array's size and picks a nested loop
/// that is quadratic at 1M rows.
pub fn absent_from(spec: &ModelSpec, odoo_ids: &[i64]) -> SyncResult<Vec<i64>> {
    let t = &spec.bronze_table;
    let ours = Spi::get_one::<Vec<i64>>(&format!(
        "SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM scout.{t} WHERE deleted_at IS NULL"
    ))?
    .unwrap_or_default();
    let mut gone = Vec::new();
    let mut theirs = odoo_ids.iter().peekable();
    for id in ours {
        while theirs.next_if(|o| **o < id).is_some() {}
        if theirs.peek() != Some(&&id) {
            gone.push(id);
        }
    }
    Ok(gone)
}

/// The live bronze rows of `spec`'s model that name any of `ids` in one of `fields` (a
/// many2one's `[id, "name"]` or an x2many's list of ids), ascending.
pub fn bronze_naming(spec: &ModelSpec, fields: &[String], ids: &[i64]) -> SyncResult<Vec<i64>> {
    if fields.is_empty() || ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT coalesce(array_agg(b.id ORDER BY b.id), '{{}}') FROM scout.{t} b \
         WHERE b.deleted_at IS NULL AND EXISTS ( \
           SELECT 1 FROM unnest($1::text[]) AS f(name), \
                LATERAL jsonb_array_elements(CASE jsonb_typeof(b.payload -> f.name) \
                                             WHEN 'array' THEN b.payload -> f.name ELSE '[]' END) AS e(v) \
           WHERE jsonb_typeof(e.v) = 'number' AND (e.v #>> '{{}}')::numeric = ANY ($2::bigint[]::numeric[]))",
        t = spec.bronze_table
    );
    Ok(Spi::get_one_with_args::<Vec<i64>>(&sql, &[fields.to_vec().into(), ids.to_vec().into()])?.unwrap_or_default())
}

/// Silver rows depend on several models (an order's totals on its lines and payments), so two
/// sessions syncing different models would update the same silver rows in different orders
/// and deadlock. One transaction-level lock serialises silver writes instead: a session waits
/// (cancellably) for another's transaction to end, and never holds half of what it needs.
fn lock_silver(model: &str, wait: LockWait) -> SyncResult<()> {
    const KEY: &str = "hashtext('odoo_sync'), hashtext('silver')";
    let LockWait::AtMost(limit) = wait else {
        Spi::run(&format!("SELECT pg_advisory_xact_lock({KEY})"))?;
        return Ok(());
    };
    // Unattended: try, and wait between tries on the latch (SIGTERM sets it), so that a session
    // idle in its transaction cannot hold the worker, and a shutdown is never stuck behind it.
    let deadline = std::time::Instant::now() + limit;
    loop {
        if Spi::get_one::<bool>(&format!("SELECT pg_try_advisory_xact_lock({KEY})"))?.unwrap_or(false) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline || interrupts::stop_requested() {
            let holder = Spi::get_one::<String>(
                "SELECT string_agg(format('pid %s (%s, %s)', a.pid, a.usename, a.state), ', ') \
                 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.classid = hashtext('odoo_sync')::oid AND l.objid = hashtext('silver')::oid",
            )?
            .unwrap_or_else(|| "a session that has since ended".into());
            return Err(SyncError::Busy {
                model: model.to_owned(),
                detail: format!("The silver lock is held by {holder}; waited {} s.", limit.as_secs()),
            });
        }
        pgrx::check_for_interrupts!();
        interrupts::wait_on_latch(std::time::Duration::from_millis(100));
    }
}

/// How long writing silver may wait for another session's silver work.
#[derive(Clone, Copy, Debug)]
pub enum LockWait {
    /// As long as it takes (cancellable): interactive callers see what they wait for.
    Unbounded,
    /// At most this long, then SyncError::Busy (the worker).
    AtMost(std::time::Duration),
}

/// Tells silver which records Odoo deleted (sql/29_silver_apply.sql).
pub fn silver_mark_deleted(model: &str, ids: &[i64], wait: LockWait) -> SyncResult<()> {
    if !ids.is_empty() {
        lock_silver(model, wait)?;
        Spi::run_with_args("SELECT scout.silver_mark_deleted($1, $2)", &[model.into(), ids.to_vec().into()])?;
    }
    Ok(())
}

/// Derives silver from the bronze rows just changed, in the same transaction (sql/29_silver_apply.sql).
/// Returns how many rows the data-quality rules quarantined.
pub fn apply_silver(model: &str, ids: &[i64], run_id: i64, wait: LockWait) -> SyncResult<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    lock_silver(model, wait)?;
    let sql = "SELECT scout.silver_apply($1, $2, $3)";
    Ok(Spi::get_one_with_args::<i64>(sql, &[model.into(), ids.to_vec().into(), run_id.into()])?.unwrap_or(0))
}

/// Bronze ids per silver_apply call when a first load derives silver at its end.
const SILVER_CHUNK: i64 = 10_000;

/// Derives silver from every bronze row of the model, in id order, SILVER_CHUNK ids per
/// silver_apply call: the end of a first load, which loaded bronze only. Returns how many rows
/// the data-quality rules quarantined. The same result as deriving after each page (silver is
/// a function of bronze), in a tenth of the statements. The silver table's statistics are
/// refreshed as it grows (10,000 rows, then 100,000, ...), as a load does for bronze.
pub fn apply_silver_to_all(spec: &ModelSpec, run_id: i64, wait: LockWait) -> SyncResult<i64> {
    let sql = format!(
        "SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM \
         (SELECT id FROM scout.{t} WHERE id > $1 ORDER BY id LIMIT $2) s",
        t = spec.bronze_table
    );
    let (mut after, mut rejected, mut derived, mut analyze_at) = (0i64, 0i64, 0i64, 10_000i64);
    // Each chunk's SQL arguments and results live in a context reset after it, as a page's do:
    // a million rows must not keep a hundred chunks' allocations until the call returns.
    let mut chunk_cx = pgrx::PgMemoryContexts::new("odoo_sync silver chunk");
    loop {
        // SAFETY: nothing allocated in chunk_cx outlives the block (the ids are a Rust Vec).
        let chunk = unsafe {
            chunk_cx.switch_to(|_| -> SyncResult<(Vec<i64>, i64)> {
                let ids =
                    Spi::get_one_with_args::<Vec<i64>>(&sql, &[after.into(), SILVER_CHUNK.into()])?.unwrap_or_default();
                let rejected = apply_silver(&spec.model, &ids, run_id, wait)?; // 0 for no ids
                Ok((ids, rejected))
            })
        };
        // SAFETY: the chunk's SQL is done and its results are Rust-owned.
        unsafe { chunk_cx.reset() };
        let (ids, chunk_rejected) = chunk?;
        let Some(&last) = ids.last() else { return Ok(rejected) };
        rejected += chunk_rejected;
        after = last;
        derived += ids.len() as i64;
        if derived >= analyze_at {
            analyze_for_load(&spec.model)?;
            analyze_at = derived.saturating_mul(10);
        }
    }
}

/// Refreshes the planner's statistics of the tables a long load of this model grows (bronze
/// and its silver table), which no autovacuum can do inside the load's transaction.
pub fn analyze_for_load(model: &str) -> SyncResult<()> {
    Spi::run_with_args("SELECT scout.analyze_for_load($1)", &[model.into()])?;
    Ok(())
}

/// What `upsert_bronze` would do, without writing anything (dry runs).
pub fn preview_bronze(spec: &ModelSpec, page_json: &str) -> SyncResult<PageCounts> {
    let sql = format!(
        "WITH page AS (SELECT (r->>'id')::bigint AS id, r AS payload FROM jsonb_array_elements($1::jsonb) AS r) \
         SELECT count(*) FILTER (WHERE b.id IS NULL), \
                count(*) FILTER (WHERE b.id IS NOT NULL AND (b.payload IS DISTINCT FROM p.payload OR b.deleted_at IS NOT NULL)) \
         FROM page p LEFT JOIN scout.{t} b ON b.id = p.id",
        t = spec.bronze_table
    );
    let (ins, upd) = Spi::get_two_with_args::<i64, i64>(&sql, &[page_json.into()])?;
    Ok(PageCounts { inserted: ins.unwrap_or(0), updated: upd.unwrap_or(0), changed: Vec::new() })
}

/// Opens the run's log row and returns the run id.
pub fn start_log(cp_id: &str, model: &str, full: bool, run_mode: RunMode) -> SyncResult<i64> {
    start_log_with_estimate(cp_id, model, full, run_mode, None)
}

/// Opens a log row that also records Odoo's count of the window, for progress reporting.
pub fn start_log_with_estimate(
    cp_id: &str,
    model: &str,
    full: bool,
    run_mode: RunMode,
    estimate: Option<i64>,
) -> SyncResult<i64> {
    // A 'running' row whose backend is gone belongs to a run that was cut off (crash, kill,
    // shutdown) and could not record its end: say so instead of leaving it running forever.
    Spi::run_with_args(
        "UPDATE scout.sync_logs SET status = 'failed', completed_at = clock_timestamp(), error_count = error_count + 1, \
           error_message = 'interrupted (backend or server stopped mid-run); its committed pages were kept and the next run resumed' \
         WHERE checkpoint_id = $1 AND status = 'running' \
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = sync_logs.backend_pid)",
        &[cp_id.into()],
    )?;
    let sql = "INSERT INTO scout.sync_logs (checkpoint_id, model, full_sync, run_mode, estimated_total) \
               VALUES ($1, $2, $3, $4, $5) RETURNING id";
    Spi::get_one_with_args::<i64>(
        sql,
        &[cp_id.into(), model.into(), full.into(), run_mode.as_sql().into(), estimate.into()],
    )?
    .ok_or_else(|| crate::errors::SyncError::Internal("sync_logs insert returned no id".into()))
}

/// How a run was started: `scout.sync_logs.run_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// scout.odoo_sync() / odoo_sync_all(): one transaction, the caller's.
    Function,
    /// CALL scout.odoo_sync_run(): a step per commit.
    Procedure,
    /// The background worker's syncs.
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

pub fn update_log(run_id: i64, u: &LogUpdate) -> SyncResult<()> {
    let sql = "UPDATE scout.sync_logs SET \
                 completed_at = CASE WHEN $2 = 'running' THEN NULL ELSE clock_timestamp() END, status = $2, \
                 records_processed = records_processed + $3 + $4, fetched = fetched + $5, \
                 inserted = inserted + $3, updated = updated + $4, \
                 unchanged = unchanged + ($5 - $3 - $4), rejected = rejected + $6, \
                 deleted = deleted + $14, \
                 error_count = error_count + CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END, \
                 window_start = to_timestamp($7), window_end = to_timestamp($8), \
                 odoo_version = coalesce($9, odoo_version), transport = coalesce($10, transport), \
                 http_calls = http_calls + $11, http_retries = http_retries + $12, \
                 message = coalesce($13, message), \
                 missing_fields = coalesce($15, missing_fields) \
               WHERE id = $1";
    let c = u.counts;
    Spi::run_with_args(
        sql,
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
pub fn record_failure(
    cp_id: &str,
    model: &str,
    run_id: Option<i64>,
    mode: RunMode,
    error_code: Option<&str>,
    message: &str,
    started_at_unix: f64,
) -> SyncResult<Option<String>> {
    // A run that failed in its first step has no log row (it was rolled back): make one that
    // starts when that step started.
    let (run_id, new_row) = match run_id {
        Some(id) => (id, false),
        None => (start_log(cp_id, model, false, mode)?, true),
    };
    Spi::run_with_args(
        "UPDATE scout.sync_logs SET status = 'failed', completed_at = clock_timestamp(), \
           error_count = error_count + 1, error_message = $2, error_code = $3, \
           started_at = CASE WHEN $4 THEN to_timestamp($5) ELSE started_at END WHERE id = $1",
        &[run_id.into(), message.into(), error_code.into(), new_row.into(), started_at_unix.into()],
    )?;
    // A scalar subquery: one row (NULL status) even when the model has no checkpoint yet.
    let previous = Spi::get_one_with_args::<String>(
        "SELECT (SELECT status FROM scout.sync_checkpoints WHERE id = $1)",
        &[cp_id.into()],
    )?;
    Spi::run_with_args(
        "INSERT INTO scout.sync_checkpoints AS c (id, model, last_sync_at, status, error_message) \
         VALUES ($1, $2, '-infinity', 'failed', $3) \
         ON CONFLICT (id) DO UPDATE SET status = 'failed', error_message = EXCLUDED.error_message, updated_at = now()",
        &[cp_id.into(), model.into(), message.into()],
    )?;
    Ok(previous)
}
