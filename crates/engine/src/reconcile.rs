//! Reconciliation: the unattended safety net for what incremental runs cannot see. It pages
//! through every record's `(id, write_date)` in Odoo (archived included, every company the API
//! user may see: a few bytes a record), merges that stream with bronze's `(id, write_date)` in
//! id order (memory flat in the model's size: one page of each side at a time), and repairs:
//!
//! - missing: in Odoo, not in bronze (a late commit older than the look-back, say): re-fetched;
//! - stale: bronze's write_date differs from Odoo's: re-fetched;
//! - restored: soft-deleted in bronze, in Odoo again: re-fetched (the upsert clears deleted_at);
//! - deleted: live in bronze, gone from Odoo: soft-deleted, in silver too.
//!
//! Re-fetched records go through the normal page path (page checks, bronze upsert, silver), in
//! pages of batch_size. The checkpoint's high-water mark is not moved: a reconciliation reads no
//! window. Renames of records that others embed (`[id, "name"]`) are not drift: Odoo does not
//! touch the write_date of the records that embed the name (docs/DESIGN.md).

use crate::alerts;
use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use crate::listing;
use crate::model::ModelSpec;
use crate::referrers::{self, ByIds};
use crate::runs::{model_checkpoint, not_in_this_odoo, requested_fields};
use crate::session::OdooSession;
use crate::settings::Settings;
use crate::store::{Drift, LockWait, RunMode, RunStatus, Store};
use serde::Deserialize;
use std::time::{Duration, Instant};
use sync_window::query::Query;

/// Records per listing call: `(id, write_date)` only, so a page is small even at this size.
const LIST_PAGE: u32 = 5_000;

#[derive(Clone, Copy, Debug)]
pub struct ReconcileOptions {
    pub dry_run: bool,
    /// Stop after this many listing pages (status in_progress) so that the caller can commit
    /// and call again; None reconciles the whole model.
    pub max_pages: Option<u32>,
    /// Also stop between two pages when this says so (the worker's SIGTERM).
    pub stop_requested: Option<fn() -> bool>,
    pub lock_wait: LockWait,
}

#[derive(Clone, Debug)]
pub struct ReconcileSummary {
    pub model: String,
    pub run_id: Option<i64>,
    pub drift: Drift,
    pub duration: Duration,
    pub status: RunStatus,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    id: i64,
    write_date: serde_json::Value,
}

/// Reconciles one model (reconcile_model) and alerts when it repaired more than
/// odoo_sync.drift_alert_threshold records: drift means an incremental run missed something.
pub fn reconcile_and_alert<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    opts: ReconcileOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<ReconcileSummary> {
    let summary = reconcile_model(store, host, spec, opts, s, odoo)?;
    let d = &summary.drift;
    if !opts.dry_run && summary.status == RunStatus::Success && d.total() > s.drift_alert_threshold {
        alerts::drifted(store, s, &summary.model, d);
    }
    Ok(summary)
}

/// One model's reconciliation, in the caller's transaction: all of it, or `max_pages` listing
/// pages of it (status in_progress: commit and call again; the cursor is in the checkpoint, so a
/// run cut off by a crash is resumed by the next reconciliation, not started over).
pub fn reconcile_model<S: Store>(
    store: &mut S,
    host: &dyn Host,
    spec: &ModelSpec,
    opts: ReconcileOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<ReconcileSummary> {
    let started = Instant::now();
    let model = spec.model.as_str();
    let cp_id = model_checkpoint(s, model);
    let mut summary = ReconcileSummary {
        model: model.to_owned(),
        run_id: None,
        drift: Drift::default(),
        duration: Duration::ZERO,
        status: RunStatus::Success,
        message: None,
    };
    // The same per-model lock as a sync: a reconciliation and a sync of one model never overlap.
    if !opts.dry_run && !store.try_lock_model(&cp_id)? {
        let holder = store.lock_holder(&cp_id)?.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let msg = format!("{model} is being synced by another session{holder}; reconciliation skipped");
        host.notice(&format!("odoo_sync: {msg}"));
        summary.status = RunStatus::Skipped;
        summary.message = Some(msg);
        summary.duration = started.elapsed();
        return Ok(summary);
    }
    if let Some(msg) = not_in_this_odoo(spec, odoo)? {
        if !opts.dry_run {
            let run_id = store.start_log(&cp_id, model, true, RunMode::Reconcile, None)?;
            store.finish_reconcile_log(run_id, true, 0, Some(&msg))?;
            summary.run_id = Some(run_id);
        }
        summary.message = Some(msg);
        summary.duration = started.elapsed();
        return Ok(summary);
    }
    let (fields, _missing_fields, note) = requested_fields(spec, odoo, started)?;
    summary.message = note;
    let shapes = odoo.shapes(model, &fields);
    let query = Query::new(&s.company_ids, fields.iter().any(|f| f == "company_id"));
    // Resume an open reconciliation (its log row and cursor), or start one.
    let (run_id, mut last) = match (opts.dry_run, store.open_reconciliation(&cp_id)?) {
        (true, _) => (None, 0),
        (false, Some((run_id, last))) => (Some(run_id), last),
        (false, None) => (Some(store.start_log(&cp_id, model, true, RunMode::Reconcile, None)?), 0),
    };
    summary.run_id = run_id;
    // Listing: id, write_date, and the company when a filter narrows what we sync (a record
    // of a filtered-out company is present in Odoo, but not ours to fetch).
    let mut list_fields = vec!["id".to_string(), "write_date".to_string()];
    if query.companies.is_some() {
        list_fields.push("company_id".into());
    }
    let stats_before = odoo.client(model)?.stats;
    let batch = s.batch_size.max(1) as usize;
    let mut pages = 0u32;
    // What re-reading the records that named deleted ones did (referrers.rs).
    let mut notes = Vec::new();
    loop {
        host.check_interrupts()?;
        let before = last;
        let client = odoo.client(model)?;
        let raw = client
            .search_read_raw(
                model,
                &Query::all_ids_above(last),
                &list_fields,
                "id asc",
                LIST_PAGE,
                &Query::all_companies_context(),
            )
            .map_err(|e| SyncError::odoo(model, e))?;
        let listed = parse_listing(model, &raw, last, query.companies.as_deref())?;
        last = listed.last().map(|(l, _)| l.id).unwrap_or(last);
        let done = listed.len() < LIST_PAGE as usize;
        // Bronze's side of the same id range (the last page takes everything above).
        let upto = if done { i64::MAX } else { last };
        let ours = store.bronze_write_dates(spec, before, upto)?;
        let mut page = Drift::default();
        let mut refetch = Vec::new();
        let mut deleted = Vec::new();
        merge(&listed, &ours, &mut page, &mut refetch, &mut deleted);
        if let Some(id) = run_id {
            // Repair this page's drift through the normal page path, then move the cursor, in
            // the same transaction.
            let by_ids = ByIds { spec, fields: &fields, shapes: &shapes, query: &query, batch };
            page.refetched += by_ids.reread(store, host, client, &refetch, id, opts.lock_wait)?;
            let deleted = listing::proven_gone(host, client, model, &deleted)?;
            let gone = store.soft_delete(spec, &deleted, id)?;
            store.silver_mark_deleted(model, &gone, opts.lock_wait)?;
            notes.extend(referrers::reread(store, host, odoo, s, model, &gone, id, opts.lock_wait)?);
            store.add_reconcile_counts(id, &page)?;
            store.save_reconcile_cursor(&cp_id, model, (!done).then_some((id, last)))?;
        }
        summary.drift.add(&page);
        pages += 1;
        if done {
            break;
        }
        let step_over = opts.max_pages.is_some_and(|m| pages >= m) || opts.stop_requested.is_some_and(|stop| stop());
        if step_over {
            summary.status = RunStatus::InProgress;
            break;
        }
    }
    if !notes.is_empty() {
        let all: Vec<String> = summary.message.take().into_iter().chain(notes).collect();
        summary.message = Some(all.join("; "));
    }
    if let Some(id) = run_id {
        let calls = (odoo.client(model)?.stats.calls - stats_before.calls) as i64;
        // The whole run's figures (earlier steps included) for the result and the alert.
        let bronze_count = summary.drift.bronze_count; // (of the pages this call compared)
        summary.drift =
            store.finish_reconcile_log(id, summary.status == RunStatus::Success, calls, summary.message.as_deref())?;
        summary.drift.bronze_count = bronze_count;
    }
    summary.duration = started.elapsed();
    Ok(summary)
}

/// One listing page: `(record, whether the sync selects it)` in id order above `last`.
fn parse_listing(model: &str, raw: &str, last: i64, companies: Option<&[i64]>) -> SyncResult<Vec<(Listed, bool)>> {
    let bad = |detail: String| SyncError::BadData { model: model.to_owned(), detail };
    let page: Vec<serde_json::Value> = serde_json::from_str(raw).map_err(|e| bad(format!("listing ids: {e}")))?;
    let mut listed = Vec::with_capacity(page.len());
    for v in page {
        let ours = companies.is_none_or(|ids| match v.get("company_id") {
            Some(serde_json::Value::Array(c)) => c.first().and_then(|x| x.as_i64()).is_some_and(|c| ids.contains(&c)),
            _ => true, // shared records (company_id false) are synced under any filter
        });
        let l: Listed = serde_json::from_value(v).map_err(|e| bad(format!("listing ids: {e}")))?;
        listed.push((l, ours));
    }
    let ids: Vec<i64> = listed.iter().map(|(l, _)| l.id).collect();
    listing::check_ascending(model, &ids, last)?;
    Ok(listed)
}

/// Merges one page of Odoo's `(id, write_date)` with bronze's rows of the same id range.
fn merge(
    odoo: &[(Listed, bool)],
    bronze: &[(i64, Option<String>, bool)],
    drift: &mut Drift,
    refetch: &mut Vec<i64>,
    deleted: &mut Vec<i64>,
) {
    let mut b = bronze.iter().peekable();
    for (l, ours) in odoo {
        // Bronze rows below this Odoo id are gone from Odoo.
        while let Some((id, _, gone)) = b.next_if(|(id, _, _)| *id < l.id) {
            drift.bronze_count += i64::from(!gone);
            if !gone {
                drift.deleted += 1;
                deleted.push(*id);
            }
        }
        if *ours {
            drift.odoo_count += 1;
        }
        match b.next_if(|(id, _, _)| *id == l.id) {
            Some((_, wd, gone)) => {
                drift.bronze_count += i64::from(!gone);
                if *ours {
                    let odoo_wd = l.write_date.as_str();
                    if *gone {
                        drift.restored += 1;
                        refetch.push(l.id);
                    } else if wd.as_deref() != odoo_wd {
                        drift.stale += 1;
                        refetch.push(l.id);
                    }
                }
            }
            None if *ours => {
                drift.missing += 1;
                refetch.push(l.id);
            }
            None => {}
        }
    }
    // What is left of bronze's range is above Odoo's last id of this page: only the last page
    // asks for that range, and there it is gone from Odoo.
    for (id, _, gone) in b {
        drift.bronze_count += i64::from(!gone);
        if !gone {
            drift.deleted += 1;
            deleted.push(*id);
        }
    }
}
