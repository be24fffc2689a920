//! A store in memory, for the engine's unit tests: bronze as maps of payloads, checkpoints,
//! logs and a record of what silver was asked to derive, with transactions (begin, commit,
//! rollback of the whole state) so that a test can fail a step anywhere and see what a
//! rollback leaves. It keeps the invariants the SQL store keeps (a page's rows and its
//! checkpoint in one transaction; unchanged payloads not rewritten), and records the order in
//! which pages were loaded.

use crate::error::{SyncError, SyncResult};
use crate::model::ModelSpec;
use crate::store::{
    Checkpoint, Drift, FailureRecord, FailureStreak, ListedRow, LockWait, LogUpdate, PageCounts, RunMode, Store, Window,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

/// A bronze row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub payload: Value,
    pub deleted: bool,
    pub run_id: i64,
}

/// A checkpoint as the SQL table keeps it.
#[derive(Clone, Debug, Default)]
pub struct Cp {
    pub high_water: Option<i64>,
    pub window: Option<Window>,
    pub status: String,
    pub selection: Option<String>,
    pub reconcile: Option<(i64, i64)>,
}

/// A log row.
#[derive(Clone, Debug, Default)]
pub struct Log {
    pub checkpoint_id: String,
    pub status: String,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub drift: Drift,
    /// When it ended, success or failure (Unix seconds, the wall clock).
    pub completed_at: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct State {
    pub bronze: BTreeMap<String, BTreeMap<i64, Row>>,
    pub checkpoints: BTreeMap<String, Cp>,
    pub logs: Vec<Log>,
    /// Per model, every id silver was asked to derive (and to mark deleted).
    pub silver: BTreeMap<String, BTreeSet<i64>>,
    pub silver_deleted: BTreeMap<String, BTreeSet<i64>>,
    /// The max id of each loaded page, per model, in load order.
    pub page_order: BTreeMap<String, Vec<i64>>,
}

/// The store: the committed state, and the transaction's working copy.
pub struct MemStore {
    pub specs: Vec<ModelSpec>,
    committed: State,
    work: Option<State>,
    /// Upserts so far; the one numbered `fail_upsert_at` fails after writing (an ERROR mid-step).
    upserts: usize,
    pub fail_upsert_at: Option<usize>,
    /// Model locks held by "another session".
    pub locked_elsewhere: BTreeSet<String>,
    after_commit: Vec<Box<dyn FnOnce() -> Result<(), String>>>,
}

impl MemStore {
    pub fn new(specs: Vec<ModelSpec>) -> MemStore {
        MemStore {
            specs,
            committed: State::default(),
            work: None,
            upserts: 0,
            fail_upsert_at: None,
            locked_elsewhere: BTreeSet::new(),
            after_commit: Vec::new(),
        }
    }

    /// Runs `f` in a transaction: committed if it returns Ok, rolled back if Err.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut MemStore) -> SyncResult<T>) -> SyncResult<T> {
        self.work = Some(self.committed.clone());
        let out = f(self);
        let work = self.work.take().expect("in a transaction");
        match out {
            Ok(v) => {
                self.committed = work;
                for action in std::mem::take(&mut self.after_commit) {
                    let _ = action();
                }
                Ok(v)
            }
            Err(e) => {
                self.after_commit.clear();
                Err(e)
            }
        }
    }

    /// What is committed.
    pub fn state(&self) -> &State {
        &self.committed
    }

    fn st(&mut self) -> &mut State {
        self.work.as_mut().expect("a store call outside a transaction")
    }

    fn bronze(&mut self, model: &str) -> &mut BTreeMap<i64, Row> {
        self.st().bronze.entry(model.to_owned()).or_default()
    }
}

fn bad(detail: String) -> SyncError {
    SyncError::Internal(detail)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Store for MemStore {
    fn enabled_models(&mut self) -> SyncResult<Vec<ModelSpec>> {
        Ok(self.specs.clone())
    }

    fn try_lock_model(&mut self, checkpoint_id: &str) -> SyncResult<bool> {
        Ok(!self.locked_elsewhere.contains(checkpoint_id))
    }

    fn lock_holder(&mut self, _checkpoint_id: &str) -> SyncResult<Option<i32>> {
        Ok(Some(4242))
    }

    fn read_checkpoint(&mut self, checkpoint_id: &str) -> SyncResult<Checkpoint> {
        let cp = self.st().checkpoints.get(checkpoint_id).cloned().unwrap_or_default();
        Ok(Checkpoint { high_water: cp.high_water, open_window: cp.window, selection: cp.selection })
    }

    fn save_checkpoint(
        &mut self,
        checkpoint_id: &str,
        _model: &str,
        high_water: Option<i64>,
        window: Option<&Window>,
        _records: i64,
        selection: Option<&str>,
    ) -> SyncResult<Option<String>> {
        let cp = self.st().checkpoints.entry(checkpoint_id.to_owned()).or_default();
        let previous = (!cp.status.is_empty()).then(|| cp.status.clone());
        cp.high_water = high_water;
        cp.window = window.copied();
        let status = if window.is_some() { "in_progress" } else { "success" };
        if !(status == "in_progress" && cp.status == "failed") {
            cp.status = status.to_owned();
        }
        if let Some(sel) = selection {
            cp.selection = Some(sel.to_owned());
        }
        Ok(previous)
    }

    fn upsert_bronze(&mut self, spec: &ModelSpec, page_json: &str, run_id: i64) -> SyncResult<PageCounts> {
        self.upserts += 1;
        let records: Vec<Value> = serde_json::from_str(page_json).map_err(|e| bad(format!("page: {e}")))?;
        let mut pc = PageCounts::default();
        let mut max_id = 0;
        let bronze = self.bronze(&spec.model);
        for r in records {
            let id = r.get("id").and_then(Value::as_i64).ok_or_else(|| bad("a record without id".into()))?;
            max_id = max_id.max(id);
            match bronze.get_mut(&id) {
                None => {
                    bronze.insert(id, Row { payload: r, deleted: false, run_id });
                    pc.inserted += 1;
                    pc.changed.push(id);
                }
                Some(row) if row.payload != r || row.deleted => {
                    *row = Row { payload: r, deleted: false, run_id };
                    pc.updated += 1;
                    pc.changed.push(id);
                }
                Some(_) => {}
            }
        }
        self.st().page_order.entry(spec.model.clone()).or_default().push(max_id);
        // The injected failure comes after the page's rows are written (a trigger's ERROR, a
        // deadlock): only the rollback keeps them out.
        if self.fail_upsert_at == Some(self.upserts) {
            return Err(SyncError::Postgres {
                sqlstate: "40P01".into(),
                message: format!("deadlock detected (injected at upsert {})", self.upserts),
                detail: None,
                hint: None,
            });
        }
        Ok(pc)
    }

    fn preview_bronze(&mut self, spec: &ModelSpec, page_json: &str) -> SyncResult<PageCounts> {
        let records: Vec<Value> = serde_json::from_str(page_json).map_err(|e| bad(format!("page: {e}")))?;
        let bronze = self.bronze(&spec.model);
        let mut pc = PageCounts::default();
        for r in records {
            let id = r.get("id").and_then(Value::as_i64).unwrap_or(0);
            match bronze.get(&id) {
                None => pc.inserted += 1,
                Some(row) if row.payload != r || row.deleted => pc.updated += 1,
                Some(_) => {}
            }
        }
        Ok(pc)
    }

    fn live_ids(&mut self, spec: &ModelSpec) -> SyncResult<Vec<i64>> {
        Ok(self.bronze(&spec.model).iter().filter(|(_, r)| !r.deleted).map(|(id, _)| *id).collect())
    }

    fn bronze_ids_after(&mut self, spec: &ModelSpec, after: i64, limit: i64) -> SyncResult<Vec<i64>> {
        Ok(self.bronze(&spec.model).range(after + 1..).take(limit as usize).map(|(id, _)| *id).collect())
    }

    fn soft_delete(&mut self, spec: &ModelSpec, ids: &[i64], run_id: i64) -> SyncResult<Vec<i64>> {
        let bronze = self.bronze(&spec.model);
        let mut marked = Vec::new();
        for id in ids {
            if let Some(row) = bronze.get_mut(id).filter(|r| !r.deleted) {
                row.deleted = true;
                row.run_id = run_id;
                marked.push(*id);
            }
        }
        Ok(marked)
    }

    fn bronze_naming(&mut self, spec: &ModelSpec, fields: &[String], ids: &[i64]) -> SyncResult<Vec<i64>> {
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        let names = |v: Option<&Value>| match v {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_i64).any(|id| wanted.contains(&id)),
            _ => false,
        };
        Ok(self
            .bronze(&spec.model)
            .iter()
            .filter(|(_, r)| !r.deleted && fields.iter().any(|f| names(r.payload.get(f))))
            .map(|(id, _)| *id)
            .collect())
    }

    fn bronze_write_dates(
        &mut self,
        spec: &ModelSpec,
        after: i64,
        upto: i64,
    ) -> SyncResult<Vec<(i64, Option<String>, bool)>> {
        Ok(self
            .bronze(&spec.model)
            .range(after + 1..=upto)
            .map(|(id, r)| (*id, r.payload.get("write_date").and_then(Value::as_str).map(str::to_owned), r.deleted))
            .collect())
    }

    fn analyze_for_load(&mut self, _model: &str) -> SyncResult<()> {
        Ok(())
    }

    fn apply_silver(&mut self, model: &str, ids: &[i64], _run_id: i64, _wait: LockWait) -> SyncResult<i64> {
        self.st().silver.entry(model.to_owned()).or_default().extend(ids.iter().copied());
        Ok(0)
    }

    fn silver_mark_deleted(&mut self, model: &str, ids: &[i64], _wait: LockWait) -> SyncResult<()> {
        self.st().silver_deleted.entry(model.to_owned()).or_default().extend(ids.iter().copied());
        Ok(())
    }

    fn start_log(
        &mut self,
        checkpoint_id: &str,
        _model: &str,
        _full: bool,
        _mode: RunMode,
        _estimate: Option<i64>,
    ) -> SyncResult<i64> {
        let st = self.st();
        st.logs.push(Log { checkpoint_id: checkpoint_id.to_owned(), status: "running".into(), ..Log::default() });
        Ok(st.logs.len() as i64)
    }

    fn update_log(&mut self, run_id: i64, u: &LogUpdate) -> SyncResult<()> {
        let log = self.st().logs.get_mut(run_id as usize - 1).ok_or_else(|| bad(format!("no log {run_id}")))?;
        log.status = u.status.to_owned();
        if matches!(u.status, "success" | "failed") {
            log.completed_at = Some(now());
        }
        log.fetched += u.counts.fetched;
        log.inserted += u.counts.inserted;
        log.updated += u.counts.updated;
        log.deleted += u.counts.deleted;
        if let Some(m) = u.message {
            log.message = Some(m.to_owned());
        }
        Ok(())
    }

    fn is_running(&mut self, run_id: i64, checkpoint_id: &str) -> SyncResult<bool> {
        Ok(self
            .st()
            .logs
            .get(run_id as usize - 1)
            .is_some_and(|l| l.checkpoint_id == checkpoint_id && l.status == "running"))
    }

    fn record_failure(&mut self, f: &FailureRecord) -> SyncResult<FailureStreak> {
        let run_id = match f.run_id {
            Some(id) => id,
            None => self.start_log(f.checkpoint_id, f.model, false, f.mode, None)?,
        };
        let st = self.st();
        if let Some(log) = st.logs.get_mut(run_id as usize - 1) {
            log.status = "failed".into();
            log.error_code = Some(f.error_code.to_owned());
            log.message = Some(f.message.to_owned());
            log.completed_at = Some(now());
        }
        let cp = st.checkpoints.entry(f.checkpoint_id.to_owned()).or_default();
        let previous_status = (!cp.status.is_empty()).then(|| cp.status.clone());
        cp.status = "failed".into();
        // As the SQL store reads it: the failed rows after the model's last successful one.
        let ours: Vec<&Log> = st.logs.iter().filter(|l| l.checkpoint_id == f.checkpoint_id).collect();
        let last_ok = ours.iter().rposition(|l| l.status == "success");
        let failed: Vec<&&Log> =
            ours.iter().skip(last_ok.map_or(0, |i| i + 1)).filter(|l| l.status == "failed").collect();
        Ok(FailureStreak {
            previous_status,
            failing_since: failed.first().and_then(|l| l.completed_at).unwrap_or_else(now),
            failed_runs: failed.len() as i64,
            last_success: last_ok.and_then(|i| ours[i].completed_at),
        })
    }

    fn open_reconciliation(&mut self, checkpoint_id: &str) -> SyncResult<Option<(i64, i64)>> {
        Ok(self.st().checkpoints.get(checkpoint_id).and_then(|c| c.reconcile))
    }

    fn save_reconcile_cursor(
        &mut self,
        checkpoint_id: &str,
        _model: &str,
        cursor: Option<(i64, i64)>,
    ) -> SyncResult<()> {
        self.st().checkpoints.entry(checkpoint_id.to_owned()).or_default().reconcile = cursor;
        Ok(())
    }

    fn add_reconcile_counts(&mut self, run_id: i64, d: &Drift) -> SyncResult<()> {
        let log = self.st().logs.get_mut(run_id as usize - 1).ok_or_else(|| bad(format!("no log {run_id}")))?;
        log.drift.add(d);
        Ok(())
    }

    fn finish_reconcile_log(
        &mut self,
        run_id: i64,
        done: bool,
        _http_calls: i64,
        _message: Option<&str>,
    ) -> SyncResult<Drift> {
        let log = self.st().logs.get_mut(run_id as usize - 1).ok_or_else(|| bad(format!("no log {run_id}")))?;
        log.status = if done { "success" } else { "running" }.into();
        if done {
            log.completed_at = Some(now());
        }
        Ok(log.drift.clone())
    }

    fn after_commit(&mut self, action: Box<dyn FnOnce() -> Result<(), String>>) {
        self.after_commit.push(action);
    }

    fn database_name(&mut self) -> String {
        "memory".into()
    }

    fn outbox_lock(&mut self, _wait: bool) -> SyncResult<bool> {
        Ok(true)
    }

    fn outbox_check_isolation(&mut self) -> SyncResult<()> {
        Ok(())
    }

    fn outbox_list_pending(&mut self, _after: i64, _limit: i64) -> SyncResult<Vec<ListedRow>> {
        Ok(Vec::new())
    }

    fn outbox_lock_rows(&mut self, _ids: &[i64]) -> SyncResult<BTreeMap<i64, (writeback::Row, bool)>> {
        Ok(BTreeMap::new())
    }

    fn outbox_allow_list(&mut self) -> SyncResult<writeback::AllowList> {
        Ok(writeback::AllowList(BTreeSet::new()))
    }

    fn outbox_known_id(&mut self, _model: &str, _key: &str) -> Option<i64> {
        None
    }

    fn outbox_record(&mut self, _outcomes: &[(i64, &'static str, Option<i64>, Option<String>)]) -> SyncResult<()> {
        Ok(())
    }

    fn outbox_pending_count(&mut self) -> SyncResult<i64> {
        Ok(0)
    }
}
