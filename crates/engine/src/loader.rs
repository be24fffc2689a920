//! The one page loader: every page of Odoo records that reaches the database goes through here,
//! whether a run's window, a reconciliation's repair, the re-read of records that named deleted
//! ones, or the silver pass at the end of a first load. Each page is loaded in a scope of its
//! own (the store releases its allocations after it) and the planner's statistics are
//! refreshed as a load grows.

use crate::error::SyncResult;
use crate::model::ModelSpec;
use crate::store::{LockWait, PageCounts, Store};

/// A load that has inserted this many rows refreshes the planner's statistics of its tables,
/// then again at ten times as many, and so on.
const ANALYZE_FIRST_AT: i64 = 10_000;

/// Bronze ids per silver call when a first load derives silver at its end.
const SILVER_CHUNK: i64 = 10_000;

/// Where a page goes.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Compared with bronze, nothing written (a dry run).
    Preview,
    /// Into bronze, and into silver at once (waiting for the silver lock as said).
    BronzeAndSilver { run_id: i64, wait: LockWait },
    /// Into bronze only: silver is derived once the window is done (a first load).
    BronzeOnly { run_id: i64 },
}

impl Target {
    pub fn run_id(self) -> Option<i64> {
        match self {
            Target::Preview => None,
            Target::BronzeAndSilver { run_id, .. } | Target::BronzeOnly { run_id } => Some(run_id),
        }
    }
}

/// What a loading call keeps between its pages: when it next refreshes the statistics.
pub struct Loader<'a> {
    pub spec: &'a ModelSpec,
    pub target: Target,
    /// Rows inserted so far by this call.
    inserted: i64,
    analyze_at: i64,
}

impl<'a> Loader<'a> {
    pub fn new(spec: &'a ModelSpec, target: Target) -> Loader<'a> {
        Loader { spec, target, inserted: 0, analyze_at: ANALYZE_FIRST_AT }
    }

    /// Loads one page (a JSON array of records, as Odoo sent it); returns its bronze counts and
    /// how many of its records silver's rules quarantined.
    pub fn load<S: Store>(&mut self, store: &mut S, page: &str) -> SyncResult<(PageCounts, i64)> {
        let (spec, target) = (self.spec, self.target);
        let loaded = store.page_scope(|store| -> SyncResult<(PageCounts, i64)> {
            match target {
                Target::Preview => Ok((store.preview_bronze(spec, page)?, 0)),
                Target::BronzeOnly { run_id } => Ok((store.upsert_bronze(spec, page, run_id)?, 0)),
                Target::BronzeAndSilver { run_id, wait } => {
                    let pc = store.upsert_bronze(spec, page, run_id)?;
                    let rejected = match pc.changed.is_empty() {
                        true => 0,
                        false => store.apply_silver(&spec.model, &pc.changed, run_id, wait)?,
                    };
                    Ok((pc, rejected))
                }
            }
        })?;
        self.inserted += loaded.0.inserted;
        if target.run_id().is_some() && self.inserted >= self.analyze_at {
            store.analyze_for_load(&spec.model)?;
            self.analyze_at = self.inserted.saturating_mul(10);
        }
        Ok(loaded)
    }
}

/// Derives silver from every bronze row of the model, in id order, SILVER_CHUNK ids per call:
/// the end of a first load, which loaded bronze only. Returns how many rows the rules
/// quarantined. The same result as deriving after each page (silver is a function of bronze),
/// in a tenth of the statements; each chunk in a scope of its own, and the silver table's
/// statistics refreshed as it grows.
pub fn derive_silver_for_all<S: Store>(
    store: &mut S,
    spec: &ModelSpec,
    run_id: i64,
    wait: LockWait,
) -> SyncResult<i64> {
    let (mut after, mut rejected, mut derived, mut analyze_at) = (0i64, 0i64, 0i64, ANALYZE_FIRST_AT);
    loop {
        let (ids, chunk_rejected) = store.page_scope(|store| -> SyncResult<(Vec<i64>, i64)> {
            let ids = store.bronze_ids_after(spec, after, SILVER_CHUNK)?;
            let rejected = match ids.is_empty() {
                true => 0,
                false => store.apply_silver(&spec.model, &ids, run_id, wait)?,
            };
            Ok((ids, rejected))
        })?;
        let Some(&last) = ids.last() else { return Ok(rejected) };
        rejected += chunk_rejected;
        after = last;
        derived += ids.len() as i64;
        if derived >= analyze_at {
            store.analyze_for_load(&spec.model)?;
            analyze_at = derived.saturating_mul(10);
        }
    }
}
