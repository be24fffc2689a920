//! Write-back, as pure logic: a batch of outbox rows becomes idempotent Odoo calls, and each
//! row gets its outcome. The engine (src/writeback.rs) reads the rows, gives this crate an Odoo
//! to call, and records the outcomes in the same transaction; docs/DESIGN.md, "Write-back",
//! explains the guarantees.
//!
//! Why every call is idempotent, so that a crash or a lost answer between Odoo's commit and
//! ours only ever re-sends the same change:
//! - records we own are written with `load`, keyed on our external id: a second `load` finds the
//!   record again instead of creating another one;
//! - many2many changes are `write` with link `[4, id]` / unlink `[3, id]` commands, which are
//!   no-ops when repeated and never touch the other members of the set;
//! - records Odoo owns (partners) are written by id, with plain values.
//!
//! Rows of one record are merged in the batch's order (the last plain value wins, commands
//! keep their order), so that the record ends as the rows, applied in order, would leave it.

pub mod values;

use odoo_client::{FieldInfo, LoadAnswer};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
pub use values::{external_id, AllowList, Change, Ref, MODULE};

/// How many rows one `load` call carries, and how many records one `write` call names.
pub const LOAD_CHUNK: usize = 500;
pub const WRITE_CHUNK: usize = 1000;

/// Which record a row is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A record we own, by our stable key (its external id in Odoo is `external_id`).
    Key(String),
    /// A record Odoo owns, by its Odoo id (a partner to tag).
    Id(i64),
}

/// One pending outbox row.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub model: String,
    pub target: Target,
    pub archive: bool,
    pub values: Map<String, Value>,
}

/// What became of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Odoo has the change; the record's Odoo id.
    Sent { odoo_id: i64 },
    /// Odoo (or our checks) refused it: not retried until the row changes.
    Failed(String),
    /// Not sent (Odoo unreachable, overloaded, login refused): the row stays pending.
    Pending(String),
}

/// Why a call did not succeed.
#[derive(Clone, Debug)]
pub enum CallError {
    /// Worth trying again later: connection, timeout, 429/5xx after the client's retries, login.
    Transient(String),
    /// Odoo raised on this input (unknown field, missing record, access to a model).
    Refused(String),
}

/// The Odoo calls write-back makes.
pub trait Odoo {
    fn fields(&mut self, model: &str) -> Result<BTreeMap<String, FieldInfo>, CallError>;
    fn load(&mut self, model: &str, fields: &[String], rows: &[Vec<String>]) -> Result<LoadAnswer, CallError>;
    fn write(&mut self, model: &str, ids: &[i64], vals: &Map<String, Value>) -> Result<(), CallError>;
}

/// One record's merged changes.
struct Record {
    model: String,
    target: Target,
    rows: Vec<i64>,
    changes: BTreeMap<String, Change>,
    odoo_id: Option<i64>,
    outcome: Option<Outcome>,
}

impl Record {
    fn merge(&mut self, changes: BTreeMap<String, Change>) {
        for (field, change) in changes {
            match (self.changes.get_mut(&field), change) {
                (Some(Change::Many { commands, .. }), Change::Many { commands: more, .. }) => commands.extend(more),
                (_, change) => {
                    self.changes.insert(field, change);
                }
            }
        }
    }

    /// The `load` cells (column, text) of a record we own: its plain and many2one changes.
    fn load_cells(&self) -> Vec<(String, String)> {
        match self.target {
            Target::Key(_) => self.changes.iter().filter_map(|(f, c)| values::load_cell(f, c)).collect(),
            Target::Id(_) => Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// Sends one batch. `known` gives the Odoo id of a record we created in an earlier batch (a sent
/// row's `odoo_id`), for many2many commands and many2one values by key.
pub fn send(
    odoo: &mut dyn Odoo,
    rows: &[Row],
    allowed: &AllowList,
    known: &mut dyn FnMut(&str, &str) -> Option<i64>,
) -> Vec<(i64, Outcome)> {
    let mut batch = Batch { records: Vec::new(), failed_rows: Vec::new(), stopped: None };
    batch.merge_rows(odoo, rows, allowed);
    if batch.stopped.is_none() {
        batch.load_owned(odoo, known);
    }
    if batch.stopped.is_none() {
        batch.write_changes(odoo, known);
    }
    let stopped = batch.stopped.clone();
    let mut out = batch.outcomes();
    // A transient error before a row was even merged (Odoo unreachable when asked for the
    // fields) leaves it pending too, with why: every row of the batch gets an outcome, so that
    // the sender counts it, records the attempt and backs off.
    if let Some(e) = stopped {
        let decided: std::collections::HashSet<i64> = out.iter().map(|(id, _)| *id).collect();
        out.extend(rows.iter().filter(|r| !decided.contains(&r.id)).map(|r| (r.id, Outcome::Pending(e.clone()))));
        out.sort_by_key(|(id, _)| *id);
    }
    out
}

struct Batch {
    records: Vec<Record>,
    failed_rows: Vec<(i64, String)>,
    /// Set when a transient error stopped the batch: what is left stays pending.
    stopped: Option<String>,
}

impl Batch {
    fn merge_rows(&mut self, odoo: &mut dyn Odoo, rows: &[Row], allowed: &AllowList) {
        let mut fields: HashMap<String, Result<BTreeMap<String, FieldInfo>, String>> = HashMap::new();
        let mut index: HashMap<(String, Target), usize> = HashMap::new();
        for row in rows {
            if let Err(e) = values::check_allowed(&row.model, &row.values, row.archive, allowed) {
                self.failed_rows.push((row.id, e));
                continue;
            }
            if !fields.contains_key(&row.model) {
                match odoo.fields(&row.model) {
                    Ok(f) => fields.insert(row.model.clone(), Ok(f)),
                    Err(CallError::Refused(e)) => fields.insert(row.model.clone(), Err(e)),
                    Err(CallError::Transient(e)) => {
                        self.stopped = Some(e);
                        self.failed_rows.clear();
                        self.records.clear();
                        return;
                    }
                };
            }
            let checked = match &fields[&row.model] {
                Ok(f) => values::changes(&row.model, &row.values, row.archive, allowed, f),
                Err(e) => Err(format!("Odoo refused to describe {}: {e}", row.model)),
            };
            match checked {
                Err(e) => self.failed_rows.push((row.id, e)),
                Ok(changes) => {
                    let i = *index.entry((row.model.clone(), row.target.clone())).or_insert_with(|| {
                        self.records.push(Record {
                            model: row.model.clone(),
                            target: row.target.clone(),
                            rows: Vec::new(),
                            changes: BTreeMap::new(),
                            odoo_id: match row.target {
                                Target::Id(id) => Some(id),
                                Target::Key(_) => None,
                            },
                            outcome: None,
                        });
                        self.records.len() - 1
                    });
                    self.records[i].rows.push(row.id);
                    self.records[i].merge(changes);
                }
            }
        }
    }

    /// Phase 1: records we own get their plain values with `load`, and so their Odoo ids.
    fn load_owned(&mut self, odoo: &mut dyn Odoo, known: &mut dyn FnMut(&str, &str) -> Option<i64>) {
        // One call per model and column list; each record's row is made once, here, not again
        // for every call `isolate` makes while it narrows a refusal down.
        let mut groups: BTreeMap<(String, Vec<String>), Vec<usize>> = BTreeMap::new();
        let mut rows: HashMap<usize, Vec<String>> = HashMap::new();
        for (i, r) in self.records.iter_mut().enumerate() {
            let Target::Key(key) = &r.target else { continue };
            let cells = r.load_cells();
            if cells.is_empty() {
                // Only many2many changes: the record must exist already.
                match known(&r.model, key) {
                    Some(id) => r.odoo_id = Some(id),
                    None => {
                        r.outcome = Some(Outcome::Failed(format!(
                            "{} '{key}' is not in Odoo yet: queue a row with its values (name, ...) first",
                            r.model
                        )))
                    }
                }
                continue;
            }
            let (names, texts): (Vec<String>, Vec<String>) = cells.into_iter().unzip();
            let columns = std::iter::once("id".to_owned()).chain(names).collect();
            rows.insert(i, std::iter::once(external_id(&r.model, key)).chain(texts).collect());
            groups.entry((r.model.clone(), columns)).or_default().push(i);
        }
        for ((model, columns), members) in groups {
            for chunk in members.chunks(LOAD_CHUNK) {
                let mut call = |items: &[usize]| -> Result<Attempt, String> {
                    let data: Vec<Vec<String>> = items.iter().map(|i| rows[i].clone()).collect();
                    match odoo.load(&model, &columns, &data) {
                        Ok(LoadAnswer { ids: Some(ids), .. }) if ids.len() == items.len() => Ok(Attempt::Done(ids)),
                        Ok(LoadAnswer { ids: Some(ids), .. }) => Ok(Attempt::Refused(format!(
                            "Odoo's load answered {} ids for {} rows",
                            ids.len(),
                            items.len()
                        ))),
                        Ok(LoadAnswer { ids: None, messages }) => Ok(Attempt::Refused(if messages.is_empty() {
                            "Odoo's load refused the rows without a message".into()
                        } else {
                            messages
                                .iter()
                                .map(|m| match &m.field {
                                    Some(f) => format!("{f}: {}", m.message),
                                    None => m.message.clone(),
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        })),
                        Err(CallError::Refused(e)) => Ok(Attempt::Refused(e)),
                        Err(CallError::Transient(e)) => Err(e),
                    }
                };
                let mut results = Vec::new();
                let done = isolate(chunk, &mut call, &mut results);
                for (i, result) in results {
                    let r = &mut self.records[i];
                    match result {
                        Ok(id) => {
                            r.odoo_id = Some(id);
                            // Done unless many2many commands follow.
                            if !r.changes.values().any(|c| matches!(c, Change::Many { .. })) {
                                r.outcome = Some(Outcome::Sent { odoo_id: id });
                            }
                        }
                        Err(e) => r.outcome = Some(Outcome::Failed(e)),
                    }
                }
                if let Err(e) = done {
                    self.stopped = Some(e);
                    return;
                }
            }
        }
    }

    /// Phase 2: many2many commands, and plain values of records Odoo owns, with `write`:
    /// records that take the same values share one call (10,000 partners tagged = 10 calls).
    fn write_changes(&mut self, odoo: &mut dyn Odoo, known: &mut dyn FnMut(&str, &str) -> Option<i64>) {
        // Keys sent in this batch resolve without asking.
        let mut sent: HashMap<(String, String), i64> = HashMap::new();
        for r in &self.records {
            let loaded = r.open() || matches!(r.outcome, Some(Outcome::Sent { .. }));
            if let (Target::Key(k), Some(id), true) = (&r.target, r.odoo_id, loaded) {
                sent.insert((r.model.clone(), k.clone()), id);
            }
        }
        let mut resolve = |relation: &str, to: &Ref| -> Result<i64, String> {
            match to {
                Ref::Id(id) => Ok(*id),
                Ref::Key(k) => {
                    sent.get(&(relation.to_owned(), k.clone())).copied().or_else(|| known(relation, k)).ok_or_else(
                        || format!("{relation} '{k}' is not in Odoo yet: queue a row with its values first"),
                    )
                }
            }
        };
        let mut groups: WriteGroups = BTreeMap::new();
        for (i, r) in self.records.iter_mut().enumerate() {
            if !r.open() {
                continue;
            }
            let mut vals = Map::new();
            let mut problem = None;
            for (field, change) in &r.changes {
                let v = match (change, &r.target) {
                    (Change::Many { relation, commands }, _) => {
                        let mut cmds = Vec::new();
                        for (link, to) in commands {
                            match resolve(relation, to) {
                                Ok(id) => cmds.push(json!([if *link { 4 } else { 3 }, id])),
                                Err(e) => problem = Some(e),
                            }
                        }
                        Value::Array(cmds)
                    }
                    (_, Target::Key(_)) => continue, // sent by load
                    (Change::Plain(v), Target::Id(_)) => v.clone(),
                    (Change::One { to: None, .. }, Target::Id(_)) => Value::Bool(false),
                    (Change::One { relation, to: Some(to) }, Target::Id(_)) => match resolve(relation, to) {
                        Ok(id) => json!(id),
                        Err(e) => {
                            problem = Some(e);
                            Value::Null
                        }
                    },
                };
                vals.insert(field.clone(), v);
            }
            if let Some(e) = problem {
                r.outcome = Some(Outcome::Failed(e));
                continue;
            }
            if vals.is_empty() {
                continue;
            }
            let signature = Value::Object(vals.clone()).to_string();
            groups.entry((r.model.clone(), signature)).or_insert_with(|| (vals, Vec::new())).1.push(i);
        }
        for ((model, _), (vals, members)) in groups {
            for chunk in members.chunks(WRITE_CHUNK) {
                let records = &self.records;
                let mut call = |items: &[usize]| -> Result<Attempt, String> {
                    let ids: Vec<i64> = items.iter().map(|&i| records[i].odoo_id.expect("resolved")).collect();
                    match odoo.write(&model, &ids, &vals) {
                        Ok(()) => Ok(Attempt::Done(ids)),
                        Err(CallError::Refused(e)) => Ok(Attempt::Refused(e)),
                        Err(CallError::Transient(e)) => Err(e),
                    }
                };
                let mut results = Vec::new();
                let done = isolate(chunk, &mut call, &mut results);
                for (i, result) in results {
                    if let Err(e) = result {
                        self.records[i].outcome = Some(Outcome::Failed(e));
                    } else {
                        self.records[i].outcome = Some(Outcome::Sent { odoo_id: self.records[i].odoo_id.unwrap_or(0) });
                    }
                }
                if let Err(e) = done {
                    self.stopped = Some(e);
                    return;
                }
            }
        }
    }

    fn outcomes(self) -> Vec<(i64, Outcome)> {
        let mut out: Vec<(i64, Outcome)> =
            self.failed_rows.into_iter().map(|(id, e)| (id, Outcome::Failed(e))).collect();
        for r in self.records {
            let outcome = match (r.outcome, &self.stopped, r.odoo_id) {
                (Some(o), _, _) => o,
                (None, Some(e), _) => Outcome::Pending(e.clone()),
                // Nothing left to write after its load (plain values only).
                (None, None, Some(odoo_id)) => Outcome::Sent { odoo_id },
                (None, None, None) => Outcome::Failed("no Odoo id after sending (a bug: please report it)".into()),
            };
            out.extend(r.rows.iter().map(|&id| (id, outcome.clone())));
        }
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

/// Records that take the same values, by (model, the values as JSON text): one `write` each.
type WriteGroups = BTreeMap<(String, String), (Map<String, Value>, Vec<usize>)>;

/// One call on some records: each record's id, or why Odoo refused the lot.
enum Attempt {
    Done(Vec<i64>),
    Refused(String),
}

/// Calls on `items`; a refusal is narrowed down by halving until the records Odoo refuses are
/// alone (a single bad partner among 1,000 costs about 20 calls, and the others still go).
/// Err: a transient error stopped it; results gathered so far are kept.
fn isolate(
    items: &[usize],
    call: &mut dyn FnMut(&[usize]) -> Result<Attempt, String>,
    out: &mut Vec<(usize, Result<i64, String>)>,
) -> Result<(), String> {
    match call(items)? {
        Attempt::Done(ids) => out.extend(items.iter().copied().zip(ids.into_iter().map(Ok))),
        Attempt::Refused(e) if items.len() == 1 => out.push((items[0], Err(e))),
        Attempt::Refused(_) => {
            let (a, b) = items.split_at(items.len() / 2);
            isolate(a, call, out)?;
            isolate(b, call, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
