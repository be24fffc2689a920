//! Write-back's engine: reads pending outbox rows from the store, sends them with
//! crates/writeback over the session's Odoo connection, and records each row's outcome in the
//! same transaction.
//!
//! One sender at a time (the store's outbox lock): the worker and a manual push never send the
//! same row twice. Sending is idempotent on Odoo's side, so a transaction that rolls back after
//! Odoo committed (kill -9, a lost answer, an ERROR) only means the same change is sent again
//! by the next push.

use crate::error::{redact, SyncError, SyncResult};
use crate::host::Host;
use crate::session::OdooSession;
use crate::store::Store;
use odoo_client::{FieldInfo, LoadAnswer, OdooError};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use writeback::{AllowList, CallError, Outcome, Row};

/// Rows read and sent per batch (an unattended sender commits after each).
pub const BATCH_ROWS: i64 = 5000;

/// What one push did.
#[derive(Debug, Default)]
pub struct Pushed {
    pub sent: i64,
    pub failed: i64,
    /// Rows the push read but could not send (Odoo unreachable): still pending.
    pub left: i64,
    /// Why rows were left pending (redacted).
    pub transient: Option<String>,
    /// Another session is sending (only when not waiting for it).
    pub busy: bool,
    /// Whether the last batch was full (more may be pending).
    pub more: bool,
    /// Pending rows not sent now: locked by another session (being changed) or written by the
    /// calling transaction, which has not committed (with the rows of the same records after
    /// them, kept in order). Sent by a later push.
    pub held: i64,
}

/// Whether to wait for another sender.
#[derive(Clone, Copy, PartialEq)]
pub enum Wait {
    Yes,
    No,
}

/// Sends up to `batches` batches of pending rows in the current transaction, opening the Odoo
/// session (`odoo`) only when a row is pending.
pub fn push<S: Store>(
    store: &mut S,
    host: &dyn Host,
    wait: Wait,
    batches: usize,
    odoo: impl FnOnce(&mut dyn FnMut(&mut OdooSession) -> SyncResult<()>) -> SyncResult<()>,
) -> SyncResult<Pushed> {
    store.outbox_check_isolation()?;
    let mut out = Pushed::default();
    if !store.outbox_lock(wait == Wait::Yes)? {
        out.busy = true;
        return Ok(out);
    }
    if store.outbox_list_pending(0, 1)?.is_empty() {
        return Ok(out);
    }
    let allowed = store.outbox_allow_list()?;
    odoo(&mut |session: &mut OdooSession| {
        let mut after = 0;
        for _ in 0..batches {
            let batch = pending_rows(store, after)?;
            out.more = batch.listed == BATCH_ROWS;
            out.held += batch.held;
            let Some(last) = batch.last_id else { break };
            after = last;
            if batch.rows.is_empty() {
                if out.more {
                    continue;
                }
                break;
            }
            let outcomes = send_batch(store, host, session, &batch.rows, &allowed)?;
            for (_, o) in &outcomes {
                match o {
                    Outcome::Sent { .. } => out.sent += 1,
                    Outcome::Failed(_) => out.failed += 1,
                    Outcome::Pending(e) => {
                        out.left += 1;
                        out.transient.get_or_insert_with(|| redact(e));
                    }
                }
            }
            record(store, &outcomes)?;
            if out.transient.is_some() || !out.more {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// One batch of pending rows to send.
struct Batch {
    /// The rows to send now, in id order, each locked until this transaction ends.
    rows: Vec<Row>,
    /// How many pending rows were listed (BATCH_ROWS: more may follow).
    listed: i64,
    /// The last listed id: where the next batch starts.
    last_id: Option<i64>,
    /// Listed rows held back (Pushed::held).
    held: i64,
}

/// The next pending rows after `after`, each locked for the rest of this transaction, so that
/// a change made to a row while it is being sent waits for the send to commit and then makes
/// the row pending again (the check trigger sees the new values), instead of being marked sent
/// with it. Rows another session holds and rows this uncommitted transaction wrote are held
/// back, and so is every later row of the same record or naming a held record's key: a
/// record's rows reach Odoo in id order, and nothing reaches Odoo before its transaction
/// commits.
fn pending_rows<S: Store>(store: &mut S, after: i64) -> SyncResult<Batch> {
    let listed = store.outbox_list_pending(after, BATCH_ROWS)?;
    let mut batch =
        Batch { rows: Vec::new(), listed: listed.len() as i64, last_id: listed.last().map(|l| l.id), held: 0 };
    if listed.is_empty() {
        return Ok(batch);
    }
    let ids: Vec<i64> = listed.iter().map(|l| l.id).collect();
    let mut locked = store.outbox_lock_rows(&ids)?;
    let mut held_records = BTreeSet::new();
    let mut held_keys = BTreeSet::new();
    for l in &listed {
        let row = locked.remove(&l.id).filter(|(_, own)| !own).map(|(row, _)| row);
        match row {
            Some(row) if !held_records.contains(&l.record) && !names_any(&row.values, &held_keys) => {
                batch.rows.push(row)
            }
            _ => {
                batch.held += 1;
                held_records.insert(l.record.clone());
                if let Some(key) = &l.record.1 {
                    held_keys.insert(key.clone());
                }
            }
        }
    }
    Ok(batch)
}

/// Whether a row's values name one of `keys` (a many2one or a many2many command by our key).
fn names_any(values: &Map<String, Value>, keys: &BTreeSet<String>) -> bool {
    fn walk(v: &Value, keys: &BTreeSet<String>) -> bool {
        match v {
            Value::String(s) => keys.contains(s),
            Value::Array(a) => a.iter().any(|x| walk(x, keys)),
            Value::Object(o) => o.values().any(|x| walk(x, keys)),
            _ => false,
        }
    }
    !keys.is_empty() && values.values().any(|v| walk(v, keys))
}

/// crates/writeback's view of the session's Odoo connection.
struct Peer<'a> {
    host: &'a dyn Host,
    odoo: &'a mut OdooSession,
    /// A SyncError that is not about the rows (not configured, interrupted): the push fails.
    fatal: Option<SyncError>,
}

impl Peer<'_> {
    fn classify(&mut self, model: &str, e: SyncError) -> CallError {
        match e {
            SyncError::Odoo { error, .. } => classify(error),
            other => {
                let text = redact(&other.to_string());
                if self.fatal.is_none() {
                    self.fatal = Some(other);
                }
                CallError::Transient(format!("{model}: {text}"))
            }
        }
    }

    /// A cancel between calls ends the push (its rows stay pending).
    fn interrupted(&mut self) -> Result<(), CallError> {
        match self.host.check_interrupts() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.classify("write-back", e)),
        }
    }
}

/// Odoo's refusals fail the rows; anything else (network, overload, login) leaves them pending.
fn classify(e: OdooError) -> CallError {
    let text = redact(&e.to_string());
    match e {
        OdooError::Fault { .. } if !e.is_access_denied() => CallError::Refused(text),
        OdooError::Interrupted => CallError::Transient("interrupted".into()),
        _ => CallError::Transient(text),
    }
}

impl writeback::Odoo for Peer<'_> {
    fn fields(&mut self, model: &str) -> Result<BTreeMap<String, FieldInfo>, CallError> {
        match self.odoo.fields_of(model) {
            Ok(f) => Ok(f.clone()),
            Err(e) => Err(self.classify(model, e)),
        }
    }

    fn load(&mut self, model: &str, fields: &[String], rows: &[Vec<String>]) -> Result<LoadAnswer, CallError> {
        self.interrupted()?;
        match self.odoo.client(model) {
            Ok(c) => c.load(model, fields, rows).map_err(classify),
            Err(e) => Err(self.classify(model, e)),
        }
    }

    fn write(&mut self, model: &str, ids: &[i64], vals: &Map<String, Value>) -> Result<(), CallError> {
        self.interrupted()?;
        match self.odoo.client(model) {
            Ok(c) => c.write(model, ids, vals).map_err(classify),
            Err(e) => Err(self.classify(model, e)),
        }
    }
}

fn send_batch<S: Store>(
    store: &mut S,
    host: &dyn Host,
    odoo: &mut OdooSession,
    rows: &[Row],
    allowed: &AllowList,
) -> SyncResult<Vec<(i64, Outcome)>> {
    let mut peer = Peer { host, odoo, fatal: None };
    let mut known = |model: &str, key: &str| store.outbox_known_id(model, key);
    let outcomes = writeback::send(&mut peer, rows, allowed, &mut known);
    match peer.fatal {
        Some(e) => Err(e),
        None => Ok(outcomes),
    }
}

/// Records the outcomes in one call.
fn record<S: Store>(store: &mut S, outcomes: &[(i64, Outcome)]) -> SyncResult<()> {
    let rows: Vec<(i64, &'static str, Option<i64>, Option<String>)> = outcomes
        .iter()
        .map(|(id, o)| match o {
            Outcome::Sent { odoo_id } => (*id, "sent", Some(*odoo_id), None),
            Outcome::Failed(e) => (*id, "failed", None, Some(redact(e))),
            Outcome::Pending(e) => (*id, "pending", None, Some(redact(e))),
        })
        .collect();
    store.outbox_record(&rows)
}
