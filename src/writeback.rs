//! Write-back's engine: reads pending outbox rows (SPI), sends them with crates/writeback over
//! this backend's Odoo session, and records each row's outcome in the same transaction.
//!
//! One sender at a time (a transaction-level advisory lock): the worker and a manual
//! scout.odoo_push() never send the same row twice. Sending is idempotent on Odoo's side, so a
//! transaction that rolls back after Odoo committed (kill -9, a lost answer, an ERROR) only
//! means the same change is sent again by the next push.

use crate::errors::{redact, SyncError, SyncResult};
use crate::settings::Settings;
use crate::sync::session::{with_session, OdooSession};
use odoo_client::{FieldInfo, LoadAnswer, OdooError};
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use writeback::{AllowList, CallError, Outcome, Row, Target};

/// Rows read and sent per batch (the worker commits after each).
pub const BATCH_ROWS: i64 = 5000;

/// The advisory lock that makes one sender at a time (class odoo_sync, like the sync's).
const PUSH_LOCK_SQL: &str = "hashtext('odoo_sync'), hashtext('odoo_sync.outbox')";

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

/// Sends up to `batches` batches of pending rows in the current transaction.
pub fn push(s: &Settings, wait: Wait, batches: usize) -> SyncResult<Pushed> {
    refuse_snapshot_isolation()?;
    let mut out = Pushed::default();
    if !lock(wait)? {
        out.busy = true;
        return Ok(out);
    }
    if !any_pending(0)? {
        return Ok(out);
    }
    let allowed = allow_list()?;
    with_session(s, |odoo| {
        let mut after = 0;
        for _ in 0..batches {
            let batch = pending_rows(after)?;
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
            let outcomes = send_batch(odoo, &batch.rows, &allowed)?;
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
            record(&outcomes)?;
            if out.transient.is_some() || !out.more {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Rows still pending in the outbox.
pub fn pending_count() -> SyncResult<i64> {
    Ok(Spi::get_one::<i64>("SELECT count(*) FROM scout.odoo_outbox WHERE state = 'pending'")?.unwrap_or(0))
}

fn any_pending(after: i64) -> SyncResult<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM scout.odoo_outbox WHERE state = 'pending' AND id > $1)";
    Ok(Spi::get_one_with_args::<bool>(sql, &[after.into()])?.unwrap_or(false))
}

fn lock(wait: Wait) -> SyncResult<bool> {
    if wait == Wait::Yes {
        Spi::run(&format!("SELECT pg_advisory_xact_lock({PUSH_LOCK_SQL})"))?;
        return Ok(true);
    }
    Ok(Spi::get_one::<bool>(&format!("SELECT pg_try_advisory_xact_lock({PUSH_LOCK_SQL})"))?.unwrap_or(false))
}

fn allow_list() -> SyncResult<AllowList> {
    Spi::connect(|client| {
        let mut set = BTreeSet::new();
        for row in client.select("SELECT model, field FROM scout.writeback_fields", None, &[])? {
            if let (Some(m), Some(f)) = (row.get::<String>(1)?, row.get::<String>(2)?) {
                set.insert((m, f));
            }
        }
        Ok(AllowList(set))
    })
}

/// A pending row as first listed (committed values, no lock).
struct Listed {
    id: i64,
    record: (String, Option<String>, Option<i64>),
}

/// One batch of pending rows to send.
struct Batch {
    /// The rows to send now, in id order, each locked (FOR UPDATE) until this transaction ends.
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
/// with it. Rows another session holds (SKIP LOCKED) and rows this uncommitted transaction
/// wrote are held back, and so is every later row of the same record or naming a held
/// record's key: a record's rows reach Odoo in id order, and nothing reaches Odoo before its
/// transaction commits.
fn pending_rows(after: i64) -> SyncResult<Batch> {
    let listed: Vec<Listed> = Spi::connect(|client| {
        let sql = "SELECT id, model, external_key, odoo_id FROM scout.odoo_outbox \
                   WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2";
        client
            .select(sql, None, &[after.into(), BATCH_ROWS.into()])?
            .map(|r| {
                Ok(Listed {
                    id: r.get::<i64>(1)?.unwrap_or(0),
                    record: (r.get(2)?.unwrap_or_default(), r.get(3)?, r.get(4)?),
                })
            })
            .collect::<SyncResult<Vec<_>>>()
    })?;
    let mut batch =
        Batch { rows: Vec::new(), listed: listed.len() as i64, last_id: listed.last().map(|l| l.id), held: 0 };
    if listed.is_empty() {
        return Ok(batch);
    }
    let ids: Vec<i64> = listed.iter().map(|l| l.id).collect();
    let mut locked = lock_rows(&ids)?;
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

/// Locks the rows of `ids` still pending, skipping those another session holds; each with
/// whether the calling transaction wrote it (its xmin is ours: not committed yet).
fn lock_rows(ids: &[i64]) -> SyncResult<BTreeMap<i64, (Row, bool)>> {
    let sql = "SELECT id, model, external_key, odoo_id, op, \"values\"::text, xmin::text FROM scout.odoo_outbox \
               WHERE id = ANY ($1) AND state = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED";
    Spi::connect_mut(|client| {
        let mut rows = BTreeMap::new();
        for r in client.update(sql, None, &[ids.to_vec().into()])? {
            let id = r.get::<i64>(1)?.unwrap_or(0);
            let target = match (r.get::<String>(3)?, r.get::<i64>(4)?) {
                (Some(key), _) => Target::Key(key),
                (None, Some(odoo_id)) => Target::Id(odoo_id),
                (None, None) => continue, // the table's CHECK rules it out
            };
            let values: Map<String, Value> = serde_json::from_str(&r.get::<String>(6)?.unwrap_or_default())
                .map_err(|e| SyncError::Internal(format!("outbox row {id}: values: {e}")))?;
            let xmin: u32 = r.get::<String>(7)?.and_then(|x| x.parse().ok()).unwrap_or(0);
            // SAFETY: a plain lookup in this backend's transaction state, on the main thread.
            let own = unsafe { pg_sys::TransactionIdIsCurrentTransactionId(xmin.into()) };
            let row = Row {
                id,
                model: r.get::<String>(2)?.unwrap_or_default(),
                target,
                archive: r.get::<String>(5)?.as_deref() == Some("archive"),
                values,
            };
            rows.insert(id, (row, own));
        }
        Ok(rows)
    })
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

/// A REPEATABLE READ or SERIALIZABLE transaction reads the outbox as it was when it began: it
/// could send a row's older values after a newer push already sent the newer ones.
fn refuse_snapshot_isolation() -> SyncResult<()> {
    // SAFETY: a plain int of this backend's transaction state, read on the main thread.
    let level = unsafe { pg_sys::XactIsoLevel };
    if level >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return Err(SyncError::Prerequisite {
            message: "scout.odoo_push() needs a READ COMMITTED transaction".into(),
            hint: "This transaction is REPEATABLE READ or SERIALIZABLE: it would read the outbox as it was when it \
                   began and could send older values after newer ones. Call it in its own READ COMMITTED \
                   transaction (the default), or leave sending to the worker (scout.odoo_push_soon())."
                .into(),
        });
    }
    Ok(())
}

/// The Odoo id of a record of ours, from its last sent row.
fn known_id(model: &str, key: &str) -> Option<i64> {
    let sql = "SELECT odoo_id FROM scout.odoo_outbox WHERE model = $1 AND external_key = $2 \
               AND state = 'sent' AND odoo_id IS NOT NULL ORDER BY id DESC LIMIT 1";
    Spi::get_one_with_args::<i64>(sql, &[model.into(), key.into()]).ok().flatten()
}

/// crates/writeback's view of this backend's Odoo session.
struct Peer<'a> {
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
        pgrx::check_for_interrupts!();
        match self.odoo.client(model) {
            Ok(c) => c.load(model, fields, rows).map_err(classify),
            Err(e) => Err(self.classify(model, e)),
        }
    }

    fn write(&mut self, model: &str, ids: &[i64], vals: &Map<String, Value>) -> Result<(), CallError> {
        pgrx::check_for_interrupts!();
        match self.odoo.client(model) {
            Ok(c) => c.write(model, ids, vals).map_err(classify),
            Err(e) => Err(self.classify(model, e)),
        }
    }
}

fn send_batch(odoo: &mut OdooSession, rows: &[Row], allowed: &AllowList) -> SyncResult<Vec<(i64, Outcome)>> {
    let mut peer = Peer { odoo, fatal: None };
    let outcomes = writeback::send(&mut peer, rows, allowed, &mut known_id);
    match peer.fatal {
        Some(e) => Err(e),
        None => Ok(outcomes),
    }
}

/// Records the outcomes in one statement.
fn record(outcomes: &[(i64, Outcome)]) -> SyncResult<()> {
    let mut ids = Vec::with_capacity(outcomes.len());
    let mut states = Vec::with_capacity(outcomes.len());
    let mut odoo_ids: Vec<Option<i64>> = Vec::with_capacity(outcomes.len());
    let mut errors: Vec<Option<String>> = Vec::with_capacity(outcomes.len());
    for (id, o) in outcomes {
        ids.push(*id);
        let (state, odoo_id, error) = match o {
            Outcome::Sent { odoo_id } => ("sent", Some(*odoo_id), None),
            Outcome::Failed(e) => ("failed", None, Some(redact(e))),
            Outcome::Pending(e) => ("pending", None, Some(redact(e))),
        };
        states.push(state.to_owned());
        odoo_ids.push(odoo_id);
        errors.push(error);
    }
    Spi::run_with_args(
        "UPDATE scout.odoo_outbox o \
         SET state = u.state, odoo_id = coalesce(u.odoo_id, o.odoo_id), last_error = u.error, \
             attempts = o.attempts + 1, sent_at = CASE WHEN u.state = 'sent' THEN now() END \
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u(id, state, odoo_id, error) \
         WHERE o.id = u.id",
        &[ids.into(), states.into(), odoo_ids.into(), errors.into()],
    )?;
    Ok(())
}
