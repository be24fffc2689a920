//! One model's sync, in the caller's transaction, in four steps: runs that have nothing to do
//! (another session holds the model; this Odoo lacks it), planning the window on Odoo's clock,
//! reading it page by page (each page loaded with the checkpoint that says how far it got), and
//! closing it (high-water mark, deletes, the log row).

use crate::alerts;
use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use crate::loader::{derive_silver_for_all, Loader, Target};
use crate::model::ModelSpec;
use crate::runs::{model_checkpoint, not_in_this_odoo, requested_fields, RunOptions, RunSummary};
use crate::session::OdooSession;
use crate::settings::Settings;
use crate::store::{Checkpoint, LogUpdate, RunCounts, RunStatus, Store, Window};
use crate::{listing, page, prefetch, referrers, streams};
use odoo_client::shape::Shapes;
use odoo_client::time::format_odoo;
use std::time::{Duration, Instant};
use sync_window::query::{selection, Query};
use sync_window::{high_water_after, new_window, resumable, Limits, PlannedWindow};

/// Ids per `search` call when listing every id of a model (8 bytes each on our side).
const ID_PAGE: u32 = 50_000;

/// Runs one model (run_model) and tells the alerts about a recovery: the one way every path
/// (function, procedure step, worker) runs a model.
pub fn run_and_alert<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    opts: RunOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<RunSummary> {
    let summary = run_model(store, host, spec, opts, s, odoo)?;
    if summary.status == RunStatus::Success {
        alerts::recovered(store, s, &summary.model, summary.previous_status.as_deref());
    }
    Ok(summary)
}

/// Syncs one model in the caller's transaction: the whole window, or `max_pages` of it.
fn run_model<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    opts: RunOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<RunSummary> {
    let started = Instant::now();
    let model = spec.model.as_str();
    let cp_id = model_checkpoint(s, model);
    if let Some(summary) = nothing_to_do(store, host, spec, &opts, odoo, &cp_id, started)? {
        return Ok(summary);
    }
    let mut summary = RunSummary::new(model, opts.run_id);

    let cp = store.read_checkpoint(&cp_id)?;
    let (fields, missing_fields, note) = requested_fields(spec, odoo, started)?;
    let mut notes: Vec<String> = note.into_iter().collect();
    let shapes = odoo.shapes(model, &fields);
    let has_company = fields.iter().any(|f| f == "company_id");
    let query = Query::new(&s.company_ids, has_company);
    let selection = selection(&s.company_ids, has_company, &spec.extra_fields);
    let client = odoo.client(model)?;
    let stats_before = client.stats;
    let (planned, planning_notes) = plan_window(host, model, &opts, s, &cp, &selection, client, started)?;
    notes.extend(planning_notes);
    summary.message = (!notes.is_empty()).then(|| notes.join("; "));
    let run_id = open_log(store, &cp_id, model, &opts, client, &query, &planned.window)?;
    summary.run_id = run_id;

    // A first load derives silver once at its end instead of after every page
    // (loader::derive_silver_for_all): set-based over chunks of ten thousand, where per page the
    // same derivation is planned and run two thousand times for a million rows.
    let defer_silver = window_is_first_load(&cp, &planned.window);
    let target = match (run_id, defer_silver) {
        (None, _) => Target::Preview,
        (Some(run_id), true) => Target::BronzeOnly { run_id },
        (Some(run_id), false) => Target::BronzeAndSilver { run_id, wait: opts.lock_wait },
    };
    let reader = PageReader { host, spec, opts: &opts, s, query: &query, fields: &fields, shapes: &shapes, started };
    let mut window = planned.window;
    let mut loading = Loading { counts: &mut summary.counts, pages: 0, loader: Loader::new(spec, target) };
    match reader.read(store, client, &mut window, &cp_id, cp.high_water, &mut loading)? {
        WindowState::Exhausted { last_page } => {
            // The high-water mark moves to the window's end, never backwards but to follow
            // Odoo's clock back (sync_window::high_water_after).
            let h = Some(high_water_after(cp.high_water, &planned));
            // Deletes are found by comparing ids, after a full window of a model that had
            // been synced before (a first load has nothing to compare against).
            if window.full && cp.high_water.is_some() {
                let deleted = reconcile_deletions(store, host, spec, odoo.client(model)?, run_id)?;
                summary.counts.deleted = deleted.len() as i64;
                if let Some(id) = run_id {
                    store.silver_mark_deleted(model, &deleted, opts.lock_wait)?;
                    notes.extend(referrers::reread(store, host, odoo, s, model, &deleted, id, opts.lock_wait)?);
                    summary.message = (!notes.is_empty()).then(|| notes.join("; "));
                }
            }
            if let (Some(id), true) = (run_id, defer_silver) {
                summary.counts.rejected += derive_silver_for_all(store, spec, id, opts.lock_wait)?;
            }
            if run_id.is_some() {
                summary.previous_status = store.save_checkpoint(&cp_id, model, h, None, last_page, Some(&selection))?;
            }
            summary.checkpoint = h;
        }
        WindowState::Paused => {
            summary.status = RunStatus::InProgress;
            summary.checkpoint = cp.high_water;
        }
    }

    summary.duration = started.elapsed();
    let client = odoo.client(model)?;
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
        store.update_log(id, &u)?;
    }
    Ok(summary)
}

/// A run that does no work, logged and summarised: another session holds the model (skipped),
/// or this Odoo does not have it (success, nothing to sync). None: the run goes on. A dry run
/// writes nothing, so it needs no lock and leaves no log row.
fn nothing_to_do<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    opts: &RunOptions,
    odoo: &mut OdooSession,
    cp_id: &str,
    started: Instant,
) -> SyncResult<Option<RunSummary>> {
    let model = spec.model.as_str();
    let (status, msg) = if !opts.dry_run && !store.try_lock_model(cp_id)? {
        let holder = store.lock_holder(cp_id)?.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let msg = format!("{model} is being synced by another session{holder}; skipped");
        host.notice(&format!("odoo_sync: {msg}"));
        (RunStatus::Skipped, msg)
    } else if let Some(msg) = not_in_this_odoo(spec, odoo)? {
        // No checkpoint either: the first run after the module is installed in Odoo is a first
        // load.
        (RunStatus::Success, msg)
    } else {
        return Ok(None);
    };
    let run_id = match opts.dry_run {
        true => None,
        false => Some(log_without_work(store, cp_id, model, opts, status, &msg)?),
    };
    Ok(Some(RunSummary { duration: started.elapsed(), status, message: Some(msg), ..RunSummary::new(model, run_id) }))
}

/// Logs a run that did no work and returns its log row: the step's own when it continues a
/// run, else a new one.
fn log_without_work<S: Store>(
    store: &mut S,
    cp_id: &str,
    model: &str,
    opts: &RunOptions,
    status: RunStatus,
    msg: &str,
) -> SyncResult<i64> {
    let run_id = match opts.run_id {
        Some(id) => id,
        None => store.start_log(cp_id, model, opts.full, opts.mode, None)?,
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
    store.update_log(run_id, &u)?;
    Ok(run_id)
}

/// The window this run reads: the open one of an interrupted run, or a new one on Odoo's clock
/// read after the run started (docs/DESIGN.md, "The sync algorithm"). A changed selection
/// (company filter, extra fields) makes it a full window once; Odoo's clock behind the
/// high-water mark widens it. Both are returned as notes for the run's message.
#[allow(clippy::too_many_arguments)]
fn plan_window(
    host: &dyn Host,
    model: &str,
    opts: &RunOptions,
    s: &Settings,
    cp: &Checkpoint,
    selection: &str,
    client: &mut odoo_client::Client,
    started: Instant,
) -> SyncResult<(PlannedWindow, Vec<String>)> {
    let mut notes = Vec::new();
    let (full_requested, eager) = (opts.full, opts.eager);
    let reselect =
        !full_requested && cp.high_water.is_some() && cp.selection.as_ref().is_some_and(|old| old != selection);
    if reselect {
        let note = format!(
            "what a run selects changed since the last completed run ({} -> {selection}): this run re-reads every record",
            cp.selection.as_deref().unwrap_or_default()
        );
        host.notice(&format!("odoo_sync: {model}: {note}"));
        notes.push(note);
    }
    let full = full_requested || reselect;
    let planned = match resumable(cp, full) {
        Some(window) => PlannedWindow { window, clock_behind: None },
        None => {
            let odoo_now = client.server_time_since(started).map_err(|e| SyncError::odoo(model, e))?;
            new_window(cp, full, odoo_now, Limits { lookback: s.lookback, safety_lag: s.safety_lag, eager })
        }
    };
    if let (Some(behind), Some(h)) = (planned.clock_behind, cp.high_water) {
        let note = format!(
            "Odoo's clock is {behind} s behind this model's high-water mark {} (was it set back?): \
             read from {} on, and the high-water mark follows Odoo's clock again",
            format_odoo(h),
            planned.window.start.map(format_odoo).unwrap_or_default()
        );
        host.warning(&format!("odoo_sync: {model}: {note}"));
        notes.push(note);
    }
    Ok((planned, notes))
}

/// The run's log row: the step's own when it continues a run, a new one otherwise, none for a
/// dry run. A committing run (procedure, worker) may take long: its new row records Odoo's
/// count of the window, so that scout.sync_status can show progress from another session.
fn open_log<S: Store>(
    store: &mut S,
    cp_id: &str,
    model: &str,
    opts: &RunOptions,
    client: &mut odoo_client::Client,
    query: &Query,
    window: &Window,
) -> SyncResult<Option<i64>> {
    Ok(match (opts.dry_run, opts.run_id) {
        (true, _) => None,
        (false, Some(id)) => Some(id),
        (false, None) => {
            let estimate = match opts.max_pages {
                Some(_) => client.search_count(model, &query.window(window), &query.context).ok(),
                None => None,
            };
            Some(store.start_log(cp_id, model, window.full, opts.mode, estimate)?)
        }
    })
}

/// How reading a window ended.
enum WindowState {
    /// Its last page was short: the window is read. `last_page`: that page's record count.
    Exhausted { last_page: i64 },
    /// This call stopped between two pages (max_pages, max_time, a stop request) with the window
    /// still open; its checkpoint says where the next call resumes.
    Paused,
}

/// Reads a window page by page in id order, loading each page with the checkpoint that says
/// how far it got, while the next page is fetched (prefetch.rs).
struct PageReader<'a> {
    host: &'a dyn Host,
    spec: &'a ModelSpec,
    opts: &'a RunOptions,
    s: &'a Settings,
    query: &'a Query,
    fields: &'a [String],
    shapes: &'a Shapes,
    started: Instant,
}

/// A model's first load: never synced to completion, reading a full window (also when resumed
/// after an interruption, which keeps deferring: the end derives every bronze row).
fn window_is_first_load(cp: &Checkpoint, window: &Window) -> bool {
    cp.high_water.is_none() && window.full
}

/// What a call keeps while it loads pages: its counts, and the page loader.
struct Loading<'c, 'l> {
    counts: &'c mut RunCounts,
    pages: u32,
    loader: Loader<'l>,
}

impl Loading<'_, '_> {
    /// Loads one page and adds it to the counts.
    fn load<S: Store>(&mut self, store: &mut S, page: &str) -> SyncResult<()> {
        let (pc, rejected) = self.loader.load(store, page)?;
        self.counts.inserted += pc.inserted;
        self.counts.updated += pc.updated;
        self.counts.rejected += rejected;
        Ok(())
    }

    /// Whether pages are written (not a dry run).
    fn writes(&self) -> bool {
        self.loader.target.run_id().is_some()
    }
}

impl PageReader<'_> {
    fn batch(&self) -> usize {
        self.s.batch_size.max(1) as usize
    }

    /// One page of the window after `w.last_id`, read and checked (pure Rust: also runs on the
    /// prefetching thread).
    fn fetch(&self, client: &mut odoo_client::Client, w: &Window) -> SyncResult<(String, page::PageInfo)> {
        let model = self.spec.model.as_str();
        let page = client
            .search_read_raw(
                model,
                &self.query.window(w),
                self.fields,
                "id asc",
                self.batch() as u32,
                &self.query.context,
            )
            .map_err(|e| SyncError::odoo(model, e))?;
        let info = page::validate(model, &page, w, self.shapes)?;
        Ok((page, info))
    }

    /// Whether this call stops after `pages` pages with the window still open.
    fn step_over(&self, pages: u32) -> bool {
        let o = self.opts;
        o.max_pages.is_some_and(|m| pages >= m)
            || o.max_time.is_some_and(|t| self.started.elapsed() >= t)
            || o.stop_requested.is_some_and(|stop| stop())
    }

    fn read<S: Store>(
        &self,
        store: &mut S,
        client: &mut odoo_client::Client,
        window: &mut Window,
        cp_id: &str,
        high_water: Option<i64>,
        l: &mut Loading,
    ) -> SyncResult<WindowState> {
        // A full window or a first load is where the records are many: fetch it on several
        // streams; what is left after the listed ids (normally one short page) follows in turn.
        // Not for a step that loads only a few pages (the worker's, the procedure's): it would
        // list ids and fetch pages ahead for every page it commits.
        let streams = self.s.fetch_streams;
        if streams > 1
            && (window.full || window.start.is_none())
            && self.opts.max_pages.is_none_or(|m| m as usize >= 2 * streams)
        {
            // The first page in turn: a window that fits in one page needs no listing.
            match self.read_in_turn(store, client, window, cp_id, high_water, l, Some(1))? {
                WindowState::Exhausted { last_page } => return Ok(WindowState::Exhausted { last_page }),
                WindowState::Paused if self.step_over(l.pages) => return Ok(WindowState::Paused),
                WindowState::Paused => {}
            }
            if self.read_in_slices(store, client, window, cp_id, high_water, l)? {
                return Ok(WindowState::Paused);
            }
        }
        self.read_in_turn(store, client, window, cp_id, high_water, l, None)
    }

    /// Page after page on this thread, the next one fetched while this one loads (prefetch.rs);
    /// with `page_limit`, also Paused after that many pages of this call.
    #[allow(clippy::too_many_arguments)]
    fn read_in_turn<S: Store>(
        &self,
        store: &mut S,
        client: &mut odoo_client::Client,
        window: &mut Window,
        cp_id: &str,
        high_water: Option<i64>,
        l: &mut Loading,
        page_limit: Option<u32>,
    ) -> SyncResult<WindowState> {
        let at_limit = |pages: u32| page_limit.is_some_and(|n| pages >= n);
        let model = self.spec.model.as_str();
        let batch = self.batch();
        let mut progress = Progress { model: model.to_owned(), estimate: None, last: Instant::now() };
        let mut prefetched = None;
        loop {
            self.host.check_interrupts()?;
            let (page, info) = match prefetched.take() {
                // Stopped by an interrupt that did not end the call (the check above returned),
                // or never started: fetch it here.
                None | Some(Err(SyncError::Odoo { error: odoo_client::OdooError::Interrupted, .. })) => {
                    self.fetch(client, window)?
                }
                Some(fetched) => fetched?,
            };
            l.counts.fetched += info.len as i64;
            l.pages += 1;
            // Another page follows in this call: fetch it while this one is loaded.
            let more = self.s.prefetch && info.len >= batch && !self.step_over(l.pages) && !at_limit(l.pages);
            if info.len > 0 {
                let loaded = if more {
                    let after = Window { last_id: info.max_id, ..*window };
                    let stop = self.host.stop_flag();
                    let (loaded, next) =
                        prefetch::alongside(client, stop, |c| self.fetch(c, &after), || l.load(store, &page));
                    prefetched = next;
                    loaded
                } else {
                    l.load(store, &page)
                };
                loaded?;
                window.last_id = info.max_id;
            }
            if info.len < batch {
                return Ok(WindowState::Exhausted { last_page: info.len as i64 });
            }
            if l.writes() {
                store.save_checkpoint(cp_id, model, high_water, Some(window), info.len as i64, None)?;
            }
            if self.step_over(l.pages) || at_limit(l.pages) {
                return Ok(WindowState::Paused);
            }
            progress.tick(self.host, l.counts.fetched, client, self.query, window);
        }
    }

    /// The window's ids are listed (a cheap `search`), cut into pages of batch_size ids, and
    /// those fetched on `fetch_streams` connections at once and loaded in id order (streams.rs),
    /// each with the checkpoint at its last id: that is a correct resume point, since every
    /// record of the window up to it has been loaded. Only a short first listing (two pages a
    /// stream) is made before the streams start; the rest, in listings twice as long each up
    /// to ID_PAGE, on a connection of its own while they fetch, so that Odoo lists and serves
    /// at once (listing a million ids first took a real Odoo's time for 2,000 pages before the
    /// first page). Returns true when the call stopped with the window open (a step's page
    /// budget); false when the listed ids are done and the rest is read in turn.
    fn read_in_slices<S: Store>(
        &self,
        store: &mut S,
        client: &mut odoo_client::Client,
        window: &mut Window,
        cp_id: &str,
        high_water: Option<i64>,
        l: &mut Loading,
    ) -> SyncResult<bool> {
        let model = self.spec.model.as_str();
        let batch = self.batch();
        let base = *window;
        let first = first_listing(self.s.fetch_streams, batch);
        let ids = self.list_ids(client, &base, first)?;
        if ids.len() <= batch {
            return Ok(false); // one page or less: in turn
        }
        let feed = streams::Feed::open(slices_of(&ids, base.last_id, batch));
        // A short listing is the window's end: nothing more to list after it.
        let more = ids.len() >= first as usize;
        let listed_to = ids[ids.len() - 1];
        let lister = |c: &mut odoo_client::Client, feed: &streams::Feed| -> SyncResult<()> {
            let (mut after, mut limit) = (listed_to, first);
            while !feed.is_closed() {
                limit = limit.saturating_mul(2).min(ID_PAGE);
                let ids = self.list_ids(c, &Window { last_id: after, ..base }, limit)?;
                feed.extend(slices_of(&ids, after, batch));
                match ids.last() {
                    Some(&last) if ids.len() >= limit as usize => after = last,
                    _ => break, // the window's end
                }
            }
            Ok(())
        };
        // Twice the listed ids at most: a slice can only hold more if records of its id range
        // entered the window after the listing, and a full page must not hide any.
        let page_limit = (2 * batch) as u32;
        let fetch =
            |c: &mut odoo_client::Client, (lo, hi): streams::Slice| -> SyncResult<(String, page::PageInfo, i64)> {
                let w = Window { last_id: lo, ..base };
                let page = c
                    .search_read_raw(
                        model,
                        &self.query.slice(&w, hi),
                        self.fields,
                        "id asc",
                        page_limit,
                        &self.query.context,
                    )
                    .map_err(|e| SyncError::odoo(model, e))?;
                let info = page::validate(model, &page, &w, self.shapes)?;
                if info.max_id > hi || info.len >= page_limit as usize {
                    return Err(SyncError::BadData {
                        model: model.to_owned(),
                        detail: format!(
                            "the records with ids in ({lo}, {hi}] are not those listed a moment before ({} of them, \
                         limit {page_limit}); a new run lists them again",
                            info.len
                        ),
                    });
                }
                Ok((page, info, hi))
            };
        let outcome = streams::in_order(
            client,
            self.host,
            self.s.fetch_streams,
            &feed,
            more.then_some(&lister as streams::Lister),
            fetch,
            |_, (page, info, hi)| {
                l.counts.fetched += info.len as i64;
                l.pages += 1;
                if info.len > 0 {
                    l.load(store, &page)?;
                }
                window.last_id = hi;
                if l.writes() {
                    store.save_checkpoint(cp_id, model, high_water, Some(window), info.len as i64, None)?;
                }
                Ok(!self.step_over(l.pages))
            },
        )?;
        Ok(matches!(outcome, streams::Outcome::Stopped))
    }

    /// Up to `limit` ids of the window above `after.last_id`, ascending (checked).
    fn list_ids(&self, c: &mut odoo_client::Client, after: &Window, limit: u32) -> SyncResult<Vec<i64>> {
        let model = self.spec.model.as_str();
        let ids = c
            .search_ids(model, &self.query.window(after), limit, &self.query.context)
            .map_err(|e| SyncError::odoo(model, e))?;
        listing::check_ascending(model, &ids, after.last_id)?;
        Ok(ids)
    }
}

/// How many ids the first listing of a window asks for: two pages for each stream, enough to
/// keep them all busy while the next listing is asked (and at most ID_PAGE).
fn first_listing(streams: usize, batch: usize) -> u32 {
    let ids = 2usize.saturating_mul(streams).saturating_mul(batch);
    u32::try_from(ids).unwrap_or(u32::MAX).clamp(1, ID_PAGE)
}

/// Ascending ids cut into slices of `batch`: slice i holds the ids in (lo, hi], the first
/// starting above `after`.
fn slices_of(ids: &[i64], mut after: i64, batch: usize) -> Vec<streams::Slice> {
    ids.chunks(batch)
        .map(|c| {
            let hi = c[c.len() - 1];
            let slice = (after, hi);
            after = hi;
            slice
        })
        .collect()
}

/// A full sync's safety net for deletes: every id Odoo has now (archived included), compared
/// with bronze; what Odoo no longer has is soft-deleted (or only counted, in a dry run), once
/// Odoo has confirmed it is gone (listing.rs: a listing is never believed on its own).
fn reconcile_deletions<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    client: &mut odoo_client::Client,
    run_id: Option<i64>,
) -> SyncResult<Vec<i64>> {
    let model = spec.model.as_str();
    let mut ids: Vec<i64> = Vec::new();
    loop {
        host.check_interrupts()?;
        let last = ids.last().copied().unwrap_or(0);
        let page = client
            .search_ids(model, &Query::all_ids_above(last), ID_PAGE, &Query::all_companies_context())
            .map_err(|e| SyncError::odoo(model, e))?;
        listing::check_ascending(model, &page, last)?;
        let n = page.len();
        ids.extend(page);
        if n < ID_PAGE as usize {
            break;
        }
    }
    let candidates = listing::absent_from(&store.live_ids(spec)?, &ids);
    let gone = listing::proven_gone(host, client, model, &candidates)?;
    if let Some(run_id) = run_id {
        store.soft_delete(spec, &gone, run_id)?;
    }
    Ok(gone)
}

/// NOTICE lines for a long manual run: rows done of Odoo's count, at most every few seconds.
struct Progress {
    model: String,
    estimate: Option<i64>,
    last: Instant,
}

impl Progress {
    const EVERY: Duration = Duration::from_secs(5);

    fn tick(&mut self, host: &dyn Host, done: i64, odoo: &mut odoo_client::Client, q: &Query, w: &Window) {
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
            Some(total) if total > 0 => host.notice(&format!(
                "odoo_sync: {}: {done} of about {total} records ({}%)",
                self.model,
                (done * 100 / total).min(100)
            )),
            _ => host.notice(&format!("odoo_sync: {}: {done} records", self.model)),
        }
    }
}
