//! The engine's store over a client connection, in the transaction db.rs opened: the same
//! statements as the extension's store (crates/store-sql), bound the same way. Knows nothing
//! of HTTP. A page reaches bronze through the extension's own upsert (the page as one text
//! argument), so that bronze, silver and the checkpoint are written together in one
//! transaction exactly as there.

use crate::error::postgres_error;
use engine::store::{
    Checkpoint, Drift, FailureRecord, FailureStreak, ListedRow, LockWait, LogUpdate, PageCounts, RunMode, Window,
};
use engine::{ModelSpec, Store, SyncError, SyncResult};
use postgres::types::ToSql;
use postgres::{Client, Row};
use std::collections::{BTreeMap, BTreeSet};
use store_sql as sql;

type Action = Box<dyn FnOnce() -> Result<(), String>>;

/// The store for one transaction on the runner's connection.
pub struct ClientStore<'c> {
    client: &'c mut Client,
    after_commit: Vec<Action>,
}

impl<'c> ClientStore<'c> {
    pub fn new(client: &'c mut Client) -> ClientStore<'c> {
        ClientStore { client, after_commit: Vec::new() }
    }

    pub fn take_after_commit(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.after_commit)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> SyncResult<Vec<Row>> {
        self.client.query(sql, params).map_err(|e| postgres_error(&e))
    }

    fn one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> SyncResult<Row> {
        self.client.query_one(sql, params).map_err(|e| postgres_error(&e))
    }

    fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> SyncResult<u64> {
        self.client.execute(sql, params).map_err(|e| postgres_error(&e))
    }

    fn ids(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> SyncResult<Vec<i64>> {
        Ok(self.one(sql, params)?.get::<_, Option<Vec<i64>>>(0).unwrap_or_default())
    }

    fn lock_silver(&mut self, model: &str, wait: LockWait) -> SyncResult<()> {
        let LockWait::AtMost(limit) = wait else {
            self.one(sql::LOCK_SILVER, &[])?;
            return Ok(());
        };
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self.one(sql::TRY_LOCK_SILVER, &[])?.get::<_, Option<bool>>(0).unwrap_or(false) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline || crate::host::stop_requested() {
                let holder = self
                    .one(sql::SILVER_LOCK_HOLDER, &[])?
                    .get::<_, Option<String>>(0)
                    .unwrap_or_else(|| "a session that has since ended".into());
                return Err(SyncError::Busy {
                    model: model.to_owned(),
                    detail: format!("The silver lock is held by {holder}; waited {} s.", limit.as_secs()),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn start_log_row(
        &mut self,
        cp_id: &str,
        model: &str,
        full: bool,
        mode: RunMode,
        estimate: Option<i64>,
    ) -> SyncResult<i64> {
        self.exec(sql::CLOSE_INTERRUPTED_RUNS, &[&cp_id])?;
        Ok(self.one(sql::START_LOG, &[&cp_id, &model, &full, &mode.as_sql(), &estimate])?.get(0))
    }

    /// The enabled models, or (with `model`) that one model's spec whatever its state.
    pub fn specs(&mut self, model: Option<&str>) -> SyncResult<Vec<ModelSpec>> {
        let rows = match model {
            None => self.query(&format!("{} WHERE enabled ORDER BY sync_order", sql::SELECT_SPECS), &[])?,
            Some(m) => self.query(&format!("{} WHERE model = $1", sql::SELECT_SPECS), &[&m])?,
        };
        let split = |s: Option<String>| -> Vec<String> {
            s.unwrap_or_default().split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
        };
        rows.into_iter()
            .map(|r| {
                let bronze_table: String = r.get(1);
                sql::checked_table(&bronze_table).map_err(SyncError::Internal)?;
                Ok(ModelSpec {
                    model: r.get(0),
                    bronze_table,
                    fields: split(r.get(2)),
                    optional_fields: split(r.get(3)),
                    extra_fields: split(r.get(4)),
                    odoo_module: r.get(5),
                })
            })
            .collect()
    }

    /// Takes the hints (store_sql::TAKE_HINTS): the models due, every enabled model, the
    /// webhook token.
    pub fn take_hints(&mut self, from_webhooks: &[String]) -> SyncResult<(Vec<String>, Vec<String>, Option<String>)> {
        let row = self.one(sql::TAKE_HINTS, &[&from_webhooks])?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }

    /// Refreshes gold (store_sql::REFRESH_GOLD).
    pub fn refresh_gold(&mut self) -> SyncResult<()> {
        self.query(sql::REFRESH_GOLD, &[]).map(drop)
    }

    /// One model's spec, or the extension's error listing the models there are.
    pub fn find(&mut self, model: &str) -> SyncResult<ModelSpec> {
        match self.specs(Some(model))?.into_iter().next() {
            Some(spec) => Ok(spec),
            None => {
                let known = self.query(&format!("{} ORDER BY sync_order", sql::SELECT_SPECS), &[])?;
                Err(SyncError::UnknownModel { name: model.to_owned(), known: known.iter().map(|r| r.get(0)).collect() })
            }
        }
    }
}

fn unix(v: Option<i64>) -> Option<f64> {
    v.map(|x| x as f64)
}

impl Store for ClientStore<'_> {
    fn enabled_models(&mut self) -> SyncResult<Vec<ModelSpec>> {
        self.specs(None)
    }

    fn try_lock_model(&mut self, checkpoint_id: &str) -> SyncResult<bool> {
        Ok(self.one(&sql::try_lock_model(), &[&checkpoint_id])?.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    fn lock_holder(&mut self, checkpoint_id: &str) -> SyncResult<Option<i32>> {
        Ok(self.query(sql::LOCK_HOLDER, &[&checkpoint_id])?.first().and_then(|r| r.get(0)))
    }

    fn read_checkpoint(&mut self, checkpoint_id: &str) -> SyncResult<Checkpoint> {
        let mut cp = Checkpoint { high_water: None, open_window: None, selection: None };
        if let Some(row) = self.query(sql::READ_CHECKPOINT, &[&checkpoint_id])?.first() {
            cp.high_water = row.get(0);
            cp.selection = row.get(5);
            if let Some(end) = row.get::<_, Option<i64>>(2) {
                cp.open_window = Some(Window {
                    start: row.get(1),
                    end,
                    mark: row.get::<_, Option<i64>>(6).unwrap_or(end),
                    full: row.get::<_, Option<bool>>(3).unwrap_or(false),
                    last_id: row.get::<_, Option<i64>>(4).unwrap_or(0),
                });
            }
        }
        Ok(cp)
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
        let row = self.one(
            sql::SAVE_CHECKPOINT,
            &[
                &checkpoint_id,
                &model,
                &unix(high_water),
                &window.map(|w| w.last_id),
                &unix(window.and_then(|w| w.start)),
                &unix(window.map(|w| w.end)),
                &window.map(|w| w.full),
                &records,
                &selection,
                &unix(window.filter(|w| w.mark != w.end).map(|w| w.mark)),
            ],
        )?;
        Ok(row.get(0))
    }

    /// The page as one text argument, the extension's own statement (crates/store-sql): the
    /// server parses it once. (A binary COPY into a staging table, then the same upsert from
    /// it, was measured slower: docs/RUNNER.md, "Why no COPY".)
    fn upsert_bronze(&mut self, spec: &ModelSpec, page_json: &str, run_id: i64) -> SyncResult<PageCounts> {
        let row = self.one(&sql::upsert_bronze(&spec.bronze_table), &[&page_json, &run_id])?;
        Ok(PageCounts {
            inserted: row.get::<_, Option<i64>>(0).unwrap_or(0),
            updated: row.get::<_, Option<i64>>(1).unwrap_or(0),
            changed: row.get::<_, Option<Vec<i64>>>(2).unwrap_or_default(),
        })
    }

    fn preview_bronze(&mut self, spec: &ModelSpec, page_json: &str) -> SyncResult<PageCounts> {
        let row = self.one(&sql::preview_bronze(&spec.bronze_table), &[&page_json])?;
        Ok(PageCounts {
            inserted: row.get::<_, Option<i64>>(0).unwrap_or(0),
            updated: row.get::<_, Option<i64>>(1).unwrap_or(0),
            changed: Vec::new(),
        })
    }

    fn live_ids(&mut self, spec: &ModelSpec) -> SyncResult<Vec<i64>> {
        self.ids(&sql::live_ids(&spec.bronze_table), &[])
    }

    fn bronze_ids_after(&mut self, spec: &ModelSpec, after: i64, limit: i64) -> SyncResult<Vec<i64>> {
        self.ids(&sql::bronze_ids_after(&spec.bronze_table), &[&after, &limit])
    }

    fn soft_delete(&mut self, spec: &ModelSpec, ids: &[i64], run_id: i64) -> SyncResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.ids(&sql::soft_delete(&spec.bronze_table), &[&ids, &run_id])
    }

    fn bronze_naming(&mut self, spec: &ModelSpec, fields: &[String], ids: &[i64]) -> SyncResult<Vec<i64>> {
        if fields.is_empty() || ids.is_empty() {
            return Ok(Vec::new());
        }
        self.ids(&sql::bronze_naming(&spec.bronze_table), &[&fields, &ids])
    }

    fn bronze_write_dates(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        upto: i64,
    ) -> SyncResult<Vec<(i64, Option<String>, bool)>> {
        let rows = self.query(&sql::bronze_write_dates(&spec.bronze_table), &[&after, &upto])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get::<_, Option<bool>>(2).unwrap_or(false))).collect())
    }

    fn analyze_for_load(&mut self, model: &str) -> SyncResult<()> {
        self.one(sql::ANALYZE_FOR_LOAD, &[&model]).map(drop)
    }

    fn apply_silver(&mut self, model: &str, ids: &[i64], run_id: i64, wait: LockWait) -> SyncResult<i64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.lock_silver(model, wait)?;
        Ok(self.one(sql::SILVER_APPLY, &[&model, &ids, &run_id])?.get::<_, Option<i64>>(0).unwrap_or(0))
    }

    fn silver_mark_deleted(&mut self, model: &str, ids: &[i64], wait: LockWait) -> SyncResult<()> {
        if !ids.is_empty() {
            self.lock_silver(model, wait)?;
            self.one(sql::SILVER_MARK_DELETED, &[&model, &ids])?;
        }
        Ok(())
    }

    fn start_log(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        full: bool,
        mode: RunMode,
        estimate: Option<i64>,
    ) -> SyncResult<i64> {
        self.start_log_row(checkpoint_id, model, full, mode, estimate)
    }

    fn update_log(&mut self, run_id: i64, u: &LogUpdate) -> SyncResult<()> {
        let c = u.counts;
        self.exec(
            sql::UPDATE_LOG,
            &[
                &run_id,
                &u.status,
                &c.inserted,
                &c.updated,
                &c.fetched,
                &c.rejected,
                &unix(u.window.and_then(|w| w.start)),
                &u.window.map(|w| w.end as f64),
                &u.odoo_version,
                &u.transport,
                &u.http_calls,
                &u.http_retries,
                &u.message,
                &c.deleted,
                &u.missing_fields.map(<[String]>::to_vec),
            ],
        )
        .map(drop)
    }

    fn is_running(&mut self, run_id: i64, checkpoint_id: &str) -> SyncResult<bool> {
        Ok(self.one(sql::IS_RUNNING, &[&run_id, &checkpoint_id])?.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    fn record_failure(&mut self, f: &FailureRecord) -> SyncResult<FailureStreak> {
        let (run_id, new_row) = match f.run_id {
            Some(id) => (id, false),
            None => (self.start_log_row(f.checkpoint_id, f.model, false, f.mode, None)?, true),
        };
        self.exec(sql::MARK_RUN_FAILED, &[&run_id, &f.message, &f.error_code, &new_row, &f.started_at_unix])?;
        let previous: Option<String> = self.one(sql::CHECKPOINT_STATUS, &[&f.checkpoint_id])?.get(0);
        self.exec(sql::MARK_CHECKPOINT_FAILED, &[&f.checkpoint_id, &f.model, &f.message])?;
        let row = self.one(sql::FAILURE_STREAK, &[&f.checkpoint_id])?;
        Ok(FailureStreak {
            previous_status: previous,
            last_success: row.get(0),
            failed_runs: row.get::<_, Option<i64>>(1).unwrap_or(1),
            failing_since: row.get::<_, Option<i64>>(2).unwrap_or(0),
        })
    }

    fn open_reconciliation(&mut self, checkpoint_id: &str) -> SyncResult<Option<(i64, i64)>> {
        Ok(self
            .query(sql::OPEN_RECONCILIATION, &[&checkpoint_id])?
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0).zip(r.get::<_, Option<i64>>(1))))
    }

    fn save_reconcile_cursor(
        &mut self,
        checkpoint_id: &str,
        model: &str,
        cursor: Option<(i64, i64)>,
    ) -> SyncResult<()> {
        self.exec(sql::SAVE_RECONCILE_CURSOR, &[&checkpoint_id, &model, &cursor.map(|c| c.0), &cursor.map(|c| c.1)])
            .map(drop)
    }

    fn add_reconcile_counts(&mut self, run_id: i64, d: &Drift) -> SyncResult<()> {
        self.exec(
            sql::ADD_RECONCILE_COUNTS,
            &[&run_id, &d.refetched, &d.missing, &d.stale, &d.deleted, &d.restored, &d.odoo_count],
        )
        .map(drop)
    }

    fn finish_reconcile_log(
        &mut self,
        run_id: i64,
        done: bool,
        http_calls: i64,
        message: Option<&str>,
    ) -> SyncResult<Drift> {
        let r = self.one(sql::FINISH_RECONCILE_LOG, &[&run_id, &done, &http_calls, &message])?;
        let n = |i: usize| r.get::<_, Option<i64>>(i).unwrap_or(0);
        Ok(Drift {
            odoo_count: n(0),
            bronze_count: 0,
            missing: n(1),
            stale: n(2),
            deleted: n(3),
            restored: n(4),
            refetched: n(5),
        })
    }

    fn after_commit(&mut self, action: Box<dyn FnOnce() -> Result<(), String>>) {
        self.after_commit.push(action);
    }

    fn database_name(&mut self) -> String {
        self.one("SELECT current_database()::text", &[]).map(|r| r.get(0)).unwrap_or_default()
    }

    fn outbox_lock(&mut self, wait: bool) -> SyncResult<bool> {
        if wait {
            self.one(sql::OUTBOX_LOCK, &[])?;
            return Ok(true);
        }
        Ok(self.one(sql::OUTBOX_TRY_LOCK, &[])?.get::<_, Option<bool>>(0).unwrap_or(false))
    }

    /// The runner opens every transaction itself, READ COMMITTED (db.rs).
    fn outbox_check_isolation(&mut self) -> SyncResult<()> {
        Ok(())
    }

    fn outbox_list_pending(&mut self, after: i64, limit: i64) -> SyncResult<Vec<ListedRow>> {
        let rows = self.query(sql::OUTBOX_LIST_PENDING, &[&after, &limit])?;
        Ok(rows.iter().map(|r| ListedRow { id: r.get(0), record: (r.get(1), r.get(2), r.get(3)) }).collect())
    }

    /// The runner's transactions never write the outbox: no row is its own uncommitted one.
    fn outbox_lock_rows(&mut self, ids: &[i64]) -> SyncResult<BTreeMap<i64, (writeback::Row, bool)>> {
        let mut rows = BTreeMap::new();
        for r in self.query(sql::OUTBOX_LOCK_ROWS, &[&ids])? {
            let id: i64 = r.get(0);
            let target = match (r.get::<_, Option<String>>(2), r.get::<_, Option<i64>>(3)) {
                (Some(key), _) => writeback::Target::Key(key),
                (None, Some(odoo_id)) => writeback::Target::Id(odoo_id),
                (None, None) => continue, // the table's CHECK rules it out
            };
            let values: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&r.get::<_, Option<String>>(5).unwrap_or_default())
                    .map_err(|e| SyncError::Internal(format!("outbox row {id}: values: {e}")))?;
            let row = writeback::Row {
                id,
                model: r.get(1),
                target,
                archive: r.get::<_, Option<String>>(4).as_deref() == Some("archive"),
                values,
            };
            rows.insert(id, (row, false));
        }
        Ok(rows)
    }

    fn outbox_allow_list(&mut self) -> SyncResult<writeback::AllowList> {
        let rows = self.query(sql::OUTBOX_ALLOW_LIST, &[])?;
        Ok(writeback::AllowList(rows.iter().map(|r| (r.get(0), r.get(1))).collect::<BTreeSet<_>>()))
    }

    fn outbox_known_id(&mut self, model: &str, key: &str) -> Option<i64> {
        self.query(sql::OUTBOX_KNOWN_ID, &[&model, &key]).ok()?.first().and_then(|r| r.get(0))
    }

    fn outbox_record(&mut self, outcomes: &[(i64, &'static str, Option<i64>, Option<String>)]) -> SyncResult<()> {
        let ids: Vec<i64> = outcomes.iter().map(|o| o.0).collect();
        let states: Vec<&str> = outcomes.iter().map(|o| o.1).collect();
        let odoo_ids: Vec<Option<i64>> = outcomes.iter().map(|o| o.2).collect();
        let errors: Vec<Option<String>> = outcomes.iter().map(|o| o.3.clone()).collect();
        self.exec(sql::OUTBOX_RECORD, &[&ids, &states, &odoo_ids, &errors]).map(drop)
    }

    fn outbox_pending_count(&mut self) -> SyncResult<i64> {
        Ok(self.one(sql::OUTBOX_PENDING_COUNT, &[])?.get(0))
    }
}
