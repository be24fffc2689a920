//! Listings of ids are untrusted. Every path that learns from Odoo which records exist (a full
//! sync's delete pass, the streams' listing, reconciliation) applies the same two checks here,
//! so that a listing a proxy or a broken module mangled can never delete a live record:
//!
//! 1. [`check_ascending`]: a listing is strictly increasing and starts above its cursor;
//!    anything else fails the run (22000) before a row is touched.
//! 2. [`proven_gone`]: before a record is soft-deleted, Odoo is asked for exactly those ids
//!    (a `search_read` by id, archived records and every company included). A record Odoo
//!    still returns means the listing left it out: the run fails and deletes nothing.
//!
//! The proof costs one small call per PROOF_CHUNK records deleted, and nothing when nothing was
//! deleted.

use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use serde_json::json;
use sync_window::query::Query;

/// Ids asked per proof call.
const PROOF_CHUNK: usize = 1_000;

/// Ids named in an error, at most.
const NAMED: usize = 10;

/// Fails unless `ids` is strictly increasing and above `after` (the cursor of the listing).
pub fn check_ascending(model: &str, ids: &[i64], after: i64) -> SyncResult<()> {
    let mut prev = after;
    for (i, &id) in ids.iter().enumerate() {
        if id <= prev {
            return Err(SyncError::BadData {
                model: model.to_owned(),
                detail: format!(
                    "Odoo's listing of ids is out of order: id {id} at position {i} follows {prev}; \
                     a listing must be strictly increasing. Nothing was deleted."
                ),
            });
        }
        prev = id;
    }
    Ok(())
}

/// The ids of `ours` (live in bronze, ascending) that `listed` (every id Odoo listed, checked
/// ascending) lacks: candidates only, nothing is deleted before Odoo confirms them gone. A merge
/// of two sorted lists, linear in both.
pub fn absent_from(ours: &[i64], listed: &[i64]) -> Vec<i64> {
    let mut gone = Vec::new();
    let mut theirs = listed.iter().peekable();
    for &id in ours {
        while theirs.next_if(|o| **o < id).is_some() {}
        if theirs.peek() != Some(&&id) {
            gone.push(id);
        }
    }
    gone
}

/// The records of `candidates` (live in bronze, absent from a listing) that Odoo really no
/// longer has: all of them, or an error when Odoo still returns any (the listing lied).
pub fn proven_gone(
    host: &dyn Host,
    client: &mut odoo_client::Client,
    model: &str,
    candidates: &[i64],
) -> SyncResult<Vec<i64>> {
    let mut present = Vec::new();
    for chunk in candidates.chunks(PROOF_CHUNK) {
        host.check_interrupts()?;
        let raw = client
            .search_read_raw(
                model,
                &json!([["id", "in", chunk]]),
                &["id".to_owned()],
                "id asc",
                chunk.len() as u32,
                &Query::all_companies_context(),
            )
            .map_err(|e| SyncError::odoo(model, e))?;
        let found: Vec<serde_json::Value> = serde_json::from_str(&raw).map_err(|e| SyncError::BadData {
            model: model.to_owned(),
            detail: format!("checking which records are gone: {e}"),
        })?;
        present.extend(found.iter().filter_map(|r| r.get("id").and_then(|v| v.as_i64())));
    }
    if present.is_empty() {
        return Ok(candidates.to_vec());
    }
    present.sort_unstable();
    let named: Vec<String> = present.iter().take(NAMED).map(i64::to_string).collect();
    Err(SyncError::BadData {
        model: model.to_owned(),
        detail: format!(
            "Odoo's listing of ids left out {} records that Odoo still has (ids {}{}): the listing is not \
             to be trusted, so nothing was deleted. A proxy or module that rewrites answers can cause this; \
             the next full sync or reconciliation lists again.",
            present.len(),
            named.join(", "),
            if present.len() > NAMED { ", ..." } else { "" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_listings_pass_and_others_fail() {
        assert!(check_ascending("m", &[3, 5, 9], 2).is_ok());
        assert!(check_ascending("m", &[], 2).is_ok());
        assert!(check_ascending("m", &[9, 5, 3], 0).is_err(), "reversed");
        assert!(check_ascending("m", &[3, 3], 0).is_err(), "repeated");
        assert!(check_ascending("m", &[3, 5], 3).is_err(), "not above the cursor");
    }

    #[test]
    fn absent_from_finds_what_a_listing_lacks() {
        assert_eq!(absent_from(&[1, 2, 3, 7, 9], &[2, 3, 4, 9]), vec![1, 7]);
        assert_eq!(absent_from(&[], &[1]), Vec::<i64>::new());
        assert_eq!(absent_from(&[5], &[]), vec![5]);
    }
}
