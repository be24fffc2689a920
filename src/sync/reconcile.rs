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

use super::{checkpoint_id, page, requested_fields, Query};
use crate::alerts;
use crate::errors::{SyncError, SyncResult};
use crate::loader::{self, Drift, LockWait, Window};
use crate::models::ModelSpec;
use crate::settings::Settings;
use serde::Deserialize;
use serde_json::json;
use std::time::{Duration, Instant};

use super::session::OdooSession;

/// Records per listing call: `(id, write_date)` only, so a page is small even at this size.
const LIST_PAGE: u32 = 5_000;

#[derive(Clone, Copy, Debug)]
pub struct ReconcileOptions {
    pub dry_run: bool,
    pub lock_wait: LockWait,
}

#[derive(Clone, Debug)]
pub struct ReconcileSummary {
    pub model: String,
    pub run_id: Option<i64>,
    pub drift: Drift,
    pub duration: Duration,
    /// success or skipped.
    pub status: &'static str,
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    id: i64,
    write_date: serde_json::Value,
}

/// Reconciles one model (reconcile_model) and alerts when it repaired more than
/// odoo_sync.drift_alert_threshold records: drift means an incremental run missed something.
pub fn reconcile_and_alert(
    spec: &ModelSpec,
    opts: ReconcileOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<ReconcileSummary> {
    let summary = reconcile_model(spec, opts, s, odoo)?;
    let d = &summary.drift;
    if !opts.dry_run && summary.status == "success" && d.total() > s.drift_alert_threshold {
        alerts::drifted(&summary.model, d.missing, d.stale, d.deleted, d.restored);
    }
    Ok(summary)
}

/// One model's reconciliation, in the caller's transaction.
pub fn reconcile_model(
    spec: &ModelSpec,
    opts: ReconcileOptions,
    s: &Settings,
    odoo: &mut OdooSession,
) -> SyncResult<ReconcileSummary> {
    let started = Instant::now();
    let model = spec.model.as_str();
    let cp_id = checkpoint_id(s, model);
    let mut summary = ReconcileSummary {
        model: model.to_owned(),
        run_id: None,
        drift: Drift::default(),
        duration: Duration::ZERO,
        status: "success",
        message: None,
    };
    // The same per-model lock as a sync: a reconciliation and a sync of one model never overlap.
    if !opts.dry_run && !loader::try_lock(&cp_id)? {
        let holder = loader::lock_holder(&cp_id)?.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let msg = format!("{model} is being synced by another session{holder}; reconciliation skipped");
        pgrx::notice!("odoo_sync: {msg}");
        summary.status = "skipped";
        summary.message = Some(msg);
        summary.duration = started.elapsed();
        return Ok(summary);
    }
    let (fields, _missing_fields, note) = requested_fields(spec, odoo, started)?;
    summary.message = note;
    let shapes = odoo.shapes(model, &fields);
    let has_company = fields.iter().any(|f| f == "company_id");
    let query = Query::new(s, has_company);
    let run_id = if opts.dry_run { None } else { Some(loader::start_log(&cp_id, model, true, "reconcile")?) };
    summary.run_id = run_id;
    // Listing: id, write_date, and the company when a filter narrows what we sync (a record
    // of a filtered-out company is present in Odoo, but not ours to fetch).
    let mut list_fields = vec!["id".to_string(), "write_date".to_string()];
    if query.companies.is_some() {
        list_fields.push("company_id".into());
    }
    let client = odoo.client(model)?;
    let stats_before = client.stats;
    let mut refetch: Vec<i64> = Vec::new();
    let mut deleted: Vec<i64> = Vec::new();
    let mut last = 0i64;
    loop {
        pgrx::check_for_interrupts!();
        let before = last;
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
        let page: Vec<serde_json::Value> = serde_json::from_str(&raw)
            .map_err(|e| SyncError::BadData { model: model.to_owned(), detail: format!("listing ids: {e}") })?;
        let mut listed: Vec<(Listed, bool)> = Vec::with_capacity(page.len());
        for v in page {
            let ours = query.companies.as_ref().is_none_or(|ids| match v.get("company_id") {
                Some(serde_json::Value::Array(c)) => {
                    c.first().and_then(|x| x.as_i64()).is_some_and(|c| ids.contains(&c))
                }
                _ => true, // shared records (company_id false) are synced under any filter
            });
            let l: Listed = serde_json::from_value(v)
                .map_err(|e| SyncError::BadData { model: model.to_owned(), detail: format!("listing ids: {e}") })?;
            if l.id <= last {
                return Err(SyncError::BadData {
                    model: model.to_owned(),
                    detail: "search_read returned ids out of order".into(),
                });
            }
            last = l.id;
            listed.push((l, ours));
        }
        let done = listed.len() < LIST_PAGE as usize;
        // Bronze's side of the same id range (the last page takes everything above).
        let upto = if done { i64::MAX } else { last };
        let ours = loader::bronze_write_dates(spec, before, upto)?;
        merge(&listed, &ours, &mut summary.drift, &mut refetch, &mut deleted);
        if done {
            break;
        }
    }
    // Re-fetch through the normal page path (a dry run only reports).
    if opts.dry_run {
        refetch.clear();
    }
    let batch = s.batch_size.max(1) as usize;
    let full = Window { start: None, end: i64::MAX, full: true, last_id: 0 };
    for chunk in refetch.chunks(batch) {
        pgrx::check_for_interrupts!();
        let domain = json!([["id", "in", chunk]]);
        let raw = client
            .search_read_raw(model, &domain, &fields, "id asc", batch as u32, &query.context)
            .map_err(|e| SyncError::odoo(model, e))?;
        let info = page::validate(model, &raw, &full, &shapes)?;
        summary.drift.refetched += info.len as i64;
        if let Some(id) = run_id {
            if info.len > 0 {
                let pc = loader::upsert_bronze(spec, &raw, id)?;
                loader::apply_silver(model, &pc.changed, id, opts.lock_wait)?;
            }
        }
    }
    if let Some(id) = run_id {
        let gone = loader::soft_delete(spec, &deleted, id)?;
        loader::silver_mark_deleted(model, &gone, opts.lock_wait)?;
        let calls = (client.stats.calls - stats_before.calls) as i64;
        loader::finish_reconcile_log(id, &summary.drift, calls, summary.message.as_deref())?;
    }
    summary.duration = started.elapsed();
    Ok(summary)
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
