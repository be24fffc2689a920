//! The statements of the engine's store (engine::Store), written once for both homes: the
//! extension runs them through SPI in the caller's transaction (src/store.rs), the runner
//! through a client connection in the transaction it opened (crates/runner/src/store.rs).
//! Text only: each home binds the same parameters in the same order (the comments say which).
//! The schema they read and write is `sql/`; a bronze table name is spliced in only after
//! `checked_table` accepted it.
//!
//! Times cross as Unix seconds: `to_timestamp($n)` takes a float8, `extract(epoch …)::bigint`
//! gives one back.

/// Both ints of a per-checkpoint advisory lock: a fixed class for odoo_sync, and the id's hash.
/// The same keys in both homes, so that the extension and a runner (or two runners) on one
/// database never sync the same model at once.
const LOCK_KEY: &str = "hashtext('odoo_sync'), hashtext($1)";

/// A bronze table name as the CHECK constraint of scout.sync_models allows it (it is spliced
/// into SQL): `bronze_` then lowercase letters, digits and underscores.
pub fn checked_table(name: &str) -> Result<&str, String> {
    let ok =
        name.starts_with("bronze_") && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(format!("bad bronze table name {name:?}"))
    }
}

// --- Model specs ----------------------------------------------------------------------------

/// Every model's spec: model, bronze table, then fields, optional and extra fields as
/// comma-joined text, then the Odoo module. Followed by a WHERE and ORDER BY of the caller's.
pub const SELECT_SPECS: &str = "SELECT model, bronze_table, array_to_string(fields, ','), \
     array_to_string(optional_fields, ','), array_to_string(extra_fields, ','), odoo_module \
     FROM scout.sync_models";

// --- Locks ----------------------------------------------------------------------------------

/// $1 checkpoint id -> bool.
pub fn try_lock_model() -> String {
    format!("SELECT pg_try_advisory_xact_lock({LOCK_KEY})")
}

/// $1 checkpoint id -> the pid holding it (int4), if any.
pub const LOCK_HOLDER: &str = "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
     AND l.classid = hashtext('odoo_sync')::oid AND l.objid = hashtext($1)::oid LIMIT 1";

/// The lock that serialises silver writes (see the stores' lock_silver).
pub const LOCK_SILVER: &str = "SELECT pg_advisory_xact_lock(hashtext('odoo_sync'), hashtext('silver'))";
pub const TRY_LOCK_SILVER: &str = "SELECT pg_try_advisory_xact_lock(hashtext('odoo_sync'), hashtext('silver'))";
/// Who holds the silver lock, as text for a Busy error.
pub const SILVER_LOCK_HOLDER: &str = "SELECT string_agg(format('pid %s (%s, %s)', a.pid, a.usename, a.state), ', ') \
     FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted \
       AND l.classid = hashtext('odoo_sync')::oid AND l.objid = hashtext('silver')::oid";

/// The one-sender lock of the outbox (class odoo_sync, like the sync's).
pub const OUTBOX_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('odoo_sync'), hashtext('odoo_sync.outbox'))";
pub const OUTBOX_TRY_LOCK: &str =
    "SELECT pg_try_advisory_xact_lock(hashtext('odoo_sync'), hashtext('odoo_sync.outbox'))";

// --- Checkpoints ----------------------------------------------------------------------------

/// $1 checkpoint id -> high water, window start, window end, window full, last id, selection,
/// window mark (the mark defaults to the end).
pub const READ_CHECKPOINT: &str =
    "SELECT CASE WHEN isfinite(last_sync_at) THEN extract(epoch FROM last_sync_at)::bigint END, \
            extract(epoch FROM window_start)::bigint, \
            extract(epoch FROM window_end)::bigint, \
            window_full, last_record_id, selection, \
            extract(epoch FROM coalesce(window_mark, window_end))::bigint \
     FROM scout.sync_checkpoints WHERE id = $1";

/// $1 id, $2 model, $3 high water (float8), $4 last id, $5 window start, $6 window end (float8),
/// $7 full, $8 records, $9 selection, $10 mark (float8, NULL when it is the end) -> the status
/// before. A 'failed' status stays until a window completes: half a window is not a recovery.
pub const SAVE_CHECKPOINT: &str = "WITH old AS (SELECT status FROM scout.sync_checkpoints WHERE id = $1) \
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

// --- Bronze ---------------------------------------------------------------------------------

/// A page as rows `(id, write_date, payload)`: `$1` is the page as Odoo sent it, a JSON array
/// as text (one argument: the server parses it once, as jsonb).
const PAGE: &str = "SELECT (r->>'id')::bigint AS id, scout.odoo_datetime(r->'write_date') AS write_date, \
     r AS payload FROM jsonb_array_elements($1::text::jsonb) AS r";

/// $1 the page (a JSON array as text), $2 the run's id: upserts the page into `table` in one
/// statement. Records whose payload is unchanged are not rewritten and count as neither.
/// -> inserted, updated, the changed ids.
pub fn upsert_bronze(table: &str) -> String {
    format!(
        "WITH page AS ({PAGE}), \
         up AS ( \
            INSERT INTO scout.{table} AS b (id, write_date, payload, run_id, synced_at, deleted_at) \
            SELECT id, write_date, payload, $2, now(), NULL FROM page \
            ON CONFLICT (id) DO UPDATE SET write_date = EXCLUDED.write_date, payload = EXCLUDED.payload, \
                run_id = EXCLUDED.run_id, synced_at = EXCLUDED.synced_at, deleted_at = NULL \
            WHERE b.payload IS DISTINCT FROM EXCLUDED.payload OR b.deleted_at IS NOT NULL \
            RETURNING b.id, (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), \
                coalesce(array_agg(id), '{{}}') FROM up"
    )
}

/// $1 the page: what `upsert_bronze` would do, writing nothing. -> inserted, updated.
pub fn preview_bronze(table: &str) -> String {
    format!(
        "WITH page AS ({PAGE}) \
         SELECT count(*) FILTER (WHERE b.id IS NULL), \
                count(*) FILTER (WHERE b.id IS NOT NULL AND (b.payload IS DISTINCT FROM p.payload OR b.deleted_at IS NOT NULL)) \
         FROM page p LEFT JOIN scout.{table} b ON b.id = p.id"
    )
}

/// -> the live ids, ascending, as one array.
pub fn live_ids(table: &str) -> String {
    format!("SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM scout.{table} WHERE deleted_at IS NULL")
}

/// $1 after, $2 limit -> ids above `after`, ascending, as one array.
pub fn bronze_ids_after(table: &str) -> String {
    format!(
        "SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM \
         (SELECT id FROM scout.{table} WHERE id > $1 ORDER BY id LIMIT $2) s"
    )
}

/// $1 ids, $2 run id -> the ids it marked deleted, as one array.
pub fn soft_delete(table: &str) -> String {
    format!(
        "WITH d AS (UPDATE scout.{table} SET deleted_at = now(), run_id = $2 WHERE id = ANY($1) AND deleted_at IS NULL RETURNING id) \
         SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM d"
    )
}

/// $1 field names, $2 ids -> the live rows that name one of the ids in one of the fields (a
/// many2one's `[id, "name"]` or an x2many's list of ids), ascending, as one array.
pub fn bronze_naming(table: &str) -> String {
    format!(
        "SELECT coalesce(array_agg(b.id ORDER BY b.id), '{{}}') FROM scout.{table} b \
         WHERE b.deleted_at IS NULL AND EXISTS ( \
           SELECT 1 FROM unnest($1::text[]) AS f(name), \
                LATERAL jsonb_array_elements(CASE jsonb_typeof(b.payload -> f.name) \
                                             WHEN 'array' THEN b.payload -> f.name ELSE '[]' END) AS e(v) \
           WHERE jsonb_typeof(e.v) = 'number' AND (e.v #>> '{{}}')::numeric = ANY ($2::bigint[]::numeric[]))"
    )
}

/// $1 after, $2 up to -> rows (id, write_date as Odoo rendered it, deleted), in id order.
pub fn bronze_write_dates(table: &str) -> String {
    format!(
        "SELECT id, payload->>'write_date', deleted_at IS NOT NULL FROM scout.{table} WHERE id > $1 AND id <= $2 ORDER BY id"
    )
}

/// $1 model: refreshes the planner's statistics of the tables a long load grows.
pub const ANALYZE_FOR_LOAD: &str = "SELECT scout.analyze_for_load($1)";

// --- Silver ---------------------------------------------------------------------------------

/// $1 model, $2 ids, $3 run id -> rows in quarantine (sql/29_silver_apply.sql).
pub const SILVER_APPLY: &str = "SELECT scout.silver_apply($1, $2, $3)";
/// $1 model, $2 ids.
pub const SILVER_MARK_DELETED: &str = "SELECT scout.silver_mark_deleted($1, $2)";

// --- Logs -----------------------------------------------------------------------------------

/// $1 checkpoint id: a 'running' row whose backend is gone belongs to a run that was cut off
/// (crash, kill, shutdown) and could not record its end: say so instead of leaving it running.
pub const CLOSE_INTERRUPTED_RUNS: &str = "UPDATE scout.sync_logs SET status = 'failed', completed_at = clock_timestamp(), \
       error_count = error_count + 1, \
       error_message = 'interrupted (backend or server stopped mid-run); its committed pages were kept and the next run resumed' \
     WHERE checkpoint_id = $1 AND status = 'running' \
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = sync_logs.backend_pid)";

/// $1 checkpoint id, $2 model, $3 full, $4 run mode, $5 estimate -> the log row's id.
pub const START_LOG: &str = "INSERT INTO scout.sync_logs (checkpoint_id, model, full_sync, run_mode, estimated_total) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";

/// $1 run id, $2 status, $3 inserted, $4 updated, $5 fetched, $6 rejected, $7 window start,
/// $8 window end (float8), $9 Odoo version, $10 transport, $11 HTTP calls, $12 retries,
/// $13 message, $14 deleted, $15 missing fields (text[]).
pub const UPDATE_LOG: &str = "UPDATE scout.sync_logs SET \
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

/// $1 run id, $2 checkpoint id -> whether it is still running.
pub const IS_RUNNING: &str =
    "SELECT EXISTS (SELECT 1 FROM scout.sync_logs WHERE id = $1 AND checkpoint_id = $2 AND status = 'running')";

/// $1 run id, $2 message, $3 SQLSTATE, $4 whether the row was made for the failure, $5 when the
/// failed step started (float8).
pub const MARK_RUN_FAILED: &str = "UPDATE scout.sync_logs SET status = 'failed', completed_at = clock_timestamp(), \
       error_count = error_count + 1, error_message = $2, error_code = $3, \
       started_at = CASE WHEN $4 THEN to_timestamp($5) ELSE started_at END WHERE id = $1";

/// $1 checkpoint id -> its status (one row, NULL without a checkpoint).
pub const CHECKPOINT_STATUS: &str = "SELECT (SELECT status FROM scout.sync_checkpoints WHERE id = $1)";

/// $1 checkpoint id, $2 model, $3 message.
pub const MARK_CHECKPOINT_FAILED: &str =
    "INSERT INTO scout.sync_checkpoints AS c (id, model, last_sync_at, status, error_message) \
     VALUES ($1, $2, '-infinity', 'failed', $3) \
     ON CONFLICT (id) DO UPDATE SET status = 'failed', error_message = EXCLUDED.error_message, updated_at = now()";

/// $1 checkpoint id -> the last success's end, the failed runs since (this one included), when
/// the first of them ended (all Unix seconds).
pub const FAILURE_STREAK: &str = "WITH ok AS (SELECT id, completed_at FROM scout.sync_logs \
       WHERE checkpoint_id = $1 AND status = 'success' ORDER BY id DESC LIMIT 1) \
     SELECT (SELECT extract(epoch FROM completed_at)::bigint FROM ok), count(*), \
            coalesce(extract(epoch FROM min(completed_at))::bigint, extract(epoch FROM now())::bigint) \
     FROM scout.sync_logs \
     WHERE checkpoint_id = $1 AND status = 'failed' AND id > coalesce((SELECT id FROM ok), 0)";

// --- Reconciliation -------------------------------------------------------------------------

/// $1 checkpoint id -> its open reconciliation's log row and cursor.
pub const OPEN_RECONCILIATION: &str = "SELECT c.reconcile_run_id, c.reconcile_last_id FROM scout.sync_checkpoints c \
     JOIN scout.sync_logs l ON l.id = c.reconcile_run_id WHERE c.id = $1";

/// $1 checkpoint id, $2 model, $3 run id, $4 last id (both NULL: cleared).
pub const SAVE_RECONCILE_CURSOR: &str =
    "INSERT INTO scout.sync_checkpoints AS c (id, model, last_sync_at, reconcile_run_id, reconcile_last_id) \
     VALUES ($1, $2, '-infinity', $3, $4) \
     ON CONFLICT (id) DO UPDATE SET reconcile_run_id = EXCLUDED.reconcile_run_id, \
       reconcile_last_id = EXCLUDED.reconcile_last_id, updated_at = now()";

/// $1 run id, $2 refetched, $3 missing, $4 stale, $5 deleted, $6 restored, $7 Odoo's count.
pub const ADD_RECONCILE_COUNTS: &str =
    "UPDATE scout.sync_logs SET fetched = fetched + $2, records_processed = records_processed + $2 + $5, \
       missing = missing + $3, stale = stale + $4, deleted = deleted + $5, restored = restored + $6, \
       odoo_count = coalesce(odoo_count, 0) + $7 WHERE id = $1";

/// $1 run id, $2 done, $3 HTTP calls, $4 message -> Odoo's count, missing, stale, deleted,
/// restored, refetched.
pub const FINISH_RECONCILE_LOG: &str =
    "UPDATE scout.sync_logs SET status = CASE WHEN $2 THEN 'success' ELSE 'running' END, \
       completed_at = CASE WHEN $2 THEN clock_timestamp() END, \
       http_calls = http_calls + $3, message = coalesce($4, message) WHERE id = $1 \
     RETURNING coalesce(odoo_count, 0), missing, stale, deleted, restored, fetched";

// --- The outbox (sql/40_writeback.sql) ------------------------------------------------------

/// $1 after, $2 limit -> pending rows (id, model, external key, Odoo id), in id order.
pub const OUTBOX_LIST_PENDING: &str = "SELECT id, model, external_key, odoo_id FROM scout.odoo_outbox \
     WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2";

/// $1 ids -> the rows still pending, locked until the transaction ends (others' skipped):
/// id, model, external key, Odoo id, op, values as text, xmin as text.
pub const OUTBOX_LOCK_ROWS: &str =
    "SELECT id, model, external_key, odoo_id, op, \"values\"::text, xmin::text FROM scout.odoo_outbox \
     WHERE id = ANY ($1) AND state = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED";

/// -> (model, field) pairs write-back may write.
pub const OUTBOX_ALLOW_LIST: &str = "SELECT model, field FROM scout.writeback_fields";

/// $1 model, $2 key -> the Odoo id of its last sent row.
pub const OUTBOX_KNOWN_ID: &str = "SELECT odoo_id FROM scout.odoo_outbox WHERE model = $1 AND external_key = $2 \
     AND state = 'sent' AND odoo_id IS NOT NULL ORDER BY id DESC LIMIT 1";

/// $1 ids, $2 states, $3 Odoo ids, $4 errors: each row's outcome, in one statement.
pub const OUTBOX_RECORD: &str = "UPDATE scout.odoo_outbox o \
     SET state = u.state, odoo_id = coalesce(u.odoo_id, o.odoo_id), last_error = u.error, \
         attempts = o.attempts + 1, sent_at = CASE WHEN u.state = 'sent' THEN now() END \
     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u(id, state, odoo_id, error) \
     WHERE o.id = u.id";

/// -> rows still pending.
pub const OUTBOX_PENDING_COUNT: &str = "SELECT count(*) FROM scout.odoo_outbox WHERE state = 'pending'";

// --- The unattended loop (the extension's worker, the runner's `run`) ------------------------

/// $1 models the webhook listener was told of -> the enabled models due for a hinted run (the
/// hinted ones and those Odoo writes with them, sync_models.synced_with), every enabled model,
/// and the webhook token. Takes (deletes) scout.sync_hints' rows.
pub const TAKE_HINTS: &str = "WITH taken AS (DELETE FROM scout.sync_hints RETURNING model), \
          hinted AS (SELECT model FROM taken UNION SELECT unnest($1::text[])) \
     SELECT coalesce(array_agg(m.model) FILTER (WHERE EXISTS ( \
              SELECT 1 FROM hinted t JOIN scout.sync_models h ON h.model = t.model \
              WHERE m.model = t.model OR m.model = ANY (h.synced_with))), '{}'), \
            coalesce(array_agg(m.model), '{}'), \
            (SELECT s.webhook_token FROM scout.sync_secret s WHERE s.id = 1) \
     FROM scout.sync_models m WHERE m.enabled";

/// Refreshes gold (sql/30_gold.sql), when this release has it.
pub const REFRESH_GOLD: &str = "SELECT scout.refresh_gold() WHERE to_regprocedure('scout.refresh_gold()') IS NOT NULL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bronze_table_names_the_schema_allows_are_spliced_into_sql() {
        assert_eq!(checked_table("bronze_pos_order_line"), Ok("bronze_pos_order_line"));
        for bad in ["pos_order", "bronze_x; DROP TABLE y", "bronze_Order", "bronze_a\"b", ""] {
            assert!(checked_table(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_page_is_the_first_argument_and_the_run_the_second() {
        let sql = upsert_bronze("bronze_pos_order");
        assert!(sql.contains("jsonb_array_elements($1::text::jsonb)"));
        assert!(sql.contains("SELECT id, write_date, payload, $2, now(), NULL FROM page"));
        assert!(sql.contains("INSERT INTO scout.bronze_pos_order AS b"));
    }
}
