//! The engine: joins the Odoo client and the loader. For one model it fixes a window on Odoo's
//! clock, pages through it in id order, and loads each page together with the checkpoint that
//! says how far it got. See docs/DESIGN.md, "The sync algorithm".

mod page;
mod prefetch;
pub mod reconcile;
pub mod session;

use crate::alerts;
use crate::errors::{SyncError, SyncResult};
use crate::loader::{self, LockWait, LogUpdate, RunCounts, RunMode, RunStatus, Window};
use crate::models::ModelSpec;
use crate::settings::Settings;
use odoo_client::time::format_odoo;
use serde_json::{json, Value};
use session::OdooSession;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use sync_window::{high_water_after, new_window, resumable, PlannedWindow};

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub full: bool,
    pub dry_run: bool,
    /// How the run was started, for the log.
    pub mode: RunMode,
    /// Stop after this many pages with the window still open (status in_progress), so that
    /// the caller can commit and call again; None reads the whole window.
    pub max_pages: Option<u32>,
    /// Also stop (between two pages) once the call has taken this long.
    pub max_time: Option<Duration>,
    /// Also stop (between two pages) when this says so (the worker's SIGTERM).
    pub stop_requested: Option<fn() -> bool>,
    /// Continue the log row of an earlier step of the same run.
    pub run_id: Option<i64>,
    /// How long writing silver may wait for another session's silver work.
    pub lock_wait: LockWait,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run_id: Option<i64>,
    pub model: String,
    pub counts: RunCounts,
    /// The high-water mark after the run (Unix seconds on Odoo's clock).
    pub checkpoint: Option<i64>,
    pub duration: Duration,
    pub status: RunStatus,
    pub message: Option<String>,
    /// The checkpoint's status before this run finished (to notice a recovery).
    pub previous_status: Option<String>,
}

/// How a run asks Odoo for records: the context (archived records too; the companies of
/// odoo_sync.company_ids when set) and, for models with a company, the company filter
/// (records of those companies and shared ones, as Odoo's multi-company rules do).
struct Query {
    context: Value,
    companies: Option<Vec<i64>>,
}

impl Query {
    fn new(s: &Settings, model_has_company: bool) -> Query {
        let mut context = json!({"active_test": false});
        if !s.company_ids.is_empty() {
            context["allowed_company_ids"] = json!(s.company_ids);
        }
        let companies = (model_has_company && !s.company_ids.is_empty()).then(|| s.company_ids.clone());
        Query { context, companies }
    }

    fn with_filter(&self, mut terms: Vec<Value>) -> Value {
        if let Some(ids) = &self.companies {
            // Prefix notation: terms are ANDed; the company term is an OR of two.
            terms.insert(0, json!("|"));
            terms.insert(1, json!(["company_id", "=", false]));
            terms.insert(2, json!(["company_id", "in", ids]));
        }
        Value::Array(terms)
    }

    /// write_date in [L, U) and id above the cursor.
    fn window(&self, w: &Window) -> Value {
        let mut d = Vec::with_capacity(3);
        if let Some(l) = w.start {
            d.push(json!(["write_date", ">=", format_odoo(l)]));
        }
        // A full window re-reads every record: also those whose write_date is ahead of Odoo's
        // clock (written while it was wrong). Its end still becomes the high-water mark.
        if !w.full {
            d.push(json!(["write_date", "<", format_odoo(w.end)]));
        }
        if w.last_id > 0 {
            d.push(json!(["id", ">", w.last_id]));
        }
        self.with_filter(d)
    }

    /// Every record above the cursor, of every company the API user may see: the company filter
    /// narrows what a run reads, never what counts as deleted ("gone from Odoo").
    fn all_ids_above(last: i64) -> Value {
        json!([["id", ">", last]])
    }

    /// The context for listing ids: archived records too, and no allowed_company_ids, so that
    /// Odoo's record rules cover all the user's companies.
    fn all_companies_context() -> Value {
        json!({"active_test": false})
    }
}

/// Which records a run's windows select, as text kept with the checkpoint: the company filter
/// and the user's extra fields. (Optional fields appear and disappear with Odoo's modules and
/// are named in sync_logs.missing_fields; they do not force a re-read.)
fn selection(s: &Settings, spec: &ModelSpec, has_company: bool) -> String {
    let companies = if s.company_ids.is_empty() || !has_company {
        "all".to_owned()
    } else {
        s.company_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    };
    format!("companies={companies}; extra_fields={}", spec.extra_fields.join(","))
}

pub fn checkpoint_id(s: &Settings, model: &str) -> String {
    format!("{}:{}", s.checkpoint_key, model)
}

/// A failed step of a committing run (procedure, worker), to be recorded in a transaction of
/// its own once the step's transaction has been rolled back.
#[derive(Clone, Debug)]
pub struct Failure {
    pub model: String,
    /// The run's log row when earlier steps committed one; None when it failed in its first.
    pub run_id: Option<i64>,
    pub mode: RunMode,
    pub error_code: String,
    pub message: String,
    /// When the failed step started: the log row of a run that failed in its first step shows
    /// when it really started, not when the failure was recorded.
    pub started_at: SystemTime,
}

impl Failure {
    pub fn new(model: &str, run_id: Option<i64>, mode: RunMode, started_at: SystemTime, e: &SyncError) -> Failure {
        Failure {
            model: model.to_owned(),
            run_id,
            mode,
            error_code: e.sqlstate_text(),
            message: crate::errors::redact(&e.to_string()),
            started_at,
        }
    }
}

/// Records a failure: the log row, the checkpoint's status and error, and an alert when the
/// model just started failing (sent once this transaction commits).
pub fn record_failure(s: &Settings, f: &Failure) -> SyncResult<()> {
    let started = f.started_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let previous = loader::record_failure(
        &checkpoint_id(s, &f.model),
        &f.model,
        f.run_id,
        f.mode,
        Some(&f.error_code),
        &f.message,
        started,
    )?;
    alerts::failing(&f.model, previous.as_deref(), &f.message);
    Ok(())
}

/// Runs one model (run_model) and tells the alerts about a recovery: the one way every path
/// (function, procedure step, worker) runs a model.
pub fn run_and_alert(
    spec: &ModelSpec,
    opts: RunOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<RunSummary> {
    let summary = run_model(spec, opts, s, odoo)?;
    if summary.status == RunStatus::Success {
        alerts::recovered(&summary.model, summary.previous_status.as_deref());
    }
    Ok(summary)
}

/// NOTICE lines for a long manual run: rows done of Odoo's count, at most every few seconds.
struct Progress {
    model: String,
    estimate: Option<i64>,
    last: Instant,
}

impl Progress {
    const EVERY: Duration = Duration::from_secs(5);

    fn tick(&mut self, done: i64, odoo: &mut odoo_client::Client, q: &Query, w: &Window) {
        if self.last.elapsed() < Self::EVERY {
            return;
        }
        self.last = Instant::now();
        if self.estimate.is_none() {
            let mut whole = *w;
            whole.last_id = 0;
            self.estimate = odoo.search_count(&self.model, &q.window(&whole), &q.context).ok();
        }
        match self.estimate {
            Some(total) if total > 0 => pgrx::notice!(
                "odoo_sync: {}: {done} of about {total} records ({}%)",
                self.model,
                (done * 100 / total).min(100)
            ),
            _ => pgrx::notice!("odoo_sync: {}: {done} records", self.model),
        }
    }
}

/// The fields to ask for, and those of our spec this Odoo does not have: our spec's fields and
/// optional fields that this Odoo has (a field a version lacks lands as absent; the run's log
/// names it in missing_fields, and a missing core field also in its message), and the user's
/// extra fields, which must exist. Also returns the note for the run's message when a core field
/// is missing.
fn requested_fields(
    spec: &ModelSpec,
    odoo: &mut OdooSession,
    run_started: Instant,
) -> SyncResult<(Vec<String>, Vec<String>, Option<String>)> {
    let model = spec.model.as_str();
    let wanted: Vec<String> =
        spec.fields.iter().chain(&spec.optional_fields).chain(&spec.extra_fields).cloned().collect();
    let (fields, missing) = odoo.existing_fields(model, &wanted, &spec.extra_fields, run_started)?;
    let missing_extra: Vec<&str> =
        missing.iter().filter(|f| spec.extra_fields.contains(f)).map(String::as_str).collect();
    if !missing_extra.is_empty() {
        return Err(SyncError::InvalidSetting {
            setting: "scout.sync_models.extra_fields",
            detail: format!("Odoo's {model} has no field {}.", missing_extra.join(", ")),
        });
    }
    let missing_core: Vec<&str> = missing.iter().filter(|f| spec.fields.contains(f)).map(String::as_str).collect();
    let note = (!missing_core.is_empty())
        .then(|| format!("this Odoo has no {} on {model}; synced without", missing_core.join(", ")));
    Ok((fields, missing, note))
}

/// A load that has inserted this many rows refreshes the planner's statistics of its tables,
/// then again at ten times as many, and so on (loader::analyze_for_load).
const ANALYZE_FIRST_AT: i64 = 10_000;

/// Ids per `search` call when listing every id of a model (8 bytes each on our side).
const ID_PAGE: u32 = 50_000;

/// A full sync's safety net for deletes: every id Odoo has now (archived included), compared
/// with bronze; what Odoo no longer has is soft-deleted (or only counted, in a dry run).
fn reconcile_deletions(
    spec: &ModelSpec,
    client: &mut odoo_client::Client,
    run_id: Option<i64>,
) -> SyncResult<Vec<i64>> {
    let model = spec.model.as_str();
    let mut ids: Vec<i64> = Vec::new();
    loop {
        pgrx::check_for_interrupts!();
        let last = ids.last().copied().unwrap_or(0);
        let page = client
            .search_ids(model, &Query::all_ids_above(last), ID_PAGE, &Query::all_companies_context())
            .map_err(|e| SyncError::odoo(model, e))?;
        if page.iter().any(|id| *id <= last) {
            return Err(SyncError::BadData {
                model: model.to_owned(),
                detail: "search returned ids out of order".into(),
            });
        }
        let n = page.len();
        ids.extend(page);
        if n < ID_PAGE as usize {
            break;
        }
    }
    loader::mark_deleted(spec, &ids, run_id)
}

/// For a model that only some Odoo databases have (`odoo_module`), when this one lacks it: the
/// message a run reports instead of syncing.
pub(crate) fn not_in_this_odoo(spec: &ModelSpec, odoo: &mut OdooSession) -> SyncResult<Option<String>> {
    let Some(module) = &spec.odoo_module else { return Ok(None) };
    if odoo.has_model(&spec.model)? {
        return Ok(None);
    }
    Ok(Some(format!("this Odoo has no {} (its module {module} is not installed): nothing to sync", spec.model)))
}

/// Logs a run that did no work (skipped for a lock, or a model this Odoo lacks) and returns its
/// log row: the step's own when it continues a run, else a new one.
fn log_without_work(cp_id: &str, model: &str, opts: &RunOptions, status: RunStatus, msg: &str) -> SyncResult<i64> {
    let run_id = match opts.run_id {
        Some(id) => id,
        None => loader::start_log(cp_id, model, opts.full, opts.mode)?,
    };
    let counts = RunCounts::default();
    let u = LogUpdate {
        status: status.as_sql(),
        counts: &counts,
        window: None,
        odoo_version: None,
        transport: None,
        http_calls: 0,
        http_retries: 0,
        message: Some(msg),
        missing_fields: None,
    };
    loader::update_log(run_id, &u)?;
    Ok(run_id)
}

/// Syncs one model in the caller's transaction: the whole window, or `max_pages` of it.
pub fn run_model(spec: &ModelSpec, opts: RunOptions, s: &Settings, odoo: &mut OdooSession) -> SyncResult<RunSummary> {
    let started = Instant::now();
    let model = spec.model.as_str();
    let cp_id = checkpoint_id(s, model);
    let mut summary = RunSummary {
        run_id: opts.run_id,
        model: model.to_owned(),
        counts: RunCounts::default(),
        checkpoint: None,
        duration: Duration::ZERO,
        status: RunStatus::Success,
        message: None,
        previous_status: None,
    };

    // A dry run writes nothing, so it needs no lock and leaves no log row.
    if !opts.dry_run && !loader::try_lock(&cp_id)? {
        let holder = loader::lock_holder(&cp_id)?.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let msg = format!("{model} is being synced by another session{holder}; skipped");
        pgrx::notice!("odoo_sync: {msg}");
        summary.run_id = Some(log_without_work(&cp_id, model, &opts, RunStatus::Skipped, &msg)?);
        summary.status = RunStatus::Skipped;
        summary.message = Some(msg);
        summary.duration = started.elapsed();
        return Ok(summary);
    }
    if let Some(msg) = not_in_this_odoo(spec, odoo)? {
        // Nothing to sync, and no checkpoint: the first run after the module is installed in
        // Odoo is a first load.
        if !opts.dry_run {
            summary.run_id = Some(log_without_work(&cp_id, model, &opts, RunStatus::Success, &msg)?);
        }
        summary.message = Some(msg);
        summary.duration = started.elapsed();
        return Ok(summary);
    }

    let cp = loader::read_checkpoint(&cp_id)?;
    let (fields, missing_fields, note) = requested_fields(spec, odoo, started)?;
    summary.message = note;
    let shapes = odoo.shapes(model, &fields);
    let query = Query::new(s, fields.iter().any(|f| f == "company_id"));
    let client = odoo.client(model)?;
    let stats_before = client.stats;
    // A changed selection (company filter, extra fields) re-reads every record once.
    let selection = selection(s, spec, fields.iter().any(|f| f == "company_id"));
    let reselect = !opts.full && cp.high_water.is_some() && cp.selection.as_ref().is_some_and(|old| *old != selection);
    let full = opts.full || reselect;
    if reselect {
        let note = format!(
            "what a run selects changed since the last completed run ({} -> {selection}): this run re-reads every record",
            cp.selection.as_deref().unwrap_or_default()
        );
        pgrx::notice!("odoo_sync: {model}: {note}");
        summary.message = Some(note);
    }
    let planned = match resumable(&cp, full) {
        Some(window) => PlannedWindow { window, clock_behind: None },
        None => {
            let odoo_now = client.server_time_since(started).map_err(|e| SyncError::odoo(model, e))?;
            new_window(&cp, full, odoo_now, s.lookback, s.safety_lag)
        }
    };
    let mut window = planned.window;
    if let (Some(behind), Some(h)) = (planned.clock_behind, cp.high_water) {
        let note = format!(
            "Odoo's clock is {behind} s behind this model's high-water mark {} (was it set back?): \
             read from {} on, and the high-water mark follows Odoo's clock again",
            format_odoo(h),
            window.start.map(format_odoo).unwrap_or_default()
        );
        pgrx::warning!("odoo_sync: {model}: {note}");
        summary.message = Some(match summary.message.take() {
            Some(m) => format!("{m}; {note}"),
            None => note,
        });
    }
    let run_id = match (opts.dry_run, opts.run_id) {
        (true, _) => None,
        (false, Some(id)) => Some(id),
        (false, None) => {
            // A committing run (procedure, worker) may take long: record Odoo's count of the
            // window so that scout.sync_status can show progress from another session.
            let estimate = match opts.max_pages {
                Some(_) => client.search_count(model, &query.window(&window), &query.context).ok(),
                None => None,
            };
            Some(loader::start_log_with_estimate(&cp_id, model, window.full, opts.mode, estimate)?)
        }
    };
    summary.run_id = run_id;

    let batch = s.batch_size.max(1) as usize;
    let mut progress = Progress { model: model.to_owned(), estimate: None, last: Instant::now() };
    let mut pages = 0u32;
    let mut page_cx = pgrx::PgMemoryContexts::new("odoo_sync page");
    // One page of the window after `w.last_id`, read and checked (pure Rust: also runs on the
    // prefetching thread).
    let fetch = |client: &mut odoo_client::Client, w: &Window| -> SyncResult<(String, page::PageInfo)> {
        let page = client
            .search_read_raw(model, &query.window(w), &fields, "id asc", batch as u32, &query.context)
            .map_err(|e| SyncError::odoo(model, e))?;
        let info = page::validate(model, &page, w, &shapes)?;
        Ok((page, info))
    };
    let mut prefetched = None;
    // Rows inserted by this call at which the planner's statistics are refreshed (x10 each time).
    let mut analyze_at = ANALYZE_FIRST_AT;
    loop {
        pgrx::check_for_interrupts!();
        let (page, info) = match prefetched.take() {
            // Stopped by an interrupt that did not end the call (the check above returned), or
            // never started: fetch it here.
            None | Some(Err(SyncError::Odoo { error: odoo_client::OdooError::Interrupted, .. })) => {
                fetch(client, &window)?
            }
            Some(fetched) => fetched?,
        };
        summary.counts.fetched += info.len as i64;
        pages += 1;
        // Whether this call stops after this page with the window still open.
        let step_over = || {
            opts.max_pages.is_some_and(|m| pages >= m)
                || opts.max_time.is_some_and(|t| started.elapsed() >= t)
                || opts.stop_requested.is_some_and(|stop| stop())
        };
        // Another page follows in this call: fetch it while this one is loaded (prefetch.rs).
        let more = s.prefetch && info.len >= batch && !step_over();
        if info.len > 0 {
            // The page's SQL arguments (a megabyte of JSON text) are palloc'ed in the current
            // memory context, which lives as long as the SQL call: without a per-page context a
            // million-row sync would keep every page until it returns.
            let rejected = &mut summary.counts.rejected;
            // SAFETY: nothing allocated in page_cx outlives this block (results are Rust-owned).
            let mut load = || unsafe {
                page_cx.switch_to(|_| -> SyncResult<loader::PageCounts> {
                    match run_id {
                        Some(id) => {
                            let pc = loader::upsert_bronze(spec, &page, id)?;
                            *rejected += loader::apply_silver(model, &pc.changed, id, opts.lock_wait)?;
                            Ok(pc)
                        }
                        None => loader::preview_bronze(spec, &page),
                    }
                })
            };
            let pc = if more {
                let after = Window { last_id: info.max_id, ..window };
                let (pc, next) = prefetch::alongside(client, |c| fetch(c, &after), load);
                prefetched = next;
                pc
            } else {
                load()
            };
            // SAFETY: the page's SQL is done and its results are Rust-owned: nothing points into page_cx.
            unsafe { page_cx.reset() };
            let pc = pc?;
            summary.counts.inserted += pc.inserted;
            summary.counts.updated += pc.updated;
            window.last_id = info.max_id;
            if run_id.is_some() && summary.counts.inserted >= analyze_at {
                loader::analyze_for_load(model)?;
                analyze_at = summary.counts.inserted.saturating_mul(10);
            }
        }
        if info.len < batch {
            // The window is exhausted: the high-water mark moves to its end, never backwards
            // but to follow Odoo's clock back (sync_window::high_water_after).
            let h = Some(high_water_after(cp.high_water, &planned));
            // Deletes are found by comparing ids, after a full window of a model that had
            // been synced before (a first load has nothing to compare against).
            if window.full && cp.high_water.is_some() {
                let deleted = reconcile_deletions(spec, client, run_id)?;
                summary.counts.deleted = deleted.len() as i64;
                if run_id.is_some() {
                    loader::silver_mark_deleted(model, &deleted, opts.lock_wait)?;
                }
            }
            if run_id.is_some() {
                summary.previous_status =
                    loader::save_checkpoint(&cp_id, model, h, None, info.len as i64, Some(&selection))?;
            }
            summary.checkpoint = h;
            break;
        }
        if run_id.is_some() {
            loader::save_checkpoint(&cp_id, model, cp.high_water, Some(&window), info.len as i64, None)?;
        }
        if step_over() {
            summary.status = RunStatus::InProgress;
            summary.checkpoint = cp.high_water;
            break;
        }
        progress.tick(summary.counts.fetched, client, &query, &window);
    }

    summary.duration = started.elapsed();
    if let Some(id) = run_id {
        let version = client.version().map(|v| v.text.clone());
        let u = LogUpdate {
            status: if summary.status == RunStatus::InProgress { "running" } else { "success" },
            counts: &summary.counts,
            window: Some(&window),
            odoo_version: version.as_deref(),
            transport: Some(client.transport_name()),
            http_calls: (client.stats.calls - stats_before.calls) as i64,
            http_retries: (client.stats.retries - stats_before.retries) as i64,
            message: summary.message.as_deref(),
            missing_fields: Some(&missing_fields),
        };
        loader::update_log(id, &u)?;
    }
    Ok(summary)
}
